"""FIM prompt building and the token budget (pure)."""

from codex_ls.prompt import FimTemplate, build_prompt, clip_prefix, clip_suffix, prefix_from, suffix_through_line


def count_chars(text: str) -> int:
    """A stand-in tokenizer: one token per character (exact, so budgets are checkable)."""
    return len(text)


def test_render_is_psm_qwen_format():
    t = FimTemplate()
    assert t.render("a = ", "\nb") == "<|fim_prefix|>a = <|fim_suffix|>\nb<|fim_middle|>"


def test_prefix_kept_in_whole_lines_nearest_first():
    prefix = "line1\nline2\nline3\n    cur"
    kept, used = clip_prefix(prefix, budget=len("line3\n    cur"), count_tokens=count_chars, chunk_lines=1)
    assert kept == "line3\n    cur"
    assert used == len(kept)


def test_prefix_current_line_always_kept():
    kept, _ = clip_prefix("aaaa\nbbbbbbbbbb", budget=3, count_tokens=count_chars)
    assert kept == "bbbbbbbbbb"


def test_suffix_kept_in_whole_lines():
    suffix = ")\nline2\nline3\n"
    kept, used = clip_suffix(suffix, budget=len(")\nline2\n"), count_tokens=count_chars)
    assert kept == ")\nline2\n"
    assert used == len(kept)
    assert clip_suffix("", 10, count_chars) == ("", 0)


def test_whole_prompt_under_budget():
    prefix = "".join(f"x{i} = {i}\n" for i in range(100)) + "def f():\n    "
    suffix = "".join(f"y{i} = {i}\n" for i in range(100))
    p = build_prompt(prefix, suffix, FimTemplate(), count_chars, prefix_tokens=60, suffix_tokens=30)
    assert p.prefix_tokens <= 60 and p.suffix_tokens <= 30
    assert p.prefix.endswith("def f():\n    ") and prefix.endswith(p.prefix)
    assert suffix.startswith(p.suffix)
    assert p.text == FimTemplate().render(p.prefix, p.suffix)
    # every kept line is a whole line of the original
    assert p.prefix.split("\n")[0] in prefix.split("\n")


def test_cut_prefix_starts_on_a_chunk_boundary_and_stays_there_while_the_cursor_moves():
    lines = [f"x{i:03d} = {i}\n" for i in range(200)]
    budget = 40 * len(lines[0])
    starts = set()
    for cursor_line in range(100, 116):
        kept, used = clip_prefix("".join(lines[:cursor_line]) + "    ", budget, count_chars, chunk_lines=16)
        first = int(kept[1:4])
        assert first % 16 == 0 and used <= budget and used == count_chars(kept)
        starts.add(first)
    assert len(starts) <= 2  # 16 positions, one or two starts: the prompt head is reused
    # chunk_lines=1 keeps as much as fits
    kept, used = clip_prefix("".join(lines[:100]) + "    ", budget, count_chars, chunk_lines=1)
    assert budget - len(lines[99]) < used <= budget


def test_spm_order_puts_the_suffix_first():
    t = FimTemplate()
    assert t.render("P", "S", "spm") == "<|fim_suffix|>S<|fim_prefix|>P<|fim_middle|>"
    assert t.render("P", "S") == "<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>"


def _file(n: int) -> str:
    return "".join(f"value_{i:03d} = {i:03d}\n" for i in range(n))  # 16 characters a line


def test_prefix_from_an_anchor_line_within_a_limit():
    text = _file(10)
    assert prefix_from(text, 7, 100, count_chars) == (text[7 * 16 :], 3 * 16)
    assert prefix_from(text + "    x", 9, 100, count_chars) == (text[9 * 16 :] + "    x", 16 + 5)
    assert prefix_from(text, 10, 100, count_chars) == ("", 0)  # the cursor's own (empty) line
    assert prefix_from(text, 2, 8 * 16 - 1, count_chars) is None  # over the limit
    assert prefix_from(text, 11, 100, count_chars) is None  # below the cursor: the cursor moved up


def test_an_anchored_prefix_keeps_the_prompt_start_while_the_cursor_moves_down():
    text = _file(500)
    at = lambda line: text[: line * 16]  # noqa: E731 - the prefix for a cursor at the start of `line`
    first = build_prompt(at(300), text[300 * 16 :], FimTemplate(), count_chars, prefix_tokens=1600, suffix_tokens=64)
    assert first.first_line == 224  # cut to its budget (100 lines), on the 32-line grid
    # 60 lines further down: the prompt up to the old cursor is unchanged (it stays in the KV cache)
    moved = build_prompt(at(360), text[360 * 16 :], FimTemplate(), count_chars, prefix_tokens=1600, suffix_tokens=64, anchor_line=first.first_line)
    assert moved.first_line == 224
    assert moved.text.startswith(first.text[: first.text.index("<|fim_suffix|>")])
    assert moved.prefix_tokens == (360 - 224) * 16
    # Without the anchor the start would have moved on the grid, and the KV cache with it.
    assert build_prompt(at(360), "", FimTemplate(), count_chars, prefix_tokens=1600, suffix_tokens=64).first_line == 288
    # Past twice the budget the prefix is cut to its budget again.
    kept = build_prompt(at(420), "", FimTemplate(), count_chars, prefix_tokens=1600, suffix_tokens=64, anchor_line=224)
    assert kept.first_line == 224 and kept.prefix_tokens == (420 - 224) * 16 <= 2 * 1600
    far = build_prompt(at(440), "", FimTemplate(), count_chars, prefix_tokens=1600, suffix_tokens=64, anchor_line=224)
    assert far.first_line == 352 and far.prefix_tokens <= 1600
    # An anchor below the cursor (the cursor moved up) is ignored.
    up = build_prompt(at(100), "", FimTemplate(), count_chars, prefix_tokens=1600, suffix_tokens=64, anchor_line=224)
    assert up.first_line == 0


def test_suffix_through_line():
    suffix = "rest\nb\nc\n"
    assert suffix_through_line(suffix, 0) == "rest\n"
    assert suffix_through_line(suffix, 1) == "rest\nb\n"
    assert suffix_through_line(suffix, 2) == suffix
    assert suffix_through_line(suffix, 9) == suffix
    assert suffix_through_line("a\nno break", 1) == "a\nno break"
    assert suffix_through_line(suffix, -1) == "rest\n"

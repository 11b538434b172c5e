"""complete() on the tiny GGUF (fast, real engine): the prompt layout while typing and the
one-line limit used while the user types."""

from __future__ import annotations

import dataclasses

import pytest

from codex_ls.completion import complete
from codex_ls.documents import Document
from codex_ls.engines.llama import LlamaCppEngine
from codex_ls.model_manager import family_profile
from codex_ls.settings import Settings
from codex_ls.testing.tiny_gguf import write_tiny_gguf
from conftest import TINY_MODEL


@pytest.fixture(scope="module")
def engine():
    eng = LlamaCppEngine(TINY_MODEL, context_length=1024)
    yield eng
    eng.close()


def _complete(engine, text: str, offset: int, anchor_line: int | None = None, **changes):
    settings = dataclasses.replace(Settings().completion, **changes)
    doc = Document("file:///t/notes.txt", text, 1, "plaintext")
    return complete(doc, offset, engine, family_profile(engine, None), settings, anchor_line=anchor_line)


def test_max_lines_one_stops_at_the_end_of_the_line(tmp_path):
    # a tiny model that writes line breaks ("Ċ" is the byte-level token of "\n") and never stops
    eng = LlamaCppEngine(write_tiny_gguf(tmp_path / "lines.gguf", seed=2, bias_token="Ċ"), context_length=512)
    try:
        text = "first line\nsecond \nthird line\n"
        offset = text.index("second ") + len("second ")
        several = _complete(eng, text, offset, max_tokens=12, max_lines=12)
        one = _complete(eng, text, offset, max_tokens=12, max_lines=1)
    finally:
        eng.close()
    # without the limit the stop rule cuts at the line break after seeing it (and, in block mode,
    # lines after it); with it, the line break is a stop string: generation ends on it
    assert several.generation.finish_reason == "rule"
    assert one.generation.finish_reason == "stop" and "\n" not in one.generation.text
    assert one.text == several.text


def test_the_cursor_line_goes_after_the_middle_marker_so_typing_reuses_the_prompt(engine):
    text = "alpha beta\ngamma delta\n"
    line_start = text.index("gamma")
    outcomes = [_complete(engine, text[: line_start + n] + "\n", line_start + n, max_tokens=2) for n in range(2, 9)]
    # the prompt up to the FIM middle marker is the same for every keystroke on the line
    heads = {o.prompt.text for o in outcomes}
    assert len(heads) == 1, heads
    evaluated = [o.generation.prompt_tokens_evaluated for o in outcomes[1:]]
    assert max(evaluated) <= 3, evaluated
    plain = _complete(engine, text[: line_start + 8] + "\n", line_start + 8, max_tokens=2, cursor_line_in_middle=False)
    assert plain.prompt.text != outcomes[-1].prompt.text and "gamma de" in plain.prompt.text


def test_moving_down_keeps_the_prompt_start_so_only_the_new_lines_are_evaluated(engine):
    text = "".join(f"row {i} has value {i * 7}\n" for i in range(400))
    at = lambda line: text.index(f"row {line} ")  # noqa: E731 - offset of the start of a line
    budgets = dict(max_tokens=1, prefix_tokens=800, suffix_tokens=24)  # about 50 lines of 16 tokens
    first = _complete(engine, text, at(300), **budgets)
    assert first.prompt.first_line > 0  # the prefix was cut to its budget
    anchored = _complete(engine, text, at(312), anchor_line=first.prompt.first_line, **budgets)
    assert anchored.prompt.first_line == first.prompt.first_line
    new_lines = engine.count_tokens(text[at(300) : at(312)])
    # the lines between the two positions, the suffix, the FIM markers: not the whole prompt again
    assert anchored.generation.prompt_tokens_evaluated <= new_lines + anchored.prompt.suffix_tokens + 8
    _complete(engine, text, at(300), **budgets)  # the same KV cache state as before
    cut_again = _complete(engine, text, at(312), **budgets)
    assert cut_again.prompt.first_line != first.prompt.first_line
    # cut to its budget again, the prefix starts elsewhere: the whole prompt is evaluated again
    assert cut_again.generation.prompt_tokens_evaluated >= cut_again.generation.prompt_tokens - 8
    assert cut_again.generation.prompt_tokens_evaluated > anchored.generation.prompt_tokens_evaluated


def test_an_anchored_prefix_that_would_not_fit_the_context_is_cut_to_its_budget(engine):
    text = "".join(f"row {i} has value {i * 7}\n" for i in range(400))
    at = lambda line: text.index(f"row {line} ")  # noqa: E731
    budgets = dict(max_tokens=1, prefix_tokens=800, suffix_tokens=24)
    first = _complete(engine, text, at(300), **budgets)
    # 70 lines of 16 tokens from the anchor: under twice the budget, over the 1024-token context
    moved = _complete(engine, text, at(330), anchor_line=first.prompt.first_line, **budgets)
    assert moved.prompt.first_line > first.prompt.first_line
    assert moved.prompt.prefix_tokens <= 800
    assert moved.generation.finish_reason != "error" and moved.generation.generated_tokens == 1

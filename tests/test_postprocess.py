"""Post-processing of raw model output (pure, plus a real tree-sitter check)."""

from codex_ls.documents import Document
from codex_ls.completion import insertion_checker
from codex_ls.postprocess import postprocess, strip_fences
from codex_ls.stops import analyze_cursor


def test_strip_fences():
    assert strip_fences("```python\nx = 1\n```\nThis sets x.") == "x = 1\n"
    assert strip_fences("x = 1\n```\nexplanation") == "x = 1\n"
    assert strip_fences("plain") == "plain"


def test_drops_rest_of_line_duplicate():
    ctx = analyze_cursor("print(", ")\n")
    assert postprocess("x)", ctx) == "x"


def test_whitespace_becomes_nothing():
    ctx = analyze_cursor("def f():\n    ", "\n")
    assert postprocess("   \n  \n", ctx) == ""


def test_line_mode_keeps_one_line():
    ctx = analyze_cursor("x = f(", ")\n")
    assert postprocess("1, 2\nextra", ctx) == "1, 2"


def _check(text: str, cursor: str):
    offset = text.index(cursor)
    text = text.replace(cursor, "")
    doc = Document("file:///t.py", text, 1, "python")
    return doc, offset, analyze_cursor(text[:offset], text[offset:])


def test_syntax_check_cuts_to_lines_that_parse():
    doc, offset, ctx = _check("def f(x):\n    <>\n\nprint(f(1))\n", "<>")
    ok = insertion_checker(doc, offset)
    got = postprocess("y = x + 1\n    return y\n    if (", ctx, ok)
    assert got == "y = x + 1\n    return y"


def test_syntax_check_refuses_broken_single_line():
    doc, offset, ctx = _check("def f(x):\n    <>\n", "<>")
    ok = insertion_checker(doc, offset)
    assert postprocess("return (x +", ctx, ok) == ""
    assert postprocess("return x + 1", ctx, ok) == "return x + 1"


def test_no_checker_for_unknown_language():
    doc = Document("file:///t.txt", "hello", 1, "plaintext")
    assert insertion_checker(doc, 2) is None


def test_lines_above_a_wrongly_indented_line_must_open_its_block():
    # The line below the cursor is deeper than the line before it (its `for` is missing): the
    # document already has that error, and whole lines inserted above it must fix it.
    doc, offset, _ctx = _check("def f(xs):\n    total = 0\n<>        total += x\n    return total\n", "<>")
    ok = insertion_checker(doc, offset)
    assert not ok("    x = 1\n")
    assert not ok("    return total\n")
    assert ok("    for x in xs:\n")
    # Without the error below, a line at the body's level is fine.
    doc, offset, _ctx = _check("def f(xs):\n    total = 0\n<>    return total\n", "<>")
    assert insertion_checker(doc, offset)("    total += 1\n")


def test_a_hole_in_the_structure_must_be_filled_for_the_code_below_to_compile():
    # CPython's first error is on the code line right after the cursor (an `else` whose `if` is
    # missing): an insertion must leave the code below compiling, not merely add no new error.
    doc, offset, _ctx = _check("def f(x, s):\n    s = str(x)\n<>    else:\n        return s[1:]\n", "<>")
    ok = insertion_checker(doc, offset)
    assert not ok("    return s\n")
    assert ok("    if x > 1:\n        return s[::-1]\n")
    # Two levels missing above a deeper body: one opener leaves the `else` unmatched further down.
    doc, offset, _ctx = _check("def f(xs):\n    n = 0\n<>            n += 1\n        else:\n            n -= 1\n    return n\n", "<>")
    ok = insertion_checker(doc, offset)
    assert not ok("    for x in xs:\n")
    assert ok("    for x in xs:\n        if x > 0:\n")
    # An error elsewhere (not at the cursor) keeps the old rule: no new error is enough.
    doc, offset, _ctx = _check("def f(x):\n    y = 1\n<>    return y\n\n    else:\n        pass\n", "<>")
    assert insertion_checker(doc, offset)("    y += x\n")

"""Predicting the state after an accept and Enter (pure), and the typing cache that keeps its answer."""

from __future__ import annotations

import pytest

from codex_ls.prefetch import accept_and_enter, indent_unit, next_line_indent
from codex_ls.typing_cache import KEPT_PER_DOCUMENT, TypingCache


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("def f():\n    if x:\n        y()\n", "    "),
        ("function f() {\n  if (x) {\n    y();\n  }\n}\n", "  "),
        ("func f() {\n\tif x {\n\t\ty()\n\t}\n}\n", "\t"),
        ("x = 1\ny = 2\n", "    "),  # no indentation yet: 4 spaces
        ("def f():\n    return [\n        1,\n    ]\n\n\ndef g():\n    pass\n", "    "),  # the commonest step wins
    ],
)
def test_indent_unit_is_the_documents_commonest_indentation_step(text, unit):
    assert indent_unit(text) == unit


@pytest.mark.parametrize(
    ("line", "python", "indent"),
    [
        ("    if x:", True, "        "),
        ("    if x:  ", True, "        "),  # trailing spaces ignored
        ("        return x", True, "    "),  # nothing follows a return in its block
        ("    raise ValueError(x)", True, ""),
        ("    returned = x", True, "    "),
        ("  return x;", False, "  "),
        ("    call(", True, "        "),
        ("  if (x) {", False, "    "),
        ("  x: 1", False, "  "),  # a colon opens a block in Python only
        ("\tfor {", False, "\t  "),  # the unit is added as given
    ],
)
def test_next_line_indent_keeps_the_lines_and_adds_a_level_after_an_opener(line, python, indent):
    assert next_line_indent(line, "  " if not python else "    ", python) == indent


def test_accept_and_enter_appends_the_suggestion_a_line_break_and_the_indentation():
    before = "def f(xs):\n    total = 0\n    "
    after = "\n\nprint(f([1]))\n"
    assert accept_and_enter(before, after, "for x in xs:", python=True) == before + "for x in xs:\n        "
    assert accept_and_enter(before, after, "total += 1", python=True) == before + "total += 1\n    "
    assert accept_and_enter(before, after, "return total", python=True) == before + "return total\n"
    # a block suggestion: the indentation of its last line
    block = "for x in xs:\n        total += x\n    total -= 1"
    assert accept_and_enter(before, after, block, python=True) == before + block + "\n    "
    # at the end of the file
    assert accept_and_enter(before, "", "total += 1", python=True) == before + "total += 1\n    "


@pytest.mark.parametrize(
    ("after", "shown"),
    [
        (")\n", "x"),  # text follows the cursor on its line: Enter would split it
        ("\n", "   "),  # a blank suggestion
        ("\n", "x = 1\n"),  # whole lines inserted above code
        ("\n", ""),
    ],
)
def test_accept_and_enter_is_not_predicted_where_it_is_unlikely(after, shown):
    assert accept_and_enter("def f():\n    ", after, shown, python=True) is None


def test_the_typing_cache_keeps_a_prepared_answer_next_to_the_shown_one():
    cache = TypingCache()
    cache.remember("u", "a = ", "\n", "foo()")
    cache.remember("u", "a = foo()\n", "\n", "bar()")  # prepared for the next line
    assert cache.lookup("u", "a = f", "\n") == "oo()"  # the shown one still types through
    assert cache.lookup("u", "a = foo()\n", "\n") == "bar()"
    assert cache.lookup("u", "a = foo()\nb", "\n") == "ar()"
    assert cache.has("u", "a = foo()\n", "\n") and not cache.has("u", "a = foo()\n", "")
    assert cache.lookup("u", "a = foo()\n", "x\n") is None  # the text after the cursor changed
    # the same place again replaces its entry; the oldest go beyond KEPT_PER_DOCUMENT
    cache.remember("u", "a = ", "\n", "baz()")
    assert cache.lookup("u", "a = ", "\n") == "baz()"
    for n in range(KEPT_PER_DOCUMENT):
        cache.remember("u", f"{n}", "", "x")
    assert cache.lookup("u", "a = ", "\n") is None
    cache.forget("u")
    assert cache.lookup("u", "0", "") is None

"""Where the user goes next after a suggestion: accept it, press Enter (pure, server-free).

The commonest move after ghost text is shown is to accept it (Tab) and press
Enter to write the next line. The next request then comes from a state the
server can write down before it happens: the text before the cursor plus the
suggestion, a line break and the indentation an editor gives the new line; the
text after the cursor unchanged. While the user reads the suggestion, the server
completes that state (:mod:`codex_ls.features.prefetch`), so the answer is ready
when the request comes. The cost is one completion per suggestion left alone for a
moment, wasted when the user does something else.

Editors' auto-indent on Enter (VS Code's ``onEnterRules``, Vim's ``autoindent``
and indent scripts) keeps the indentation of the line, adds one level after a
line that opens a block and, in Python, removes one after ``return``, ``raise``,
``pass``, ``break`` or ``continue``: :func:`next_line_indent` does the same, with the
document's indentation step (:func:`codex_ls.stops.indent_unit`). An editor that
indents otherwise makes a state the prediction missed: the request is answered
the usual way, from a KV cache that holds the prefetch's prompt up to the FIM
middle marker.
"""

from __future__ import annotations

import re

from codex_ls.stops import indent_unit

BLOCK_OPENERS = "{(["
"""Last characters of a line after which editors indent the next line one level more."""

PYTHON_OPENERS = ":" + BLOCK_OPENERS
"""The same for Python, where a colon opens a block."""

PYTHON_DEDENT = re.compile(r"(?:return|raise|pass|break|continue)\b")
"""Python statements after which editors indent the next line one level less (Vim's
``indent/python.vim``, VS Code's Python ``onEnterRules``): nothing can follow them in their block."""

__all__ = ["accept_and_enter", "indent_unit", "next_line_indent"]


def next_line_indent(line: str, unit: str, python: bool) -> str:
    """The indentation an editor gives the line after ``line`` when Enter is pressed at its end:
    ``line``'s own, plus ``unit`` when it ends with a block opener (:data:`PYTHON_OPENERS` for
    Python, else :data:`BLOCK_OPENERS`; trailing spaces ignored), less ``unit`` after a Python
    statement that ends its block (:data:`PYTHON_DEDENT`)."""
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    code = line.rstrip()
    if code and code[-1] in (PYTHON_OPENERS if python else BLOCK_OPENERS):
        indent += unit
    elif python and PYTHON_DEDENT.match(code.lstrip()) and indent.endswith(unit):
        indent = indent[: len(indent) - len(unit)]
    return indent


def accept_and_enter(before: str, after: str, shown: str, python: bool) -> str | None:
    """The text before the cursor once the user accepts ``shown`` and presses Enter, or
    ``None`` when that move is not a likely one.

    Args:
        before: the document text before the cursor (code points) where ``shown`` was made.
        after: the text after the cursor; it stays the same.
        shown: the suggestion inserted at the cursor.
        python: the document is Python (a colon opens a block).

    ``None`` when the suggestion is blank, ends with a line break (whole lines inserted above
    code), or ends inside a line (text follows the cursor on its line: Enter would split it).
    """
    if not shown.strip() or shown.endswith("\n"):
        return None
    if after.split("\n", 1)[0] != "":
        return None
    text = before + shown
    last = text[text.rfind("\n") + 1 :]
    if not last.strip():
        return None
    return text + "\n" + next_line_indent(last, indent_unit(before), python)

"""Names the model's code uses but nothing defines, found with pyflakes (Python only).

A small model often calls a helper it never wrote (``factorial(i)``) or a variable from
nowhere (``cars[i]``). The syntax check cannot see that; pyflakes can, without running
anything. :func:`new_undefined_names` compares the document before and after the edit, so
names the user's own code already leaves undefined do not count.
"""

from __future__ import annotations

import ast
import warnings
from collections import Counter


def undefined_names(source: str) -> Counter[str] | None:
    """How often each undefined name is used in Python ``source`` (pyflakes' ``UndefinedName``
    and ``UndefinedLocal`` messages), or ``None`` when ``source`` does not compile (a file with
    syntax errors, or Python 2). Never raises; never runs the code."""
    from pyflakes import checker, messages

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    try:
        found = checker.Checker(tree, filename="<code action>")
    except RecursionError:
        return None
    out: Counter[str] = Counter()
    for message in found.messages:
        if isinstance(message, (messages.UndefinedName, messages.UndefinedLocal)):
            out[str(message.message_args[0])] += 1
    return out


def new_undefined_names(before: str | Counter[str] | None, after: str) -> list[str]:
    """The names that ``after`` (the document with the edit applied) uses undefined more often
    than ``before`` (the document's text, or its :func:`undefined_names` already counted) does,
    sorted; ``[]`` when either does not compile."""
    old = undefined_names(before) if isinstance(before, str) else before
    new = undefined_names(after)
    if old is None or new is None:
        return []
    return sorted(name for name, count in new.items() if count > old.get(name, 0))

"""Undefined names in a code action's Python answer (pyflakes, nothing is run)."""

from __future__ import annotations

from codex_ls.actions.lint import new_undefined_names, undefined_names

BEFORE = "import math\n\n\ndef f(n):\n    \"\"\"Factorials of 1..n.\"\"\"\n    pass\n\n\ndef g():\n    return helper()\n"


def test_undefined_names_counts_uses_and_ignores_what_is_defined():
    found = undefined_names("import math\nx = 1\n\ndef f(y):\n    return math.pi + x + y + z + z + len(w)\n")
    assert found == {"z": 2, "w": 1}
    assert undefined_names("def f(:\n") is None


def test_only_names_the_edit_adds_count():
    after = BEFORE.replace("    pass\n", "    return [factorial(i) for i in range(1, n + 1)] + [math.prod(range(1, n))]\n")
    assert new_undefined_names(BEFORE, after) == ["factorial"]  # helper() was undefined before the edit
    assert new_undefined_names(undefined_names(BEFORE), after) == ["factorial"]  # counted once, as the server does
    fixed = BEFORE.replace("    pass\n", "    return [math.factorial(i) for i in range(1, n + 1)]\n")
    assert new_undefined_names(BEFORE, fixed) == []
    assert new_undefined_names(BEFORE, after + "def broken(:\n") == []

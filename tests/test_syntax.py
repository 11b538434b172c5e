"""should_complete: strings, comments and finished blocks, in several languages."""

import pytest

from codex_ls.documents import Document
from codex_ls.syntax import python_indentation_errors, should_complete

CURSOR = "‸"


def check(source: str, language: str) -> bool:
    offset = source.index(CURSOR)
    doc = Document(f"file:///t.{language}", source.replace(CURSOR, ""), 1, language)
    return should_complete(doc.tree, doc.byte_offset(offset), doc.source)


@pytest.mark.parametrize(
    "language, source",
    [
        ("python", 'x = "hel‸lo"\n'),
        ("python", "# a comm‸ent here\nx = 1\n"),
        ("python", 'def f():\n    """Doc‸string."""\n'),
        ("python", "def f(x):\n    return x + 1‸\n\ndef g():\n    pass\n"),
        ("python", "for x in xs:\n    if x:\n        break‸\n"),
        ("javascript", "const s = 'a‸b';\n"),
        ("javascript", "function f() {\n  return 1;‸\n}\n"),
        ("javascript", "// todo: wr‸ite\nlet x;\n"),
        ("go", 'package main\n\nfunc f() string {\n\treturn "a‸b"\n}\n'),
        ("rust", "fn f() -> i32 {\n    // add‸ them\n    1\n}\n"),
    ],
)
def test_nothing_to_complete(language, source):
    assert check(source, language) is False


@pytest.mark.parametrize(
    "language, source",
    [
        ("python", "def f(x):\n    ‸\n"),
        ("python", "def f(x):\n    return ‸\n"),
        ("python", "def f(x):\n    return‸\n"),  # a bare return: the value comes next
        ("python", "def f(x):\n    raise V‸\n"),  # a word being typed
        ("javascript", "function f() {\n  return‸\n}\n"),
        ("python", 'name = "a"‸\n'),
        ("python", 'msg = f"{na‸}"\n'),
        ("python", "# compute the total\n‸\n"),
        ("javascript", "const s = `x${‸}`;\n"),
        ("javascript", "function f() {\n  ‸\n}\n"),
        ("go", "package main\n\nfunc f() int {\n\t‸\n}\n"),
        ("rust", "fn f() -> i32 {\n    let x = ‸\n}\n"),
        ("python", "x = 1 # note‸\n"),
    ],
)
def test_something_to_complete(language, source):
    assert check(source, language) is True


def test_unknown_language_always_completes():
    assert should_complete(None, 0, b"") is True


@pytest.mark.parametrize(
    "source, errors",
    [
        ("def f():\n    x = 1\n", 0),
        ("def f():\nx = 1\n", 1),  # expected an indented block
        ("def f():\n    x = 1\n        y = 2\n", 1),  # unexpected indent
        ("def f():\n    if x:\n        y\n  z\n", 1),  # unindent does not match
        ("x = (1,\n      2)\nif x: y\n", 0),  # continuation lines and one-line bodies
        ('def f():\n    """doc\n  more"""\n    return 1\n', 0),  # docstring lines do not count
        ("d = {\n  'a': 1,\n}\n", 0),
        ("for x in y:\n", 1),  # ends right after an opener
    ],
)
def test_python_indentation_errors(source, errors):
    assert python_indentation_errors(source) == errors
    if errors:  # what the count says is what CPython says
        with pytest.raises(SyntaxError):
            compile(source, "<t>", "exec")
    else:
        compile(source, "<t>", "exec")


def test_python_indentation_error_lines_point_at_the_opener_or_the_bad_line():
    from codex_ls.syntax import python_indentation_error_lines

    assert python_indentation_error_lines("def f():\n    if x:\n    y = 1\n") == [2]  # the `if` has no body
    assert python_indentation_error_lines("def f():\n    x = 1\n        y = 2\n") == [3]

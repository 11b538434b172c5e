"""should_complete: strings, comments and finished blocks, in several languages."""

import pytest

from codex_ls.documents import Document
from codex_ls.syntax import should_complete

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

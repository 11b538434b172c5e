"""Prompt context from tree-sitter: imports, enclosing scopes, other open documents (pure)."""

from pathlib import Path

from codex_ls.completion import ModelProfile, SuffixEnd, _prompt, other_documents, suffix_end
from codex_ls.context import definitions, display_path, import_lines, names_near, related_snippets, scope_end_line, scope_headers
from codex_ls.documents import Document
from codex_ls.prompt import FimTemplate, RepoFormat, build_prompt
from codex_ls.settings import CompletionSettings

GEOMETRY = '''import math


def circle_area(radius: float) -> float:
    """Area of a circle of ``radius``."""
    return math.pi * radius ** 2


def unused_helper(x):
    return x


class Shape:
    """A shape."""

    def __init__(self, name):
        self.name = name
        self.a = 1
        self.b = 2
        self.c = 3
        self.d = 4
        self.e = 5
        self.f = 6
        self.g = 7
        self.h = 8
        self.i = 9
'''

MAIN = '''import os
import sys

from geometry import circle_area


def report(r):
    area = circle_area(r)
    shape = Shape("disc")
    return 
'''


def count(text: str) -> int:
    return len(text.split()) + text.count("\n")


def test_definitions_summarise_long_bodies():
    doc = Document("file:///w/geometry.py", GEOMETRY, 0, "python")
    defs = {name: summary for name, _line, summary in definitions("python", doc.tree, doc.source)}
    assert set(defs) == {"circle_area", "unused_helper", "Shape"}
    assert defs["circle_area"].startswith("def circle_area(radius: float) -> float:") and "math.pi" in defs["circle_area"]
    # a long class: header and docstring, the body elided
    assert defs["Shape"] == 'class Shape:\n    """A shape."""\n    ...\n'


def test_related_snippets_only_what_the_code_uses_within_budget():
    geo = Document("file:///w/geometry.py", GEOMETRY, 3, "python")
    others = other_documents([geo], "file:///w/main.py")
    used = names_near(MAIN, MAIN.index("return ") + 7)
    snippets = related_snippets(others, used, 1000, count, "file:///w")
    assert [(s.path, s.name) for s in snippets] == [("geometry.py", "circle_area"), ("geometry.py", "Shape")]
    # a budget too small for the second one keeps the first
    first_cost = count(snippets[0].text)
    assert [s.name for s in related_snippets(others, used, first_cost, count, "file:///w")] == ["circle_area"]
    # names the current file defines itself are not repeated
    assert [s.name for s in related_snippets(others, used, 1000, count, None, {"Shape"})] == ["circle_area"]


def test_names_near_leave_the_cursor_line_out():
    text = "a = 1\nb = a + zeta_typing\nc = 2\n"
    offset = text.index("zeta_typing") + 4
    assert "zeta_typing" not in names_near(text, offset) and {"a", "c"} <= names_near(text, offset)


def test_import_lines_and_scope_headers():
    doc = Document("file:///w/main.py", MAIN, 0, "python")
    lines = MAIN.split("\n")
    assert [lines[a] for a, _b in import_lines("python", doc.tree, doc.source)] == ["import os", "import sys", "from geometry import circle_area"]
    offset = MAIN.index("return ") + 7
    assert scope_headers(doc.tree, doc.byte_offset(offset), doc.source) == [(6, "def report(r):")]


def test_display_path():
    assert display_path("file:///home/u/proj/pkg/mod.py", "file:///home/u/proj") == "pkg/mod.py"
    assert display_path("file:///elsewhere/a/b/c.py", "file:///home/u/proj") == "b/c.py"


def test_prompt_puts_other_files_first_in_the_repository_format():
    main = Document("file:///w/main.py", MAIN, 0, "python")
    geo = Document("file:///w/geometry.py", GEOMETRY, 0, "python")
    offset = MAIN.index("return ") + 7
    profile = ModelProfile(FimTemplate(), (), RepoFormat())
    prompt = _prompt(main, offset, _Counter(), profile, CompletionSettings(), other_documents([main, geo], main.uri), "file:///w")
    assert prompt.text.startswith("<|repo_name|>\n<|file_sep|>geometry.py\ndef circle_area(")
    assert "<|file_sep|>main.py\n<|fim_prefix|>import os\n" in prompt.text
    assert "unused_helper" not in prompt.text
    # without other documents: the plain FIM prompt
    plain = _prompt(main, offset, _Counter(), profile, CompletionSettings(), [], None)
    assert plain.text.startswith("<|fim_prefix|>import os\n")


def test_pinned_imports_and_headers_survive_a_small_prefix_budget():
    body = "".join(f"    x{i} = {i}\n" for i in range(200))
    text = "import os\n\n\ndef big():\n" + body + "    return "
    doc = Document("file:///w/big.py", text, 0, "python")
    prompt = _prompt(doc, len(text), _Counter(), ModelProfile(FimTemplate(), ()), CompletionSettings(prefix_tokens=60), [], None)
    assert prompt.prefix.startswith("import os\ndef big():\n    x")
    assert prompt.prefix.endswith("    x199 = 199\n    return ")
    assert "x0 = 0" not in prompt.prefix


def test_build_prompt_without_context_equals_plain_fim():
    p = build_prompt("a\nb\n", "c\n", FimTemplate(), count)
    assert p.text == "<|fim_prefix|>a\nb\n<|fim_suffix|>c\n<|fim_middle|>"


class _Counter:
    """The token-counting part of the engine interface, counting words (pure tests need no model)."""

    def count_tokens(self, text: str) -> int:
        return count(text)


import pytest  # noqa: E402


@pytest.mark.parametrize(
    "language, uri, source, imports, names",
    [
        ("javascript", "file:///w/a.js", "import fs from 'fs';\n\nfunction load(p) {\n  return fs.readFileSync(p);\n}\nexport class Box {}\nconst LIMIT = 3;\n", 1, ["load", "Box", "LIMIT"]),
        ("typescript", "file:///w/a.ts", "import { x } from './x';\n\nexport interface Point { x: number; y: number }\nexport function norm(p: Point): number {\n  return Math.hypot(p.x, p.y);\n}\n", 1, ["Point", "norm"]),
        ("go", "file:///w/a.go", "package geo\n\nimport \"math\"\n\ntype Point struct{ X, Y float64 }\n\nfunc (p Point) Norm() float64 {\n\treturn math.Hypot(p.X, p.Y)\n}\n\nfunc Origin() Point { return Point{} }\n", 2, ["Point", "Norm", "Origin"]),
        ("rust", "file:///w/a.rs", "use std::fmt;\n\npub struct Point { x: f64 }\n\npub fn norm(p: &Point) -> f64 {\n    p.x.abs()\n}\n", 1, ["Point", "norm"]),
    ],
)
def test_queries_for_every_language(language, uri, source, imports, names):
    doc = Document(uri, source, 0, language)
    assert len(import_lines(language, doc.tree, doc.source)) == imports
    assert [name for name, _line, _summary in definitions(language, doc.tree, doc.source)] == names


def test_query_files_inherit_their_parents_patterns():
    from codex_ls.queries import load_query, query_text

    assert query_text("tsx", "definitions").count("function_declaration") == query_text("javascript", "definitions").count("function_declaration")
    assert "interface_declaration" in query_text("tsx", "definitions")
    for language in ("javascript", "typescript", "tsx"):
        text = query_text(language, "code_actions")
        assert "method_definition" in text and "@class.name" in text
        assert load_query(language, "code_actions") is not None  # compiles against its own grammar


def test_imports_stay_pinned_while_a_line_is_typed():
    # Typing "    for i" in textwrap.py (the standard library) turns the whole module into one
    # ERROR node; its imports must still be found, or the prompt's head (and the KV cache) changes.
    import textwrap as stdlib_textwrap

    from codex_ls.context import import_lines

    source = Path(stdlib_textwrap.__file__).read_text(encoding="utf-8")
    line = "    for indent in indents:"
    start = source.index(line)
    whole = Document("file:///w/textwrap.py", source, 0, "python")
    expected = import_lines("python", whole.tree, whole.source)
    assert expected
    for n in range(5, len(line)):
        typed = source[:start] + line[:n] + source[start + len(line) :]
        doc = Document("file:///w/textwrap.py", typed, n, "python")
        assert import_lines("python", doc.tree, doc.source) == expected, line[:n]


# --- the suffix ends with the enclosing scope ------------------------------------------------

SCOPED = {
    "python": ("file:///w/s.py", "class Box:\n    def size(self):\n        n = 0\n        CURSOR\n        return n\n\n    def other(self):\n        return 2\n\n\ndef after():\n    return 3\n", 4),
    "javascript": ("file:///w/s.js", "class Box {\n  size() {\n    let n = 0;\n    CURSOR\n    return n;\n  }\n\n  other() { return 2; }\n}\n\nfunction after() { return 3; }\n", 5),
    "go": ("file:///w/s.go", "package main\n\nfunc size() int {\n\tn := 0\n\tCURSOR\n\treturn n\n}\n\nfunc after() int { return 3 }\n", 6),
    "rust": ("file:///w/s.rs", "fn size() -> i32 {\n    let n = 0;\n    CURSOR\n    n\n}\n\nfn after() -> i32 { 3 }\n", 4),
}


@pytest.mark.parametrize("language", sorted(SCOPED))
def test_the_suffix_ends_with_the_innermost_scope_around_the_cursor(language):
    uri, marked, end_line = SCOPED[language]
    offset = marked.index("CURSOR")
    text = marked.replace("CURSOR", "")
    doc = Document(uri, text, 0, language)
    assert scope_end_line(doc.tree, doc.byte_offset(offset), doc.source) == end_line
    profile = ModelProfile(FimTemplate(), ())
    end = suffix_end(doc, offset)
    assert end == SuffixEnd(text.count("\n", 0, offset), text.count("\n", offset), end_line)
    prompt = _prompt(doc, offset, _Counter(), profile, CompletionSettings(context_tokens=0), [], None, suffix_lines=end.end_line - end.cursor_line)
    lines = text.split("\n")
    scope_end = len("\n".join(lines[: end_line + 1])) + 1  # after the scope's last line break
    assert prompt.suffix == text[offset:scope_end]
    assert "after" not in prompt.suffix and prompt.suffix.endswith(lines[end_line] + "\n")
    whole = _prompt(doc, offset, _Counter(), profile, CompletionSettings(context_tokens=0), [], None)
    assert whole.suffix == text[offset:]


def test_no_scope_end_below_the_cursor_keeps_the_suffix_to_its_budget():
    # at the end of a top-level function's body the code that follows is the context
    text = "def f():\n    x = 1\n    \n\ndef g():\n    return 2\n"
    doc = Document("file:///w/e.py", text, 0, "python")
    offset = text.index("    \n") + 4
    assert scope_end_line(doc.tree, doc.byte_offset(offset), doc.source) is None
    assert suffix_end(doc, offset).end_line is None
    # a nested function that ended above the cursor: the outer one bounds the suffix
    nested = "def outer():\n    def inner():\n        return 1\n    \n    return inner\n\n\ndef g():\n    pass\n"
    doc = Document("file:///w/n.py", nested, 0, "python")
    offset = nested.index("    \n") + 4
    assert scope_end_line(doc.tree, doc.byte_offset(offset), doc.source) == 4
    # module level: nothing encloses the cursor
    top = "import os\n\nX = 1\n"
    doc = Document("file:///w/t.py", top, 0, "python")
    assert scope_end_line(doc.tree, doc.byte_offset(len("import os\n")), doc.source) is None


def test_the_suffix_end_stays_put_while_typing_on_one_line():
    # Go: a half-typed `if n > 0 {` leaves a brace open, and tree-sitter then ends the function
    # elsewhere; the suffix must not change with each keystroke (the KV cache holds it).
    text = "package main\n\nfunc size() int {\n\tn := 0\n\t\n\treturn n\n}\n\nfunc after() int {\n\treturn 3\n}\n"
    offset = text.index("\t\n\treturn") + 1
    doc = Document("file:///w/s.go", text, 0, "go")
    first = suffix_end(doc, offset)
    assert first.end_line == 6
    typed = text[:offset] + "if n > 0 {" + text[offset:]
    doc2 = Document("file:///w/s.go", typed, 1, "go")
    at = offset + len("if n > 0 {")
    assert suffix_end(doc2, at).end_line != 6  # what the tree says mid-line
    assert suffix_end(doc2, at, first) is first  # kept: same line, as many lines below
    # another line (or a line added below) is measured again
    moved = text.index("\treturn n") + 1
    assert suffix_end(doc, moved, first) == SuffixEnd(5, text.count("\n", moved), 6)
    assert suffix_end(doc, moved, first) is not first


@pytest.mark.parametrize(
    "language, text, expected",
    [
        ("python", "class A:\n    def f(self):\n        '''Doc.'''\n        x = 1\n        @\n        y = 2\n\n    def g(self):\n        pass\n", 8),
        ("python", "def outer():\n    def inner():\n        return 1\n    @\n    return inner\n", 8),  # from the code before: inner (completion_floor caps it)
        ("javascript", "class A {\n  f() {\n    let x = 1;\n    @\n    return x;\n  }\n}\n", 4),
        ("typescript", "const f = (a: number) => {\n  const b = a;\n  @\n  return b;\n};\n", 2),
        ("go", "package m\n\nfunc f() int {\n\tx := 1\n\t@\n\treturn x\n}\n", 4),
        ("rust", "impl A {\n    fn f(&self) -> i32 {\n        let x = 1;\n        @\n        x\n    }\n}\n", 8),
        ("python", "x = 1\n@\ny = 2\n", None),
        # the hole leaves the document unparsable (the code below is indented for the lines to
        # write): the lines above the cursor tell the body's level, not tree-sitter's body
        ("python", "def f(xs):\n    def g(s):\n        depth = 0\n@                depth += 1\n            else:\n                depth -= 1\n        return depth\n    return g\n", 8),
        ("python", "class A:\n    def f(self):\n@                return 1\n", 5),  # no body line above: deeper than `def`
        ("python", "class A:\n    x = 1\n    @\n    y = 2\n", None),  # a class body is no function
    ],
)
def test_function_body_indent_is_the_innermost_functions_body_level(language, text, expected):
    from codex_ls.context import function_body_indent

    offset = text.index("@")
    text = text.replace("@", "")
    ext = {"python": "py", "javascript": "js", "typescript": "ts", "go": "go", "rust": "rs"}[language]
    doc = Document(f"file:///w/a.{ext}", text, 0, language)
    assert function_body_indent(doc.tree, doc.byte_offset(offset), doc.source) == expected

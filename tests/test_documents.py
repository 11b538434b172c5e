"""Tests for codex_ls.documents and codex_ls.languages: incremental edits and incremental parsing."""

from __future__ import annotations

import tree_sitter
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codex_ls.documents import Change, Document, DocumentStore, InputEdit, input_edit
from codex_ls.languages import LanguageInfo, language_for, new_parser
from codex_ls.text import ENCODINGS, LineIndex
from reference import ref_lines, units

# -- slow reference implementation of LSP edits ------------------------------------------


def ref_offset(text: str, pos: tuple[int, int], enc: str) -> int:
    line, character = pos
    lines = ref_lines(text)
    if line >= len(lines):
        return len(text)
    i, end = lines[line]
    count = 0
    while i < end and count + units(text[i], enc) <= character:
        count += units(text[i], enc)
        i += 1
    return i


def ref_point(text: str, offset: int) -> tuple[int, int]:
    """tree-sitter point: rows count "\\n" only, column in UTF-8 bytes."""
    prefix = text[:offset].encode("utf-8")
    return prefix.count(b"\n"), len(prefix) - (prefix.rfind(b"\n") + 1)


def ref_input_edit(old: str, start: int, end: int, new_text: str) -> InputEdit:
    new = old[:start] + new_text + old[end:]
    new_end = start + len(new_text)
    return InputEdit(
        len(old[:start].encode()),
        len(old[:end].encode()),
        len(new[:new_end].encode()),
        ref_point(old, start),
        ref_point(old, end),
        ref_point(new, new_end),
    )


def ref_apply(text: str, changes: list[Change], enc: str) -> str:
    for ch in changes:
        if ch.start is None:
            text = ch.text
            continue
        a, b = ref_offset(text, ch.start, enc), ref_offset(text, ch.end, enc)
        a, b = min(a, b), max(a, b)
        text = text[:a] + ch.text + text[b:]
    return text


def line_units(text: str, line: int, enc: str) -> int:
    lines = ref_lines(text)
    if line >= len(lines):
        return 0
    a, b = lines[line]
    return sum(units(c, enc) for c in text[a:b])


# -- tree comparison ---------------------------------------------------------------------


def node_list(tree: tree_sitter.Tree) -> list[tuple]:
    """(type, start_byte, end_byte, start_point, end_point, is_missing) of every node, pre-order."""
    out = []
    cursor = tree.walk()
    while True:
        n = cursor.node
        out.append((n.type, n.start_byte, n.end_byte, tuple(n.start_point), tuple(n.end_point), n.is_missing))
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return out


def assert_tree_matches_fresh_parse(doc: Document) -> None:
    assert doc.tree is not None
    fresh = doc.reparse_full()
    assert fresh is not None
    assert str(doc.tree.root_node) == str(fresh.root_node)
    assert node_list(doc.tree) == node_list(fresh)
    assert doc.error_count() == doc.error_count(fresh)


# -- languages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "language_id, uri, name",
    [
        ("python", None, "python"),
        ("PYTHON", None, "python"),
        ("javascript", None, "javascript"),
        ("javascriptreact", None, "javascript"),
        ("jsx", None, "javascript"),
        ("typescript", None, "typescript"),
        ("typescriptreact", None, "tsx"),
        ("tsx", None, "tsx"),
        ("go", None, "go"),
        ("rust", None, "rust"),
        ("java", None, "java"),
        ("c", None, "c"),
        ("cpp", None, "cpp"),
        ("c++", None, "cpp"),
        (None, "file:///src/a.py", "python"),
        (None, "file:///src/a.PY", "python"),
        ("plaintext", "file:///src/a.js", "javascript"),
        (None, "file:///src/a.jsx", "javascript"),
        (None, "file:///src/a.ts", "typescript"),
        (None, "file:///src/a.tsx", "tsx"),
        (None, "file:///src/main.go", "go"),
        (None, "file:///src/lib.rs", "rust"),
        (None, "file:///src/A.java", "java"),
        (None, "file:///src/a.c", "c"),
        (None, "file:///src/a.cc", "cpp"),
        (None, "file:///src/a.cxx", "cpp"),
        (None, "file:///src/a.hpp", "cpp"),
        (None, "file:///src/a.hh", "cpp"),
        (None, "file:///src/my%20dir/a%2Bb.py", "python"),
        ("python", "file:///src/a.js", "python"),  # languageId wins
    ],
)
def test_language_for(language_id, uri, name):
    info = language_for(language_id, uri)
    assert isinstance(info, LanguageInfo)
    assert info.name == name
    assert info.comment_prefix == ("#" if name == "python" else "//")
    assert info is language_for(language_id, uri)  # cached
    assert new_parser(info).parse(b"x").root_node is not None


@pytest.mark.parametrize(
    "language_id, uri",
    [(None, None), ("plaintext", None), ("markdown", "file:///README.md"), (None, "untitled:Untitled-1"), ("", "")],
)
def test_language_unknown(language_id, uri):
    assert language_for(language_id, uri) is None


def test_tsx_grammar_parses_jsx():
    doc = Document("file:///a.tsx", "const x: number = <div>{1}</div>;\n", 1, "typescriptreact")
    assert doc.language is not None and doc.language.name == "tsx"
    assert doc.error_count() == 0
    ts_doc = Document("file:///a.ts", "const x = <T,>(y: T) => y;\n", 1, "typescript")
    assert ts_doc.error_count() == 0


# -- documents ---------------------------------------------------------------------------


def test_open_parses_and_counts_errors():
    doc = Document("file:///a.py", "def f(x):\n    return x\n", 3, "python")
    assert doc.version == 3
    assert doc.language is not None and doc.language.name == "python"
    assert doc.tree is not None and doc.tree.root_node.type == "module"
    assert doc.error_count() == 0


@pytest.mark.parametrize(
    "language_id, source, expected",
    [
        ("python", "def f(:\n    pass\n", None),
        ("python", "x = (1,\ny = 2\n", None),
        ("javascript", "function f( {\n", None),
        ("javascript", "let x = 1\nlet y = ;\n", None),
        ("javascript", "f(1, 2\n", None),
        ("c", "int main() { return 0 }\n", 1),  # MISSING ";"
        ("python", "def f(x):\n    return x\n", 0),
        ("javascript", "const f = (x) => x * 2;\n", 0),
    ],
)
def test_error_count(language_id, source, expected):
    doc = Document("file:///x", source, 1, language_id)
    n = doc.error_count()
    if expected is None:
        assert n >= 1
    else:
        assert n == expected
    # agrees with a brute-force count over every node
    assert n == sum(1 for node in _all_nodes(doc.tree) if node.is_error or node.is_missing)


def _all_nodes(tree):
    out, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def test_error_count_missing_node():
    doc = Document("file:///a.c", "int main() { return 0 }\n", 1, "c")
    assert any(n.is_missing for n in _all_nodes(doc.tree))
    assert doc.error_count() == 1
    doc.apply_changes([Change((0, 21), (0, 21), ";")], 2)
    assert doc.text == "int main() { return 0; }\n"
    assert doc.error_count() == 0


def test_error_count_without_tree():
    doc = Document("file:///notes.txt", "def f(:", 1, None)
    assert doc.tree is None
    assert doc.error_count() == 0


def test_unknown_language_updates_text_only():
    doc = Document("untitled:Untitled-1", "héllo\nwörld 😀!\n", 1, "plaintext")
    assert doc.language is None and doc.tree is None
    doc.apply_changes([Change((1, 8), (1, 9), "?"), Change((0, 1), (0, 2), "e")], 2)
    assert doc.text == "hello\nwörld 😀?\n"
    assert doc.version == 2
    assert doc.tree is None
    assert doc.reparse_full() is None
    assert doc.position_at(len(doc.text) - 1) == (1, 9)


def test_incremental_edit_non_ascii():
    text = "s = 'é中😀'\nt = s  # 😀 done\n"
    doc = Document("file:///a.py", text, 1, "python")
    # utf-16: line 1 "t = s  # 😀 done": '😀' at 9..10, ' done' from 11
    changes = [Change((1, 11), (1, 16), " ok"), Change((0, 7), (0, 9), "🎉x")]
    doc.apply_changes(changes, 2)
    assert doc.text == ref_apply(text, changes, "utf-16") == "s = 'é中🎉x'\nt = s  # 😀 ok\n"
    assert doc.version == 2
    assert_tree_matches_fresh_parse(doc)


def test_incremental_edit_utf8_encoding():
    text = "s = 'é中😀'\nt = 1\n"
    doc = Document("file:///a.py", text, 1, "python", encoding="utf-8")
    # utf-8: "s = '" is 5 bytes, é 2, 中 3, 😀 4
    doc.apply_changes([Change((0, 7), (0, 10), "ß")], 2)
    assert doc.text == "s = 'éß😀'\nt = 1\n"
    assert doc.offset_at(0, 9) == 7  # 'ß' ends at byte 9 -> '😀' at str offset 7
    assert doc.position_at(7) == (0, 9)
    assert doc.byte_offset(7) == 9
    assert_tree_matches_fresh_parse(doc)


def test_incremental_edit_utf32_encoding():
    doc = Document("file:///a.js", "let s = '😀😀';\n", 1, "javascript", encoding="utf-32")
    doc.apply_changes([Change((0, 10), (0, 10), "é")], 2)
    assert doc.text == "let s = '😀é😀';\n"
    assert_tree_matches_fresh_parse(doc)


def test_crlf_document_edits():
    text = "def f(x):\r\n    return x\r\n\r\nprint(f(1))\r\n"
    doc = Document("file:///a.py", text, 1, "python")
    changes = [
        Change((1, 12), (1, 12), " + 1"),
        Change((3, 0), (3, 11), "y = f(2)\r\nprint(y)"),
        Change((2, 0), (3, 0), ""),
    ]
    doc.apply_changes(changes, 2)
    assert doc.text == ref_apply(text, changes, "utf-16")
    assert doc.text == "def f(x):\r\n    return x + 1\r\ny = f(2)\r\nprint(y)\r\n"
    assert_tree_matches_fresh_parse(doc)


def test_lone_cr_document_edits():
    text = "a = 1\rb = 2\r\nc = 3\n"
    doc = Document("file:///a.py", text, 1, "python")
    changes = [Change((1, 4), (1, 5), "22\r\rd = 4"), Change((0, 0), (0, 1), "aa")]
    doc.apply_changes(changes, 2)
    assert doc.text == ref_apply(text, changes, "utf-16")
    assert_tree_matches_fresh_parse(doc)


def test_input_edit():
    old = "a😀\rb\r\n中 = 1\n"
    ix = LineIndex(old)
    # replace "b\r\n中" (offsets 3..7) by "é\nxy😀"
    edit = input_edit(ix, 3, 7, "é\nxy😀")
    assert edit == InputEdit(
        start_byte=6,
        old_end_byte=12,
        new_end_byte=6 + 9,
        start_point=(0, 6),  # a lone "\r" does not start a tree-sitter row
        old_end_point=(1, 3),
        new_end_point=(1, 6),
    )
    assert edit == ref_input_edit(old, 3, 7, "é\nxy😀")
    assert input_edit(ix, 3, 7, "é\nxy😀".encode()) == edit


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize(
    "language_id, template, insert",
    [
        (
            "python",
            "def f{i}(x):{nl}    s = 'é中😀 {i}'{nl}    return [x, s]{nl}{nl}",
            "  # 😀{nl}    ß = 'ü'",
        ),
        (
            "javascript",
            "function f{i}(x) {{{nl}  const s = 'é中😀 {i}';{nl}  return [x, s];{nl}}}{nl}",
            " // 😀{nl}  let ß = 'ü';",
        ),
    ],
)
def test_incremental_parse_reuses_unchanged_subtrees(language_id, template, insert, newline):
    """Correct edits let tree-sitter reuse the old subtrees around the edit. (Wrong byte offsets
    would still give a correct tree, by reparsing more, so check the reuse explicitly.)"""
    text = "".join(template.format(i=i, nl=newline) for i in range(40))
    doc = Document("file:///t", text, 1, language_id)
    log: list[str] = []
    doc.parser.logger = lambda _type, message: log.append(message)
    # insert non-ASCII text with a line break at the end of the string line of function 20
    doc.apply_changes([Change((20 * 4 + 1, 99), (20 * 4 + 1, 99), insert.format(nl=newline))], 2)
    doc.parser.logger = None
    assert doc.error_count() == 0
    assert_tree_matches_fresh_parse(doc)
    # about 100 (javascript) / 200 (python) nodes are reused; a full reparse reuses none
    reused = sum(1 for message in log if message.startswith("reuse_node"))
    assert reused >= 50, reused


def test_full_replacement():
    doc = Document("file:///a.py", "x = 1\n", 1, "python")
    doc.apply_changes([Change(None, None, "def g():\n    pass\n")], 2)
    assert doc.text == "def g():\n    pass\n"
    assert doc.version == 2
    assert_tree_matches_fresh_parse(doc)
    # full replacement in the middle of incremental changes
    changes = [Change((0, 4), (0, 5), "h"), Change.full("é = 2\n"), Change((0, 4), (0, 5), "3")]
    doc.apply_changes(changes, 3)
    assert doc.text == "é = 3\n"
    assert_tree_matches_fresh_parse(doc)


def test_multiple_changes_apply_in_order():
    text = "a = 1\nb = 2\nc = 3\n"
    doc = Document("file:///a.py", text, 1, "python")
    changes = [
        Change((0, 0), (0, 0), "# 😀 header\n"),  # lines shift down by one for later changes
        Change((2, 4), (2, 5), "20"),
        Change((3, 0), (4, 0), ""),
        Change((0, 2), (0, 4), "é"),  # replaces the emoji (2 UTF-16 units)
    ]
    doc.apply_changes(changes, 7)
    assert doc.text == ref_apply(text, changes, "utf-16") == "# é header\na = 1\nb = 20\n"
    assert doc.version == 7
    assert_tree_matches_fresh_parse(doc)


def test_clamping_and_reversed_ranges():
    text = "ab\ncd"
    doc = Document("file:///a.py", text, 1, "python")
    doc.apply_changes([Change((0, 99), (0, 99), "!")], 2)
    assert doc.text == "ab!\ncd"
    doc.apply_changes([Change((99, 0), (99, 5), "\ne")], 3)
    assert doc.text == "ab!\ncd\ne"
    doc.apply_changes([Change((1, 2), (0, 3), "")], 4)  # end before start: swapped
    assert doc.text == "ab!\ne"
    assert_tree_matches_fresh_parse(doc)


def test_negative_position_raises_and_leaves_document_unchanged():
    doc = Document("file:///a.py", "x = 1\n", 1, "python")
    tree = doc.tree
    with pytest.raises(ValueError):
        doc.apply_changes([Change((0, 0), (0, 1), "y"), Change((-1, 0), (0, 0), "z")], 2)
    assert doc.text == "x = 1\n" and doc.version == 1 and doc.tree is tree


def test_old_tree_is_not_mutated():
    doc = Document("file:///a.py", "x = 1\ny = 2\n", 1, "python")
    old = doc.tree
    old_nodes = node_list(old)
    doc.apply_changes([Change((0, 0), (0, 0), "z = 0\n")], 2)
    assert node_list(old) == old_nodes
    assert doc.tree is not old


def test_empty_change_list_only_sets_version():
    doc = Document("file:///a.py", "x = 1\n", 1, "python")
    tree = doc.tree
    doc.apply_changes([], 5)
    assert doc.version == 5 and doc.tree is tree


def test_document_positions_follow_encoding():
    text = "a😀b\n"
    for enc, col in (("utf-8", 5), ("utf-16", 3), ("utf-32", 2)):
        doc = Document("file:///a.py", text, 1, "python", encoding=enc)
        assert doc.offset_at(0, col) == 2
        assert doc.position_at(2) == (0, col)
        assert doc.byte_offset(2) == 5
        assert doc.source == text.encode()


def test_change_from_lsp():
    from lsprotocol import types

    partial = types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(1, 2), types.Position(3, 4)), text="x"
    )
    assert Change.from_lsp(partial) == Change((1, 2), (3, 4), "x")
    whole = types.TextDocumentContentChangeWholeDocument(text="all")
    assert Change.from_lsp(whole) == Change(None, None, "all") == Change.full("all")


def test_store():
    store = DocumentStore()
    assert len(store) == 0
    doc = store.open("file:///a.py", "x = 1\n", 1, "python")
    assert store.get("file:///a.py") is doc
    assert doc.encoding == "utf-16"
    assert "file:///a.py" in store
    assert store.get("file:///missing.py") is None
    store.encoding = "utf-8"
    doc2 = store.open("file:///b.rs", "fn main() {}\n", 1, "rust")
    assert doc2.encoding == "utf-8" and doc2.language is not None and doc2.language.name == "rust"
    assert len(store) == 2
    assert {d.uri for d in store} == {"file:///a.py", "file:///b.rs"}
    reopened = store.open("file:///a.py", "y = 2\n", 4, "python")
    assert store.get("file:///a.py") is reopened and len(store) == 2
    store.close("file:///a.py")
    store.close("file:///a.py")  # closing twice is fine
    assert store.get("file:///a.py") is None
    assert len(store) == 1


# -- property: incremental parse == fresh parse ------------------------------------------

PYTHON_LINES = [
    "import os",
    "from typing import Any",
    "",
    "def f(x, y=1):",
    "    '''Docstring é中😀.'''",
    "    return x + y",
    "class A(Base):",
    "    def method(self):",
    "        if self.x:",
    "            pass",
    "        else:",
    "            return [i for i in range(10)]",
    "    x: int = 0",
    "s = \"héllo wörld 😀\"",
    "d = {'a': 1, 'b': [1, 2, 3]}",
    "print(f(1, 2))  # comment ✓",
    "while True:",
    "    break",
    "try:",
    "    raise ValueError('bad')",
    "except ValueError as e:",
    "    print(e)",
    "lambda a: a * 2",
    "@decorator",
    "async def g():",
    "    await h()",
]

JS_LINES = [
    "import { a, b } from './mod.js';",
    "",
    "function f(x, y = 1) {",
    "  return x + y;",
    "}",
    "const s = 'héllo 😀 中文';",
    "let arr = [1, 2, 3].map((v) => v * 2);",
    "class A extends B {",
    "  constructor() { super(); this.x = 1; }",
    "  get y() { return this.x; }",
    "}",
    "if (x) { y(); } else { z(); }",
    "// comment é✓",
    "/* block 😀 */",
    "const t = `template ${x} 🎉`;",
    "for (let i = 0; i < 10; i++) {",
    "  console.log(i);",
    "}",
    "export default f;",
    "const o = { k: 'v', n: null };",
]

SNIPPETS = [
    "",
    " ",
    "x",
    "é",
    "中",
    "😀",
    "𝔘",
    "\n",
    "\r\n",
    "\r",
    "(",
    ")",
    "{",
    "}",
    ":",
    "'",
    '"',
    "#",
    "//",
    "    ",
    "def ",
    "return ",
    "= 1",
    "\n    pass\n",
    "foo(bar, 'é😀')",
]

insert_texts = st.one_of(
    st.sampled_from(SNIPPETS),
    st.lists(st.sampled_from(SNIPPETS), min_size=1, max_size=4).map("".join),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=5),
)


def sources(lines: list[str]):
    line = st.one_of(
        st.sampled_from(lines),
        st.sampled_from(lines).map(lambda s: s + " # é😀"),
        st.text(alphabet=st.sampled_from(list("ab (){}:='\"é中😀𝔘\t")), max_size=12),
    )
    newline = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r\n", "\r"])
    return st.lists(st.tuples(line, newline), max_size=25).map(lambda pairs: "".join(a + b for a, b in pairs))


@st.composite
def position(draw, text: str, enc: str) -> tuple[int, int]:
    n_lines = len(ref_lines(text))
    line = draw(st.integers(0, n_lines))  # n_lines is one past the end: clamps
    width = line_units(text, line, enc)
    character = draw(st.integers(0, width + 2))  # may land in a surrogate pair / UTF-8 sequence
    return line, character


def run_edits(data, language_id: str, uri: str, lines: list[str], enc: str) -> None:
    text = data.draw(sources(lines), label="source")
    doc = Document(uri, text, 1, language_id, encoding=enc)
    assert doc.tree is not None
    assert_tree_matches_fresh_parse(doc)
    for version in range(2, 2 + data.draw(st.integers(1, 6), label="notifications")):
        changes = []
        current = text
        for _ in range(data.draw(st.integers(1, 3), label="changes")):
            start = data.draw(position(current, enc), label="start")
            if data.draw(st.booleans(), label="near"):
                # a short range on the same line, the usual typing case
                end = (start[0], start[1] + data.draw(st.integers(0, 3)))
            else:
                end = data.draw(position(current, enc), label="end")
                start, end = min(start, end), max(start, end)
            change = Change(start, end, data.draw(insert_texts, label="text"))
            changes.append(change)
            a, b = sorted((ref_offset(current, change.start, enc), ref_offset(current, change.end, enc)))
            assert input_edit(LineIndex(current), a, b, change.text) == ref_input_edit(current, a, b, change.text)
            current = ref_apply(current, [change], enc)
        doc.apply_changes(changes, version)
        text = current
        assert doc.text == text
        assert doc.version == version
        assert_tree_matches_fresh_parse(doc)


PROPERTY_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(st.data(), st.sampled_from(ENCODINGS))
def test_incremental_python_matches_fresh_parse(data, enc):
    run_edits(data, "python", "file:///t.py", PYTHON_LINES, enc)


@PROPERTY_SETTINGS
@given(st.data(), st.sampled_from(ENCODINGS))
def test_incremental_javascript_matches_fresh_parse(data, enc):
    run_edits(data, "javascript", "file:///t.js", JS_LINES, enc)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_incremental_utf8_mode_python(data):
    run_edits(data, "python", "file:///t.py", PYTHON_LINES, "utf-8")

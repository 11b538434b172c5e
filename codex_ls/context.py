"""What goes into a completion prompt besides the text around the cursor, found with tree-sitter.

Pure and server-free. Two kinds of context, both from the queries in
``grammars/<language>/``:

* ``imports.scm``: the current file's import statements, kept at the top of
  the prompt when the prefix budget cuts the top of the file away;
* ``definitions.scm``: top-level definitions (``@name``, ``@definition``) of the
  *other* open documents. Those whose names the code near the cursor uses are
  summarised (signature and docstring; the body becomes ``...`` when the
  whole definition is longer than :data:`FULL_DEFINITION_LINES` lines) and put
  before the current file in the model's repository format (Qwen2.5-Coder:
  ``<|repo_name|>``, ``<|file_sep|>path``; arXiv:2409.12186, section 3.1).

The summaries come first and change only when the set of names used near the
cursor changes, so while the user types inside a line the prompt's head stays
the same and the engine's KV cache reuses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import unquote, urlparse

import tree_sitter

from codex_ls.queries import load_query
from codex_ls.stops import indent_width

__all__ = [
    "Snippet",
    "FULL_DEFINITION_LINES",
    "import_lines",
    "definitions",
    "names_near",
    "related_snippets",
    "display_path",
]

FULL_DEFINITION_LINES = 12
"""A definition up to this many lines is shown whole; a longer one as signature, docstring and ``...``."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Snippet:
    """Code from another open document for the prompt.

    Attributes:
        path: the document's path as shown to the model (see :func:`display_path`).
        name: the defined name.
        text: the summary (whole lines, ending with a line break).
        line: 0-based line of the definition in its document (orders snippets).
    """

    path: str
    name: str
    text: str
    line: int


def display_path(uri: str, root_uri: str | None = None) -> str:
    """The path of ``uri`` relative to ``root_uri`` when under it, else its last two components."""
    path = unquote(urlparse(uri).path) if "://" in uri else uri
    if root_uri:
        root = unquote(urlparse(root_uri).path).rstrip("/") + "/"
        if path.startswith(root):
            return path[len(root):]
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[-2:]) if parts else uri


def _captures(query: tree_sitter.Query, node: tree_sitter.Node) -> dict[str, list[tree_sitter.Node]]:
    return tree_sitter.QueryCursor(query).captures(node)


def import_lines(language: str | None, tree: tree_sitter.Tree | None, source: bytes) -> list[tuple[int, int]]:
    """Line spans ``(first, last)`` (0-based, inclusive) of the top-level imports, in file order.

    Empty when the language has no ``imports.scm`` or there is no tree.
    """
    if tree is None or language is None:
        return []
    query = load_query(language, "imports")
    if query is None:
        return []
    nodes = _captures(query, tree.root_node).get("import", [])
    return sorted({(n.start_point[0], n.end_point[0]) for n in nodes})


def _summary(node: tree_sitter.Node, source: bytes) -> str:
    """The definition's text, or its head (signature, docstring) and ``...`` when it is long."""
    start = source.rfind(b"\n", 0, node.start_byte) + 1  # from the start of its first line
    text = source[start:node.end_byte].decode("utf-8", "replace")
    lines = text.split("\n")
    if len(lines) <= FULL_DEFINITION_LINES:
        return text + "\n"
    inner = node
    if inner.type == "decorated_definition":
        inner = inner.child_by_field_name("definition") or inner
    body = inner.child_by_field_name("body")
    if body is None:
        return "\n".join(lines[:FULL_DEFINITION_LINES]) + "\n"
    head_end = body.start_byte
    first = body.named_children[0] if body.named_children else None
    if first is not None and first.type == "expression_statement" and first.named_children and first.named_children[0].type == "string":
        head_end = first.end_byte  # keep a Python docstring
    head = source[start:head_end].decode("utf-8", "replace").rstrip()
    body_line = source[source.rfind(b"\n", 0, body.start_byte) + 1 : body.start_byte].decode("utf-8", "replace")
    if head.endswith("{"):
        return f"{head} ... }}\n"
    if head.endswith(":"):  # Python: the body starts on the next line
        indent = re.match(r"\s*", lines[0]).group(0) + "    "
        return f"{head}\n{indent}...\n"
    indent = re.match(r"\s*", body_line).group(0) if body_line.strip() == "" else re.match(r"\s*", lines[0]).group(0) + "    "
    return f"{head}\n{indent}...\n"


def definitions(language: str | None, tree: tree_sitter.Tree | None, source: bytes) -> list[tuple[str, int, str]]:
    """Top-level definitions ``(name, line, summary)`` of one document, in file order."""
    if tree is None or language is None:
        return []
    query = load_query(language, "definitions")
    if query is None:
        return []
    out: dict[int, tuple[str, int, str]] = {}
    for _pattern, match in tree_sitter.QueryCursor(query).matches(tree.root_node):
        names = match.get("name", [])
        defs = match.get("definition", [])
        if not names or not defs:
            continue
        node = defs[0]
        name = source[names[0].start_byte : names[0].end_byte].decode("utf-8", "replace")
        if node.start_byte not in out:
            out[node.start_byte] = (name, node.start_point[0], _summary(node, source))
    return [out[k] for k in sorted(out)]


def names_near(text: str, offset: int, lines_before: int = 60, lines_after: int = 20) -> set[str]:
    """Identifiers used in the lines around ``offset`` (a code-point index into ``text``).

    The cursor's own line is left out, so the set (and the prompt head built
    from it) does not change while the user types that line.
    """
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end == -1 else line_end
    before = text[:line_start].split("\n")[-lines_before - 1 :]
    after = text[line_end:].split("\n")[: lines_after + 1]
    return set(_IDENTIFIER.findall("\n".join(before))) | set(_IDENTIFIER.findall("\n".join(after)))


@dataclass(frozen=True)
class OtherDocument:
    """What :func:`related_snippets` needs of another open document."""

    uri: str
    language: str | None
    tree: tree_sitter.Tree | None
    source: bytes
    version: int | None = None


_DEFINITIONS_CACHE: dict[tuple[str, int | None, int], list[tuple[str, int, str]]] = {}
_CACHE_SIZE = 64


def cached_definitions(doc: "OtherDocument") -> list[tuple[str, int, str]]:
    """:func:`definitions` of ``doc``, cached by (uri, version, size) when the version is known."""
    if doc.version is None:
        return definitions(doc.language, doc.tree, doc.source)
    key = (doc.uri, doc.version, len(doc.source))
    found = _DEFINITIONS_CACHE.get(key)
    if found is None:
        found = definitions(doc.language, doc.tree, doc.source)
        if len(_DEFINITIONS_CACHE) >= _CACHE_SIZE:
            _DEFINITIONS_CACHE.pop(next(iter(_DEFINITIONS_CACHE)))
        _DEFINITIONS_CACHE[key] = found
    return found


def related_snippets(
    others: Iterable[OtherDocument],
    used: set[str],
    budget: int,
    count_tokens: Callable[[str], int],
    root_uri: str | None = None,
    defined_here: set[str] | None = None,
) -> list[Snippet]:
    """Definitions in ``others`` whose names are in ``used``, within ``budget`` tokens.

    Names the current document defines itself (``defined_here``) are skipped.
    Snippets are taken in document order (URIs sorted, then lines) until the
    next one would pass the budget; the result is in that same order, so it
    is stable for a stable ``used`` set.
    """
    out: list[Snippet] = []
    spent = 0
    skip = defined_here or set()
    for doc in sorted(others, key=lambda d: d.uri):
        path = display_path(doc.uri, root_uri)
        for name, line, summary in cached_definitions(doc):
            if name not in used or name in skip:
                continue
            cost = count_tokens(summary)
            if spent + cost > budget:
                return out
            out.append(Snippet(path, name, summary, line))
            spent += cost
    return out


SCOPE_TYPES = frozenset(
    {
        "function_definition", "class_definition",  # Python
        "function_declaration", "method_definition", "class_declaration", "generator_function_declaration",  # JS/TS
        "method_declaration", "type_declaration",  # Go
        "function_item", "impl_item", "trait_item", "mod_item",  # Rust
        "class_body", "interface_declaration",  # Java/TS
    }
)
"""Node types whose first line names the scope the cursor is in."""


def scope_headers(tree: tree_sitter.Tree | None, byte: int, source: bytes) -> list[tuple[int, str]]:
    """``(line, text)`` of the first line of each class/function enclosing UTF-8 offset ``byte``, outermost first."""
    if tree is None:
        return []
    anchor = len(source[:byte].rstrip()) - 1  # the last code before the cursor: a blank line
    if anchor < 0:  # at the end of a body is still inside it
        return []
    node = tree.root_node.descendant_for_byte_range(anchor, anchor)
    out = []
    while node is not None:
        if node.type in SCOPE_TYPES and node.start_byte < byte:
            start = source.rfind(b"\n", 0, node.start_byte) + 1
            end = source.find(b"\n", node.start_byte)
            end = len(source) if end == -1 else end
            out.append((node.start_point[0], source[start:end].decode("utf-8", "replace")))
        node = node.parent
    return out[::-1]


FUNCTION_TYPES = frozenset(
    {
        "function_definition",  # Python
        "function_declaration", "method_definition", "generator_function_declaration",
        "function_expression", "arrow_function",  # JS/TS
        "method_declaration", "func_literal",  # Go
        "function_item", "closure_expression",  # Rust
    }
)
"""Node types of functions and methods, whose body a completion inside them stays in."""


def function_body_indent(tree: tree_sitter.Tree | None, byte: int, source: bytes, tab_size: int = 4) -> int | None:
    """Indentation (columns, tabs = ``tab_size``) that the body of the innermost function or
    method (:data:`FUNCTION_TYPES`) around UTF-8 offset ``byte`` has, as far as the lines above
    the cursor tell: the least indentation of the non-blank lines between the function's first
    line and the cursor's line that are deeper than that first line; with none, that first
    line's indentation + 1 (the body is deeper, by how much is not known yet). ``None`` outside
    a function. The function is found from the last code before the cursor, as in
    :func:`scope_headers`.

    Only lines above the cursor count: the document around a hole often does not parse (the
    code below is indented for lines not written yet), and then tree-sitter's ``body`` of the
    function can start at that code.
    """
    if tree is None:
        return None
    anchor = len(source[:byte].rstrip()) - 1
    if anchor < 0:
        return None
    node = tree.root_node.descendant_for_byte_range(anchor, anchor)
    while node is not None and not (node.type in FUNCTION_TYPES and node.start_byte < byte):
        node = node.parent
    if node is None:
        return None
    header_start = source.rfind(b"\n", 0, node.start_byte) + 1
    header = indent_width(source[header_start:node.start_byte].decode("utf-8", "replace"), tab_size)
    cursor_line = source.rfind(b"\n", 0, byte) + 1
    pos = source.find(b"\n", node.start_byte)
    body: int | None = None
    while 0 <= pos < cursor_line - 1:
        end = source.find(b"\n", pos + 1)
        line = source[pos + 1 : end]
        if line.strip():
            width = indent_width(line.decode("utf-8", "replace"), tab_size)
            if width > header and (body is None or width < body):
                body = width
        pos = end
    return body if body is not None else header + 1


def scope_end_line(tree: tree_sitter.Tree | None, byte: int, source: bytes) -> int | None:
    """The 0-based last line of the innermost class/function (:data:`SCOPE_TYPES`) around UTF-8
    offset ``byte`` that ends below the cursor's line; failing that, of the top-level statement
    around it (``const f = () => {...}`` in JavaScript, a ``main`` block in Python). ``None``
    when nothing around the cursor ends below its line (module level, or the end of a
    top-level definition's body, where the code that follows matters). Scopes are found from
    the last code before the cursor, as in :func:`scope_headers`, so a blank line at the end
    of a body counts as inside it."""
    if tree is None:
        return None
    anchor = len(source[:byte].rstrip()) - 1
    if anchor < 0:
        return None
    cursor_line = source.count(b"\n", 0, byte)
    node = tree.root_node.descendant_for_byte_range(anchor, anchor)
    top = None
    while node is not None:
        if node.start_byte < byte and node.end_point[0] > cursor_line:
            if node.type in SCOPE_TYPES:
                return node.end_point[0]
            if node.parent is not None and node.parent.parent is None:
                top = node
        node = node.parent
    return top.end_point[0] if top is not None else None

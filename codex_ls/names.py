"""Which Python names an inserted text binds and reads, from the tree-sitter tree.

A completion that reads a name bound nowhere in the file (and not a builtin) raises
``NameError`` when it runs; one that leaves unbound a name that the code below the cursor
reads (``return res`` where the hole must write ``res = ''``) raises ``NameError`` or
``UnboundLocalError`` further down. :func:`name_checker` finds both, so that
:func:`codex_ls.completion.complete` can ask the model for another answer.

The analysis is deliberately loose and errs towards "bound": a name bound anywhere in the
file, in any scope, counts as bound everywhere, and names inside ERROR nodes or ``case``
patterns count as bound. A file with ``from m import *`` is not checked at all. Python's
scoping rules: https://docs.python.org/3/reference/executionmodel.html#resolution-of-names
"""

from __future__ import annotations

import builtins
from typing import Callable

import tree_sitter

from codex_ls.documents import Document, input_edit
from codex_ls.queries import QueryError, load_query

BUILTIN_NAMES = frozenset(dir(builtins)) | {
    "__file__", "__builtins__", "__path__", "__cached__", "__annotations__",
    "__class__", "__qualname__", "__module__", "__dict__",
}
"""Names every Python module can read without binding them: the running interpreter's
builtins, the module attributes set by the import system and the class-body names."""

_PATTERNS = frozenset({
    "pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern", "tuple", "list",
    "parenthesized_expression", "as_pattern_target", "expression_list",
})
"""Nodes a binding target may nest its names in (``a, (b, *c) = ...``, ``with f() as (x, y)``)."""

_BINDS_LEFT = frozenset({"assignment", "for_statement", "for_in_clause"})
_PARAMETERS = frozenset({"parameters", "lambda_parameters"})
_SPLATS = frozenset({"list_splat_pattern", "dictionary_splat_pattern"})
_UNCHECKED = frozenset({"ERROR", "case_pattern", "type_parameter"})


def _field(node: tree_sitter.Node) -> str | None:
    """The field name under which ``node`` hangs from its parent (``None`` for none)."""
    parent = node.parent
    for i, child in enumerate(parent.children):
        if child.id == node.id:
            return parent.field_name_for_child(i)
    return None


def classify(node: tree_sitter.Node) -> str | None:
    """``"bind"``, ``"read"`` or ``None`` (neither: an attribute or keyword name, a module path)
    for a tree-sitter-python ``identifier`` node."""
    parent = node.parent
    if parent is None:
        return None
    ancestor = parent
    while ancestor is not None:
        if ancestor.type in _UNCHECKED:
            return "bind"
        if ancestor.type in ("import_statement", "import_from_statement"):
            return _import_role(node, ancestor)
        if ancestor.type in ("block", "module"):
            break
        ancestor = ancestor.parent
    kind = parent.type
    field = _field(node)
    if kind == "attribute" and field == "attribute":
        return None
    if kind == "keyword_argument" and field == "name":
        return None
    if kind in ("function_definition", "class_definition") and field == "name":
        return "bind"
    if kind in ("global_statement", "nonlocal_statement"):
        return "bind"
    if kind == "named_expression" and field == "name":
        return "bind"
    if kind in _PARAMETERS or (kind in _SPLATS and parent.parent is not None and parent.parent.type in _PARAMETERS):
        return "bind"
    if kind in ("default_parameter", "typed_default_parameter") and field == "name":
        return "bind"
    if kind == "typed_parameter" and field != "type":
        return "bind"
    target = node
    while target.parent is not None and target.parent.type in _PATTERNS:
        target = target.parent
    holder = target.parent
    if holder is not None:
        where = _field(target)
        if holder.type in _BINDS_LEFT and where == "left":
            return "bind"
        if holder.type == "as_pattern" and where == "alias":
            return "bind"
    return "read"


def _import_role(node: tree_sitter.Node, statement: tree_sitter.Node) -> str | None:
    """The role of an identifier inside an import statement: the name it binds (``import a.b``
    binds ``a``; ``from m import x`` binds ``x``; ``as y`` binds ``y``), else ``None``."""
    parent = node.parent
    if parent.type == "aliased_import":
        return "bind" if _field(node) == "alias" else None
    if parent.type != "dotted_name" or parent.parent is None:
        return None
    holder = parent.parent
    if holder.type == "aliased_import":
        return None
    if _field(parent) != "name":
        return None  # the module a `from` imports from
    if statement.type == "import_statement":
        return "bind" if parent.children[0].id == node.id else None
    return "bind"


def _identifiers(doc: Document, node: tree_sitter.Node, start_byte: int = 0, end_byte: int | None = None) -> list[tree_sitter.Node]:
    """The ``identifier`` nodes under ``node`` that start in ``[start_byte, end_byte)``
    (query ``grammars/python/names.scm``).

    Raises:
        _StarImport: a ``from m import *`` lies in the range.
    """
    query = load_query(doc.language, "names")
    if query is None:  # pragma: no cover - the file ships with the package
        raise QueryError("grammars/python/names.scm is missing")
    cursor = tree_sitter.QueryCursor(query)
    if end_byte is None:
        end_byte = node.end_byte
    cursor.set_byte_range(start_byte, end_byte)
    captures = cursor.captures(node)
    if captures.get("star"):
        raise _StarImport
    return [n for n in captures.get("id", []) if start_byte <= n.start_byte < end_byte]


class _StarImport(Exception):
    """The file has ``from m import *``: any name may be bound."""


def scan(doc: Document, node: tree_sitter.Node, start_byte: int = 0, end_byte: int | None = None) -> tuple[set[str], dict[str, int]]:
    """Names bound, and names read with the byte offset of their first read, by the identifiers
    under ``node`` (of ``doc``'s language) that start in ``[start_byte, end_byte)``.

    Raises:
        _StarImport: a ``from m import *`` lies in the range.
    """
    bound: set[str] = set()
    reads: dict[str, int] = {}
    for ident in _identifiers(doc, node, start_byte, end_byte):
        role = classify(ident)
        name = ident.text.decode("utf-8", "replace")
        if role == "bind":
            bound.add(name)
        elif role == "read":
            reads.setdefault(name, ident.start_byte)
    return bound, reads


def _self_reads(doc: Document, node: tree_sitter.Node, start_byte: int, end_byte: int) -> set[str]:
    """Names read on the right side of an assignment that binds them (``x = x + 1``), among
    the identifiers under ``node`` that start in ``[start_byte, end_byte)``."""
    out: set[str] = set()
    for ident in _identifiers(doc, node, start_byte, end_byte):
        if classify(ident) != "read":
            continue
        ancestor = ident.parent
        while ancestor is not None and ancestor.type not in ("block", "module"):
            if ancestor.type == "assignment":
                right, left = ancestor.child_by_field_name("right"), ancestor.child_by_field_name("left")
                if right is not None and left is not None and right.start_byte <= ident.start_byte < right.end_byte:
                    name = ident.text
                    if any(n.text == name and classify(n) == "bind" for n in _identifiers(doc, left, left.start_byte, left.end_byte)):
                        out.add(name.decode("utf-8", "replace"))
                break
            ancestor = ancestor.parent
    return out


def _scope_end_byte(tree: tree_sitter.Tree, byte: int) -> int:
    """End byte of the innermost function around ``byte``, else of the top-level statement
    there, else ``byte`` (between top-level statements nothing below is checked)."""
    node = tree.root_node.descendant_for_byte_range(byte, byte)
    top = None
    while node is not None and node.parent is not None:
        if node.type in ("function_definition", "lambda"):
            return node.end_byte
        top = node
        node = node.parent
    return top.end_byte if top is not None else byte


def name_checker(doc: Document, offset: int) -> Callable[[str], bool] | None:
    """A check of the names that text inserted at ``offset`` (code points) of the Python
    document ``doc`` binds and reads.

    Let *bound* be the names bound anywhere in the document, and *needed* the names that
    the code after ``offset`` reads, up to the end of the innermost function around it (else
    of the top-level statement), and that are neither bound nor builtins. The returned
    function answers ``True`` for an insertion that binds every needed name and reads no
    name that is neither bound (in the document or by itself) nor a builtin.

    Returns ``None`` when there is nothing to check: no tree, not Python, or the document
    has ``from m import *``.
    """
    tree = doc.tree
    if tree is None or doc.language is None or doc.language.name != "python":
        return None
    start_byte = doc.byte_offset(offset)
    try:
        bound, _ = scan(doc, tree.root_node)
        _, below = scan(doc, tree.root_node, start_byte, _scope_end_byte(tree, start_byte))
    except _StarImport:
        return None
    needed = {name: at for name, at in sorted(below.items(), key=lambda item: item[1]) if name not in bound and name not in BUILTIN_NAMES}
    from codex_ls.languages import new_parser

    parser = new_parser(doc.language)
    data = doc.source
    index = doc.index

    def ok(insert: str) -> bool:
        ins = insert.encode("utf-8")
        edited = tree.copy()
        edited.edit(**input_edit(index, offset, offset, ins)._asdict())
        new_tree = parser.parse(data[:start_byte] + ins + data[start_byte:], edited)
        try:
            binds, reads = scan(doc, new_tree.root_node, start_byte, start_byte + len(ins))
        except _StarImport:
            return True
        if not needed.keys() <= binds:
            return False
        if any(name not in bound for name in _self_reads(doc, new_tree.root_node, start_byte, start_byte + len(ins))):
            return False  # `ans = ans + 1` where nothing bound `ans` before
        return all(name in bound or name in binds or name in BUILTIN_NAMES for name in reads)

    ok.needed = needed  # type: ignore[attr-defined]  # name -> byte of its first read below, for the retry and tests
    return ok

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
from codex_ls.queries import QueryError, load_query, query_text

BUILTIN_NAMES = frozenset(dir(builtins)) | {
    "__file__", "__builtins__", "__path__", "__cached__", "__annotations__",
    "__class__", "__qualname__", "__module__", "__dict__",
}
"""Names every Python module can read without binding them: the running interpreter's
builtins, the module attributes set by the import system and the class-body names."""

class _StarImport(Exception):
    """The file has ``from m import *``: any name may be bound."""


def roles(doc: Document, node: tree_sitter.Node, start_byte: int = 0, end_byte: int | None = None) -> list[tuple[tree_sitter.Node, str]]:
    """``(identifier, role)`` for the identifiers under ``node`` that start in ``[start_byte,
    end_byte)``, in document order; the role is ``"bind"`` or ``"read"`` (attribute and
    keyword names and module paths are left out). From the query ``grammars/python/names.scm``.

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
    binds = {n.id for n in captures.get("bind", ())}
    skips = {n.id for n in captures.get("skip", ())}
    unchecked = [(n.start_byte, n.end_byte) for n in captures.get("unchecked", ())]
    out = []
    for ident in sorted(captures.get("id", ()), key=lambda n: n.start_byte):
        if not start_byte <= ident.start_byte < end_byte:
            continue
        if ident.id in binds or any(a <= ident.start_byte < b for a, b in unchecked):
            out.append((ident, "bind"))
        elif ident.id not in skips:
            out.append((ident, "read"))
    return out


_BINDINGS: dict[str, tree_sitter.Query] = {}


def bound_names(doc: Document, tree: tree_sitter.Tree) -> set[str]:
    """Every name bound anywhere in ``tree`` (of ``doc``'s language), names inside ERROR nodes
    included: :func:`roles` over the whole file, but only its ``@bind`` captures reach Python
    (a 3,500-line file has ~15,000 identifiers, fewer than a fifth of them bindings).

    Raises:
        _StarImport: the file has ``from m import *``.
    """
    query = _BINDINGS.get(doc.language.name)
    if query is None:
        text = query_text(doc.language.name, "names")
        if text is None:  # pragma: no cover - the file ships with the package
            raise QueryError("grammars/python/names.scm is missing")
        query = tree_sitter.Query(doc.language.language, text)
        query.disable_capture("id")
        query.disable_capture("skip")
        _BINDINGS[doc.language.name] = query
    captures = tree_sitter.QueryCursor(query).captures(tree.root_node)
    if captures.get("star"):
        raise _StarImport
    names = {n.text.decode("utf-8", "replace") for n in captures.get("bind", ())}
    for node in captures.get("unchecked", ()):
        names.update(ident.text.decode("utf-8", "replace") for ident, _role in roles(doc, tree.root_node, node.start_byte, node.end_byte))
    return names


def scan(doc: Document, node: tree_sitter.Node, start_byte: int = 0, end_byte: int | None = None) -> tuple[set[str], dict[str, int]]:
    """Names bound, and names read with the byte offset of their first read, by the identifiers
    under ``node`` (of ``doc``'s language) that start in ``[start_byte, end_byte)``.

    Raises:
        _StarImport: a ``from m import *`` lies in the range.
    """
    bound: set[str] = set()
    reads: dict[str, int] = {}
    for ident, role in roles(doc, node, start_byte, end_byte):
        name = ident.text.decode("utf-8", "replace")
        if role == "bind":
            bound.add(name)
        else:
            reads.setdefault(name, ident.start_byte)
    return bound, reads


def _self_reads(found: list[tuple[tree_sitter.Node, str]]) -> set[str]:
    """Names read on the right side of an assignment that binds them (``x = x + 1``), among
    the identifiers and roles ``found`` (see :func:`roles`)."""
    bound_at = {(ident.text, ident.start_byte) for ident, role in found if role == "bind"}
    out: set[str] = set()
    for ident, role in found:
        if role != "read":
            continue
        ancestor = ident.parent
        while ancestor is not None and ancestor.type not in ("block", "module"):
            if ancestor.type == "assignment":
                right, left = ancestor.child_by_field_name("right"), ancestor.child_by_field_name("left")
                if right is not None and left is not None and right.start_byte <= ident.start_byte < right.end_byte:
                    if any(name == ident.text and left.start_byte <= at < left.end_byte for name, at in bound_at):
                        out.add(ident.text.decode("utf-8", "replace"))
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
        bound = bound_names(doc, tree)
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
            found = roles(doc, new_tree.root_node, start_byte, start_byte + len(ins))
        except _StarImport:
            return True
        binds = {ident.text.decode("utf-8", "replace") for ident, role in found if role == "bind"}
        reads = {ident.text.decode("utf-8", "replace") for ident, role in found if role == "read"}
        if not needed.keys() <= binds:
            return False
        if any(name not in bound for name in _self_reads(found)):
            return False  # `ans = ans + 1` where nothing bound `ans` before
        return all(name in bound or name in binds or name in BUILTIN_NAMES for name in reads)

    ok.needed = needed  # type: ignore[attr-defined]  # name -> byte of its first read below, for the retry and tests
    return ok

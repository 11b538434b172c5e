"""Where a code action applies: found with ``grammars/<language>/code_actions.scm``.

Offsets are str offsets (code points) into ``Document.text`` unless named ``*_byte`` (UTF-8
bytes into ``Document.source``, what tree-sitter nodes carry). Listing must stay instant (under
20 ms on a 2,000-line file), so :func:`find_targets` runs the query only over the lines around
the request's range and never calls the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import tree_sitter

from codex_ls.documents import Document
from codex_ls.queries import load_query
from codex_ls.stops import indent_unit as stops_indent_unit

ActionKind = Literal["generate", "implement", "edit"]
GENERATE: ActionKind = "generate"
IMPLEMENT: ActionKind = "implement"
EDIT: ActionKind = "edit"

TITLES: dict[str, str] = {
    GENERATE: "Generate code from comment",
    IMPLEMENT: "Implement function",
    EDIT: "Edit selection",
}
"""Code action titles (the function name is appended for *Implement function*)."""

ACTION_KINDS: dict[str, str] = {
    GENERATE: "refactor.rewrite.codexLs.generateFromComment",
    IMPLEMENT: "refactor.rewrite.codexLs.implementFunction",
    EDIT: "refactor.rewrite.codexLs.editSelection",
}
"""LSP code action kinds, sub-kinds of ``refactor.rewrite``."""

QUERY_NAME = "code_actions"

_BRACE_LANGUAGES = frozenset({"javascript", "typescript", "tsx", "go", "rust"})
_DEFAULT_UNIT = {"go": "\t", "javascript": "  ", "typescript": "  ", "tsx": "  "}

# A statement or comment that only stands in for a missing body.
_PLACEHOLDER = re.compile(
    r"""^(?:
        pass | \.\.\. | None
      | raise\s+NotImplemented(?:Error)?(?:\(.*\))?
      | (?:todo|unimplemented)!\s*\(.*\)
      | panic!?\s*\(\s*(?:"[^"]*(?:todo|implement)[^"]*")?\s*\)
      | throw\s+(?:new\s+)?Error\s*\(\s*(?:(["'`]).*(?:todo|implement).*\1)?\s*\)
    );?$""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_TODO_COMMENT = re.compile(r"^\W*(?:todo|fixme|xxx|implement(?:\s+(?:me|this|here))?|not\s+implemented|stub)\b[\s:.!-]*\w{0,12}\W*$", re.IGNORECASE)
_PRAGMA = re.compile(
    r"^(?:!|-\*-|\s*(?:type:|noqa|pylint|mypy|pyright|fmt:|isort|eslint|prettier|@ts-|tslint|go:|\+build|nolint|#\[|region|endregion|SPDX|Copyright|\(c\)))",
    re.IGNORECASE,
)
_COMMENT_MARKERS = re.compile(r"^\s*(?:#+|//+!?|/\*+!?|\*+/?|--)\s?")


@dataclass(frozen=True)
class ActionTarget:
    """One applicable code action and what its edit replaces.

    Attributes:
        kind: :data:`GENERATE`, :data:`IMPLEMENT` or :data:`EDIT`.
        language: canonical language name (``"python"``, ``"go"``, ...).
        instruction: what the user asked for, in words (comment text without comment markers;
            for :data:`IMPLEMENT` the function's docstring/comments, possibly empty).
        start, end: str offsets (code points) of the text the edit replaces (``start == end``:
            an insertion).
        indent: the indentation of the code written (whitespace string).
        indent_unit: one level of the document's indentation (``"    "``, ``"\\t"`` ...).
        lead, trail: text the replacement starts and ends with around the re-indented code
            (line breaks and the closing brace's indentation).
        name: the function's name (:data:`IMPLEMENT`), else ``None``.
        snippet: the code the model is shown as the thing to write or rewrite: the function
            with its placeholder body (:data:`IMPLEMENT`), the selected text (:data:`EDIT`),
            the comment (:data:`GENERATE`).
        anchor_byte: UTF-8 offset of the node the action is about (the function or the comment),
            to tell the target apart from others in context.
        before, after: a little of the code around the edit (for the prompt and to drop an echo
            of it from the answer).
    """

    kind: ActionKind
    language: str
    instruction: str
    start: int
    end: int
    indent: str
    indent_unit: str
    lead: str = ""
    trail: str = ""
    name: str | None = None
    snippet: str = ""
    anchor_byte: int = 0
    before: str = ""
    after: str = ""

    @property
    def title(self) -> str:
        """The code action's title, e.g. ``"Implement function parse_rows"``."""
        if self.kind == IMPLEMENT and self.name:
            return f"{TITLES[IMPLEMENT]} {self.name}"
        return TITLES[self.kind]


def supported(doc: Document) -> bool:
    """Whether ``doc``'s language has code actions (a tree and a ``code_actions.scm`` query)."""
    return doc.tree is not None and doc.language is not None and load_query(doc.language, QUERY_NAME) is not None


# -- small text helpers ------------------------------------------------------------------


class _Source:
    """Byte/str offset conversions for one document version."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.text = doc.text
        self.source = doc.source

    def off(self, byte: int) -> int:
        """Str offset of UTF-8 offset ``byte``."""
        head = self.source[:byte]
        return len(head) if head.isascii() else len(head.decode("utf-8", "surrogatepass"))

    def node_text(self, node: tree_sitter.Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def line_start(self, offset: int) -> int:
        return self.text.rfind("\n", 0, offset) + 1

    def line_end(self, offset: int) -> int:
        end = self.text.find("\n", offset)
        end = len(self.text) if end == -1 else end
        return end - 1 if end > 0 and self.text[end - 1] == "\r" and end - 1 >= offset else end

    def indent_at(self, offset: int) -> str:
        start = self.line_start(offset)
        line = self.text[start : self.line_end(start)]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def only_whitespace_before(self, offset: int) -> bool:
        return not self.text[self.line_start(offset) : offset].strip()

    def only_whitespace_after(self, offset: int) -> bool:
        return not self.text[offset : self.line_end(offset)].strip()


def indent_unit(text: str, language: str) -> str:
    """One indentation level of ``text`` (:func:`codex_ls.stops.indent_unit`: tabs, or the most
    common step into a block body); the language's usual unit when nothing is indented."""
    return stops_indent_unit(text, default=0) or _DEFAULT_UNIT.get(language, "    ")


def comment_text(raw: str) -> str:
    """A comment's words: comment markers (``#``, ``//``, ``/* */``, ``///``, ``*``) removed, lines joined by ``\\n``."""
    lines = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        line = line.rstrip()
        if line.endswith("*/"):
            line = line[:-2]
        lines.append(_COMMENT_MARKERS.sub("", line, count=1).rstrip())
    return "\n".join(lines).strip()


def describes_code(words: str) -> bool:
    """Whether a comment's text reads like a request for code: at least two words with
    letters, not a pragma (``# type:``, ``// eslint-disable``, shebang ...), not a bare TODO."""
    words = words.strip()
    if not words or _PRAGMA.match(words) or _TODO_COMMENT.match(words):
        return False
    return len(re.findall(r"[A-Za-z]{2,}", words)) >= 2


def is_todo_comment(words: str) -> bool:
    """``TODO``, ``FIXME: implement``, ``not implemented`` ...: a comment standing in for code."""
    return bool(_TODO_COMMENT.match(words.strip()))


# -- query helpers -----------------------------------------------------------------------


def _matches(doc: Document, start_byte: int | None = None, end_byte: int | None = None) -> list[dict[str, list[tree_sitter.Node]]]:
    query = load_query(doc.language, QUERY_NAME)
    if query is None or doc.tree is None:
        return []
    cursor = tree_sitter.QueryCursor(query)
    if start_byte is not None and end_byte is not None:
        cursor.set_byte_range(start_byte, end_byte)
    return [captures for _pattern, captures in cursor.matches(doc.tree.root_node)]


@dataclass(frozen=True)
class FunctionInfo:
    """A ``@function`` match: the node, its name (may be ``None``) and its body node."""

    node: tree_sitter.Node
    name: str | None
    body: tree_sitter.Node


def functions_in(doc: Document, start_byte: int | None = None, end_byte: int | None = None) -> list[FunctionInfo]:
    """Every ``@function`` of ``doc`` (intersecting the byte range when given), in document order."""
    out = []
    for captures in _matches(doc, start_byte, end_byte):
        if "function" in captures and "function.body" in captures:
            name_nodes = captures.get("function.name")
            name = name_nodes[0].text.decode("utf-8", "replace") if name_nodes else None
            out.append(FunctionInfo(captures["function"][0], name, captures["function.body"][0]))
    out.sort(key=lambda f: (f.node.start_byte, -f.node.end_byte))
    return out


def captured(doc: Document, capture: str, start_byte: int | None = None, end_byte: int | None = None) -> list[tree_sitter.Node]:
    """Every node captured as ``@capture`` (``"comment"``, ``"import"``, ``"class"`` ...), in document order."""
    nodes = {}
    for captures in _matches(doc, start_byte, end_byte):
        for node in captures.get(capture, ()):
            nodes[(node.start_byte, node.end_byte)] = node
    return [nodes[k] for k in sorted(nodes)]


# -- bodies ------------------------------------------------------------------------------


def _body_items(body: tree_sitter.Node) -> list[tree_sitter.Node]:
    """Named children of a body block (Go's ``statement_list`` flattened)."""
    items = []
    for child in body.named_children:
        if child.type == "statement_list":
            items.extend(child.named_children)
        else:
            items.append(child)
    return items


def _is_docstring(node: tree_sitter.Node) -> bool:
    return node.type == "expression_statement" and node.named_child_count == 1 and node.named_children[0].type in ("string", "concatenated_string")


def _is_comment(node: tree_sitter.Node) -> bool:
    return "comment" in node.type


@dataclass(frozen=True)
class BodyShape:
    """How a function's body splits: the items kept (docstring, instruction comments) and the
    placeholder items replaced. ``None`` from :func:`placeholder_body` when the body has code."""

    kept: tuple[tree_sitter.Node, ...]
    replaced: tuple[tree_sitter.Node, ...]


_LOCAL_IMPORTS = frozenset({"import_statement", "import_from_statement", "future_import_statement"})
"""Python statements that may open a body that is otherwise only a placeholder."""


def placeholder_body(fn: FunctionInfo, src: _Source) -> BodyShape | None:
    """The body's shape when it is empty or only a placeholder, else ``None``: the kept items
    are doc comments, the docstring and imports at the top of the body (a Python body of
    ``import math``, a docstring and ``pass``); the replaced ones are the placeholder."""
    kept: list[tree_sitter.Node] = []
    replaced: list[tree_sitter.Node] = []
    for item in _body_items(fn.body):
        text = src.node_text(item).strip()
        if _is_comment(item):
            if is_todo_comment(comment_text(text)) or replaced:
                replaced.append(item)
            else:
                kept.append(item)
        elif not replaced and item.type in _LOCAL_IMPORTS:
            kept.append(item)  # `import math` at the top of the body: part of what the user wrote
        elif not replaced and _is_docstring(item) and not any(_is_docstring(k) for k in kept):
            kept.append(item)
        elif _PLACEHOLDER.match(text) or (item.type == "expression_statement" and _PLACEHOLDER.match(text.rstrip(";"))):
            replaced.append(item)
        else:
            return None
    return BodyShape(tuple(kept), tuple(replaced))


def doc_comment_above(node: tree_sitter.Node, src: _Source) -> str:
    """The comment lines right above ``node`` (no blank line between), as written."""
    lines = []
    prev = node.prev_named_sibling
    row = node.start_point[0]
    while prev is not None and _is_comment(prev) and prev.end_point[0] >= row - 1 and src.only_whitespace_before(src.off(prev.start_byte)):
        lines.append(src.node_text(prev))
        row = prev.start_point[0]
        prev = prev.prev_named_sibling
    return "\n".join(reversed(lines))


def function_header(fn: FunctionInfo, src: _Source) -> str:
    """The function's text up to its body (decorators and signature), as written."""
    start = fn.node
    parent = start.parent
    if parent is not None and parent.type in ("decorated_definition", "export_statement"):
        start = parent
    return src.source[start.start_byte : fn.body.start_byte].decode("utf-8", "replace").rstrip()


# -- finding -----------------------------------------------------------------------------


def _implement_target(doc: Document, src: _Source, offset: int, unit: str) -> ActionTarget | None:
    byte = doc.byte_offset(offset)
    candidates = [f for f in functions_in(doc, byte, byte + 1) if f.node.start_byte <= byte <= f.node.end_byte]
    if not candidates:
        return None
    fn = max(candidates, key=lambda f: f.node.start_byte)  # the innermost
    shape = placeholder_body(fn, src)
    if shape is None:
        return None
    lang = doc.language.name
    fn_indent = src.indent_at(src.off(fn.node.start_byte))
    items = _body_items(fn.body)
    if lang in _BRACE_LANGUAGES:
        open_end = fn.body.children[0].end_byte if fn.body.children else fn.body.start_byte
        close_start = fn.body.children[-1].start_byte if fn.body.child_count > 1 else fn.body.end_byte
        start_byte = shape.kept[-1].end_byte if shape.kept else open_end
        end_byte = close_start
        lead, trail = "\n", "\n" + fn_indent
        first = shape.kept[0] if shape.kept else (items[0] if items else None)
    else:
        start_byte = shape.kept[-1].end_byte if shape.kept else (fn.body.prev_sibling.end_byte if fn.body.prev_sibling else fn.body.start_byte)
        end_byte = shape.replaced[-1].end_byte if shape.replaced else (shape.kept[-1].end_byte if shape.kept else fn.body.end_byte)
        lead, trail = "\n", ""
        first = items[0] if items else None
    if first is not None and first.start_point[0] > fn.body.start_point[0] - (0 if lang in _BRACE_LANGUAGES else 1) and first.start_point[0] != fn.node.start_point[0]:
        indent = src.indent_at(src.off(first.start_byte))
    else:
        indent = fn_indent + unit
    docs = [comment_text(src.node_text(n)) if _is_comment(n) else src.node_text(n).strip().strip("\"'").strip() for n in shape.kept if n.type not in _LOCAL_IMPORTS]
    above = doc_comment_above(fn.node.parent if fn.node.parent is not None and fn.node.parent.type in ("decorated_definition", "export_statement", "lexical_declaration", "variable_declaration") else fn.node, src)
    if above:
        docs.insert(0, comment_text(above))
    start, end = src.off(start_byte), src.off(end_byte)
    snippet_start = fn.node.parent if fn.node.parent is not None and fn.node.parent.type in ("decorated_definition", "export_statement", "lexical_declaration", "variable_declaration") else fn.node
    shown = src.text[src.line_start(src.off(snippet_start.start_byte)) : start]  # the placeholder is not shown
    if lang in _BRACE_LANGUAGES:
        shown += "\n" + fn_indent + src.text[src.off(close_start) : src.off(fn.node.end_byte)].lstrip()
    snippet = (above + "\n" if above else "") + shown
    return ActionTarget(
        IMPLEMENT, lang, "\n".join(d for d in docs if d), start, end, indent, unit, lead, trail,
        fn.name, snippet, fn.node.start_byte,
        before=src.text[max(0, start - 2000) : start], after=src.text[end : end + 600],
    )


def _comment_block(doc: Document, src: _Source, line_offset: int) -> tuple[int, int, list[tree_sitter.Node]] | None:
    """The block of comment-only lines holding the line that starts at ``line_offset``: (start, end, nodes)."""
    line_end = src.line_end(line_offset)
    lo = doc.byte_offset(line_offset)
    hi = doc.byte_offset(line_end)
    lo_block = doc.byte_offset(max(0, line_offset - 4000))
    nodes = [n for n in captured(doc, "comment", lo_block, hi + 1)]
    own_line = [n for n in nodes if src.only_whitespace_before(src.off(n.start_byte))]
    here = [n for n in own_line if n.start_byte <= hi and n.end_byte >= lo]
    if not here:
        return None
    block = [here[0]]
    by_end_row = {n.end_point[0]: n for n in own_line}
    while block[0].start_point[0] - 1 in by_end_row and by_end_row[block[0].start_point[0] - 1] is not block[0]:
        block.insert(0, by_end_row[block[0].start_point[0] - 1])
    return src.off(block[0].start_byte), src.off(block[-1].end_byte), block


def _generate_target(doc: Document, src: _Source, offset: int, unit: str) -> ActionTarget | None:
    text = src.text
    line_start = src.line_start(offset)
    line_end = src.line_end(line_start)
    on_blank = not text[line_start:line_end].strip()
    probe = line_start
    if on_blank:
        if line_start == 0:
            return None
        probe = src.line_start(line_start - 1)
    found = _comment_block(doc, src, probe)
    if found is None:
        return None
    start, end, nodes = found
    if not src.only_whitespace_after(end):
        return None
    # extend downwards over adjacent comment lines (the cursor may be on the block's first line)
    last = nodes[-1]
    following = captured(doc, "comment", last.end_byte, doc.byte_offset(min(len(text), src.line_end(end) + 4000)))
    for node in following:
        if node.start_byte < last.end_byte:
            continue
        if node.start_point[0] == last.end_point[0] + 1 and src.only_whitespace_before(src.off(node.start_byte)) and not on_blank:
            nodes.append(node)
            last = node
        else:
            break
    end = src.off(last.end_byte)
    words = "\n".join(comment_text(src.node_text(n)) for n in nodes)
    if not describes_code(words):
        return None
    block_end_line = src.line_end(end)
    next_start = block_end_line + (2 if text.startswith("\r\n", block_end_line) else 1)
    next_line = text[next_start : src.line_end(next_start)] if next_start <= len(text) else ""
    if on_blank and not (next_start <= line_start <= src.line_end(next_start) or line_start == next_start):
        return None  # the blank line is not right after the comment
    if not on_blank and next_line.strip():
        # a comment directly above a definition documents it: not a request for code here
        nb = doc.byte_offset(next_start + len(next_line) - len(next_line.lstrip()))
        defs = functions_in(doc, nb, nb + 1) + [(n) for n in captured(doc, "class", nb, nb + 1)]
        for d in defs:
            node = d.node if isinstance(d, FunctionInfo) else d
            while node.parent is not None and node.parent.start_byte == node.start_byte:
                node = node.parent
            if node.start_byte == nb or (node.parent is not None and node.parent.start_byte == nb):
                return None
    indent = src.indent_at(start)
    if on_blank:
        repl_start, repl_end = block_end_line, src.line_end(line_start)
    else:
        repl_start = repl_end = block_end_line
    comment_lines = src.text[src.line_start(start) : end]
    return ActionTarget(
        GENERATE, doc.language.name, words, repl_start, repl_end, indent, unit, "\n", "",
        None, comment_lines, nodes[0].start_byte,
        before=text[max(0, repl_start - 2000) : repl_start], after=text[repl_end : repl_end + 600],
    )


def _edit_target(doc: Document, src: _Source, start: int, end: int, unit: str, instruction: str | None) -> ActionTarget | None:
    text = src.text
    if end < start:
        start, end = end, start
    if not text[start:end].strip():
        return None
    first = src.line_start(start)
    if end > first and end == src.line_start(end) and end > 0:
        end -= 1  # a selection ending at column 0 ends on the line above
        if end > 0 and text[end - 1] == "\r":
            end -= 1
    last = src.line_end(end)
    selected = text[first:last]
    given = (instruction or "").strip()
    words = given
    if not words and first > 0:
        found = _comment_block(doc, src, src.line_start(first - 1))
        if found is not None and src.only_whitespace_after(found[1]) and src.line_end(found[1]) == first - 1 - (1 if text[first - 2 : first] == "\r\n" else 0):
            words = "\n".join(comment_text(src.node_text(n)) for n in found[2])
    if not words:
        # the selection's own first lines may be the instruction
        lines = selected.split("\n")
        prefix = doc.language.comment_prefix
        k = 0
        while k < len(lines) and lines[k].strip().startswith(prefix):
            k += 1
        if 0 < k < len(lines) and any(l.strip() for l in lines[k:]):
            words = comment_text("\n".join(lines[:k]))
            first += sum(len(l) + 1 for l in lines[:k])
            selected = text[first:last]
    if not words or (not given and not describes_code(words)):
        return None
    indent = src.indent_at(first + len(selected) - len(selected.lstrip()))
    return ActionTarget(
        EDIT, doc.language.name, words, first, last, indent, unit, "", "", None, selected,
        doc.byte_offset(first), before=text[max(0, first - 2000) : first], after=text[last : last + 600],
    )


def find_targets(doc: Document, start: int, end: int | None = None, *, instruction: str | None = None, kinds: tuple[str, ...] | None = None) -> list[ActionTarget]:
    """The code actions that apply to the range ``start..end`` (str offsets; ``end`` defaults to
    ``start``, a cursor) of ``doc``, without calling any model.

    *Implement function* applies when the cursor is inside a function whose body is empty or a
    placeholder; *Generate code from comment* when the cursor is on a comment that describes
    code, or on the blank line right below one; *Edit selection* when the range selects code
    and an instruction is given (``instruction``) or written in a comment right above the
    selection. ``kinds`` limits the kinds looked for. Returns ``[]`` for languages without a
    ``code_actions.scm`` query. Raises nothing for offsets out of range (they are clamped).
    """
    if not supported(doc):
        return []
    text = doc.text
    start = max(0, min(start, len(text)))
    end = start if end is None else max(0, min(end, len(text)))
    src = _Source(doc)
    unit = indent_unit(text, doc.language.name)
    wanted = kinds or (IMPLEMENT, GENERATE, EDIT)
    out: list[ActionTarget] = []
    selection = text[min(start, end) : max(start, end)].strip()
    if EDIT in wanted and selection:
        target = _edit_target(doc, src, start, end, unit, instruction)
        if target is not None:
            out.append(target)
    cursor = min(start, end)
    if IMPLEMENT in wanted and ("\n" not in selection):
        target = _implement_target(doc, src, cursor, unit)
        if target is not None:
            out.append(target)
    if GENERATE in wanted and not selection:
        target = _generate_target(doc, src, cursor, unit)
        if target is not None:
            out.append(target)
    return out

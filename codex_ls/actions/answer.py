"""Checking the model's answer before it becomes an edit.

:func:`plan_edit` takes the code out of fences, drops prose, keeps only the body when the model
wrote the whole function (the document's signature stays), re-indents it to the insertion
point, adds the imports and helper functions the code needs (the answer's own imports, and in
Python the standard-library modules it uses without importing them), and accepts the result only if the
edited document has no more tree-sitter errors than before. Offsets are str offsets (code
points) into ``Document.text``.
"""

from __future__ import annotations

import re
import sys
import textwrap
from dataclasses import dataclass

import tree_sitter

from codex_ls.actions.find import _PLACEHOLDER, EDIT, GENERATE, IMPLEMENT, ActionTarget, _body_items, _is_docstring, captured, functions_in
from codex_ls.documents import Document, count_errors
from codex_ls.languages import new_parser

INSERT_MARKER = "<<< new code here >>>"
"""Marks the insertion point in the *Generate code from comment* prompt."""
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*$", re.MULTILINE)
_PROSE_START = re.compile(r"^(?:here\b|sure\b|certainly\b|this\b|the\b|below\b|i\b|i'|note\b|explanation\b|in this\b|to\b|we\b|you\b|it\b|that\b|these\b|with\b|now\b|first\b|finally\b|output\b|example\b)", re.IGNORECASE)


@dataclass(frozen=True)
class TextEdit:
    """Replace str offsets ``start..end`` (code points) of the document text with ``new_text``."""

    start: int
    end: int
    new_text: str


@dataclass(frozen=True)
class EditPlan:
    """The outcome of checking an answer.

    Attributes:
        edits: the text edits, non-overlapping, in document order (empty when refused).
        refused: why the answer was refused (``None``: accepted).
        errors_before, errors_after: tree-sitter ERROR/MISSING nodes in the document before and
            after the edits (``errors_after`` is ``-1`` when no edited text was built).
        code: the code extracted from the answer, re-indented (what the main edit inserts).
    """

    edits: tuple[TextEdit, ...]
    refused: str | None
    errors_before: int = 0
    errors_after: int = -1
    code: str = ""


def extract_code(answer: str) -> str:
    """The code in a chat answer: the first fenced block (an unclosed fence runs to the end),
    else the answer without the prose lines that open or close it. Never raises."""
    text = answer.replace("\r\n", "\n")
    fences = list(_FENCE.finditer(text))
    if fences:
        opening = fences[0]
        body_start = opening.end() + 1
        closing = next((m for m in fences[1:] if m.group(1)[0] == opening.group(1)[0] and len(m.group(1)) >= len(opening.group(1)) and not m.group(2)), None)
        return text[body_start : closing.start() if closing else len(text)].rstrip("\n").rstrip() if body_start <= len(text) else ""
    lines = text.split("\n")
    while lines and (not lines[0].strip() or _is_prose(lines[0])):
        lines.pop(0)
    while lines and (not lines[-1].strip() or _is_prose(lines[-1])):
        lines.pop()
    return "\n".join(lines)


def code_block_end(text: str) -> int | None:
    """Where the first fenced code block of a partial answer ends (str offset just past its
    closing fence line's start), or ``None`` while it is open or absent: generation can stop
    there, the prose that usually follows is never used."""
    fences = list(_FENCE.finditer(text))
    if len(fences) < 2:
        return None
    opening = fences[0]
    for m in fences[1:]:
        if m.group(1)[0] == opening.group(1)[0] and len(m.group(1)) >= len(opening.group(1)) and not m.group(2):
            return m.end()
    return None


def _is_prose(line: str) -> bool:
    s = line.strip()
    if not s or len(s.split()) < 3:
        return False
    if re.search(r"[{}()\[\];=]|->|=>|:=", s.rstrip(":.")):
        return False
    return bool(_PROSE_START.match(s)) or s.endswith((":", ".")) and s[0].isupper()


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def reindent(code: str, indent: str, unit: str) -> str:
    """``code`` dedented and indented to ``indent``, with the answer's indentation unit changed
    to ``unit`` (tabs or N spaces) when they differ; blank lines at both ends dropped, blank
    lines inside kept empty. Lines are joined by ``\\n``."""
    lines = code.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ""
    widths = []
    answer_unit = None
    for line in lines:
        if not line.strip():
            continue
        ws = _leading(line)
        if "\t" in ws:
            answer_unit = "\t"
        widths.append(ws.replace("\t", "    "))
    base = min((len(w) for w in widths), default=0)
    if answer_unit is None:
        steps = sorted({len(w) - base for w in widths if len(w) > base})
        answer_unit = " " * (steps[0] if steps else len(unit.replace("\t", "    ")) or 4)
    step = len(answer_unit.replace("\t", "    "))
    out = []
    for line in lines:
        if not line.strip():
            out.append("")
            continue
        ws = _leading(line).replace("\t", "    ")
        rel = max(0, len(ws) - base)
        new_ws = unit * (rel // step) + " " * (rel % step)
        out.append(indent + new_ws + line.lstrip(" \t"))
    return "\n".join(out)


def apply_edits(text: str, edits: tuple[TextEdit, ...] | list[TextEdit]) -> str:
    """``text`` with non-overlapping ``edits`` applied (offsets refer to ``text``)."""
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: edit.start] + edit.new_text + text[edit.end :]
    return text


def _parse(doc: Document, text: str) -> tree_sitter.Tree:
    return new_parser(doc.language).parse(text.encode("utf-8", "surrogatepass"))


def _strip_echo(code: str, echoed: str) -> str:
    """Drop the lines of ``echoed`` (e.g. the instruction comment) that the answer repeats at its start."""
    wanted = [l.strip() for l in echoed.split("\n") if l.strip()]
    lines = code.split("\n")
    i = 0
    while i < len(lines) and (not lines[i].strip() or lines[i].strip() in wanted):
        i += 1
    return "\n".join(lines[i:]) if i < len(lines) else ""


def _after_echoed_comment(code: str, comment: str) -> str:
    """When the answer repeats the code around the comment (the whole function, say), keep
    only what follows its copy of the comment's last line."""
    last = next((l.strip() for l in reversed(comment.split("\n")) if l.strip()), "")
    lines = code.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if last and lines[i].strip() == last:
            return "\n".join(lines[i + 1 :]) if i else code
    return code


def _drop_unmatched_closers(code: str) -> str:
    """Drop trailing lines that only close blocks the code never opened (``}`` of an echoed function)."""
    lines = code.split("\n")
    while lines and lines[-1].strip() in ("}", "};", "})", "});") and "".join(lines).count("}") > "".join(lines).count("{"):
        lines.pop()
    return "\n".join(lines)


def _cut_at_following(code: str, after: str) -> str:
    """Cut the answer where it starts repeating the code that follows the insertion point."""
    following = [l.strip() for l in after.split("\n") if l.strip()][:2]
    if not following or len(following[0]) < 4:
        return code
    lines = code.split("\n")
    for i, line in enumerate(lines):
        if i and line.strip() == following[0] and (len(following) < 2 or i + 1 >= len(lines) or lines[i + 1].strip() == following[1]):
            return "\n".join(lines[:i])
    return code


@dataclass(frozen=True)
class _Parts:
    body: str
    imports: tuple[str, ...] = ()
    helpers: tuple[str, ...] = ()


def _split_function_answer(doc: Document, target: ActionTarget, code: str) -> _Parts:
    """For *Implement function*: the body of the answer's function named like the target (the
    docstring dropped), plus its imports and other top-level functions; the whole code as the
    body when it holds no such function."""
    answer = Document("untitled:answer", code, 0, doc.language.name)
    if answer.tree is None:
        return _Parts(code)
    fns = functions_in(answer)
    named = [f for f in fns if f.name == target.name] or ([fns[0]] if len(fns) == 1 and fns[0].name is None else [])
    if not named:
        return _Parts(code)
    fn = named[0]
    src = answer.source
    items = _body_items(fn.body)
    if target.language == "python":
        if items and _is_docstring(items[0]):
            items = items[1:]
        if not items:
            return _Parts("")
        body = src[items[0].start_byte : items[-1].end_byte].decode("utf-8", "replace")
        first_col = items[0].start_point[1]
        body = " " * first_col + body  # the first line loses its indentation in the slice
    else:
        inner_start = fn.body.children[0].end_byte if fn.body.children else fn.body.start_byte
        inner_end = fn.body.children[-1].start_byte if fn.body.child_count > 1 else fn.body.end_byte
        body = src[inner_start:inner_end].decode("utf-8", "replace").strip("\n")
        if items and items[0].start_point[0] == fn.body.start_point[0]:
            body = body.strip()
    doc_text = doc.text
    imports = _missing_imports(doc, [n.text.decode("utf-8", "replace") for n in captured(answer, "import")])
    outer = fn.node
    while outer.parent is not None and outer.parent.type != answer.tree.root_node.type:
        outer = outer.parent
    helpers = []
    for other in fns:
        node = other.node
        if node.start_byte >= outer.start_byte and node.end_byte <= outer.end_byte:
            continue
        if any(node.start_byte > h.node.start_byte and node.end_byte <= h.node.end_byte for h in fns if h is not other):
            continue  # nested in another helper
        if other.name and re.search(r"\b" + re.escape(other.name) + r"\b\s*[(=:<]", doc_text):
            continue  # already defined in the document
        while node.parent is not None and node.parent.type != answer.tree.root_node.type:
            node = node.parent
        helpers.append(src[node.start_byte : node.end_byte].decode("utf-8", "replace"))
    return _Parts(body, imports, tuple(dict.fromkeys(helpers)))


def _missing_imports(doc: Document, statements: list[str]) -> tuple[str, ...]:
    """The import statements of an answer that the document lacks (Go: per import path)."""
    have = "\n".join(n.text.decode("utf-8", "replace") for n in captured(doc, "import"))
    out: list[str] = []
    for statement in statements:
        statement = statement.strip()
        if not statement:
            continue
        if doc.language.name == "go":
            out.extend(f"import {path}" for path in re.findall(r'"[^"]+"', statement) if path not in have)
        elif not any(statement == line.strip() for line in have.split("\n")) and statement not in have:
            out.append(statement)
    return tuple(dict.fromkeys(out))


PYTHON_STDLIB_MODULES = frozenset(m for m in sys.stdlib_module_names if not m.startswith("_"))
"""Top-level standard-library modules (``sys.stdlib_module_names`` of the running Python) that
:func:`unimported_modules` may import for an answer."""


def _is_attribute_object(node: tree_sitter.Node) -> bool:
    parent = node.parent
    return parent is not None and parent.type == "attribute" and parent.child_by_field_name("object") == node


def _only_attribute_objects(tree: tree_sitter.Tree, source: bytes, name: str) -> bool | None:
    """Whether every identifier ``name`` in ``tree`` is the object of an attribute access
    (``name.attr``); ``None`` when there is none."""
    seen = False
    for m in re.finditer(rb"(?<![\w.])" + re.escape(name.encode()) + rb"\b", source):
        node = tree.root_node.descendant_for_byte_range(m.start(), m.end())
        if node is None or node.type != "identifier" or node.start_byte != m.start():
            continue  # inside a string or comment, or part of a longer name
        if not _is_attribute_object(node):
            return False
        seen = True
    return seen if seen else None


def unimported_modules(doc: Document, body: str, imports: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Python only: ``import X`` statements for the standard-library modules ``X`` that ``body``
    (the code to insert) uses as ``X.attr`` but that neither ``doc``, ``body`` nor the answer's
    ``imports`` bind (no import, assignment, parameter or other use of the bare name), e.g.
    ``hashlib.md5(...)`` in a file without ``import hashlib``. Sorted by module name; ``()``
    for other languages. Like an editor's auto-import, limited to modules that need no install."""
    if doc.language.name != "python" or "." not in body:
        return ()
    names = {m.group(1) for m in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)\s*\.\s*[A-Za-z_]", body)}
    names = sorted(n for n in names if n in PYTHON_STDLIB_MODULES)
    if not names:
        return ()
    parser = new_parser(doc.language)
    code = textwrap.dedent(body).encode("utf-8")
    body_tree = parser.parse(code)
    out = []
    for name in names:
        if any(re.search(r"\b" + re.escape(name) + r"\b", statement) for statement in imports):
            continue
        if not _only_attribute_objects(body_tree, code, name):
            continue
        if doc.tree is not None and _only_attribute_objects(doc.tree, doc.source, name) is False:
            continue  # imported, assigned or a parameter somewhere in the document
        out.append(f"import {name}")
    return tuple(out)


def _import_edit(doc: Document, imports: tuple[str, ...]) -> TextEdit | None:
    if not imports:
        return None
    text = doc.text
    existing = captured(doc, "import")
    block = "\n".join(imports)
    if existing:
        last = existing[-1]
        at = len(doc.source[: last.end_byte].decode("utf-8", "surrogatepass"))
        return TextEdit(at, at, "\n" + block)
    if doc.language.name == "go":
        m = re.search(r"^package\s+\w+[^\n]*", text, re.MULTILINE)
        if m:
            return TextEdit(m.end(), m.end(), "\n\n" + block)
    if doc.language.name == "python":
        m = re.match(r'(\s*(?:#[^\n]*\n)*\s*(?:("""|\'\'\')[\s\S]*?\2[^\n]*\n)?)', text)
        at = m.end() if m else 0
        return TextEdit(at, at, block + "\n")
    return TextEdit(0, 0, block + "\n")


def _helper_edit(doc: Document, target: ActionTarget, helpers: tuple[str, ...]) -> TextEdit | None:
    if not helpers:
        return None
    node = doc.tree.root_node.descendant_for_byte_range(target.anchor_byte, target.anchor_byte)
    while node is not None and node.parent is not None and node.parent.parent is not None:
        node = node.parent
    if node is None or node.parent is None:
        return None
    at = len(doc.source[: node.start_byte].decode("utf-8", "surrogatepass"))
    at = doc.text.rfind("\n", 0, at) + 1
    gap = "\n\n\n" if doc.language.name == "python" else "\n\n"
    return TextEdit(at, at, gap.join(helpers) + gap)


def plan_edit(doc: Document, target: ActionTarget, answer: str, *, check_syntax: bool = True) -> EditPlan:
    """Turn the model's ``answer`` for ``target`` into text edits of ``doc``, or refuse it.

    Refused (``EditPlan.refused`` says why, ``edits`` is empty) when the answer holds no code
    or when the edited document would have more tree-sitter errors than ``doc`` has now.
    ``check_syntax=False`` skips the syntax check (benchmark baselines only).
    """
    before = count_errors(doc.tree) if doc.tree is not None else 0
    code = extract_code(answer)
    imports: tuple[str, ...] = ()
    helpers: tuple[str, ...] = ()
    if target.kind == IMPLEMENT:
        parts = _split_function_answer(doc, target, code)
        code, imports, helpers = parts.body, parts.imports, parts.helpers
        lines = [l.strip() for l in code.split("\n") if l.strip()]
        if all(l.startswith(doc.language.comment_prefix) or _PLACEHOLDER.match(l) for l in lines):
            code = ""  # only comments and placeholders (`pass`, `todo!()`): nothing implemented
    elif target.kind == GENERATE:
        code = "\n".join(l for l in code.split("\n") if INSERT_MARKER not in l)  # an echoed marker line
        code = _after_echoed_comment(code, target.snippet)
        code = _strip_echo(code, target.snippet)
        code = _cut_at_following(code, target.after)
        code = _drop_unmatched_closers(code)
    elif target.kind == EDIT:
        code = _strip_echo(code, "\n".join(doc.language.comment_prefix + " " + l for l in target.instruction.split("\n")) + "\n" + target.instruction)
    body = reindent(code, target.indent, target.indent_unit)
    if not body.strip():
        return EditPlan((), "the model's answer held no code", before)
    if target.kind == EDIT:
        new_text = body
    else:
        new_text = target.lead + body + target.trail
    imports = imports + unimported_modules(doc, body, imports)
    edits = [TextEdit(target.start, target.end, new_text)]
    for extra in (_helper_edit(doc, target, helpers), _import_edit(doc, imports)):
        if extra is not None and not (target.start < extra.start < target.end):
            edits.append(extra)
    edits.sort(key=lambda e: (e.start, e.end))
    for a, b in zip(edits, edits[1:]):
        if a.end > b.start:
            edits = [e for e in edits if e.start == target.start and e.end == target.end]
            break
    if not check_syntax:
        return EditPlan(tuple(edits), None, before, -1, body)
    after = count_errors(_parse(doc, apply_edits(doc.text, edits)))
    if after > before and len(edits) > 1:  # retry without the extras before giving up
        edits = [e for e in edits if e.start == target.start and e.end == target.end]
        after = count_errors(_parse(doc, apply_edits(doc.text, edits)))
    if after > before:
        return EditPlan((), f"the model's code would add syntax errors ({before} before, {after} after)", before, after, body)
    return EditPlan(tuple(edits), None, before, after, body)

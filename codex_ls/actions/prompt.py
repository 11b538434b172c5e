"""The chat prompt of a code action: a short system prompt and one user message.

The user message gives the language and indentation, context found with tree-sitter (the
document's imports, the enclosing class with its members' bodies elided, the signatures and
docstrings of the functions the code is likely to call, from the same document and from other
open documents of the same language) and the task, and asks for code only, in one fenced
block. The engine formats the messages with the model's chat template (ChatML for Qwen).
"""

from __future__ import annotations

import re
from typing import Iterable

from codex_ls.actions.answer import INSERT_MARKER
from codex_ls.actions.find import (
    EDIT,
    GENERATE,
    IMPLEMENT,
    ActionTarget,
    FunctionInfo,
    _body_items,
    _is_docstring,
    _Source,
    captured,
    doc_comment_above,
    function_header,
    functions_in,
)
from codex_ls.documents import Document

SYSTEM_PROMPT = (
    "You are an expert programmer working inside a code editor. "
    "Answer with code only, in one fenced code block: no explanations, no tests, no example usage."
)
"""The system message of every code action."""

LANGUAGE_NAMES = {"python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "tsx": "TypeScript (TSX)", "go": "Go", "rust": "Rust"}
FENCE_TAGS = {"tsx": "tsx"}
CONTEXT_CHARS = 6000
"""Most characters of context (imports, class, related functions) in one prompt (~1,500-2,000 tokens)."""
MAX_RELATED = 8
"""Most related function signatures in one prompt."""
SHORT_FUNCTION_LINES = 16
"""A related function of the same document shorter than this (lines) is shown whole: how a
helper works (``encode`` next to the ``decode`` to write) is often the best hint."""

_CONSTRUCTORS = frozenset({"__init__", "constructor", "new", "__post_init__"})


def _words(text: str) -> set[str]:
    """Lower-case word parts of identifiers and prose (``parseCsvRows`` -> parse, csv, rows)."""
    out = set()
    for token in re.findall(r"[A-Za-z][A-Za-z0-9_]*", text):
        for part in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", token):
            if len(part) > 2:
                part = part.lower()
                out.add(part[:-1] if part.endswith("s") and len(part) > 3 else part)  # rows ~ row
        out.add(token.lower())
    return out


def elided(fn: FunctionInfo, src: _Source, keep_body: bool = False) -> str:
    """``fn`` as a signature: doc comment above, header, docstring, and the body elided
    (``...`` in Python, ``{ ... }`` elsewhere); the whole text when ``keep_body``."""
    above = doc_comment_above(fn.node, src)
    head = function_header(fn, src)
    if keep_body:
        text = src.source[fn.node.start_byte : fn.node.end_byte].decode("utf-8", "replace")
        return (above + "\n" if above else "") + text
    items = _body_items(fn.body)
    if src.doc.language.name == "python":
        indent = " " * (items[0].start_point[1] if items and items[0].start_point[0] != fn.node.start_point[0] else fn.node.start_point[1] + 4)
        doc = ""
        if items and _is_docstring(items[0]):
            doc = indent + src.node_text(items[0]).strip() + "\n"
        return (above + "\n" if above else "") + head + "\n" + doc + indent + "..."
    return (above + "\n" if above else "") + head + " { ... }"


def _dedent_first(text: str, column: int) -> str:
    """A node's text whose first line lost its ``column`` of indentation in the slice, dedented."""
    import textwrap

    return textwrap.dedent(" " * column + text)


def class_context(doc: Document, target: ActionTarget) -> str:
    """The innermost class (impl, struct, interface ...) around the target, its methods'
    bodies elided except constructors; ``""`` outside any class."""
    src = _Source(doc)
    byte = target.anchor_byte
    classes = [n for n in captured(doc, "class", byte, byte + 1) if n.start_byte <= byte < n.end_byte]
    if not classes:
        return ""
    cls = max(classes, key=lambda n: n.start_byte)
    parts: list[str] = []
    cursor = cls.start_byte
    for fn in functions_in(doc, cls.start_byte, cls.end_byte):
        if fn.node.start_byte < cls.start_byte or fn.node.end_byte > cls.end_byte or fn.body.start_byte < cursor:
            continue
        keep = fn.name in _CONSTRUCTORS and fn.node.start_byte != byte and fn.body.end_point[0] - fn.body.start_point[0] <= 20
        if keep:
            continue
        parts.append(src.source[cursor : fn.body.start_byte].decode("utf-8", "replace").rstrip())
        if doc.language.name == "python":
            items = _body_items(fn.body)
            indent = " " * (items[0].start_point[1] if items else fn.node.start_point[1] + 4)
            doc_text = ("\n" + indent + src.node_text(items[0]).strip()) if items and _is_docstring(items[0]) else ""
            parts.append(doc_text + "\n" + indent + "...")
        else:
            parts.append(" { ... }")
        cursor = fn.body.end_byte
    parts.append(src.source[cursor : cls.end_byte].decode("utf-8", "replace"))
    text = _dedent_first("".join(parts), cls.start_point[1])
    lines = text.split("\n")
    if len(lines) > 80:
        lines = lines[:80] + ["..."]
    return "\n".join(lines)


def related_functions(doc: Document, target: ActionTarget, others: Iterable[Document] = (), limit: int = MAX_RELATED) -> list[str]:
    """Signatures and docstrings (bodies elided) of the functions the code is likely to call:
    those whose names share words with the instruction and the snippet, from ``doc`` first and
    then from ``others`` of the same language; in a small document every other function.
    Functions of ``doc`` shorter than :data:`SHORT_FUNCTION_LINES` lines keep their bodies."""
    wanted = _words(target.instruction + "\n" + target.snippet + "\n" + target.before[-600:])
    scored: list[tuple[float, int, str]] = []
    order = 0
    for n, d in enumerate([doc, *[o for o in others if o is not doc and o.language is not None and doc.language is not None and o.language.name == doc.language.name]]):
        if d.tree is None:
            continue
        src = _Source(d)
        fns = functions_in(d)
        small = n == 0 and len(fns) <= 8
        for fn in fns:
            if n == 0 and fn.node.start_byte <= target.anchor_byte < fn.node.end_byte:
                continue  # the target itself, or a function around it
            if n == 0 and target.kind != IMPLEMENT and fn.node.start_byte <= target.start and fn.node.end_byte >= target.end:
                continue
            if fn.name is None:
                continue
            parent = fn.node.parent
            if parent is not None and parent.type in ("block", "statement_block") and n == 0:
                continue  # nested helpers stay private
            name_words = _words(fn.name)
            score = len(name_words & wanted) + (2.0 if fn.name.lower() in wanted else 0.0)
            if score <= 0 and not small:
                continue
            order += 1
            short = n == 0 and fn.node.end_point[0] - fn.node.start_point[0] < SHORT_FUNCTION_LINES
            scored.append((score + (0.5 if n == 0 else 0.0), -order, elided(fn, src, keep_body=short)))
    scored.sort(reverse=True)
    return [text for _score, _order, text in scored[:limit]]


def imports_of(doc: Document, limit_lines: int = 40) -> str:
    """The document's import statements, as written (at most ``limit_lines`` lines)."""
    lines: list[str] = []
    for node in captured(doc, "import"):
        if node.parent is not None and node.parent.parent is not None and doc.language.name != "rust":
            continue  # only top-level imports (Rust `use` may sit in modules: keep them)
        lines.extend(node.text.decode("utf-8", "replace").split("\n"))
    if len(lines) > limit_lines:
        lines = lines[:limit_lines] + ["..."]
    return "\n".join(lines)


def _indent_words(unit: str) -> str:
    return "tabs" if unit == "\t" else f"{len(unit)} spaces"


def _fence(language: str) -> str:
    return FENCE_TAGS.get(language, language)


def _tail_lines(text: str, n: int) -> str:
    return "\n".join(text.split("\n")[-n:])


def _head_lines(text: str, n: int) -> str:
    return "\n".join(text.split("\n")[:n])


def build_messages(doc: Document, target: ActionTarget, others: Iterable[Document] = ()) -> list[tuple[str, str]]:
    """The chat of ``target``: ``[("system", SYSTEM_PROMPT), ("user", ...)]`` as (role,
    content) pairs. ``others`` are the other open documents (only those of the same language
    are used). Pure; reads only the documents' text and trees."""
    lang = target.language
    name = LANGUAGE_NAMES.get(lang, lang)
    tag = _fence(lang)
    context_parts = []
    imports = imports_of(doc)
    if imports:
        context_parts.append(imports)
    cls = class_context(doc, target)
    if cls:
        context_parts.append(cls)
    budget = CONTEXT_CHARS - sum(len(p) for p in context_parts)
    for sig in related_functions(doc, target, others):
        if len(sig) > budget:
            break
        context_parts.append(sig)
        budget -= len(sig)
    sections = [f"Language: {name}. Indentation: {_indent_words(target.indent_unit)}."]
    if context_parts:
        joined = "\n\n".join(context_parts)
        sections.append(f"Context from the code base (imports, the enclosing type, functions the code may use):\n```{tag}\n{joined}\n```")
    if target.kind == IMPLEMENT:
        sections.append(f"Implement the function `{target.name}`; keep its signature exactly as written:\n```{tag}\n{target.snippet}\n```")
        sections.append(f"Reply with the complete function `{target.name}` in one ```{tag} block.")
    elif target.kind == GENERATE:
        marker = f"{target.indent}{INSERT_MARKER}"
        around = _tail_lines(target.before, 30) + "\n" + marker + "\n" + _head_lines(target.after.lstrip("\n"), 12)
        sections.append(f"The code around the insertion point (`{INSERT_MARKER}` marks it):\n```{tag}\n{around}\n```")
        sections.append(f"Write the code this comment asks for:\n{target.instruction}\n\nReply with only the new code that goes at the marker, not the code around it, in one ```{tag} block.")
    elif target.kind == EDIT:
        sections.append(f"The code before the selection:\n```{tag}\n{_tail_lines(target.before, 20)}\n```")
        sections.append(f"The selected code:\n```{tag}\n{target.snippet}\n```")
        sections.append(f"Rewrite the selected code as asked: {target.instruction}\n\nReply with only the rewritten selection (it replaces the selected code), in one ```{tag} block.")
    return [("system", SYSTEM_PROMPT), ("user", "\n\n".join(sections))]


def answer_prefix(target: ActionTarget) -> str:
    """How the assistant's answer starts, for engines that can continue a written answer:
    for *Implement function*, a code fence and the function as written up to its body (the
    model then writes only the body); ``""`` for the other kinds. The answer to check is this
    prefix plus the generated text."""
    if target.kind != IMPLEMENT:
        return ""
    head = target.snippet
    if target.language != "python":  # the snippet ends with the closing brace: leave it to the model
        head = head[: head.rfind("\n")] if "\n" in head else head
    return f"```{_fence(target.language)}\n{head}\n"

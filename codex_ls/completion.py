"""Inline completion, server-free: from a document and a cursor to the text to show.

:func:`complete` ties the pure pieces together: the cursor context
(:mod:`codex_ls.stops`), the FIM prompt under a token budget
(:mod:`codex_ls.prompt`), one engine generation with the per-token stop rule,
and :func:`~codex_ls.postprocess.postprocess` with a tree-sitter syntax check.
The LSP handlers in :mod:`codex_ls.features` only convert types around it.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from codex_ls.documents import Document
from codex_ls.engines.base import CancelToken, Engine, GenerationRequest, GenerationResult
from codex_ls.names import name_checker
from codex_ls.postprocess import postprocess
from codex_ls.context import OtherDocument, display_path, function_body_indent, import_lines, names_near, related_snippets, scope_end_line, scope_headers
from codex_ls.prompt import FimPrompt, FimTemplate, RepoFormat, build_prompt, suffix_through_line
from codex_ls.settings import CompletionSettings
from codex_ls.stops import CursorContext, StopRule, analyze_cursor, block_steps, completion_floor, header_body_jump, indent_unit, indent_width, indentation_hint, indentation_levels
from codex_ls.syntax import python_indentation_error_lines, python_syntax_error_line, should_complete

log = logging.getLogger(__name__)

MAX_INDENT_RETRIES = 3
"""Other indentation levels tried, at most, when a Python completion whose indentation was the
model's choice is refused (see :func:`complete`)."""

RETRY_MIN_LOGPROB = -0.2
"""Mean log-probability per token (natural log) below which an answer written at another
indentation is not shown: the model was unsure, and nothing is better than a wrong line.
Chosen on the default model's answers to a sample of HumanEval single-line infilling: the
right answers found this way scored -0.17 or more, most of the wrong ones -0.22 or less."""

FIRST_TOKEN_RETRIES = 3
"""The model's next choices of first token tried, at most, when a block completion is refused
(see :func:`complete`)."""

FIRST_TOKEN_MIN_LOGPROB = -0.55
"""Mean log-probability per token (natural log) below which an answer that starts with the
model's second to fourth choice of token is not shown: a guard against answers the model
hardly believes (the tests' snippets: right openers at -0.45 and -0.48, a 4th choice at -5.4),
not a tuned cut. With it, ``benchmarks/humaneval_infilling.py --set single`` went from 692 to
702 of 1,033 tasks passed and from 62 to 27 empty answers."""

NAMES_MIN_LOGPROB = FIRST_TOKEN_MIN_LOGPROB
"""Mean log-probability per token (natural log) below which an answer asked for again because
the first one got the names wrong (see :func:`codex_ls.names.name_checker`) is not shown in
its place; for a line started as ``name =`` only the tokens the model wrote after it count.
The same guard as :data:`FIRST_TOKEN_MIN_LOGPROB`, not a tuned cut. With the names check,
``benchmarks/humaneval_infilling.py --set single`` went from 702 to 755 of 1,033 tasks passed
(with the indentation rule of :func:`insertion_checker` that came with it)."""

ANCHOR_SLACK_TOKENS = 64
"""Tokens left free in the context window, beyond the estimated prompt and ``maxTokens``, before
a prefix that starts at the previous prompt's line is used (the FIM markers, the cursor's line
and the joint tokenization's differences from per-line counts)."""

LOOK_PAST_LINES = 12
"""Lines generated past the conservative end of a block completion while looking for the model
to repeat the code below the cursor (see :class:`codex_ls.stops.StopRule`); ``completion.maxLines``
(12 by default) caps the whole answer as well. It was 6: on the 970 HumanEval multi-line tasks
of ``benchmarks/humaneval_infilling.py --set multi --shard 1/12`` and ``2/12``, holes of 8 to 12
lines with code below them passed 3 of 139 times (2%), against 10 of 33 (30%) at the end of a
function, where no repeat is needed. With 12 and repeats judged at their line's end (c83f2f7), all
5,815 multi-line tasks (``--shard 1/12`` to ``12/12``, joined with ``--merge``) went from 1,985 to
2,069 passed (113 gained, 29 lost); ``--shard 1/12`` from 155 to 162, paired median latency 0.94x."""

STEP_WINDOW_CHARS = 20_000
"""Characters read on each side of the cursor's line for the block-body steps the document uses
(:func:`insertion_checker`); also the most read after the cursor for the first code line below
an insertion."""


@dataclass(frozen=True)
class ModelProfile:
    """What the completion code needs to know about the loaded model."""

    fim: FimTemplate
    stop: tuple[str, ...]
    repo: RepoFormat | None = RepoFormat()


@dataclass(frozen=True)
class SuffixEnd:
    """Where ``completion.suffixScope`` ended a prompt's suffix, kept per document (see :func:`suffix_end`).

    Attributes:
        cursor_line: the cursor's 0-based line.
        lines_below: line breaks after the cursor.
        end_line: the suffix's last line (0-based), or ``None`` when nothing bounds it.
    """

    cursor_line: int
    lines_below: int
    end_line: int | None


def suffix_end(doc: Document, offset: int, previous: SuffixEnd | None = None) -> SuffixEnd:
    """Where the suffix of a prompt for the cursor at ``offset`` ends: the end of the innermost
    class or function around it, else of its top-level statement
    (:func:`codex_ls.context.scope_end_line`).

    While the user types on one line (``previous`` is on the same line, with as many lines
    below), the previous end is kept: the tree of a half-typed line may close the scope
    elsewhere (an unclosed ``{`` in Go), and a suffix that changes with every keystroke
    would be evaluated again each time instead of staying in the KV cache.
    """
    cursor_line = doc.text.count("\n", 0, offset)
    lines_below = doc.text.count("\n", offset)
    if previous is not None and previous.cursor_line == cursor_line and previous.lines_below == lines_below:
        return previous
    return SuffixEnd(cursor_line, lines_below, scope_end_line(doc.tree, doc.byte_offset(offset), doc.source))


@dataclass(frozen=True)
class CompletionOutcome:
    """The result of :func:`complete`.

    Attributes:
        text: the text to insert at ``offset`` (``""`` for no suggestion).
        offset: the cursor, as a code-point index into the document text.
        context: the cursor context used by the stop rules.
        prompt: the prompt sent to the engine.
        generation: the engine's raw result (``None`` if the model was not called).
        suffix_end: where the suffix was ended (``completion.suffixScope``); pass it back
            to the next :func:`complete` for the same document.
        raw_text: generated text before post-processing.
    """

    text: str
    offset: int
    context: CursorContext
    prompt: FimPrompt | None
    generation: GenerationResult | None
    suffix_end: SuffixEnd | None = None

    @property
    def raw_text(self) -> str:
        """The model's text before any cut (``""`` when the model was not asked)."""
        return self.generation.text if self.generation else ""


def insertion_checker(doc: Document, offset: int) -> Callable[[str], bool] | None:
    """A syntax check for text inserted at ``offset`` of ``doc``.

    Returns a function that parses the document with the text inserted
    (incrementally, from a copy of the current tree) and answers whether it
    has no more ERROR/MISSING nodes than the document has now. In Python it also
    refuses whole lines inserted above a line that is then wrongly indented
    (an unexpected indent the document may already have: the line that opened
    that block is the one to write), and, where the cursor starts a line (only
    whitespace before it) and CPython's first syntax error in the top-level
    statement around it is on the first code line after it (an ``else`` or a
    deeper body whose opener is missing: the hole is part of the structure), any
    insertion that leaves a syntax error there or further down. In every language it refuses
    an insertion that ends with a block header whose body below is deeper than the document ever
    indents a body (:func:`codex_ls.stops.header_body_jump`: a level is missing). ``None`` when the
    document has no tree-sitter grammar.
    """
    tree = doc.tree
    if tree is None or doc.language is None:
        return None
    from codex_ls.documents import input_edit
    from codex_ls.languages import new_parser

    parser = new_parser(doc.language)
    data = doc.source
    start_byte = doc.byte_offset(offset)
    index = doc.index
    base_errors = doc.error_count(tree)
    text = doc.text
    line_start = text.rfind("\n", 0, offset) + 1
    opener = ":" if _is_python(doc) else "{"
    comment = doc.language.comment_prefix
    tail = text[offset : offset + STEP_WINDOW_CHARS]

    @functools.cache
    def body_step() -> int:
        """The largest body step the document uses above and below the cursor's line (not
        across the hole), at least its indentation unit; read only for an answer that ends with
        a header whose body below is deeper than one unit."""
        above_start = max(0, line_start - STEP_WINDOW_CHARS)
        if above_start:
            above_start = text.find("\n", above_start) + 1  # whole lines only
        below_start = text.find("\n", offset)
        near_below = text[below_start + 1 : below_start + 1 + STEP_WINDOW_CHARS] if below_start != -1 else ""
        unit = indent_width(indent_unit(text))
        return max(block_steps(text[above_start:line_start], opener, comment) | block_steps(near_below, opener, comment) | {unit})
    # tree-sitter's Python grammar accepts bad indentation (a body no deeper than its `if`,
    # an unexpected indent); CPython does not. Count those errors in the top-level
    # statement around the cursor, before and after the insertion.
    window = _top_level_window(doc.text, offset) if _is_python(doc) else None
    if window is not None:
        w_start, w_end = window
        w_text = doc.text[w_start:w_end]
        w_errors = set(python_indentation_error_lines(w_text))
        w_at = offset - w_start
        w_line = w_text.count("\n", 0, w_at) + 1  # 1-based line of the insertion in the window
        structural = False
        if not w_text[w_text.rfind("\n", 0, w_at) + 1 : w_at].strip():
            first_error = python_syntax_error_line(w_text)
            code_below = re.search(r"\S", w_text[w_at:])
            structural = first_error is not None and code_below is not None and first_error == w_text.count("\n", 0, w_at + code_below.start()) + 1

    def ok(insert: str) -> bool:
        ins = insert.encode("utf-8")
        edited = tree.copy()
        edited.edit(**input_edit(index, offset, offset, ins)._asdict())
        new_tree = parser.parse(data[:start_byte] + ins + data[start_byte:], edited)
        if doc.error_count(new_tree) > base_errors:
            return False
        jump = header_body_jump(text[line_start:offset] + insert, tail, opener, comment)
        if jump and jump > body_step():
            return False  # a level is missing (see codex_ls.stops.header_body_jump)
        if window is None:
            return True
        added = insert.count("\n")
        whole_lines = insert.endswith("\n")  # lines inserted above the cursor's line
        edited_window = w_text[:w_at] + insert + w_text[w_at:]
        if structural and (python_syntax_error_line(edited_window) or 0) >= w_line:
            return False  # the code below still does not fit: the hole is not filled
        for line in python_indentation_error_lines(edited_window):
            if whole_lines and line == w_line + added:
                return False  # the line below (deeper than it may be) is still wrong: lines above code must fix it
            if line < w_line:
                before = line
            elif (w_line <= line < w_line + added) if whole_lines else (w_line < line < w_line + added):
                return False  # an error in an inserted line
            elif line <= w_line + added:
                before = w_line  # the cursor's line, with the insertion in it
            else:
                before = line - added
            if before not in w_errors:
                return False  # an error the document did not have
        return True

    return ok


def _top_level_window(text: str, offset: int, max_chars: int = 200_000) -> tuple[int, int] | None:
    """``(start, end)`` code-point offsets of the top-level statement around ``offset``.

    From the start of the last line at or before the cursor's line that begins
    with code in column 0, to the start of the next such line after the cursor's
    line (or the end). ``None`` when the window is over ``max_chars``.
    """
    line_start = text.rfind("\n", 0, offset) + 1
    start = line_start
    while start > 0 and not (text[start:start + 1].strip() and text[start] not in "#)]}"):
        start = text.rfind("\n", 0, start - 1) + 1
    line_end = text.find("\n", offset)
    end = len(text)
    pos = line_end + 1 if line_end != -1 else len(text)
    while pos < len(text):
        if text[pos].strip() and text[pos] not in "#)]}":
            end = pos
            break
        nl = text.find("\n", pos)
        if nl == -1:
            break
        pos = nl + 1
    return (start, end) if end - start <= max_chars else None




def _prompt(
    doc: Document,
    offset: int,
    engine: Engine,
    profile: ModelProfile,
    settings: CompletionSettings,
    others: Sequence[OtherDocument],
    root_uri: str | None,
    split: int | None = None,
    anchor_line: int | None = None,
    suffix_lines: int | None = None,
) -> FimPrompt:
    """The FIM prompt: other files' definitions used near the cursor, pinned imports and
    enclosing scope headers, then the prefix (``text[:split]``, by default up to the cursor)
    and the suffix (``text[offset:]``, through its 0-based line ``suffix_lines`` if given,
    line 0 being the rest of the cursor's line: see :func:`suffix_end`) under their budgets."""
    text = doc.text
    source = doc.source
    language = doc.language.name if doc.language else None
    pinned: list[tuple[int, str]] = []
    lines = None
    if doc.tree is not None and settings.strategy == "syntax":
        lines = text.split("\n")
        for first, last in import_lines(language, doc.tree, source):
            pinned.extend((i, lines[i]) for i in range(first, min(last, len(lines) - 1) + 1))
        pinned.extend(scope_headers(doc.tree, doc.byte_offset(offset), source))
        pinned.sort()
    files: list[tuple[str, str]] = []
    if others and settings.context_tokens > 0 and profile.repo is not None and settings.strategy == "syntax":
        used = names_near(text, offset)
        here = {name for name, _line, _summary in _definitions_of(doc)}
        snippets = related_snippets(others, used, settings.context_tokens, engine.count_tokens, root_uri, here)
        by_path: dict[str, list[str]] = {}
        for snip in snippets:
            by_path.setdefault(snip.path, []).append(snip.text)
        files = [(path, "\n".join(texts)) for path, texts in by_path.items()]
    suffix = text[offset:]
    if suffix_lines is not None:
        suffix = suffix_through_line(suffix, suffix_lines)
    return build_prompt(
        text[: offset if split is None else split],
        suffix,
        profile.fim,
        engine.count_tokens,
        prefix_tokens=settings.prefix_tokens,
        suffix_tokens=settings.suffix_tokens,
        pinned=pinned,
        files=files,
        current_path=display_path(doc.uri, root_uri),
        repo=profile.repo,
        order=settings.fim_order,
        anchor_line=anchor_line,
    )


def _definitions_of(doc: Document):
    """The document's own top-level definitions (cached per version, like the other documents')."""
    from codex_ls.context import cached_definitions

    return cached_definitions(OtherDocument(doc.uri, doc.language.name if doc.language else None, doc.tree, doc.source, doc.version))


def other_documents(docs: Iterable[Document], current_uri: str) -> list[OtherDocument]:
    """Snapshots of the open documents other than ``current_uri``, for :func:`complete`'s ``others``."""
    return [
        OtherDocument(d.uri, d.language.name if d.language else None, d.tree, d.source, d.version)
        for d in docs
        if d.uri != current_uri
    ]


def longer_answer(
    rule: StopRule, cut: str, ctx: CursorContext, indent: str | None, check: Callable[[str], bool] | None
) -> tuple[str, str] | None:
    """The shortest answer longer than ``cut`` that the checks accept, when ``cut`` (the text
    after the cursor as ``rule`` cut it) was refused: ``(text to show, text before
    post-processing)``, or ``None``.

    The candidates are ``cut`` extended by whole lines the model wrote past it
    (:meth:`codex_ls.stops.StopRule.longer_cuts`), each re-indented like the answer
    (``indent``, see :func:`_reindent`) and post-processed with ``check`` (the tree-sitter
    insertion check). The typical case is a block header with the rest of its block below the
    cursor: the rule ends a mid-block statement after its first line (``depth = 0`` above
    ``        else:``), the model goes on with ``for b in brackets:`` / ``if b == "(":`` /
    ``depth += 1`` and then not with the code below; the first line alone breaks the file, the
    four lines fit it.
    """
    if not rule.seen.startswith(cut):
        return None
    for end in rule.longer_cuts(len(cut)):
        longer = rule.seen[:end]
        shown = postprocess(_reindent(longer, ctx, indent), ctx, check)
        if shown:
            return shown, longer
    return None


def stop_floor(doc: Document, offset: int, ctx: CursorContext) -> int:
    """The :attr:`codex_ls.stops.StopRule.floor` (columns) for the cursor at ``offset`` (a
    code-point index into ``doc.text``): :func:`codex_ls.stops.completion_floor` with the body
    level of the innermost function around the cursor, from ``doc``'s tree."""
    function_body = function_body_indent(doc.tree, doc.byte_offset(offset), doc.source) if doc.tree is not None else None
    return completion_floor(doc.text[:offset], ctx, function_body)


def _is_python(doc: Document) -> bool:
    return doc.language is not None and doc.language.name == "python"


def _indentation(doc: Document, prefix: str, ctx: CursorContext) -> str | None:
    """The indentation Python's rules fix for the first completed line (see :func:`indentation_hint`)."""
    if not _is_python(doc):
        return None
    return indentation_hint(prefix, ctx, indent_unit(doc.text))


def _forced_start(ctx: CursorContext, indent: str | None) -> str:
    """The start of the completion written into the prompt after the FIM middle token.

    The indentation still missing at the cursor, less its last space: Qwen's
    tokenizer (like GPT-2's) attaches one space to the following word
    (``"       "`` + ``" return"``), so the model writes that token itself.
    """
    if not indent or not indent.startswith(ctx.line_prefix) or len(indent) <= len(ctx.line_prefix):
        return ""
    missing = indent[len(ctx.line_prefix):]
    return missing[:-1] if missing.endswith(" ") else missing


def _after_cursor(text: str, forced: str, typed: str) -> str | None:
    """The text after the cursor, for a generation whose prompt ended with ``forced`` (that
    starts with ``typed``, the part of the cursor's line already in the document) and that has
    generated ``text``; ``None`` while the generation has not yet got past ``typed``."""
    full = forced + text
    return None if len(full) < len(typed) else full[len(typed):]


def _shifted(rule: Callable[[str], int | None], forced: str, typed: str = "") -> Callable[[str], int | None]:
    """``rule`` applied to the text after the cursor (:func:`_after_cursor`); the cut is
    returned relative to the generated text."""
    if not forced and not typed:
        return rule

    def check(text: str) -> int | None:
        after = _after_cursor(text, forced, typed)
        cut = None if after is None else rule(after)
        return None if cut is None else max(0, cut + len(typed) - len(forced))

    return check


def _shifted_expected(expected: Callable[[str], str | None], forced: str, typed: str = "") -> Callable[[str], str | None]:
    """``expected`` (:meth:`codex_ls.stops.StopRule.expected`) applied to the text after the
    cursor (:func:`_after_cursor`)."""

    def check(text: str) -> str | None:
        after = _after_cursor(text, forced, typed)
        return None if after is None else expected(after)

    return check


def _reporting(
    rule: Callable[[str], int | None] | None, progress: Callable[[str], None] | None, forced: str, typed: str
) -> Callable[[str], int | None] | None:
    """``rule`` (or no rule) that first gives ``progress`` the text after the cursor: the
    generated text after ``forced`` (the prompt's end), less ``typed`` (already in the document)."""
    if progress is None:
        return rule

    def check(text: str) -> int | None:
        progress((forced + text)[len(typed):])
        return rule(text) if rule is not None else None

    return check


def cursor_line_in_middle(settings: CompletionSettings, engine: Engine) -> bool:
    """Whether the cursor's line goes after the FIM middle marker (see :func:`_middle_start`):
    the ``syntax`` strategy, ``completion.cursorLineInMiddle`` on, and an engine that heals tokens."""
    return settings.strategy == "syntax" and settings.cursor_line_in_middle and engine.heals_tokens


def _middle_start(ctx: CursorContext, indent: str | None) -> str:
    """What follows the FIM middle marker when the cursor's line goes there: the line up to
    the cursor and the indentation Python's rules still require, less a last space.

    The engine's token healing lets the model choose how the last word, or a space after it,
    goes on (``pri`` -> ``print``, ``in `` -> ``in args``). An indentation alone is not healed,
    so its last space is left to the model as in :func:`_forced_start` (Qwen's tokenizer
    attaches it to the next word).
    """
    missing = ""
    if indent and indent.startswith(ctx.line_prefix) and len(indent) > len(ctx.line_prefix):
        missing = indent[len(ctx.line_prefix):]
    text = ctx.line_prefix + missing
    return text[:-1] if text.endswith(" ") and not text.strip() else text


def _reindent(text: str, ctx: CursorContext, indent: str | None) -> str:
    """Shift every line of a block completion so that its first line has the ``indent`` Python requires.

    ``text`` is relative to the cursor (its first line continues ``ctx.line_prefix``).
    Unchanged when no indentation is required, the first line already has it, or a
    line would need to lose more whitespace than it has.
    """
    if not indent or not text.strip():
        return text
    first = ctx.line_prefix + text.split("\n", 1)[0]
    have = indent_width(first)
    delta = indent_width(indent) - have
    if delta == 0 or "\t" in indent:
        return text
    lines = (ctx.line_prefix + text).split("\n")
    if delta < 0 and any(line.strip() and indent_width(line) < -delta for line in lines):
        return text
    shifted = [(" " * (indent_width(line) + delta) + line.lstrip(" ")) if line.strip() else line for line in lines]
    joined = "\n".join(shifted)
    return joined[len(ctx.line_prefix):] if joined.startswith(ctx.line_prefix) else text


def complete(
    doc: Document,
    offset: int,
    engine: Engine,
    profile: ModelProfile,
    settings: CompletionSettings,
    cancel: CancelToken | None = None,
    others: Sequence[OtherDocument] = (),
    root_uri: str | None = None,
    anchor_line: int | None = None,
    previous_suffix_end: SuffixEnd | None = None,
    progress: Callable[[str], None] | None = None,
    label: str = "completion",
) -> CompletionOutcome:
    """Generate the inline completion for the cursor at ``offset`` in ``doc``.

    Args:
        doc: the document (text and tree-sitter tree).
        offset: cursor position as a code-point index into ``doc.text``.
        engine: a loaded engine.
        profile: the model's FIM template and stop strings.
        settings: token budgets, limits and time budget.
        cancel: set to stop generation between two tokens.
        others: the other open documents; definitions from them that the code
            near the cursor uses go into the prompt (``settings.context_tokens``).
        root_uri: the workspace root, for the paths shown to the model.
        anchor_line: the ``prompt.first_line`` of the previous completion in this
            document: the prefix starts there again while it fits (see
            :func:`codex_ls.prompt.build_prompt`), so the KV cache keeps the
            prompt's start when the cursor moves down.
        previous_suffix_end: the ``suffix_end`` of the previous completion in this
            document (see :func:`suffix_end`).
        progress: called on the engine's thread after every generated token with the
            completion so far, as text after the cursor, before any cut or check (the
            server lets a request typed through it take over an in-flight generation).
        label: the first word of the debug line logged at the end (``prefetch`` for
            :mod:`codex_ls.features.prefetch`; ``benchmarks/latency.py`` parses ``completion`` lines).

    Raises:
        codex_ls.engines.base.GenerationError: the engine failed.
    """
    text = doc.text
    prefix, suffix = text[:offset], text[offset:]
    comment = doc.language.comment_prefix if doc.language else "#"
    ctx = analyze_cursor(prefix, suffix, line_comment=comment)
    if settings.strategy == "syntax" and not should_complete(doc.tree, doc.byte_offset(offset), doc.source):
        log.debug("completion %s: nothing to complete here (string, comment or end of block)", doc.uri)
        return CompletionOutcome("", offset, ctx, None, None)
    baseline = settings.strategy != "syntax"
    # The cursor's line goes after the FIM middle marker: the prompt is then the same for every
    # keystroke on this line, and the KV cache holds all of it but the last few tokens.
    in_middle = cursor_line_in_middle(settings, engine)
    typed = ctx.line_prefix if in_middle else ""
    scoped = suffix_end(doc, offset, previous_suffix_end) if settings.suffix_scope and not baseline and doc.tree is not None else None
    through = scoped.end_line - scoped.cursor_line if scoped and scoped.end_line is not None else None
    prompt = _prompt(doc, offset, engine, profile, settings, others, root_uri, split=offset - len(typed), anchor_line=anchor_line, suffix_lines=through)
    if anchor_line is not None and prompt.prefix_tokens + prompt.suffix_tokens + prompt.context_tokens + settings.max_tokens + ANCHOR_SLACK_TOKENS > engine.context_length:
        # The prefix grown from the anchor would crowd the context window: cut it to its budget.
        prompt = _prompt(doc, offset, engine, profile, settings, others, root_uri, split=offset - len(typed), suffix_lines=through)
    indent = None if baseline else _indentation(doc, prefix, ctx)
    max_tokens = settings.max_tokens if ctx.mode != "line" or baseline else min(settings.max_tokens, 48)
    one_line = settings.strategy == "first-line" or (not baseline and settings.max_lines <= 1)
    deadline = time.monotonic() + settings.timeout_ms / 1000.0
    check = None if baseline else insertion_checker(doc, offset)
    floor = stop_floor(doc, offset, ctx) if not baseline else 0

    def attempt(indent: str | None, logprobs: bool = False, rank: int = 0, lead: str = "") -> tuple[str, GenerationResult, str]:
        """One generation with ``indent`` and then ``lead`` written for the first line, starting
        with the model's ``rank + 1``-th choice of token: (text to show, result, raw text)."""
        forced = (_middle_start(ctx, indent) if in_middle else _forced_start(ctx, indent)) + lead
        rule = None if baseline else StopRule(ctx, max_lines=settings.max_lines, floor=floor, look_past=0 if one_line else LOOK_PAST_LINES)
        request = GenerationRequest(
            prompt=prompt.text + forced,
            max_tokens=max_tokens,
            stop=profile.stop + (("\n",) if one_line else ()),
            temperature=settings.temperature,
            should_stop=_reporting(_shifted(rule, forced, typed) if rule else None, progress, forced, typed),
            deadline_s=deadline,
            token_healing=in_middle,
            logprobs=logprobs,
            first_token_rank=rank,
            expected=_shifted_expected(rule.expected, forced, typed) if rule else None,
        )
        result = engine.generate(request, cancel)
        if result.finish_reason == "cancelled":
            return "", result, ""
        if baseline:
            # Baselines: the model's text as it is (whole lines above existing code end with a line break).
            final = result.text + ("\n" if ctx.insert_lines and not result.text.endswith("\n") else "") if result.text.strip() else ""
            return final, result, result.text
        if not (forced + result.text).startswith(typed):
            return "", result, ""  # the model did not write the space left to it after an indentation
        raw = (forced + result.text)[len(typed):]
        if result.finish_reason != "rule":  # ended by an end token or a limit: the rule's final cut
            cut = rule.decide(raw, finished=True, ended=result.finish_reason == "stop")
            if cut < len(raw):
                raw = raw[:cut]
            elif result.finish_reason in ("length", "time", "context") and ctx.mode != "line" and "\n" in raw.rstrip():
                raw = raw[: raw.rstrip().rfind("\n")]  # drop the unfinished last line
        shown = postprocess(_reindent(raw, ctx, indent), ctx, check)
        if not shown:
            # Refused: the model may have written what the cut answer lacks before it was stopped.
            shown, raw = longer_answer(rule, raw, ctx, indent, check) or ("", raw)
        return shown, result, _reindent(raw, ctx, indent)

    final, result, raw = attempt(indent)
    first_generated = result.generated_tokens
    generated, evaluated, elapsed, retries = result.generated_tokens, result.prompt_tokens_evaluated, result.elapsed_ms, 0

    def best_of(
        tries: list[tuple[str | None, int, str]], min_logprob: float, what: str, accept: Callable[[str], bool] | None = None
    ) -> tuple[str, GenerationResult] | None:
        """Generate again with each ``(indentation, first token rank, lead)`` of ``tries`` (until
        cancelled or out of time): the answer that passes the checks (and ``accept``) with the
        highest mean log-probability, if it is ``min_logprob`` or more."""
        nonlocal generated, evaluated, elapsed, retries
        best: tuple[float, str, GenerationResult] | None = None
        for level, rank, lead in tries:
            if (cancel is not None and cancel.cancelled) or time.monotonic() >= deadline:
                break
            text, alt, _raw = attempt(level, logprobs=True, rank=rank, lead=lead)
            log.debug("completion %s: %s tried: logprob=%s shown=%d chars", doc.uri, what.format(width=indent_width(level or ""), rank=rank + 1, lead=lead.strip()), alt.mean_logprob, len(text))
            retries += 1
            generated += alt.generated_tokens
            evaluated += alt.prompt_tokens_evaluated
            elapsed += alt.elapsed_ms
            if alt.mean_logprob is None:
                break  # an engine that reports no log-probabilities cannot rank the answers
            if text and alt.mean_logprob >= min_logprob and (best is None or alt.mean_logprob > best[0]) and (accept is None or accept(text)):
                best = (alt.mean_logprob, text, alt)
        return None if best is None else best[1:]

    refused = not final and not baseline and result.finish_reason != "cancelled"
    if refused and indent is None and _is_python(doc):
        # Refused (a syntax or indentation error, or only a repeat of the code below) where the
        # indentation was the model's choice: write each other level the line may take, and keep
        # the answer that passes the checks with the highest mean log-probability, if the model
        # is sure enough of it (RETRY_MIN_LOGPROB).
        tried = indent_width(ctx.line_prefix + raw) if raw.strip() else None
        other_levels = [level for level in indentation_levels(prefix, ctx) if indent_width(level) != tried]
        found = best_of([(level, 0, "") for level in other_levels[:MAX_INDENT_RETRIES]], RETRY_MIN_LOGPROB, "indentation {width}")
        if found is not None:
            final, result = found
    if not final and refused and ctx.mode == "block" and settings.temperature <= 0 and getattr(engine, "ranks_first_token", False):
        # Refused where the indentation was fixed (or no other level passed): the model's first
        # choice of token led nowhere (it repeated the code below instead of opening its block).
        # Its next choices, each followed greedily; the most likely answer that passes is kept.
        found = best_of([(indent, rank, "") for rank in range(1, FIRST_TOKEN_RETRIES + 1)], FIRST_TOKEN_MIN_LOGPROB, "first token #{rank}")
        if found is not None:
            final, result = found
    can_retry = settings.temperature <= 0 and getattr(engine, "ranks_first_token", False)
    names_ok = name_checker(doc, offset) if final and can_retry and not baseline and ctx.mode == "block" and not retries else None
    if names_ok is not None and not names_ok(final):
        # The answer reads a name bound nowhere, or leaves unbound a name the code below reads
        # (`return res` where `res = ''` is missing): a line that starts by assigning the first
        # such name (`res =`), and the model's next choices of first token, at the answer's
        # indentation; the most likely answer that gets the names right is kept.
        first_line = ctx.line_prefix + final
        level = indent if indent is not None else first_line[: len(first_line) - len(first_line.lstrip(" \t"))]
        log.debug("completion %s: names %s unbound after the answer", doc.uri, list(names_ok.needed) or "read")
        tries = [(level, 0, f" {name} =") for name in list(names_ok.needed)[:1]]
        tries += [(level, rank, "") for rank in range(1, FIRST_TOKEN_RETRIES + 1)]
        found = best_of(tries, NAMES_MIN_LOGPROB, "{lead} / first token #{rank} for the names", accept=names_ok)
        if found is not None:
            final, result = found
    log.debug(
        "%s %s mode=%s prompt=%d eval=%d gen=%d %.0fms finish=%s shown=%d chars v=%s at=%d retries=%d first_gen=%d",
        label, doc.uri, ctx.mode, result.prompt_tokens, evaluated, generated,
        elapsed, result.finish_reason, len(final), doc.version, offset, retries, first_generated,
    )
    return CompletionOutcome(final, offset, ctx, prompt, result, scoped)

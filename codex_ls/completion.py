"""Inline completion, server-free: from a document and a cursor to the text to show.

:func:`complete` ties the pure pieces together: the cursor context
(:mod:`codex_ls.stops`), the FIM prompt under a token budget
(:mod:`codex_ls.prompt`), one engine generation with the per-token stop rule,
and :func:`~codex_ls.postprocess.postprocess` with a tree-sitter syntax check.
The LSP handlers in :mod:`codex_ls.features` only convert types around it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from codex_ls.documents import Document
from codex_ls.engines.base import CancelToken, Engine, GenerationRequest, GenerationResult
from codex_ls.postprocess import postprocess
from codex_ls.prompt import FimPrompt, FimTemplate, build_fim_prompt
from codex_ls.settings import CompletionSettings
from codex_ls.stops import CursorContext, StopRule, analyze_cursor
from codex_ls.syntax import should_complete

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelProfile:
    """What the completion code needs to know about the loaded model."""

    fim: FimTemplate
    stop: tuple[str, ...]


@dataclass(frozen=True)
class CompletionOutcome:
    """The result of :func:`complete`.

    Attributes:
        text: the text to insert at ``offset`` (``""`` for no suggestion).
        offset: the cursor, as a code-point index into the document text.
        context: the cursor context used by the stop rules.
        prompt: the prompt sent to the engine.
        generation: the engine's raw result (``None`` if the model was not called).
        raw_text: generated text before post-processing.
    """

    text: str
    offset: int
    context: CursorContext
    prompt: FimPrompt | None
    generation: GenerationResult | None

    @property
    def raw_text(self) -> str:
        return self.generation.text if self.generation else ""


def insertion_checker(doc: Document, offset: int) -> Callable[[str], bool] | None:
    """A syntax check for text inserted at ``offset`` of ``doc``.

    Returns a function that parses the document with the text inserted
    (incrementally, from a copy of the current tree) and answers whether it
    has no more ERROR/MISSING nodes than the document has now. ``None`` when
    the document has no tree-sitter grammar.
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

    def ok(insert: str) -> bool:
        ins = insert.encode("utf-8")
        edited = tree.copy()
        edited.edit(**input_edit(index, offset, offset, ins)._asdict())
        new_tree = parser.parse(data[:start_byte] + ins + data[start_byte:], edited)
        return doc.error_count(new_tree) <= base_errors

    return ok


def complete(
    doc: Document,
    offset: int,
    engine: Engine,
    profile: ModelProfile,
    settings: CompletionSettings,
    cancel: CancelToken | None = None,
) -> CompletionOutcome:
    """Generate the inline completion for the cursor at ``offset`` in ``doc``.

    Args:
        doc: the document (text and tree-sitter tree).
        offset: cursor position as a code-point index into ``doc.text``.
        engine: a loaded engine.
        profile: the model's FIM template and stop strings.
        settings: token budgets, limits and time budget.
        cancel: set to stop generation between two tokens.

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
    prompt = build_fim_prompt(
        prefix,
        suffix,
        profile.fim,
        engine.count_tokens,
        prefix_tokens=settings.prefix_tokens,
        suffix_tokens=settings.suffix_tokens,
    )
    baseline = settings.strategy != "syntax"
    max_tokens = settings.max_tokens if ctx.mode != "line" or baseline else min(settings.max_tokens, 48)
    request = GenerationRequest(
        prompt=prompt.text,
        max_tokens=max_tokens,
        stop=profile.stop + (("\n",) if settings.strategy == "first-line" else ()),
        temperature=settings.temperature,
        should_stop=None if baseline else StopRule(ctx, max_lines=settings.max_lines),
        deadline_s=time.monotonic() + settings.timeout_ms / 1000.0,
    )
    result = engine.generate(request, cancel)
    if result.finish_reason == "cancelled":
        final = ""
    elif baseline:
        # Baselines: the model's text as it is (whole lines above existing code end with a line break).
        final = result.text + ("\n" if ctx.insert_lines and not result.text.endswith("\n") else "") if result.text.strip() else ""
    else:
        raw = result.text
        if result.finish_reason in ("length", "time", "context") and ctx.mode != "line" and "\n" in raw.rstrip():
            raw = raw[: raw.rstrip().rfind("\n")]  # drop the unfinished last line
        final = postprocess(raw, ctx, insertion_checker(doc, offset))
    log.debug(
        "completion %s mode=%s prompt=%d eval=%d gen=%d %.0fms finish=%s shown=%d chars",
        doc.uri, ctx.mode, result.prompt_tokens, result.prompt_tokens_evaluated, result.generated_tokens,
        result.elapsed_ms, result.finish_reason, len(final),
    )
    return CompletionOutcome(final, offset, ctx, prompt, result)

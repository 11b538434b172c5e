"""textDocument/inlineCompletion (LSP 3.18): ghost text.

Thin: find the document, snapshot it and the settings, run
:func:`codex_ls.completion.complete` on the engine thread, convert the
outcome to an :class:`~lsprotocol.types.InlineCompletionList`. A newer
request for the same document cancels this one between two tokens, and so
does ``$/cancelRequest``, unless the user typed through what the generation
is writing: then the newer request takes it over (:mod:`codex_ls.inflight`).
Each answer plans a prefetch of the line after it (:mod:`codex_ls.features.prefetch`).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
from dataclasses import dataclass

from lsprotocol import types

from codex_ls.completion import CompletionOutcome, complete, cursor_line_in_middle, other_documents
from codex_ls.engines.base import CancelToken, EngineError
from codex_ls.inflight import Job
from codex_ls.syntax import should_complete

log = logging.getLogger(__name__)

TYPING_SUFFIX_TOKENS = 64
"""Suffix budget (tokens) for a request made while the user types on the same line, when the
prompt ends with the cursor's line (engines without token healing, or
``completion.cursorLineInMiddle`` off)."""


@dataclass(frozen=True)
class Suggestion:
    """A completion ready for the protocol: text to insert over ``range``."""

    text: str
    range: types.Range
    outcome: CompletionOutcome | None  # None: answered from the typing-through cache


def snapshot(doc):
    """A copy of ``doc`` that later edits cannot change (text is immutable, the tree is copied)."""
    snap = copy.copy(doc)
    if doc.tree is not None:
        snap.tree = doc.tree.copy()
    return snap


async def suggest(ls, uri: str, position: types.Position) -> Suggestion | None:
    """Run one completion for ``position`` in document ``uri``; ``None`` for no suggestion.

    Raises:
        pygls JsonRpcException subclasses for bad input (unknown document,
        position outside it); engine failures are logged and give ``None``.
    """
    from pygls.exceptions import JsonRpcInvalidParams

    settings = ls.settings
    if not settings.completion.enabled:
        return None
    doc = ls.documents.get(uri)
    if doc is None:
        raise JsonRpcInvalidParams(f"document not open: {uri}")
    if position.line < 0 or position.character < 0:
        raise JsonRpcInvalidParams(f"invalid position {position.line}:{position.character}")
    text = doc.text
    offset = doc.offset_at(position.line, position.character)
    if await ls.prefetcher.before_request(uri, text[:offset], text[offset:]):
        log.debug("completion %s right after an accept: no suggestion, the next line is being prepared", uri)
        return None
    if ls.documents.get(uri) is not doc:
        raise JsonRpcInvalidParams(f"document not open: {uri}")
    text = doc.text
    offset = doc.offset_at(position.line, position.character)
    rest = ls.typing.lookup(uri, text[:offset], text[offset:])
    if rest is not None:
        ls.inflight.stop(uri)  # what was in flight for this document is stale
        log.debug("completion %s typing-through hit shown=%d chars", uri, len(rest))
        line, character = doc.position_at(offset)
        pos = types.Position(line=line, character=character)
        ls.prefetcher.schedule(uri, snapshot(doc), offset, rest)
        return Suggestion(rest, types.Range(start=pos, end=pos), None)
    typing = ls.typing.is_typing(uri, position.line, offset)
    if settings.completion.strategy == "syntax" and not should_complete(doc.tree, doc.byte_offset(offset), doc.source):
        # decided here, not on the engine thread, so the answer does not wait behind model work
        ls.inflight.stop(uri)
        log.debug("completion %s v=%s at=%d:%d nothing to complete here", uri, doc.version, position.line, position.character)
        return None
    waited, taken = await _take_over(ls, uri, doc, offset)
    if taken is not None:
        return taken
    if waited and ls.inflight.get(uri) is not None:
        return None  # a newer request for the document started its own run meanwhile: this one is stale
    engine = await ls.models.wait_ready(settings.model.load_timeout_ms / 1000.0)
    if engine is None:
        return None
    profile = ls.models.profile
    snap = snapshot(doc)
    offset = snap.offset_at(position.line, position.character)
    completion_settings = settings.completion
    if typing and not cursor_line_in_middle(completion_settings, engine) and completion_settings.suffix_tokens > TYPING_SUFFIX_TOKENS:
        # While the user types, every keystroke moves the end of the prefix and the suffix after it
        # must be evaluated again: keep it short (the rest of the line and a few lines). With the
        # cursor's line after the middle marker, the suffix stays in the KV cache instead.
        completion_settings = dataclasses.replace(completion_settings, suffix_tokens=TYPING_SUFFIX_TOKENS)
    if typing:
        # While the user types, suggest the rest of the line only: an answer must come before the
        # next keystroke (100 ms at 10 characters/s) or it is superseded; a pause gets the block.
        completion_settings = dataclasses.replace(completion_settings, max_lines=1)
    others = other_documents(ls.documents, uri) if settings.completion.context_tokens > 0 else []
    try:
        root_uri = ls.workspace.root_uri
    except Exception:  # no workspace before initialize
        root_uri = None
    token = CancelToken()
    job = Job(uri, snap.text[:offset], snap.text[offset:], token)
    ls.inflight.start(job)  # stops the generation for an older request, if any
    anchor_line, suffix_end = ls.prompt_anchors.get(uri, (None, None))
    loop = asyncio.get_running_loop()
    job.future = loop.run_in_executor(
        ls.engine_executor, complete, snap, offset, engine, profile, completion_settings, token, others, root_uri, anchor_line, suffix_end, job.report
    )
    job.future.add_done_callback(lambda _future: _finished(ls, job))
    outcome = await _wait(ls, job)
    if outcome is None or not outcome.text or token.cancelled:
        return None
    line, character = snap.position_at(offset)
    pos = types.Position(line=line, character=character)
    ls.prefetcher.schedule(uri, snap, offset, outcome.text)
    return Suggestion(outcome.text, types.Range(start=pos, end=pos), outcome)


async def _take_over(ls, uri: str, doc, offset: int) -> tuple[bool, Suggestion | None]:
    """The answer of the document's running generation, if the user typed through what it is
    writing (:mod:`codex_ls.inflight`): the rest of it after what was typed. Returns whether
    this request waited for one, and the answer (``None`` when there was none to take over,
    or it was stopped or ended with something else than what was typed)."""
    text = doc.text
    found = ls.inflight.adoptable(uri, text[:offset], text[offset:])
    if found is None:
        return False, None
    job, typed = found
    line, character = doc.position_at(offset)
    pos = types.Position(line=line, character=character)
    outcome = await _wait(ls, job)
    if outcome is None or job.token.cancelled or not outcome.text.startswith(typed) or not outcome.text[len(typed):].strip():
        return True, None
    rest = outcome.text[len(typed):]
    ls.typing.remember(uri, text[:offset], text[offset:], rest)
    log.debug("completion %s took over a running generation (%d chars typed through it) shown=%d chars", uri, len(typed), len(rest))
    return True, Suggestion(rest, types.Range(start=pos, end=pos), outcome)


async def _wait(ls, job: Job) -> CompletionOutcome | None:
    """Wait for ``job``'s outcome (``None`` if the engine failed). A cancelled request stops
    waiting; the generation stops too unless a newer request takes it over (:meth:`InFlight.leave`)."""
    ls.inflight.wait(job)
    try:
        outcome = await asyncio.shield(job.future)
    except asyncio.CancelledError:
        ls.inflight.leave(job, asyncio.get_running_loop())
        raise
    except EngineError:
        outcome = None  # logged once, by _finished
    job.waiters -= 1
    return outcome


def _finished(ls, job: Job) -> None:
    """A job's run is over: keep its prompt anchors and its answer (for typing through it),
    whether or not a request still waits for it."""
    ls.inflight.finish(job)
    future = job.future
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        if isinstance(exc, EngineError):
            log.warning("completion failed: %s", exc)
        else:
            log.error("completion failed: %r", exc)
        return
    outcome = future.result()
    if ls.documents.get(job.uri) is None:
        return  # closed meanwhile
    if outcome.prompt is not None:
        ls.prompt_anchors[job.uri] = (outcome.prompt.first_line, outcome.suffix_end)
    if outcome.text and not job.token.cancelled:
        ls.typing.remember(job.uri, job.before, job.after, outcome.text)


def register(server) -> None:
    """Register ``textDocument/inlineCompletion`` with options, so ``initialize`` advertises it."""

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        """At most one item; an empty list when there is nothing worth showing."""
        found = await suggest(ls, params.text_document.uri, params.position)
        if found is None:
            return types.InlineCompletionList(items=[])
        return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=found.text, range=found.range)])

"""Prepare the next suggestion while the user reads this one (see :mod:`codex_ls.prefetch`).

After a suggestion is answered, and once no request came for
``completion.prefetchDelayMs``, the server completes the state the user reaches
by accepting it and pressing Enter, on the engine's thread, as a speculative
generation (``LlamaCppEngine.speculative``: the KV cache slot of the last real
request is kept). Its answer goes into the typing cache for that state, so the
request made there is answered without the model.

Any request stops it (between two tokens, or within a few ms of a prompt
evaluation), except two: the request for the predicted state itself waits for it,
and the request an editor makes right after an accept (the cursor at the end of
the accepted suggestion, before Enter) gets no suggestion and leaves it running.
Code actions stop it too. Only engines with two KV cache slots prefetch (the
in-process ``llama-cpp`` engine with ``model.kvCacheReuse`` on): a remote server's
time is not spent on guesses.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from codex_ls.completion import complete, other_documents
from codex_ls.documents import Change
from codex_ls.engines.base import CancelToken
from codex_ls.prefetch import accept_and_enter

log = logging.getLogger(__name__)


@dataclass
class Planned:
    """One prefetch: the predicted state of document ``uri``.

    Attributes:
        uri: the document.
        accepted: the text before the cursor right after the accept (before Enter).
        before: the predicted text before the cursor (after Enter).
        after: the text after the cursor (unchanged).
        token: stops the prefetch's generation.
        doc: the snapshot the suggestion was made for.
        offset: the cursor in it (code points).
        timer: the pending start, until it starts.
        future: the engine work, once started.
    """

    uri: str
    accepted: str
    before: str
    after: str
    token: CancelToken
    doc: object
    offset: int
    timer: asyncio.TimerHandle | None = None
    future: asyncio.Future | None = None


def _speculate(engine, *args, **kwargs):
    """:func:`~codex_ls.completion.complete` as a speculative generation (engine thread)."""
    with engine.speculative():
        return complete(*args, **kwargs)


class Prefetcher:
    """At most one prefetch at a time, for the whole server (event-loop thread only).

    Attributes:
        current: the last prefetch planned, running or done, until a request that is not on
            its way (its accept, or its state) ends it.
        started / ready: prefetches started, and those whose answer was kept, since the start.
    """

    def __init__(self, ls) -> None:
        self.ls = ls
        self.current: Planned | None = None
        self.started = 0
        self.ready = 0

    def cancel(self) -> None:
        """Stop the planned or running prefetch, if any (a done one's answer stays kept)."""
        planned, self.current = self.current, None
        if planned is None:
            return
        if planned.timer is not None:
            planned.timer.cancel()
        planned.token.cancel()

    async def before_request(self, uri: str, before: str, after: str) -> bool:
        """Called first by every completion request for the cursor between ``before`` and
        ``after`` in ``uri``: waits for a prefetch of exactly this state (its answer is then
        in the typing cache); returns ``True`` for the state right after an accept, which
        gets no suggestion while the prefetch for the line after it goes on. Any other
        request stops the prefetch and gets ``False``. After the request for the predicted
        state, the prefetch is over: the next answer plans the next one."""
        planned = self.current
        if planned is None:
            return False
        if planned.uri == uri and after == planned.after:
            if before == planned.accepted:
                return True
            if before == planned.before:
                if planned.future is None:  # still waiting for its delay: start it now
                    if planned.timer is not None:
                        planned.timer.cancel()
                    self._start(planned)
                if planned.future is not None:
                    try:
                        await asyncio.shield(planned.future)
                    except Exception:  # noqa: BLE001 - logged by _done; the request runs the model
                        pass
                if self.current is planned:
                    self.current = None
                return False
        self.cancel()
        return False

    def schedule(self, uri: str, doc, offset: int, shown: str) -> None:
        """Plan a prefetch after ``shown`` was answered at ``offset`` of ``doc`` (a snapshot)."""
        ls = self.ls
        settings = ls.settings.completion
        if not settings.prefetch or not shown:
            return
        engine = ls.models.engine if ls.models.state == "ready" else None
        if engine is None or getattr(engine, "slots", 1) < 2:
            return
        text = doc.text
        before, after = text[:offset], text[offset:]
        predicted = accept_and_enter(before, after, shown, doc.language is not None and doc.language.name == "python")
        if predicted is None or ls.typing.has(uri, predicted, after):
            return
        self.cancel()
        planned = Planned(uri, before + shown, predicted, after, CancelToken(), doc, offset)
        planned.timer = asyncio.get_running_loop().call_later(settings.prefetch_delay_ms / 1000.0, self._start, planned)
        self.current = planned

    def _start(self, planned: Planned) -> None:
        """Start the engine work of ``planned`` (timer callback, or a request that waits for it)."""
        planned.timer = None
        if self.current is not planned or planned.token.cancelled:
            return
        doc, offset = planned.doc, planned.offset
        ls = self.ls
        engine = ls.models.engine if ls.models.state == "ready" else None
        if engine is None or ls.documents.get(planned.uri) is None:
            self.current = None
            return
        # The predicted document: the snapshot with the suggestion, a line break and the
        # indentation inserted at the cursor, reparsed incrementally.
        hyp = _copy(doc)
        line, character = doc.position_at(offset)
        hyp.apply_changes([Change((line, character), (line, character), planned.before[offset:])])
        hyp_offset = len(planned.before)
        settings = ls.settings
        others = other_documents(ls.documents, planned.uri) if settings.completion.context_tokens > 0 else []
        try:
            root_uri = ls.workspace.root_uri
        except Exception:  # no workspace before initialize
            root_uri = None
        anchor_line, suffix_end = ls.prompt_anchors.get(planned.uri, (None, None))
        loop = asyncio.get_running_loop()
        self.started += 1
        planned.future = loop.run_in_executor(
            ls.engine_executor, _speculate, engine, hyp, hyp_offset, engine, ls.models.profile, settings.completion,
            planned.token, others, root_uri, anchor_line, suffix_end, None, "prefetch",
        )
        planned.future.add_done_callback(lambda future: self._done(planned, future))

    def _done(self, planned: Planned, future: asyncio.Future) -> None:
        """Keep the prefetch's answer for its state (typing cache). The prefetch stays
        :attr:`current` until the next request that is not on its way (its accept, its state)."""
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.debug("prefetch failed: %s", exc)
            return
        outcome = future.result()
        if planned.token.cancelled or not outcome.text or self.ls.documents.get(planned.uri) is None:
            return
        self.ready += 1
        self.ls.typing.remember(planned.uri, planned.before, planned.after, outcome.text)
        log.debug("prefetch %s ready: %d chars for the line after the accepted suggestion", planned.uri, len(outcome.text))


def _copy(doc):
    """A copy of a document snapshot that edits leave the original alone."""
    from codex_ls.features.inline_completion import snapshot

    return snapshot(doc)

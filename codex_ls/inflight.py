"""Typing through a generation still in progress: a newer request takes over the older one's.

While the user types at 10 characters/s a keystroke comes every 100 ms, and a
line-long answer (10-20 tokens at about 43 tokens/s on a 2-core CPU) needs more
than that. Cancelling the generation on every keystroke and starting again means
no suggestion appears until the user stops. But when the characters typed since
the generation started are the ones it is writing (a string literal, an argument
list), it is already writing the answer to the newer request: that request waits
for it instead and shows the rest, as Copilot keeps a streaming completion
alive while the user types through it.

:class:`Job` is one model run for one document position; :class:`InFlight`
keeps the live one per document and decides, with :func:`typed_through`, whether
a newer request may take it over (:meth:`InFlight.adoptable`). A job whose every
request was cancelled (``$/cancelRequest``, sent by editors right before the
next keystroke's request) goes on for ``ADOPT_GRACE_S`` at most, so that request
can take it over; otherwise its generation is stopped between two tokens.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from codex_ls.engines.base import CancelToken
from codex_ls.typing_cache import TYPING_MAX_CHARS

ADOPT_GRACE_S = 0.05
"""Seconds a generation whose requests were all cancelled goes on, waiting for a newer request
typed through it (editors send ``$/cancelRequest`` and the next request together), before
it is stopped."""

ADOPT_MAX_CHARS = TYPING_MAX_CHARS
"""Characters typed since a generation started, at most, for a newer request to take it over
(as many as make a request one made while typing)."""


def typed_through(partial: str, typed: str) -> bool:
    """Whether ``typed`` (characters typed after the cursor of a running generation) agrees
    with ``partial`` (what that generation has written after the cursor so far): one is
    a prefix of the other, so the generation may still be writing the newer answer.

    >>> typed_through('"error: %v", err)', '"err')
    True
    >>> typed_through('"e', '"error')
    True
    >>> typed_through('"error', '"warn')
    False
    """
    return partial.startswith(typed) or typed.startswith(partial)


@dataclass
class Job:
    """One model run for the cursor between ``before`` and ``after`` in document ``uri``.

    Attributes:
        uri: the document.
        before: the document text before the cursor when the run started.
        after: the document text after the cursor then.
        token: stops the generation between two tokens.
        future: resolves to the run's :class:`~codex_ls.completion.CompletionOutcome`.
        partial: what the generation has written after the cursor so far (set from the
            engine's thread, see :func:`codex_ls.completion.complete`'s ``progress``).
        waiters: requests waiting for this run (the one that started it included).
        expect: what the latest request that took this run over had typed after its
            cursor: once the generation writes something else, it is stopped.
    """

    uri: str
    before: str
    after: str
    token: CancelToken
    future: asyncio.Future | None = None
    partial: str = ""
    waiters: int = 0
    expect: str = ""
    _timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def report(self, text: str) -> None:
        """The generation's text after the cursor so far (called on the engine's thread); a
        generation that no longer writes what the user typed is stopped (:attr:`expect`)."""
        self.partial = text
        if self.expect and not typed_through(text, self.expect):
            self.token.cancel()

    def typed(self, before: str, after: str) -> str | None:
        """What was typed at this job's cursor to make the document ``before`` + ``after``
        (code points), or ``None`` when the document changed otherwise (the text after the
        cursor, a line break, or more than ``ADOPT_MAX_CHARS``)."""
        if after != self.after or not before.startswith(self.before):
            return None
        typed = before[len(self.before):]
        if "\n" in typed or len(typed) > ADOPT_MAX_CHARS:
            return None
        return typed


class InFlight:
    """The running :class:`Job` per document: a newer one stops the older (event-loop thread
    only, except :meth:`Job.report`)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, uri: str) -> Job | None:
        """The running job of document ``uri``, or ``None``."""
        with self._lock:
            return self._jobs.get(uri)

    def start(self, job: Job) -> None:
        """Make ``job`` the document's running one; the older one's generation is stopped."""
        with self._lock:
            old = self._jobs.get(job.uri)
            self._jobs[job.uri] = job
        if old is not None and old is not job:
            old.token.cancel()

    def stop(self, uri: str) -> None:
        """Stop the document's running generation, if any: what it writes is stale."""
        with self._lock:
            job = self._jobs.pop(uri, None)
        if job is not None:
            job.token.cancel()

    def finish(self, job: Job) -> None:
        """Forget ``job`` once its run is over."""
        with self._lock:
            if self._jobs.get(job.uri) is job:
                del self._jobs[job.uri]
        if job._timer is not None:
            job._timer.cancel()

    def adoptable(self, uri: str, before: str, after: str) -> tuple[Job, str] | None:
        """The running job a request at ``before``|``after`` may wait for, and what was typed
        since it started; ``None`` when there is none, it was stopped, the document changed
        otherwise, nothing was typed (a request again at the same place supersedes the
        older one), or the generation has written something else than what was typed."""
        job = self.get(uri)
        if job is None or job.token.cancelled or job.future is None or job.future.done() and job.future.cancelled():
            return None
        typed = job.typed(before, after)
        if not typed or not typed_through(job.partial, typed):
            return None
        job.expect = typed
        return job, typed

    def wait(self, job: Job) -> None:
        """A request starts waiting for ``job``: a pending stop is called off."""
        job.waiters += 1
        if job._timer is not None:
            job._timer.cancel()
            job._timer = None

    def leave(self, job: Job, loop: asyncio.AbstractEventLoop, grace_s: float = ADOPT_GRACE_S) -> None:
        """A request waiting for ``job`` was cancelled: once none waits, the generation stops
        after ``grace_s`` unless a newer request takes it over meanwhile."""
        job.waiters = max(0, job.waiters - 1)
        if job.waiters == 0 and not job.token.cancelled:
            if job._timer is not None:
                job._timer.cancel()

            def stop() -> None:
                job._timer = None
                if job.waiters == 0:
                    job.token.cancel()

            job._timer = loop.call_later(grace_s, stop)

"""Incremental stop-string matching and the per-token stop checks shared by engines."""

from __future__ import annotations

import time


class StopMatcher:
    """Finds the earliest stop string in text that grows token by token.

    ``feed(text)`` is called with the whole text generated so far and returns
    the index (code points) where the first stop string starts, or ``None``.
    ``safe_length(text)`` is how much of the text can be shown without the
    risk that a stop string which has only partly arrived is shown.
    """

    def __init__(self, stops: tuple[str, ...]):
        self.stops = tuple(s for s in stops if s)
        self._longest = max((len(s) for s in self.stops), default=0)
        self._scanned = 0

    def feed(self, text: str) -> int | None:
        """Index (code points) in ``text`` where the earliest stop string starts, or ``None``.

        ``text`` is the whole text so far and must extend the previous call's; only its
        new tail (plus the longest stop's length before it) is searched.
        """
        if not self.stops:
            return None
        start = max(0, self._scanned - self._longest)
        best: int | None = None
        for stop in self.stops:
            i = text.find(stop, start)
            if i != -1 and (best is None or i < best):
                best = i
        self._scanned = len(text)
        return best


class TextStream:
    """The per-token stop checks of one generation, shared by the engines.

    Feed it each generated piece (:meth:`push_bytes` for engines that yield
    token bytes, :meth:`push_text` for servers that stream text); each call
    returns the finish reason once generation must end, else ``None``.
    Checks, in order: stop strings, ``should_stop``, ``max_tokens``,
    ``cancel``, ``deadline_s`` (absolute ``time.monotonic()`` seconds).

    Attributes:
        text: the text to return: cut before a stop string or at the rule's
            cut position, else all of it (a split UTF-8 character held back
            until its last byte arrives).
        generated: pieces pushed (tokens).
        logprobs: the log-probabilities of the generated tokens, for engines that
            append them (the result's ``mean_logprob``).
        finish: the finish reason once ended, else ``None``.
    """

    def __init__(self, stop, should_stop, max_tokens: int, cancel=None, deadline_s: float | None = None):
        self.matcher = StopMatcher(tuple(stop))
        self.should_stop = should_stop
        self.max_tokens = max_tokens
        self.cancel = cancel
        self.deadline_s = deadline_s
        self._raw = bytearray()
        self._text_parts: list[str] = []
        self.text = ""
        self.generated = 0
        self.logprobs: list[float] = []
        self.finish: str | None = None

    def push_bytes(self, data: bytes) -> str | None:
        """One token's bytes; returns the finish reason or ``None``."""
        self._raw += data
        return self._after(self._raw[: _utf8_safe_len(self._raw)].decode("utf-8", errors="replace"))

    def push_text(self, piece: str) -> str | None:
        """One streamed text piece (one token, as servers stream); returns the finish reason or ``None``."""
        self._text_parts.append(piece)
        return self._after("".join(self._text_parts))

    def _after(self, text: str) -> str | None:

        self.generated += 1
        self.text = text
        cut = self.matcher.feed(text)
        if cut is not None:
            self.text = text[:cut]
            return self.end("stop")
        if self.should_stop is not None:
            rule_cut = self.should_stop(text)
            if rule_cut is not None:
                self.text = text[:rule_cut]
                return self.end("rule")
        if self.generated >= self.max_tokens:
            return self.end("length")
        return self.poll()

    def poll(self) -> str | None:
        """Only the cancel and deadline checks (e.g. between two chunks without text)."""

        if self.cancel is not None and self.cancel.cancelled:
            return self.end("cancelled")
        if self.deadline_s is not None and time.monotonic() >= self.deadline_s:
            return self.end("time")
        return None

    def end(self, reason: str) -> str:
        """Record ``reason`` (the first one wins) and return it."""
        if self.finish is None:
            self.finish = reason
            if reason not in ("stop", "rule") and self._raw:
                self.text = self._raw.decode("utf-8", errors="replace")
        return self.finish


    def result(self, prompt_tokens: int, evaluated: int, started: float, context_length: int | None = None):
        """The :class:`~codex_ls.engines.base.GenerationResult` of this stream.

        ``started`` is the ``time.perf_counter()`` of the call's start. A stream that ran
        dry (finish ``"length"``) with ``prompt_tokens`` plus the generated tokens filling
        ``context_length`` ended because the context is full (``"context"``).
        """
        from codex_ls.engines.base import GenerationResult

        finish = self.end("length")
        if finish == "length" and context_length is not None and prompt_tokens + self.generated >= context_length:
            finish = "context"
        return GenerationResult(
            text=self.text,
            finish_reason=finish,  # type: ignore[arg-type]
            prompt_tokens=prompt_tokens,
            prompt_tokens_evaluated=evaluated,
            generated_tokens=self.generated,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            mean_logprob=sum(self.logprobs) / len(self.logprobs) if self.logprobs else None,
        )


def _utf8_safe_len(data: bytes | bytearray) -> int:
    """Length of the longest prefix of ``data`` that does not end inside a UTF-8 sequence."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte & 0xC0 == 0x80:  # continuation byte
            continue
        if byte & 0x80 == 0:
            return n
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
        return n if back >= need else n - back
    return n

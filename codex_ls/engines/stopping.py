"""Incremental stop-string matching shared by engines."""

from __future__ import annotations


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

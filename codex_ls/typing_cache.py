"""Typing through a suggestion: answer from memory when the user types what was shown.

Pure and server-free. After a suggestion is shown, the user often types its
first characters before accepting (or types it out). As long as the text
before the cursor is the text the suggestion was made for plus a prefix of
the suggestion, and the text after the cursor is unchanged, the rest of the
suggestion is still the answer: :meth:`TypingCache.lookup` returns it without
touching the model (Copilot and Tabby behave the same way).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


TYPING_MAX_CHARS = 32
"""A request this many characters or fewer after the previous one, on its line, is made while typing."""

KEPT_PER_DOCUMENT = 3
"""Suggestions kept per document: the last ones shown, and answers prepared ahead
(:mod:`codex_ls.prefetch`) for where the user may go next."""


@dataclass(frozen=True)
class ShownSuggestion:
    """One suggestion as it was shown.

    Attributes:
        before: the document text before the cursor when it was made.
        after: the document text after the cursor then.
        text: the suggestion (inserted at the cursor).
    """

    before: str
    after: str
    text: str


class TypingCache:
    """The last suggestions per document (shown, or prepared ahead for a likely next state),
    and the typing-through lookup (thread-safe).

    Memory: up to :data:`KEPT_PER_DOCUMENT` document texts per open document (the
    strings are mostly shared with the document snapshots, not copied).
    """

    def __init__(self) -> None:
        self._shown: dict[str, list[ShownSuggestion]] = {}
        self._last_request: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def is_typing(self, uri: str, line: int, offset: int, max_chars: int = TYPING_MAX_CHARS) -> bool:
        """Record a request at ``line``/``offset`` (code points) and say whether the user is typing:
        the previous request for ``uri`` was on the same line, 1 to ``max_chars`` characters back."""
        with self._lock:
            last = self._last_request.get(uri)
            self._last_request[uri] = (line, offset)
        return last is not None and last[0] == line and 0 < offset - last[1] <= max_chars

    def remember(self, uri: str, before: str, after: str, text: str) -> None:
        """Record that ``text`` is the suggestion for the cursor between ``before`` and ``after``
        (the newest of the document's :data:`KEPT_PER_DOCUMENT`; one for the same place is replaced)."""
        if not text:
            return
        with self._lock:
            kept = [s for s in self._shown.get(uri, ()) if s.before != before or s.after != after]
            self._shown[uri] = [ShownSuggestion(before, after, text), *kept][:KEPT_PER_DOCUMENT]

    def has(self, uri: str, before: str, after: str) -> bool:
        """Whether a suggestion is kept for exactly this cursor place."""
        with self._lock:
            return any(s.before == before and s.after == after for s in self._shown.get(uri, ()))

    def forget(self, uri: str) -> None:
        """Drop what was shown for ``uri`` (document closed)."""
        with self._lock:
            self._shown.pop(uri, None)
            self._last_request.pop(uri, None)

    def lookup(self, uri: str, before: str, after: str) -> str | None:
        """The rest of a kept suggestion if the user typed its start (nothing, at its own
        place), else ``None``; the newest one that fits wins.

        ``before``/``after``: the document text before/after the cursor now.
        A suggestion does not fit when the text after the cursor changed, the
        typed text is not a prefix of it, or only whitespace would be left.
        """
        with self._lock:
            kept = list(self._shown.get(uri, ()))
        for shown in kept:
            if after != shown.after or len(before) < len(shown.before) or not before.startswith(shown.before):
                continue
            typed = before[len(shown.before):]
            if not shown.text.startswith(typed):
                continue
            rest = shown.text[len(typed):]
            if rest.strip():
                return rest
        return None

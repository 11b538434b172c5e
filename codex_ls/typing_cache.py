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
    """The last suggestion shown per document, and the typing-through lookup (thread-safe).

    Memory: one document text per open document with a shown suggestion (the
    strings are shared with the document snapshots, not copied).
    """

    def __init__(self) -> None:
        self._shown: dict[str, ShownSuggestion] = {}
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
        """Record that ``text`` was shown at the cursor between ``before`` and ``after``."""
        if not text:
            return
        with self._lock:
            self._shown[uri] = ShownSuggestion(before, after, text)

    def forget(self, uri: str) -> None:
        """Drop what was shown for ``uri`` (document closed)."""
        with self._lock:
            self._shown.pop(uri, None)
            self._last_request.pop(uri, None)

    def lookup(self, uri: str, before: str, after: str) -> str | None:
        """The rest of the shown suggestion if the user typed its start, else ``None``.

        ``before``/``after``: the document text before/after the cursor now.
        ``None`` when nothing was shown, the text after the cursor changed,
        the typed text is not a prefix of the suggestion, or only whitespace
        would be left.
        """
        with self._lock:
            shown = self._shown.get(uri)
        if shown is None or after != shown.after or len(before) < len(shown.before):
            return None
        if not before.startswith(shown.before):
            return None
        typed = before[len(shown.before):]
        if not shown.text.startswith(typed):
            return None
        rest = shown.text[len(typed):]
        return rest if rest.strip() else None

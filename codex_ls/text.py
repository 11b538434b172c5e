"""Text positions: LSP (line, character) positions in any position encoding, str offsets,
UTF-8 byte offsets and tree-sitter points.

Units used throughout:

* **str offset** – an index into a Python ``str``, i.e. a count of Unicode code points.
* **character** – the ``character`` of an LSP ``Position``: a count of code units of the
  negotiated position encoding: UTF-16 code units (``"utf-16"``, the LSP default),
  UTF-8 bytes (``"utf-8"``) or code points (``"utf-32"``, which equals a str offset).
* **byte offset** – an offset into ``text.encode("utf-8")``.
* **point** – a tree-sitter ``(row, column)``: ``row`` counts ``"\\n"`` characters before the
  position (tree-sitter only treats ``"\\n"`` as a row break) and ``column`` is the number of
  UTF-8 bytes since the last ``"\\n"``.

LSP lines end at ``"\\n"``, ``"\\r\\n"`` or ``"\\r"``. For text without lone ``"\\r"`` line
breaks a tree-sitter row equals the LSP line.

Lone UTF-16 surrogates (which a JSON client can technically send) are encoded with
``surrogatepass`` everywhere so that the unit counts stay consistent instead of raising.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate
from typing import Literal

__all__ = ["Encoding", "ENCODINGS", "LineIndex", "utf16_len", "utf8_len"]

Encoding = Literal["utf-8", "utf-16", "utf-32"]
ENCODINGS: tuple[Encoding, ...] = ("utf-8", "utf-16", "utf-32")

_ERRORS = "surrogatepass"
_LINE_BREAK_SPLIT = re.compile(r"(\r\n|\r|\n)")
_LINE_BREAK_SPLIT_BYTES = re.compile(rb"(\r\n|\r|\n)")
_LONE_CR = re.compile(r"\r(?!\n)")


def utf16_len(s: str) -> int:
    """Number of UTF-16 code units in ``s`` (astral characters such as "😀" count 2)."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le", _ERRORS)) >> 1


def utf8_len(s: str) -> int:
    """Number of UTF-8 bytes in ``s``."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-8", _ERRORS))


def _units_to_code_points(line: str, character: int, encoding: Encoding) -> int:
    """Convert a ``character`` (code units of ``encoding``) within ``line`` into a code point
    count, clamping to the line length and rounding down when it lands inside a character."""
    if character <= 0:
        return 0
    if encoding == "utf-32" or line.isascii():
        return min(character, len(line))
    if encoding == "utf-16":
        data = line.encode("utf-16-le", _ERRORS)
        units = len(data) >> 1
        if character >= units:
            return len(line)
        # Inside a surrogate pair: unit character-1 is a high surrogate and unit character a low one.
        hi = data[2 * character - 1]
        if 0xD8 <= hi <= 0xDB and 0xDC <= data[2 * character + 1] <= 0xDF:
            character -= 1
        return len(data[: 2 * character].decode("utf-16-le", _ERRORS))
    if encoding == "utf-8":
        data = line.encode("utf-8", _ERRORS)
        if character >= len(data):
            return len(line)
        while character > 0 and (data[character] & 0xC0) == 0x80:  # continuation byte
            character -= 1
        return len(data[:character].decode("utf-8", _ERRORS))
    raise ValueError(f"unknown position encoding {encoding!r}")


def _code_points_to_units(prefix: str, encoding: Encoding) -> int:
    if encoding == "utf-32" or prefix.isascii():
        return len(prefix)
    if encoding == "utf-16":
        return len(prefix.encode("utf-16-le", _ERRORS)) >> 1
    if encoding == "utf-8":
        return len(prefix.encode("utf-8", _ERRORS))
    raise ValueError(f"unknown position encoding {encoding!r}")


class LineIndex:
    """Line table for one version of a text; build a new one whenever the text changes.

    Building costs one C-level split of the text (O(lines) list work); lookups are
    O(log lines) plus work proportional to the length of the one line involved. UTF-8 byte
    tables are built lazily on the first byte/point query (and skipped for ASCII text).

    Lines are separated by ``"\\n"``, ``"\\r\\n"`` or ``"\\r"``; there are always
    ``line_count >= 1`` lines (the empty text has one empty line, a text ending with a line
    break has a final empty line).

    Negative lines, characters or offsets raise ``ValueError``; values past the end clamp.
    """

    __slots__ = (
        "text",
        "line_count",
        "_lines",
        "_starts",
        "_ascii",
        "_lone_cr",
        "_byte_starts",
        "_nl_starts",
        "_has_cr",
        "_data",
    )

    def __init__(self, text: str, data: bytes | None = None):
        """``data``, if given, must be ``text`` encoded as UTF-8 (saves encoding it again)."""
        self.text = text
        self._has_cr = "\r" in text
        if not self._has_cr:
            lines = text.split("\n")
            # start[i + 1] = start[i] + len(line i) + 1 (the "\n")
            starts = list(accumulate(map((1).__add__, map(len, lines[:-1])), initial=0))
            self._lone_cr = False
        else:
            parts = _LINE_BREAK_SPLIT.split(text)
            lines = parts[0::2]
            # parts = [line0, sep0, line1, sep1, ..., lineN]: every other running sum is a line start
            starts = list(accumulate(map(len, parts[:-1]), initial=0))[::2]
            self._lone_cr = _LONE_CR.search(text) is not None
        self._lines: list[str] = lines
        self._starts: list[int] = starts
        self.line_count: int = len(lines)
        self._ascii: bool = text.isascii()
        self._byte_starts: list[int] | None = None
        self._data: bytes | None = None if self._ascii else data
        self._nl_starts: list[int] | None = None

    # -- lines -------------------------------------------------------------------------

    def line_start(self, line: int) -> int:
        """Str offset (code points) of the first character of ``line``; ``len(text)`` past the end."""
        if line < 0:
            raise ValueError(f"negative line {line}")
        if line >= self.line_count:
            return len(self.text)
        return self._starts[line]

    def line_text(self, line: int) -> str:
        """Text of ``line`` without its line break; ``""`` past the end."""
        if line < 0:
            raise ValueError(f"negative line {line}")
        if line >= self.line_count:
            return ""
        return self._lines[line]

    def line_of(self, offset: int) -> int:
        """The line containing str offset ``offset`` (clamped to the text)."""
        if offset < 0:
            raise ValueError(f"negative offset {offset}")
        return bisect_right(self._starts, offset) - 1

    # -- LSP positions -----------------------------------------------------------------

    def offset_at(self, line: int, character: int, encoding: Encoding = "utf-16") -> int:
        """Str offset (code points) of the LSP position ``(line, character)``.

        ``character`` counts code units of ``encoding``. A character past the line end clamps to
        the line end (before the line break); a line past the last line gives ``len(text)``;
        a character inside a UTF-16 surrogate pair or a UTF-8 sequence rounds down to the
        start of that character. Raises ``ValueError`` for negative values or an unknown
        encoding.
        """
        if line < 0 or character < 0:
            raise ValueError(f"negative position ({line}, {character})")
        if line >= self.line_count:
            if encoding not in ENCODINGS:
                raise ValueError(f"unknown position encoding {encoding!r}")
            return len(self.text)
        return self._starts[line] + _units_to_code_points(self._lines[line], character, encoding)

    def position_at(self, offset: int, encoding: Encoding = "utf-16") -> tuple[int, int]:
        """LSP position ``(line, character)`` of str offset ``offset``, ``character`` in code units
        of ``encoding``. Offsets past the end clamp to the end of the text; an offset inside a
        line break (between "\\r" and "\\n") maps to the end of that line. Raises ``ValueError``
        for a negative offset or an unknown encoding."""
        if offset < 0:
            raise ValueError(f"negative offset {offset}")
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown position encoding {encoding!r}")
        offset = min(offset, len(self.text))
        line = bisect_right(self._starts, offset) - 1
        text = self._lines[line]
        column = min(offset - self._starts[line], len(text))
        return line, _code_points_to_units(text[:column], encoding)

    # -- bytes and tree-sitter points --------------------------------------------------

    def _line_byte_starts(self) -> list[int]:
        starts = self._byte_starts
        if starts is None:
            data = self._data
            if data is None:
                data = self.text.encode("utf-8", _ERRORS)
            self._data = None  # only needed for this table
            # "\r" and "\n" bytes only occur as those characters in UTF-8, so the byte
            # lines are exactly the str lines
            if not self._has_cr:
                starts = list(accumulate(map((1).__add__, map(len, data.split(b"\n")[:-1])), initial=0))
            else:
                parts = _LINE_BREAK_SPLIT_BYTES.split(data)
                starts = list(accumulate(map(len, parts[:-1]), initial=0))[::2]
            self._byte_starts = starts
        return starts

    def _clamp(self, offset: int) -> int:
        """``offset`` clamped to the text; ``ValueError`` if negative."""
        if offset < 0:
            raise ValueError(f"negative offset {offset}")
        return min(offset, len(self.text))

    def byte_offset(self, offset: int) -> int:
        """UTF-8 byte offset in the whole text of str offset ``offset`` (clamped to the text).
        Raises ``ValueError`` for a negative offset."""
        text = self.text
        offset = self._clamp(offset)
        if self._ascii:
            return offset
        line = bisect_right(self._starts, offset) - 1
        start = self._starts[line]
        return self._line_byte_starts()[line] + utf8_len(text[start:offset])

    def point_at(self, offset: int) -> tuple[int, int]:
        """tree-sitter point ``(row, column)`` of str offset ``offset`` (clamped to the text):
        ``row`` counts "\\n" before it, ``column`` is in UTF-8 bytes since the last "\\n".
        Raises ``ValueError`` for a negative offset."""
        text = self.text
        offset = self._clamp(offset)
        if not self._lone_cr:
            row = bisect_right(self._starts, offset) - 1
            start = self._starts[row]
        else:
            nl = self._nl_starts
            if nl is None:
                nl = self._nl_starts = [0] + [m.end() for m in re.finditer("\n", text)]
            row = bisect_right(nl, offset) - 1
            start = nl[row]
        return row, utf8_len(text[start:offset])


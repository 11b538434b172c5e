"""Tests for codex_ls.text: LSP positions in utf-8/utf-16/utf-32, line breaks, bytes, points."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codex_ls.text import ENCODINGS, LineIndex, utf16_len, utf8_len
from reference import ref_lines, units

# -- slow reference implementation -------------------------------------------------------


def ref_offset_at(text: str, line: int, character: int, enc: str) -> int:
    lines = ref_lines(text)
    if line >= len(lines):
        return len(text)
    start, end = lines[line]
    count = 0
    i = start
    while i < end:
        n = units(text[i], enc)
        if count + n > character:
            break
        count += n
        i += 1
    return i


def ref_position_at(text: str, offset: int, enc: str) -> tuple[int, int]:
    offset = min(offset, len(text))
    for line, (start, end) in enumerate(ref_lines(text)):
        nxt = ref_lines(text)[line + 1][0] if line + 1 < len(ref_lines(text)) else len(text) + 1
        if start <= offset < nxt:
            col = min(offset, end)
            return line, sum(units(c, enc) for c in text[start:col])
    raise AssertionError


def ref_point(text: str, offset: int) -> tuple[int, int]:
    prefix = text[:offset].encode("utf-8")
    row = prefix.count(b"\n")
    return row, len(prefix) - (prefix.rfind(b"\n") + 1)


def inside_crlf(text: str, offset: int) -> bool:
    return 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n"


# -- basics ------------------------------------------------------------------------------


def test_empty_text():
    ix = LineIndex("")
    assert ix.line_count == 1
    assert ix.line_text(0) == ""
    assert ix.line_start(0) == 0
    for enc in ENCODINGS:
        assert ix.offset_at(0, 0, enc) == 0
        assert ix.offset_at(0, 5, enc) == 0
        assert ix.offset_at(3, 5, enc) == 0
        assert ix.position_at(0, enc) == (0, 0)
    assert ix.byte_offset(0) == 0
    assert ix.point_at(0) == (0, 0)


def test_ascii_lines():
    text = "abc\ndef\n\nxyz"
    ix = LineIndex(text)
    assert ix.line_count == 4
    assert [ix.line_text(i) for i in range(4)] == ["abc", "def", "", "xyz"]
    assert [ix.line_start(i) for i in range(4)] == [0, 4, 8, 9]
    for enc in ENCODINGS:
        assert ix.offset_at(1, 2, enc) == 6
        assert ix.position_at(6, enc) == (1, 2)
        assert ix.offset_at(3, 3, enc) == len(text)
        assert ix.position_at(len(text), enc) == (3, 3)
    assert ix.line_start(10) == len(text)
    assert ix.line_text(10) == ""


def test_trailing_newline_gives_empty_last_line():
    ix = LineIndex("a\n")
    assert ix.line_count == 2
    assert ix.line_text(1) == ""
    assert ix.position_at(2) == (1, 0)
    assert ix.offset_at(1, 0) == 2


@pytest.mark.parametrize("nl", ["\n", "\r\n", "\r"])
def test_line_breaks(nl):
    text = f"ab{nl}cd{nl}{nl}e"
    ix = LineIndex(text)
    assert ix.line_count == 4
    assert [ix.line_text(i) for i in range(4)] == ["ab", "cd", "", "e"]
    assert ix.offset_at(1, 1) == 2 + len(nl) + 1
    assert ix.position_at(2 + len(nl) + 1) == (1, 1)
    # character past the end of the line clamps before the line break
    assert ix.offset_at(0, 99) == 2
    assert ix.offset_at(2, 99) == ix.line_start(2)
    # the line break itself is at the end of its line
    assert ix.position_at(2) == (0, 2)


def test_mixed_line_breaks():
    text = "a\r\nb\rc\nd\r\r\ne"
    ix = LineIndex(text)
    assert [ix.line_text(i) for i in range(ix.line_count)] == ["a", "b", "c", "d", "", "e"]
    assert [ix.line_start(i) for i in range(ix.line_count)] == [s for s, _ in ref_lines(text)]


def test_crlf_middle_maps_to_line_end():
    text = "ab\r\ncd"
    ix = LineIndex(text)
    assert ix.position_at(3) == (0, 2)  # between \r and \n
    assert ix.offset_at(0, 2) == 2


def test_other_unicode_line_separators_are_not_line_breaks():
    text = "a\u2028b\x0cc\x85d"
    ix = LineIndex(text)
    assert ix.line_count == 1
    assert ix.offset_at(0, 4, "utf-32") == 4


def test_line_clamping():
    ix = LineIndex("ab\ncd")
    for enc in ENCODINGS:
        assert ix.offset_at(2, 0, enc) == 5
        assert ix.offset_at(100, 100, enc) == 5
    assert ix.position_at(100) == (1, 2)
    assert ix.byte_offset(100) == 5
    assert ix.point_at(100) == (1, 2)


def test_negative_values_raise():
    ix = LineIndex("ab")
    with pytest.raises(ValueError):
        ix.offset_at(-1, 0)
    with pytest.raises(ValueError):
        ix.offset_at(0, -1)
    with pytest.raises(ValueError):
        ix.position_at(-1)
    with pytest.raises(ValueError):
        ix.byte_offset(-1)
    with pytest.raises(ValueError):
        ix.point_at(-1)
    with pytest.raises(ValueError):
        ix.line_start(-1)


def test_unknown_encoding_raises():
    ix = LineIndex("é")
    with pytest.raises(ValueError):
        ix.offset_at(0, 1, "utf-7")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ix.position_at(0, "latin-1")  # type: ignore[arg-type]


# -- non-ASCII ---------------------------------------------------------------------------

# "é" is 2 UTF-8 bytes / 1 UTF-16 unit, "中" 3 / 1, "😀" 4 / 2.
NON_ASCII = "aé中😀b"


@pytest.mark.parametrize(
    "enc, columns",
    [
        ("utf-32", [0, 1, 2, 3, 4, 5]),
        ("utf-16", [0, 1, 2, 3, 5, 6]),
        ("utf-8", [0, 1, 3, 6, 10, 11]),
    ],
)
def test_non_ascii_columns(enc, columns):
    text = "x\n" + NON_ASCII + "\nz"
    ix = LineIndex(text)
    for i, col in enumerate(columns):
        offset = 2 + i
        assert ix.position_at(offset, enc) == (1, col)
        assert ix.offset_at(1, col, enc) == offset
    # past the end of the line clamps to the line end
    assert ix.offset_at(1, columns[-1] + 1, enc) == 2 + len(NON_ASCII)
    assert ix.offset_at(1, 1000, enc) == 2 + len(NON_ASCII)


def test_surrogate_middle_rounds_down():
    ix = LineIndex("a😀b")
    # utf-16: 'a'=0, '😀'=1..2, 'b'=3
    assert ix.offset_at(0, 1) == 1
    assert ix.offset_at(0, 2) == 1  # inside the surrogate pair
    assert ix.offset_at(0, 3) == 2
    assert ix.offset_at(0, 4) == 3


def test_utf8_middle_rounds_down():
    ix = LineIndex("a中😀")
    # utf-8: 'a'=0, '中'=1..3, '😀'=4..7
    assert [ix.offset_at(0, c, "utf-8") for c in range(10)] == [0, 1, 1, 1, 2, 2, 2, 2, 3, 3]


def test_utf16_len_and_utf8_len():
    assert utf16_len("") == 0
    assert utf16_len("abc") == 3
    assert utf16_len("é中") == 2
    assert utf16_len("😀") == 2
    assert utf16_len("a😀b😀") == 6
    assert utf8_len("a😀é") == 7


def test_bytes_and_points_agree_with_encode():
    text = "é = '中'\r\nx = 😀\ry\n\n😀😀"
    ix = LineIndex(text)
    for offset in range(len(text) + 1):
        assert ix.byte_offset(offset) == len(text[:offset].encode("utf-8"))
        assert ix.point_at(offset) == ref_point(text, offset)


def test_point_rows_count_only_newlines():
    # tree-sitter counts rows by "\n" only; a lone "\r" does not start a new row
    ix = LineIndex("a\rb\nc")
    assert ix.position_at(2) == (1, 0)
    assert ix.point_at(2) == (0, 2)
    assert ix.point_at(4) == (1, 0)


# -- properties --------------------------------------------------------------------------

ALPHABET = st.sampled_from(list("ab \t=()x") + ["\n", "\r\n", "\r", "é", "中", "😀", "𝔘", "\u2028"])
texts = st.lists(st.one_of(ALPHABET, st.text(max_size=3)), max_size=40).map("".join)


@settings(max_examples=150, deadline=None)
@given(texts)
def test_round_trip_every_offset(text):
    ix = LineIndex(text)
    assert ix.line_count == len(ref_lines(text))
    for offset in range(len(text) + 1):
        for enc in ENCODINGS:
            pos = ix.position_at(offset, enc)
            if inside_crlf(text, offset):
                # no LSP position addresses the middle of "\r\n": it maps to the line end
                assert ix.offset_at(*pos, enc) == offset - 1
            else:
                assert ix.offset_at(*pos, enc) == offset
        assert ix.byte_offset(offset) == len(text[:offset].encode("utf-8"))
        assert ix.point_at(offset) == ref_point(text, offset)


@settings(max_examples=100, deadline=None)
@given(texts, st.integers(0, 12), st.integers(0, 30), st.sampled_from(ENCODINGS))
def test_offset_at_matches_reference(text, line, character, enc):
    ix = LineIndex(text)
    assert ix.offset_at(line, character, enc) == ref_offset_at(text, line, character, enc)


@settings(max_examples=100, deadline=None)
@given(texts, st.integers(0, 50), st.sampled_from(ENCODINGS))
def test_position_at_matches_reference(text, offset, enc):
    ix = LineIndex(text)
    assert ix.position_at(offset, enc) == ref_position_at(text, offset, enc)


def test_large_text_is_fast():
    import time

    text = ("def f(x):  # é😀\r\n    return x\n" * 20000)
    t0 = time.perf_counter()
    ix = LineIndex(text)
    ix.byte_offset(len(text) // 2)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(2000):
        o = ix.offset_at(i * 7, 12)
        ix.position_at(o)
        ix.byte_offset(o)
        ix.point_at(o)
    lookups = time.perf_counter() - t0
    assert ix.line_count == 40001
    assert build < 0.5
    assert lookups < 0.5

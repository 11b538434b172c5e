"""Slow reference implementations of LSP line splitting and code units, for the tests."""

from __future__ import annotations


def ref_lines(text: str) -> list[tuple[int, int]]:
    """(start, end-without-break) str offsets of each LSP line."""
    out = []
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\r" or ch == "\n":
            out.append((start, i))
            i += 2 if text[i : i + 2] == "\r\n" else 1
            start = i
        else:
            i += 1
    out.append((start, len(text)))
    return out


def units(ch: str, enc: str) -> int:
    if enc == "utf-8":
        return len(ch.encode("utf-8"))
    if enc == "utf-16":
        return 2 if ord(ch) > 0xFFFF else 1
    return 1

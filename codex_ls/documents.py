"""Open text documents, kept parsed with tree-sitter and updated incrementally from LSP
``textDocument/didChange`` content changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple

import tree_sitter

from .languages import LanguageInfo, language_for, new_parser
from .text import ENCODINGS, Encoding, LineIndex

__all__ = ["Change", "Document", "DocumentStore", "InputEdit", "input_edit", "count_errors"]

_ERRORS = "surrogatepass"


class InputEdit(NamedTuple):
    """The arguments of ``tree_sitter.Tree.edit`` (``tree.edit(**edit._asdict())``): UTF-8 byte
    offsets and tree-sitter points ``(row, UTF-8 byte column)``, rows counting "\\n" only."""

    start_byte: int
    old_end_byte: int
    new_end_byte: int
    start_point: tuple[int, int]
    old_end_point: tuple[int, int]
    new_end_point: tuple[int, int]


def input_edit(index: LineIndex, start: int, end: int, new_text: str | bytes) -> InputEdit:
    """The tree-sitter edit replacing str offsets ``start..end`` (code points, ``start <= end``) of
    ``index.text`` by ``new_text`` (a str, or its UTF-8 encoding)."""
    new_bytes = new_text if isinstance(new_text, bytes) else new_text.encode("utf-8", _ERRORS)
    start_byte = index.byte_offset(start)
    start_point = index.point_at(start)
    newlines = new_bytes.count(b"\n")
    if newlines:
        new_end_point = (start_point[0] + newlines, len(new_bytes) - new_bytes.rfind(b"\n") - 1)
    else:
        new_end_point = (start_point[0], start_point[1] + len(new_bytes))
    return InputEdit(
        start_byte,
        index.byte_offset(end),
        start_byte + len(new_bytes),
        start_point,
        index.point_at(end),
        new_end_point,
    )


@dataclass(frozen=True)
class Change:
    """One LSP content change. ``start``/``end`` are LSP positions ``(line, character)`` with
    ``character`` in code units of the document's position encoding; both ``None`` means the
    whole text is replaced by ``text``."""

    start: tuple[int, int] | None
    end: tuple[int, int] | None
    text: str

    @classmethod
    def full(cls, text: str) -> "Change":
        """A full-text replacement."""
        return cls(None, None, text)

    @classmethod
    def from_lsp(cls, event: object) -> "Change":
        """From an lsprotocol ``TextDocumentContentChangePartial`` (with a ``range``) or
        ``TextDocumentContentChangeWholeDocument`` (``text`` only)."""
        rng = getattr(event, "range", None)
        text: str = getattr(event, "text")
        if rng is None:
            return cls(None, None, text)
        return cls(
            (rng.start.line, rng.start.character),
            (rng.end.line, rng.end.character),
            text,
        )


class Document:
    """One open text document: its text, version, language and (if the language is known) its
    tree-sitter tree, updated incrementally.

    Attributes: ``uri``, ``version``, ``language_id`` (as sent by the client), ``language``
    (:class:`LanguageInfo` or ``None`` for plain text), ``encoding`` (the position encoding
    used by :meth:`offset_at`, :meth:`position_at` and :class:`Change` ranges), ``text``,
    ``tree`` (``None`` for unknown languages) and ``index`` (a :class:`LineIndex` of ``text``,
    built lazily).

    The ``tree`` object is replaced (not mutated) on every change, so a caller holding the
    tree of an earlier version keeps a consistent tree of that version. Node byte offsets
    index :attr:`source` (UTF-8); node points are tree-sitter ``(row, byte column)`` with rows
    counting "\\n" only. Raises ``ValueError`` for an unknown ``encoding``.
    """

    def __init__(
        self,
        uri: str,
        text: str,
        version: int = 0,
        language_id: str | None = None,
        encoding: Encoding = "utf-16",
    ):
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown position encoding {encoding!r}")
        self.uri = uri
        self.version = version
        self.language_id = language_id
        self.encoding: Encoding = encoding
        self.language: LanguageInfo | None = language_for(language_id, uri)
        self._text = text
        self._bytes: bytes | None = None
        self._index: LineIndex | None = None
        self._parser: tree_sitter.Parser | None = (
            new_parser(self.language) if self.language is not None else None
        )
        self.tree: tree_sitter.Tree | None = None
        if self._parser is not None:
            self.tree = self._parser.parse(self.source)

    # -- text views ----------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The current text."""
        return self._text

    @property
    def source(self) -> bytes:
        """The current text encoded as UTF-8 (what the tree was parsed from)."""
        data = self._bytes
        if data is None:
            data = self._bytes = self._text.encode("utf-8", _ERRORS)
        return data

    @property
    def index(self) -> LineIndex:
        """A :class:`LineIndex` of the current text (rebuilt on first use after a change)."""
        index = self._index
        if index is None:
            index = self._index = LineIndex(self._text, self._bytes)
        return index

    @property
    def parser(self) -> tree_sitter.Parser | None:
        """This document's parser (``None`` for plain text); not thread-safe."""
        return self._parser

    def offset_at(self, line: int, character: int) -> int:
        """Str offset (code points) of an LSP position in ``self.encoding`` (clamped, see
        :meth:`LineIndex.offset_at`; ``ValueError`` for negative values)."""
        return self.index.offset_at(line, character, self.encoding)

    def position_at(self, offset: int) -> tuple[int, int]:
        """LSP position ``(line, character)`` in ``self.encoding`` of a str offset."""
        return self.index.position_at(offset, self.encoding)

    def byte_offset(self, offset: int) -> int:
        """UTF-8 byte offset (into :attr:`source` and tree node byte ranges) of a str offset."""
        return self.index.byte_offset(offset)

    # -- changes -------------------------------------------------------------------------

    def apply_changes(self, changes: Iterable[Change], version: int | None = None) -> None:
        """Apply LSP content changes in order (each range refers to the text produced by the
        previous change), then reparse once, incrementally. Ranges are clamped like
        :meth:`offset_at`; a range whose end precedes its start is swapped. Raises
        ``ValueError`` for negative positions (the document is then left unchanged)."""
        text = self._text
        data = self._bytes
        index = self._index
        tree = self.tree
        parser = self._parser
        edited_tree: tree_sitter.Tree | None = None  # a private copy of `tree` receiving edits
        reparse_full = False
        changed = False
        encoding = self.encoding

        for change in changes:
            changed = True
            if change.start is None or change.end is None:
                text = change.text
                data = None
                index = None
                reparse_full = True
                continue
            if index is None:
                if data is None and parser is not None and not reparse_full:
                    data = text.encode("utf-8", _ERRORS)
                index = LineIndex(text, data)
            start = index.offset_at(change.start[0], change.start[1], encoding)
            end = index.offset_at(change.end[0], change.end[1], encoding)
            if end < start:
                start, end = end, start
            new_text = change.text
            if parser is not None and not reparse_full:
                if data is None:
                    data = text.encode("utf-8", _ERRORS)
                new_bytes = new_text.encode("utf-8", _ERRORS)
                edit = input_edit(index, start, end, new_bytes)
                if tree is not None:
                    if edited_tree is None:
                        edited_tree = tree.copy()
                    edited_tree.edit(**edit._asdict())
                data = data[: edit.start_byte] + new_bytes + data[edit.old_end_byte :]
            else:
                data = None
            if start != end or new_text:
                text = text[:start] + new_text + text[end:]
                index = None

        if version is not None:
            self.version = version
        if not changed:
            return
        self._text = text
        self._bytes = data
        self._index = index
        if parser is not None:
            if reparse_full or tree is None:
                self.tree = parser.parse(self.source)
            else:
                self.tree = parser.parse(self.source, edited_tree if edited_tree is not None else tree)

    def reparse_full(self) -> tree_sitter.Tree | None:
        """A fresh, non-incremental parse of the current text (``None`` for plain text). Does not
        replace :attr:`tree`; meant for checks and tests."""
        if self.language is None:
            return None
        return new_parser(self.language).parse(self.source)

    def error_count(self, tree: tree_sitter.Tree | None = None) -> int:
        """Number of ERROR and MISSING nodes in ``tree`` (default: :attr:`tree`); 0 without a
        tree. Subtrees without errors are skipped."""
        if tree is None:
            tree = self.tree
        if tree is None:
            return 0
        return count_errors(tree)

    def __repr__(self) -> str:
        lang = self.language.name if self.language else None
        return f"Document({self.uri!r}, version={self.version}, language={lang!r}, chars={len(self._text)})"


def count_errors(tree: tree_sitter.Tree) -> int:
    """Number of ERROR and MISSING nodes in ``tree``, walking only subtrees with errors."""
    cursor = tree.walk()
    if not cursor.node.has_error:
        return 0
    count = 0
    while True:
        node = cursor.node
        if node.is_error or node.is_missing:
            count += 1
        if node.has_error and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return count


class DocumentStore:
    """The open documents by URI. ``encoding`` (the negotiated position encoding, default
    ``"utf-16"``) is given to documents opened afterwards."""

    def __init__(self, encoding: Encoding = "utf-16"):
        self.encoding: Encoding = encoding
        self._documents: dict[str, Document] = {}

    def open(self, uri: str, text: str, version: int = 0, language_id: str | None = None) -> Document:
        """Open (or re-open, replacing) ``uri`` and return its document."""
        document = Document(uri, text, version, language_id, self.encoding)
        self._documents[uri] = document
        return document

    def get(self, uri: str) -> Document | None:
        """The open document for ``uri``, or ``None``."""
        return self._documents.get(uri)

    def close(self, uri: str) -> None:
        """Forget ``uri`` (no error if it is not open)."""
        self._documents.pop(uri, None)

    def __len__(self) -> int:
        return len(self._documents)

    def __contains__(self, uri: object) -> bool:
        return uri in self._documents

    def __iter__(self) -> Iterator[Document]:
        return iter(list(self._documents.values()))

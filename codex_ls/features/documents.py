"""textDocument/didOpen, didChange, didClose: keep every open buffer parsed."""

from __future__ import annotations

from lsprotocol import types

from codex_ls.documents import Change


def register(server) -> None:
    """Register ``didOpen``, ``didChange`` (incremental, positions in the negotiated encoding) and ``didClose``."""

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: types.DidOpenTextDocumentParams) -> None:
        """Parse the new buffer; a reopened document starts without a prompt anchor."""
        item = params.text_document
        ls.documents.open(item.uri, item.text, item.version, item.language_id)
        ls.prompt_anchors.pop(item.uri, None)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: types.DidChangeTextDocumentParams) -> None:
        """Apply the edits and reparse incrementally; a change to an unknown document is ignored."""
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            return
        doc.apply_changes([Change.from_lsp(c) for c in params.content_changes], params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: types.DidCloseTextDocumentParams) -> None:
        """Drop the buffer, its shown suggestion and its prompt anchor."""
        ls.documents.close(params.text_document.uri)
        ls.typing.forget(params.text_document.uri)
        ls.prompt_anchors.pop(params.text_document.uri, None)

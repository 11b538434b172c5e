"""textDocument/completion: the fallback for clients without inline completion.

Registered during ``initialize`` only when the client did not declare
``textDocument.inlineCompletion`` (Helix, Sublime, Neovim before 0.12), so
editors with ghost text do not also get a popup. The one item carries the
same completion as the inline path, as a ``textEdit`` at the cursor, ranked
first, labelled with its first line, with the whole text in its
documentation.
"""

from __future__ import annotations

from lsprotocol import types

from codex_ls.features.inline_completion import suggest


def to_completion_list(found, language_id: str | None, doc_formats: tuple = (types.MarkupKind.Markdown,)) -> types.CompletionList:
    """The ``CompletionList`` for one suggestion (``None``: an empty, incomplete list).

    ``doc_formats``: the documentation formats the client declared; Markdown
    if it renders it, else plain-text ``MarkupContent``, else a plain string.
    """
    if found is None:
        return types.CompletionList(is_incomplete=True, items=[])
    first = found.text.split("\n", 1)[0].strip() or found.text.strip().split("\n", 1)[0]
    label = first if len(first) <= 60 else first[:57] + "..."
    item = types.CompletionItem(
        label=label,
        kind=types.CompletionItemKind.Snippet,
        detail="codex-ls",
        documentation=(
            types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```{language_id or ''}\n{found.text}\n```")
            if types.MarkupKind.Markdown in doc_formats
            else types.MarkupContent(kind=types.MarkupKind.PlainText, value=found.text)
            if types.MarkupKind.PlainText in doc_formats
            else found.text
        ),
        sort_text="\x00",
        preselect=True,
        filter_text=None,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=found.range, new_text=found.text),
    )
    return types.CompletionList(is_incomplete=True, items=[item])


async def _completion(ls, params: types.CompletionParams) -> types.CompletionList:
    found = await suggest(ls, params.text_document.uri, params.position)
    doc = ls.documents.get(params.text_document.uri)
    return to_completion_list(found, doc.language_id if doc else None, _documentation_formats(ls))


def _documentation_formats(ls) -> tuple:
    try:
        formats = ls.client_capabilities.text_document.completion.completion_item.documentation_format
    except AttributeError:
        return ()
    return tuple(formats or ())


def register_fallback(ls) -> None:
    """Register ``textDocument/completion`` if the client lacks inline completion (called from ``initialize``)."""
    if ls.supports_inline_completion:
        return
    if types.TEXT_DOCUMENT_COMPLETION in ls.protocol.fm.features:
        return
    ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", "=", ":", ","], resolve_provider=False))(_completion)


def register(server) -> None:
    """Nothing at start-up: see :func:`register_fallback`."""

"""End to end over stdio with pytest-lsp: the real server and engine, a tiny GGUF model.

The tiny model has random weights, so its text is meaningless; these tests
check the protocol: capabilities per editor profile, position encodings and
ranges, the completion fallback, cancellation and supersession, error
handling. The real default model is tested in ``test_lsp_real_model.py``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from conftest import TINY_MODEL, server_command, server_env

PROFILE_DIR = Path(__file__).parent / "profiles"


def load_profile(name: str) -> tuple[types.ClientCapabilities, types.ClientInfo | None]:
    """The capabilities and client info that the editor of ``tests/profiles/<name>.json`` declares."""
    data = json.loads((PROFILE_DIR / f"{name}.json").read_text())
    converter = get_converter()
    info = data.get("clientInfo")
    return converter.structure(data["capabilities"], types.ClientCapabilities), (converter.structure(info, types.ClientInfo) if info else None)


# One JSON per client: VS Code and Neovim 0.12 declare inline completion; Neovim 0.10, Helix and
# Emacs (eglot) do not and get the completion fallback. Neovim and Helix offer UTF-8 first, Emacs UTF-32.
PROFILES = sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


@pytest_lsp.fixture(
    params=list(PROFILES),
    config=ClientServerConfig(server_command=server_command("--model", str(TINY_MODEL)), server_env=server_env()),
)
async def client(request, lsp_client: LanguageClient):
    caps, info = load_profile(request.param)
    lsp_client.init_result = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=caps, client_info=info, initialization_options={"completion": {"maxTokens": 32}, "logLevel": "debug"})
    )
    lsp_client.profile = request.param
    yield
    await lsp_client.shutdown_session()


def _supports_inline(client: LanguageClient) -> bool:
    return client.capabilities.text_document.inline_completion is not None


def _encoding(client: LanguageClient) -> str:
    return str(client.init_result.capabilities.position_encoding or "utf-16")


def _units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


async def ask(client: LanguageClient, uri: str, line: int, character: int):
    """Ask for a completion the way the profile's editor would."""
    pos = types.Position(line=line, character=character)
    doc = types.TextDocumentIdentifier(uri=uri)
    if _supports_inline(client):
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(text_document=doc, position=pos, context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked))
        )
        items = result.items if isinstance(result, types.InlineCompletionList) else result
        return [(i.insert_text, i.range) for i in items]
    result = await client.text_document_completion_async(types.CompletionParams(text_document=doc, position=pos))
    assert isinstance(result, types.CompletionList) and result.is_incomplete
    return [(i.text_edit.new_text, i.text_edit.range) for i in result.items]


def open_doc(client: LanguageClient, uri: str, text: str, language_id: str) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)))


async def test_initialize_advertises_the_right_provider(client: LanguageClient):
    caps = client.init_result.capabilities
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    if _supports_inline(client):
        assert caps.inline_completion_provider is not None
        assert caps.completion_provider is None  # no popup next to the ghost text
    else:
        assert caps.completion_provider is not None
    offered = client.capabilities.general.position_encodings if client.capabilities.general else None
    expected = (offered[0] if offered else "utf-16")
    assert _encoding(client) == str(expected)


async def test_range_honours_negotiated_encoding_with_non_ascii(client: LanguageClient):
    line = "héllo 😀 wörld — "
    text = f"notes\n{line}\nend\n"
    uri = "file:///tmp/notes.txt"  # plain text: no tree-sitter check, any model text is shown
    open_doc(client, uri, text, "plaintext")
    character = _units(line, _encoding(client))
    items = await ask(client, uri, 1, character)
    assert len(items) == 1
    new_text, rng = items[0]
    assert new_text.strip() and "\n" not in new_text.strip("\n")
    assert rng.start == rng.end == types.Position(line=1, character=character)


async def test_incremental_edits_then_completion(client: LanguageClient):
    uri = "file:///tmp/edit.py"
    open_doc(client, uri, "def f(x):\n    return x\n", "python")
    enc = _encoding(client)
    # Insert a non-ASCII comment line, then change a character after it.
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=types.Position(line=1, character=0), end=types.Position(line=1, character=0)), text="    # café ☕ 😀\n")],
    ))
    comment = "    # café ☕ 😀"
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=types.Position(line=1, character=_units(comment, enc)), end=types.Position(line=1, character=_units(comment, enc))), text="!")],
    ))
    items = await ask(client, uri, 2, _units("    return x", enc))
    # Whatever the random model says, a shown item is placed exactly at the cursor.
    for _text, rng in items:
        assert rng.start == rng.end == types.Position(line=2, character=_units("    return x", enc))


async def test_unknown_document_is_a_jsonrpc_error_and_server_survives(client: LanguageClient):
    with pytest.raises(JsonRpcException):
        await ask(client, "file:///tmp/never-opened.py", 0, 0)
    open_doc(client, "file:///tmp/after.txt", "hello ", "plaintext")
    assert len(await ask(client, "file:///tmp/after.txt", 0, 6)) == 1


async def send_raw_request(client: LanguageClient, method: str, params) -> object:
    """Send a request whose params are raw JSON (the typed client would refuse malformed ones)."""
    from concurrent.futures import Future

    from pygls.protocol.json_rpc import JsonRPCRequestMessage

    msg_id = f"raw-{id(params)}"
    future: Future = Future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data(JsonRPCRequestMessage(id=msg_id, method=method, jsonrpc="2.0", params=params))
    return await asyncio.wrap_future(future)


async def test_malformed_request_gets_an_error_not_a_crash(client: LanguageClient):
    method = types.TEXT_DOCUMENT_INLINE_COMPLETION if _supports_inline(client) else types.TEXT_DOCUMENT_COMPLETION
    with pytest.raises(JsonRpcException):
        await send_raw_request(client, method, {"textDocument": {"uri": 42}, "position": "nowhere"})
    open_doc(client, "file:///tmp/alive.txt", "still alive ", "plaintext")
    assert len(await ask(client, "file:///tmp/alive.txt", 0, 12)) == 1


async def test_completion_fallback_item_shape(client: LanguageClient):
    uri = "file:///tmp/fallback.txt"
    open_doc(client, uri, "alpha beta ", "plaintext")
    if _supports_inline(client):
        # Editors with ghost text get no completion popup from us: the method is not served.
        with pytest.raises(JsonRpcException):
            await client.text_document_completion_async(types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=11)))
        return
    result = await client.text_document_completion_async(types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=11)))
    assert len(result.items) == 1
    item = result.items[0]
    assert item.text_edit.range.start == item.text_edit.range.end == types.Position(line=0, character=11)
    assert item.label == item.text_edit.new_text.split("\n")[0].strip()[:60] or item.label.endswith("...")
    documentation = item.documentation if isinstance(item.documentation, str) else item.documentation.value
    assert item.text_edit.new_text in documentation
    assert item.preselect and item.sort_text < "0"


async def test_model_progress_reported(client: LanguageClient):
    # Loading began after `initialized`; a request waits for it, then progress has ended.
    open_doc(client, "file:///tmp/p.txt", "x ", "plaintext")
    await ask(client, "file:///tmp/p.txt", 0, 2)
    for _ in range(50):
        if any(isinstance(v, types.WorkDoneProgressEnd) for reports in client.progress_reports.values() for v in reports):
            break
        await asyncio.sleep(0.1)
    reports = [v for reports in client.progress_reports.values() for v in reports]
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    assert client.messages == []  # nothing went wrong, nothing shown


def test_profiles_cover_the_editors():
    assert PROFILES == ["emacs-eglot", "helix", "neovim-0.10", "neovim-0.12", "vscode"]
    inline = {name for name in PROFILES if load_profile(name)[0].text_document.inline_completion is not None}
    assert inline == {"neovim-0.12", "vscode"}  # the others are served by the completion fallback

"""End to end over stdio: missing and corrupt models, invalid settings, cancellation.

Each case spawns the real server (pytest-lsp) with the real llama-cpp-python
engine and a GGUF file the test wrote itself.
"""

from __future__ import annotations

import asyncio
import re

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from conftest import SLOW_MODEL, TINY_MODEL, _TINY_DIR, server_command, server_env

CORRUPT_MODEL = _TINY_DIR / "corrupt.gguf"
CORRUPT_MODEL.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 4096)
MISSING_MODEL = _TINY_DIR / "does-not-exist.gguf"


def caps() -> types.ClientCapabilities:
    c = client_capabilities("neovim@v0.11.0")
    c.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    return c


def open_doc(client, uri, text, language_id="plaintext", version=1):
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)))


def inline_params(uri, line, character):
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
    )


async def wait_for(predicate, timeout=30.0):
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


# --- a missing or corrupt model: one message, empty answers, the server stays up -----------

@pytest_lsp.fixture(
    params=["missing", "corrupt"],
    config=ClientServerConfig(server_command=server_command(), server_env=server_env()),
)
async def broken(request, lsp_client: LanguageClient):
    path = MISSING_MODEL if request.param == "missing" else CORRUPT_MODEL
    await lsp_client.initialize_session(types.InitializeParams(capabilities=caps(), initialization_options={"model": {"path": str(path)}}))
    yield
    await lsp_client.shutdown_session()


async def test_bad_model_gives_one_message_and_empty_answers(broken: LanguageClient):
    open_doc(broken, "file:///tmp/a.txt", "hello ")
    for _ in range(3):
        result = await broken.text_document_inline_completion_async(inline_params("file:///tmp/a.txt", 0, 6))
        assert list(result.items if isinstance(result, types.InlineCompletionList) else result) == []
    assert await wait_for(lambda: broken.messages)
    await asyncio.sleep(0.3)
    errors = [m for m in broken.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1
    text = errors[0].message
    assert "model" in text and ("codexLs.model" in text or "model.path" in text or "pip install" in text or "GGUF" in text), text


# --- invalid settings: one warning, defaults used ------------------------------------------

@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command("--model", str(TINY_MODEL)), server_env=server_env()))
async def badsettings(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=caps(), initialization_options={"completion": {"maxTokens": "lots"}, "bogus": 1})
    )
    yield
    await lsp_client.shutdown_session()


async def test_invalid_settings_one_warning_and_defaults(badsettings: LanguageClient):
    open_doc(badsettings, "file:///tmp/b.txt", "hello ")
    result = await badsettings.text_document_inline_completion_async(inline_params("file:///tmp/b.txt", 0, 6))
    assert len(result.items) == 1  # served with the default settings
    warnings = [m for m in badsettings.messages if m.type == types.MessageType.Warning]
    assert len(warnings) == 1
    assert "maxTokens" in warnings[0].message or "max_tokens" in warnings[0].message
    assert "bogus" in warnings[0].message


# --- cancellation and supersession ----------------------------------------------------------

LONG = {"completion": {"maxTokens": 3000, "timeoutMs": 600000, "maxLines": 1000}, "model": {"contextLength": 8192}, "logLevel": "debug"}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command("--model", str(SLOW_MODEL)), server_env=server_env()))
async def slow(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=caps(), initialization_options=LONG))
    yield
    await lsp_client.shutdown_session()


def finished(client: LanguageClient) -> list[tuple[str, int]]:
    """(finish reason, generated tokens) of every completion the server logged."""
    out = []
    for m in client.log_messages:
        found = re.search(r"gen=(\d+) .*finish=(\w+)", m.message)
        if found:
            out.append((found.group(2), int(found.group(1))))
    return out


async def test_cancel_request_stops_generation_between_tokens(slow: LanguageClient):
    open_doc(slow, "file:///tmp/c.txt", "say ")
    # Warm up: the model is loaded and a short request works.
    msg_id = "cancel-me"
    future = slow.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params("file:///tmp/c.txt", 0, 4), msg_id=msg_id)
    await wait_for(lambda: any("prompt=" in m.message for m in slow.log_messages) or False, timeout=1.0)
    await asyncio.sleep(1.0)
    slow.cancel_request(types.CancelParams(id=msg_id))
    with pytest.raises(JsonRpcException):
        await asyncio.wrap_future(future)
    assert await wait_for(lambda: finished(slow), timeout=60)
    reason, generated = finished(slow)[0]
    assert reason == "cancelled"
    assert generated < 3000
    # The server keeps serving.
    slow.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri="file:///tmp/c.txt", version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text="say\n")],
    ))


async def test_newer_request_supersedes_older(slow: LanguageClient):
    open_doc(slow, "file:///tmp/d.txt", "first ")
    older = slow.text_document_inline_completion_async(inline_params("file:///tmp/d.txt", 0, 6))
    older_task = asyncio.ensure_future(older)
    await asyncio.sleep(1.0)
    # The user typed on; the editor asks again for the same document with a short budget.
    slow.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"codexLs": {**LONG, "completion": {"maxTokens": 3}}}))
    newer = await slow.text_document_inline_completion_async(inline_params("file:///tmp/d.txt", 0, 6))
    older_result = await older_task
    assert list(older_result.items) == []  # superseded: nothing stale is shown
    # the slow model says "x..." (after a token that goes on from the healed space)
    assert len(newer.items) == 1 and newer.items[0].insert_text.endswith("xx")
    reasons = [r for r, _ in finished(slow)]
    assert "cancelled" in reasons

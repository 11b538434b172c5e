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


def runs(client: LanguageClient, uri: str) -> list[tuple[str, int]]:
    """(finish reason, generated tokens) of the model runs the server logged for ``uri``."""
    out = []
    for m in client.log_messages:
        found = re.search(r"completion (\S+) mode=.* gen=(\d+) .*finish=(\w+)", m.message)
        if found and found.group(1) == uri:
            out.append((found.group(3), int(found.group(2))))
    return out


def type_at(client: LanguageClient, uri: str, version: int, character: int, text: str) -> None:
    at = types.Position(line=0, character=character)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=text)],
    ))


async def first_words(client: LanguageClient) -> str:
    """What the slow model writes after ``say `` (its first 4 tokens), from a document of its own."""
    open_doc(client, "file:///tmp/probe.txt", "say ")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"codexLs": {**LONG, "completion": {"maxTokens": 4}}}))
    result = await client.text_document_inline_completion_async(inline_params("file:///tmp/probe.txt", 0, 4))
    assert len(result.items) == 1
    return result.items[0].insert_text


async def keystroke_during_generation(client: LanguageClient, uri: str, typed: str) -> list[types.InlineCompletionItem]:
    """As VS Code does while the user types: a request, then (the model still running) the
    ``$/cancelRequest`` of it, one keystroke and the next request; the next request's items."""
    open_doc(client, uri, "say ")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"codexLs": {**LONG, "completion": {"maxTokens": 1500, "maxLines": 1}}}))
    first = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 0, 4), msg_id=f"first-{uri}")
    await asyncio.sleep(0.3)  # the slow model writes 1500 tokens in 3 s or more
    assert not runs(client, uri)  # still running
    client.cancel_request(types.CancelParams(id=f"first-{uri}"))
    type_at(client, uri, 2, 4, typed)
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 4 + len(typed)))
    with pytest.raises(JsonRpcException):
        await asyncio.wrap_future(first)
    return list(result.items)


async def test_typing_what_the_running_generation_writes_takes_it_over(slow: LanguageClient):
    uri = "file:///tmp/over.txt"
    start = await first_words(slow)
    items = await keystroke_during_generation(slow, uri, start[0])
    # the second request waited for the first one's generation instead of stopping it: one
    # model run, to its token limit, and the rest of its line after the typed character
    done = runs(slow, uri)
    assert done == [("length", 1500)], done
    assert any("took over a running generation" in m.message for m in slow.log_messages)
    assert len(items) == 1 and items[0].insert_text.startswith(start[1:]) and len(items[0].insert_text) > 1000, items


async def test_typing_something_else_stops_the_running_generation(slow: LanguageClient):
    uri = "file:///tmp/other.txt"
    start = await first_words(slow)
    items = await keystroke_during_generation(slow, uri, "q" if start[0] != "q" else "z")
    # the first generation was stopped early (the keystroke is not what it writes), and the
    # second request got its own run
    done = runs(slow, uri)
    assert len(done) == 2 and done[0][0] == "cancelled" and done[0][1] < 1500, done
    assert done[1][0] == "length" and len(items) == 1
    assert not any("took over" in m.message for m in slow.log_messages)


async def test_a_request_that_took_over_a_stopped_generation_does_not_run_again_when_newer_work_started(slow: LanguageClient):
    uri = "file:///tmp/moved.txt"
    start = await first_words(slow)
    open_doc(slow, uri, "say ")
    slow.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"codexLs": {**LONG, "completion": {"maxTokens": 1500, "maxLines": 1}}}))
    first = slow.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 0, 4), msg_id="moved-1")
    await asyncio.sleep(0.3)
    slow.cancel_request(types.CancelParams(id="moved-1"))
    type_at(slow, uri, 2, 4, start[0])
    second = slow.text_document_inline_completion_async(inline_params(uri, 0, 5))  # takes the first run over
    second_task = asyncio.ensure_future(second)
    await asyncio.sleep(0.3)
    # the user goes on elsewhere (a new line): this request cannot take the run over, so it stops
    # it and starts its own; the second request, whose run was stopped, must not start another
    type_at(slow, uri, 3, 5, "\n")
    third = await slow.text_document_inline_completion_async(inline_params(uri, 1, 0))
    second_result = await second_task
    with pytest.raises(JsonRpcException):
        await asyncio.wrap_future(first)
    assert list(second_result.items) == []
    done = runs(slow, uri)
    assert [reason for reason, _ in done] == ["cancelled", "length"], done  # the first run, then the third request's
    assert third is not None

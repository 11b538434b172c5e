"""TCP and WebSocket transports: the same server, reached over a loopback socket."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from conftest import TINY_MODEL, server_command, server_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def connect(kind: str, port: int) -> LanguageClient:
    client = LanguageClient("transport-test", "0")
    for _ in range(200):
        try:
            if kind == "tcp":
                await client.start_tcp("127.0.0.1", port)
            else:
                await client.start_ws("127.0.0.1", port)
            return client
        except OSError:
            await asyncio.sleep(0.05)
    raise TimeoutError(f"server did not listen on {port}")


@pytest.mark.parametrize("kind", ["tcp", "ws"])
async def test_socket_transports_serve_inline_completion(kind: str):
    port = free_port()
    proc = subprocess.Popen(server_command("--model", str(TINY_MODEL), f"--{kind}", f"127.0.0.1:{port}"), env=server_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        client = await connect(kind, port)
        caps = types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(inline_completion=types.InlineCompletionClientCapabilities()))
        result = await client.initialize_async(types.InitializeParams(capabilities=caps))
        assert result.capabilities.inline_completion_provider is not None
        client.initialized(types.InitializedParams())
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri="file:///t.txt", language_id="plaintext", version=1, text="hello ")))
        answer = await asyncio.wait_for(
            client.text_document_inline_completion_async(
                types.InlineCompletionParams(text_document=types.TextDocumentIdentifier(uri="file:///t.txt"), position=types.Position(line=0, character=6), context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked))
            ),
            60,
        )
        assert len(answer.items) == 1
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    finally:
        proc.kill()
        out = proc.communicate()[0]
    assert out == b""  # nothing on stdout with a socket transport either


def test_non_loopback_bind_is_refused_without_flag():
    proc = subprocess.run(server_command("--tcp", "0.0.0.0:1"), env=server_env(), capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert b"--allow-remote" in proc.stderr


def test_non_loopback_bind_with_flag_warns_and_listens():
    port = free_port()
    proc = subprocess.Popen(server_command("--model", str(TINY_MODEL), "--allow-remote", "--tcp", f"0.0.0.0:{port}"), env=server_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the server did not listen on 0.0.0.0 with --allow-remote")
    finally:
        proc.kill()
        out, err = proc.communicate()
    assert b"WARNING: listening on 0.0.0.0" in err
    assert out == b""


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "localhost"])
def test_loopback_addresses_need_no_flag(host: str):
    from codex_ls.cli import check_bind

    assert check_bind(host.strip("[]"), 1, allow_remote=False)
    assert not check_bind("192.168.1.20", 1, allow_remote=False)

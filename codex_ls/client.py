"""``codex-ls complete``: drive the real server over stdio, as an editor would.

The command spawns ``python -m codex_ls`` as a subprocess, speaks LSP to it
with pygls' :class:`~pygls.lsp.client.LanguageClient` (initialize with
inline-completion and work-done-progress capabilities, ``didOpen`` the file,
``textDocument/inlineCompletion`` at the position) and prints the result:
the same code path an editor uses, not a shortcut around it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from codex_ls.languages import language_for

CLIENT_CAPABILITIES = types.ClientCapabilities(
    general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
    window=types.WindowClientCapabilities(work_done_progress=True),
    text_document=types.TextDocumentClientCapabilities(
        synchronization=types.TextDocumentSyncClientCapabilities(dynamic_registration=False),
        inline_completion=types.InlineCompletionClientCapabilities(dynamic_registration=False),
    ),
)


def language_id_for_path(path: str) -> str:
    """The LSP languageId an editor would send for ``path`` (``"plaintext"`` if unknown)."""
    info = language_for(None, path)
    if info is None:
        return "plaintext"
    return {"tsx": "typescriptreact"}.get(info.name, info.name)


async def complete_file(
    path: Path,
    line: int,
    character: int,
    *,
    language_id: str | None = None,
    model: str | None = None,
    server_cmd: list[str] | None = None,
    on_progress=None,
    timeout_s: float = 300.0,
) -> tuple[types.InlineCompletionList | None, dict]:
    """Start a server, ask for the inline completion at ``(line, character)`` of ``path``.

    ``character`` counts UTF-16 code units, like LSP. Returns the LSP result
    and timings in ms: ``{"start_ms", "first_ms"}`` (process start to
    answer, request to answer).

    Raises:
        TimeoutError: no answer within ``timeout_s``.
        OSError: the file cannot be read.
    """
    text = path.read_text(encoding="utf-8")
    cmd = server_cmd or [sys.executable, "-m", "codex_ls"]
    if model:
        cmd = [*cmd, "--model", model]
    client = LanguageClient("codex-ls-complete", "0")

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def _create(_params):
        return None

    @client.feature(types.PROGRESS)
    def _progress(params: types.ProgressParams):
        if on_progress is not None:
            value = params.value if isinstance(params.value, dict) else vars(params.value)
            on_progress(value.get("message") or value.get("title") or "", value.get("percentage"))

    messages: list[str] = []

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def _show(params: types.ShowMessageParams):
        messages.append(params.message)
        print(params.message, file=sys.stderr)

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def _log(params: types.LogMessageParams):
        return None

    started = time.perf_counter()
    await client.start_io(*cmd)
    server = client._server
    drain = asyncio.create_task(_drain(server.stderr)) if server is not None and server.stderr is not None else None
    try:
        await client.initialize_async(
            types.InitializeParams(
                capabilities=CLIENT_CAPABILITIES,
                process_id=os.getpid(),
                root_uri=path.parent.resolve().as_uri(),
                client_info=types.ClientInfo(name="codex-ls complete"),
            )
        )
        client.initialized(types.InitializedParams())
        uri = path.resolve().as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id=language_id or language_id_for_path(str(path)), version=1, text=text)
            )
        )
        asked = time.perf_counter()
        result = await asyncio.wait_for(
            client.text_document_inline_completion_async(
                types.InlineCompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=line, character=character),
                    context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
                )
            ),
            timeout_s,
        )
        done = time.perf_counter()
        await asyncio.wait_for(client.shutdown_async(None), 10)
        client.exit(None)
    finally:
        try:
            await asyncio.wait_for(client.stop(), 10)
        except Exception:
            if server is not None and server.returncode is None:
                server.kill()
        if drain is not None:
            drain.cancel()
    if isinstance(result, list):
        result = types.InlineCompletionList(items=result)
    return result, {"start_ms": (done - started) * 1000.0, "request_ms": (done - asked) * 1000.0, "messages": messages}


async def _drain(stream) -> None:
    """Forward the server's stderr (logs) when CODEX_LS_VERBOSE is set; otherwise discard it."""
    verbose = bool(os.environ.get("CODEX_LS_VERBOSE"))
    while True:
        chunk = await stream.readline()
        if not chunk:
            return
        if verbose:
            sys.stderr.write(chunk.decode("utf-8", "replace"))


def run_complete(args: argparse.Namespace) -> int:
    """``codex-ls complete FILE --line N --character C [--json]``; returns the exit code."""
    path = Path(args.file)
    if not path.is_file():
        print(f"codex-ls: no such file: {path}", file=sys.stderr)
        return 2

    last = {"msg": None}

    def on_progress(message: str, percentage) -> None:
        if message and message != last["msg"]:
            last["msg"] = message
            pct = f" {percentage}%" if percentage is not None else ""
            print(f"[model]{pct} {message}", file=sys.stderr)

    try:
        result, timing = asyncio.run(
            complete_file(path, args.line, args.character, language_id=args.language, model=args.model, on_progress=on_progress, timeout_s=args.timeout)
        )
    except TimeoutError:
        print("codex-ls: no answer from the server in time", file=sys.stderr)
        return 1
    items = result.items if result is not None else []
    if args.json:
        from lsprotocol.converters import get_converter

        print(json.dumps(get_converter().unstructure(result), indent=2))
        return 0 if items else 1
    lines = path.read_text(encoding="utf-8").split("\n")
    here = lines[args.line] if args.line < len(lines) else ""
    print(f"--- {path}:{args.line}:{args.character}")
    print(f"{here[: args.character]}\u2038{here[args.character:]}")
    if not items:
        print("(no suggestion)")
    else:
        text = items[0].insert_text if isinstance(items[0].insert_text, str) else items[0].insert_text.value
        print("--- suggestion")
        print(text)
        print("---")
    print(f"answered in {timing['request_ms']:.0f} ms (server start to answer: {timing['start_ms']:.0f} ms)", file=sys.stderr)
    return 0 if items else 1

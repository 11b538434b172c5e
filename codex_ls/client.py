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


class LspSession:
    """A spawned codex-ls server and a pygls client speaking to it over stdio.

    Use as ``async with LspSession(...) as session:``; the server is
    initialized (with inline completion, UTF-16 positions and work-done
    progress) on entry and shut down on exit.

    Args:
        model: ``--model`` for the server (path or registry name), or ``None``.
        server_cmd: the command that starts the server (default ``python -m codex_ls``).
        settings: ``initializationOptions`` (the ``codexLs`` settings), or ``None``.
        on_progress: ``(message, percentage)`` callback for ``$/progress``.
        capabilities: the client capabilities sent in ``initialize`` (default: :data:`CLIENT_CAPABILITIES`).
    """

    def __init__(self, *, model: str | None = None, server_cmd: list[str] | None = None, settings: dict | None = None, on_progress=None, root: Path | None = None, capabilities: types.ClientCapabilities | None = None):
        self.capabilities = capabilities or CLIENT_CAPABILITIES
        cmd = list(server_cmd or [sys.executable, "-m", "codex_ls"])
        if model:
            cmd += ["--model", model]
        self.cmd = cmd
        self.settings = settings
        self.root = root
        self.messages: list[str] = []
        self.client = LanguageClient("codex-ls-client", "0")
        self._drain: asyncio.Task | None = None
        self._versions: dict[str, int] = {}
        self.model_settled = asyncio.Event()  # the server's model-load progress ended (ready or failed)
        self.model_settled_at: float | None = None
        client = self.client

        @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def _create(_params):
            return None

        @client.feature(types.PROGRESS)
        def _progress(params: types.ProgressParams):
            value = params.value if isinstance(params.value, dict) else vars(params.value)
            if on_progress is not None:
                on_progress(value.get("message") or value.get("title") or "", value.get("percentage"))
            if value.get("kind") == "end" and str(params.token).startswith("codex-ls/model/"):
                self.model_settled_at = time.perf_counter()
                self.model_settled.set()

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(params: types.ShowMessageParams):
            self.messages.append(params.message)
            print(params.message, file=sys.stderr)

        @client.feature(types.WINDOW_LOG_MESSAGE)
        def _log(params: types.LogMessageParams):
            return None

    async def __aenter__(self) -> "LspSession":
        self.started = time.perf_counter()
        await self.client.start_io(*self.cmd)
        server = self.client._server
        if server is not None and server.stderr is not None:
            self._drain = asyncio.create_task(_drain(server.stderr))
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=self.capabilities,
                process_id=os.getpid(),
                root_uri=self.root.resolve().as_uri() if self.root else None,
                client_info=types.ClientInfo(name="codex-ls client"),
                initialization_options=self.settings,
            )
        )
        self.client.initialized(types.InitializedParams())
        return self

    async def __aexit__(self, *exc) -> None:
        server = self.client._server
        try:
            if server is not None and server.returncode is None:
                await asyncio.wait_for(self.client.shutdown_async(None), 10)
                self.client.exit(None)
            await asyncio.wait_for(self.client.stop(), 10)
        except Exception:
            if server is not None and server.returncode is None:
                server.kill()
        if self._drain is not None:
            self._drain.cancel()

    def open(self, path: Path, text: str | None = None, language_id: str | None = None) -> str:
        """``didOpen`` ``path`` (with ``text`` instead of the file's content if given); returns its URI."""
        uri = path.resolve().as_uri()
        self._versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id=language_id or language_id_for_path(str(path)), version=1, text=text if text is not None else path.read_text(encoding="utf-8"))
            )
        )
        return uri

    def close(self, uri: str) -> None:
        """``didClose`` ``uri``: the server forgets the document (it is no longer context for others)."""
        self._versions.pop(uri, None)
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))

    def replace_all(self, uri: str, text: str) -> None:
        """``didChange`` with the whole new text."""
        self._versions[uri] = self._versions.get(uri, 0) + 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self._versions[uri]),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    async def inline_completion(self, uri: str, line: int, character: int, timeout_s: float = 300.0) -> types.InlineCompletionList:
        """``textDocument/inlineCompletion`` at ``(line, character)`` (UTF-16 code units).

        Raises:
            TimeoutError: no answer within ``timeout_s``.
        """
        result = await asyncio.wait_for(
            self.client.text_document_inline_completion_async(
                types.InlineCompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=line, character=character),
                    context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
                )
            ),
            timeout_s,
        )
        if isinstance(result, list) or result is None:
            result = types.InlineCompletionList(items=list(result or []))
        return result


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
) -> tuple[types.InlineCompletionList, dict]:
    """Start a server, ask for the inline completion at ``(line, character)`` of ``path``.

    ``character`` counts UTF-16 code units, like LSP. The request is sent
    once the server reports the model loaded (work-done progress ended), so
    the timings separate the two. Returns the LSP result and timings in ms:
    ``load_ms`` (process start to model ready), ``request_ms`` (request to
    answer) and ``start_ms`` (process start to answer).

    Raises:
        TimeoutError: no answer within ``timeout_s``.
        OSError: the file cannot be read.
    """
    async with LspSession(model=model, server_cmd=server_cmd, on_progress=on_progress, root=path.parent) as session:
        uri = session.open(path, language_id=language_id)
        try:
            await asyncio.wait_for(session.model_settled.wait(), timeout_s)
        except TimeoutError:
            pass  # ask anyway: the server waits (bounded) for the model itself
        asked = time.perf_counter()
        result = await session.inline_completion(uri, line, character, timeout_s)
        done = time.perf_counter()
        load_ms = ((session.model_settled_at or asked) - session.started) * 1000.0
        return result, {"load_ms": load_ms, "start_ms": (done - session.started) * 1000.0, "request_ms": (done - asked) * 1000.0, "messages": session.messages}


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
    print(f"completion: {timing['request_ms']:.0f} ms (model load: {timing['load_ms']:.0f} ms; process start to answer: {timing['start_ms']:.0f} ms)")
    return 0 if items else 1

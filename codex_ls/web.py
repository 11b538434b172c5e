"""``codex-ls web``: a one-page editor for tablets and browsers, served by codex-ls itself.

One port serves both the page (the CodeMirror 6 bundle built from
``editors/web/`` and shipped in ``codex_ls/web_static/``) and the language
server: a WebSocket at ``/lsp``. Each WebSocket connection gets its own
``codex-ls`` process over stdio (one JSON-RPC message per WebSocket text
frame), so reloading the page or opening a second tab starts a fresh LSP
session. Binds to loopback unless ``--allow-remote`` (the server sees your code).
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import logging
import mimetypes
import sys
from importlib import resources
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

STATIC = "web_static"
LSP_PATH = "/lsp"


def static_file(path: str) -> tuple[bytes, str] | None:
    """The bytes and content type of the page file at URL ``path``, or ``None``."""
    name = path.split("?", 1)[0].lstrip("/") or "index.html"
    if "/" in name or name.startswith("."):
        return None
    node = resources.files("codex_ls").joinpath(STATIC, name)
    if not node.is_file():
        return None
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind.endswith("javascript"):
        kind += "; charset=utf-8"
    return node.read_bytes(), kind


def _literal_host(host_header: str) -> bool:
    """True if a Host header names an IP address or ``localhost`` (no DNS name that could be rebound)."""
    host = urlsplit(f"//{host_header}").hostname or ""
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def same_origin(origin: str | None, host_header: str | None) -> bool:
    """Whether a WebSocket handshake comes from our own page (or from a non-browser client)."""
    if not host_header or not _literal_host(host_header):
        return False
    if origin is None:
        return True  # not a browser: browsers always send Origin on WebSocket handshakes
    return urlsplit(origin).netloc == host_header


async def _read_message(stdout: asyncio.StreamReader) -> bytes | None:
    """One LSP message body from a ``Content-Length`` framed stream; ``None`` at end of stream."""
    length = None
    while True:
        line = await stdout.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        return b""
    return await stdout.readexactly(length)


async def bridge(websocket, server_cmd: list[str]) -> None:
    """Carry LSP messages between ``websocket`` and a new ``codex-ls`` process until either ends."""
    proc = await asyncio.create_subprocess_exec(*server_cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None

    async def to_server() -> None:
        async for message in websocket:
            body = message.encode("utf-8") if isinstance(message, str) else message
            proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            await proc.stdin.drain()

    async def to_client() -> None:
        while (body := await _read_message(proc.stdout)) is not None:
            if body:
                await websocket.send(body.decode("utf-8"))

    tasks = [asyncio.ensure_future(to_server()), asyncio.ensure_future(to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        if proc.returncode is None:
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()


async def serve_web(host: str, port: int, server_cmd: list[str], ready=None) -> None:
    """Serve the page and the ``/lsp`` WebSocket on ``host:port`` until cancelled.

    ``ready``: called with the bound port once listening (tests pass port 0).
    """
    from websockets.asyncio.server import serve
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    def respond(status: http.HTTPStatus, body: bytes, kind: str) -> Response:
        headers = Headers({"Content-Type": kind, "Content-Length": str(len(body)), "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
        return Response(status.value, status.phrase, headers, body)

    def process_request(connection, request):
        path = urlsplit(request.path).path
        if path == LSP_PATH:
            if not same_origin(request.headers.get("Origin"), request.headers.get("Host")):
                return respond(http.HTTPStatus.FORBIDDEN, b"cross-origin WebSocket refused\n", "text/plain; charset=utf-8")
            return None  # go on with the WebSocket handshake
        found = static_file(path)
        if found is None:
            return respond(http.HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
        return respond(http.HTTPStatus.OK, *found)

    async def handler(websocket) -> None:
        await bridge(websocket, server_cmd)

    async with serve(handler, host, port, process_request=process_request, max_size=2**24) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"codex-ls web: open http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{bound}/ in a browser", file=sys.stderr, flush=True)
        if ready is not None:
            ready(bound)
        await server.serve_forever()


def run_web(args) -> int:
    """Entry point of ``codex-ls web``: the page and a WebSocket LSP bridge on one port."""
    cmd = [sys.executable, "-m", "codex_ls", "--log-level", args.log_level]
    for flag in ("model", "engine", "url"):
        if getattr(args, flag, None):
            cmd += [f"--{flag}", getattr(args, flag)]
    logging.basicConfig(level=args.log_level, stream=sys.stderr)
    try:
        asyncio.run(serve_web(args.host, args.port, cmd))
    except KeyboardInterrupt:
        pass
    return 0

"""Command line: ``codex-ls`` (serve), ``codex-ls complete``, ``codex-ls models``, ``codex-ls web``.

``codex-ls`` with no sub-command serves LSP over stdio; ``--tcp HOST:PORT``
and ``--ws HOST:PORT`` serve over TCP or WebSocket (loopback only unless
``--allow-remote``: the server sees your code).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from codex_ls import __version__


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``codex-ls``."""
    parser = argparse.ArgumentParser(prog="codex-ls", description="Inline code completion from a local, quantized code model, over LSP.")
    parser.add_argument("--version", action="version", version=f"codex-ls {__version__}")
    parser.add_argument("--model", help="GGUF path or registry name (wins over settings and CODEX_LS_MODEL)")
    parser.add_argument("--engine", choices=["llama-cpp", "openai", "ctransformers"], help="inference engine (wins over codexLs.engine.name)")
    parser.add_argument("--url", help="OpenAI-compatible server for --engine openai (wins over codexLs.engine.url)")
    parser.add_argument("--log-level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"])
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="serve over stdio (the default)")
    transport.add_argument("--tcp", type=_host_port, metavar="HOST:PORT", help="serve over TCP")
    transport.add_argument("--ws", type=_host_port, metavar="HOST:PORT", help="serve over WebSocket")
    parser.add_argument("--allow-remote", action="store_true", help="allow --tcp/--ws to bind a non-loopback address")
    sub = parser.add_subparsers(dest="command")

    complete = sub.add_parser("complete", help="print the inline completion at a position of a file (drives the server over stdio)")
    complete.add_argument("file")
    complete.add_argument("--line", type=int, required=True, help="0-based line")
    complete.add_argument("--character", type=int, required=True, help="0-based character (UTF-16 code units)")
    complete.add_argument("--language", help="LSP language id (default: from the file extension)")
    complete.add_argument("--json", action="store_true", help="print the LSP result as JSON")
    complete.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the answer")

    sub.add_parser("settings-table", help="print the Markdown table of every setting")

    web = sub.add_parser("web", help="serve a one-page editor (CodeMirror) and the server over WebSocket, for browsers and tablets")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --allow-remote)")
    web.add_argument("--port", type=int, default=7780, help="port of the page and of its WebSocket at /lsp (default 7780)")
    web.add_argument("--allow-remote", dest="web_allow_remote", action="store_true", help="allow a non-loopback --host (a tablet on your network)")

    from codex_ls.models import add_models_parser

    add_models_parser(sub)
    return parser


def check_bind(host: str, port: int, allow_remote: bool) -> bool:
    """Whether to listen on ``host:port``: loopback always; other addresses only with ``--allow-remote``, with a warning."""
    if _is_loopback(host):
        return True
    if not allow_remote:
        print(f"codex-ls: refusing to bind {host}: not a loopback address. The server sees your code; pass --allow-remote to bind it anyway.", file=sys.stderr)
        return False
    print(f"codex-ls: WARNING: listening on {host}:{port}; anyone who can reach it can read the code you send it.", file=sys.stderr)
    return True


def serve(args: argparse.Namespace) -> int:
    """Run the language server on the chosen transport until the client exits."""
    from codex_ls.logs import protect_stdout, setup_logging
    from codex_ls.server import create_server

    if (args.tcp or args.ws) and not check_bind(*(args.tcp or args.ws), args.allow_remote):
        return 2
    real_stdout = protect_stdout() if not (args.tcp or args.ws) else None
    server = create_server(cli_model=args.model)
    server.cli_engine = {"name": args.engine, "url": args.url}
    setup_logging(args.log_level, server)
    if args.tcp:
        server.start_tcp(*args.tcp)
    elif args.ws:
        server.start_ws(*args.ws)
    else:
        server.start_io(sys.stdin.buffer, real_stdout)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``codex-ls`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "complete":
        from codex_ls.client import run_complete

        logging.basicConfig(level=args.log_level, stream=sys.stderr)
        logging.getLogger("pygls").setLevel(logging.WARNING)
        return run_complete(args)
    if args.command == "models":
        from codex_ls.models import run_models_command

        return run_models_command(args)
    if args.command == "web":
        from codex_ls.web import run_web

        if not check_bind(args.host, args.port, args.allow_remote or args.web_allow_remote):
            return 2
        return run_web(args)
    if args.command == "settings-table":
        from codex_ls.settings import settings_table

        print(settings_table())
        return 0
    return serve(args)

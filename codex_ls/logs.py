"""Logging: stderr always, and ``window/logMessage`` once a client is connected.

Nothing but protocol goes to stdout: :func:`protect_stdout` moves the real
stdout away from file descriptor 1 before the server starts, so stray
``print`` calls and C libraries that write to fd 1 land on stderr instead.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import BinaryIO

from lsprotocol import types

_LEVELS = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
    logging.DEBUG: types.MessageType.Log,
}


class LspLogHandler(logging.Handler):
    """Forwards ``codex_ls`` log records to the client as ``window/logMessage``.

    Thread-safe: records from worker threads are sent from the event loop.
    """

    def __init__(self, server, level: int = logging.NOTSET):
        super().__init__(level)
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        """Queue ``record`` as a ``window/logMessage`` on the server's event loop; dropped while no loop runs."""
        try:
            loop = self.server.loop if hasattr(self.server, "loop") else None
            message = self.format(record)
            kind = _LEVELS.get(record.levelno, types.MessageType.Log)
            params = types.LogMessageParams(type=kind, message=message)

            def send() -> None:
                if getattr(self.server.protocol, "transport", None) is not None or getattr(self.server.protocol, "writer", None) is not None:
                    self.server.window_log_message(params)

            if loop is not None and loop.is_running():
                loop.call_soon_threadsafe(send)
        except Exception:  # logging must never break the server
            self.handleError(record)


def setup_logging(level: str = "INFO", server=None) -> None:
    """Configure the ``codex_ls`` logger: stderr, plus the client if ``server`` is given."""
    logger = logging.getLogger("codex_ls")
    logger.setLevel(level.upper())
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(err)
    if server is not None:
        lsp = LspLogHandler(server)
        lsp.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(lsp)
    pygls_logger = logging.getLogger("pygls")
    pygls_logger.setLevel(logging.WARNING)
    if not pygls_logger.handlers:
        pygls_logger.addHandler(err)


def protect_stdout() -> BinaryIO:
    """Return a binary stream on the real stdout and point fd 1 (and ``sys.stdout``) at stderr."""
    sys.stdout.flush()
    real = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return real

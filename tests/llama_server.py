"""Start llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """One ``python -m llama_cpp.server`` process on a loopback port; ``start``/``kill`` can repeat."""

    def __init__(self, model: Path, port: int | None = None, n_ctx: int = 2048, alias: str = "test-model"):
        self.model, self.port, self.n_ctx, self.alias = model, port or free_port(), n_ctx, alias
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "LlamaServer":
        """Start the server and wait until ``/v1/models`` answers.

        Raises:
            RuntimeError: it exited or did not answer within ``timeout`` seconds.
        """
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1", "--port", str(self.port),
               "--n_ctx", str(self.n_ctx), "--n_threads", "1", "--n_threads_batch", "1", "--verbose", "false", "--model_alias", self.alias]
        # Its log goes to a file: a pipe nobody reads would fill up and block the server.
        self.log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {Path(self.log.name).read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(self.url + "/v1/models", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"llama_cpp.server did not answer on {self.url} within {timeout} s")

    def kill(self) -> None:
        """SIGKILL the server (no graceful shutdown: connections just drop)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

"""Shared fixtures: tiny GGUF models written by the tests, server commands, sample files."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from codex_ls.testing.tiny_gguf import write_tiny_gguf

ROOT = Path(__file__).resolve().parents[1]

# Written once per test process, at import time, because pytest-lsp fixtures
# take their server command when the test module is imported.
_TINY_DIR = Path(tempfile.mkdtemp(prefix="codex-ls-tiny-"))
atexit.register(shutil.rmtree, _TINY_DIR, ignore_errors=True)
TINY_MODEL = write_tiny_gguf(_TINY_DIR / "tiny.gguf")
# A slower tiny model (more layers and width) so that a long generation lasts
# long enough to be cancelled midway; it says "xxxx..." and never stops by itself.
SLOW_MODEL = write_tiny_gguf(_TINY_DIR / "slow.gguf", seed=1, n_layer=6, n_embd=384, n_head=6, n_ff=1536, context_length=8192, bias_token="x")
CACHE_DIR = _TINY_DIR / "cache"


def server_command(*extra: str) -> list[str]:
    """``python -m codex_ls`` with extra arguments."""
    return [sys.executable, "-m", "codex_ls", *extra]


def server_env(**extra: str) -> dict[str, str]:
    """The test environment for a spawned server: an empty model cache, no hub access."""
    env = dict(os.environ)
    env.pop("CODEX_LS_MODEL", None)
    env.update({"CODEX_LS_CACHE_DIR": str(CACHE_DIR), "HF_HUB_OFFLINE": "1"})
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    return TINY_MODEL

"""The narrow engine interface every inference backend implements.

An engine turns a prompt string into generated text. It knows nothing about
LSP or documents: the caller builds the prompt (see :mod:`codex_ls.prompt`)
and supplies the stop rules (see :mod:`codex_ls.stops`). Engine errors are
typed (:class:`EngineError` and subclasses) and are mapped to JSON-RPC errors
or user messages only at the LSP edge.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol

FinishReason = Literal["stop", "length", "rule", "time", "cancelled", "context"]


class EngineError(Exception):
    """Base class of engine failures; ``str(err)`` tells the user what to do."""


class ModelLoadError(EngineError):
    """The model file could not be loaded (missing, corrupt, unsupported architecture)."""


class GenerationError(EngineError):
    """Generation failed after the model loaded (e.g. the prompt does not fit)."""


@dataclass(frozen=True)
class GenerationRequest:
    """One generation job.

    Attributes:
        prompt: the full prompt text; special tokens such as ``<|fim_prefix|>``
            written in it are parsed as special tokens.
        max_tokens: most tokens to generate (>= 1).
        stop: stop strings; generation ends before the first one and it is
            not part of the text.
        temperature: 0 for greedy decoding.
        should_stop: optional per-token check, called with the text generated
            so far; it returns ``None`` to go on, or a cut position (an index
            into that text, in code points) to stop and keep ``text[:cut]``.
        deadline_s: absolute ``time.monotonic()`` time after which generation
            stops with finish reason ``"time"``; ``None`` for no limit.
    """

    prompt: str
    max_tokens: int = 64
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    should_stop: Callable[[str], int | None] | None = None
    deadline_s: float | None = None


@dataclass
class GenerationResult:
    """What an engine returns.

    Attributes:
        text: generated text after stop strings and ``should_stop`` cuts.
        finish_reason: why generation ended.
        prompt_tokens: tokens in the prompt.
        prompt_tokens_evaluated: prompt tokens actually evaluated (the rest
            came from the KV cache).
        generated_tokens: tokens sampled.
        elapsed_ms: wall time of the call, in milliseconds.
    """

    text: str
    finish_reason: FinishReason
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    generated_tokens: int = 0
    elapsed_ms: float = 0.0


@dataclass
class CancelToken:
    """Set by the server to stop a generation between two tokens."""

    event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.event.set()

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()


class Engine(Protocol):
    """What the server needs from an inference backend."""

    name: str
    context_length: int

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens in it parsed as specials, no BOS)."""
        ...

    def count_tokens(self, text: str) -> int:
        """``len(self.tokenize(text))``, possibly cached."""
        ...

    def generate(self, request: GenerationRequest, cancel: CancelToken | None = None) -> GenerationResult:
        """Run one generation; blocking. Raises :class:`GenerationError`."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...

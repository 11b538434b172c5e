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


class EngineUnavailableError(GenerationError):
    """A remote inference server could not be reached or went away mid-request.

    Raised by remote engines after their retries on connection errors; the
    next request tries again (the server may have come back).
    """


class EngineConfigError(EngineError):
    """The engine settings are unusable (unknown engine, missing URL, remote URL not allowed, no API key)."""


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
        token_healing: take the prompt's last token off and let the model
            choose a token that starts with its text, so that it can tokenize
            across the boundary (``"    pri"`` may go on as ``"print"``, where
            the prompt's own ``"pri"`` token would make it write a new word).
            The returned text still continues the prompt as written. Token
            healing after guidance (Microsoft, 2023). A last token that is a
            control token, or whitespace after a control token or whitespace
            (an indentation), is kept. Engines whose
            ``heals_tokens`` is false ignore it.
        seed: the sampling seed when ``temperature > 0`` (the same seed and prompt give the
            same text); ``None``: a random one.
        logprobs: report :attr:`GenerationResult.mean_logprob` (engines that cannot
            see the model's logits leave it ``None``).
        first_token_rank: greedy decoding only: start with the model's
            ``first_token_rank + 1``-th most likely token instead of its most likely one
            (0), then go on greedily; the alternatives of a first choice that led nowhere.
            Engines whose ``ranks_first_token`` is false ignore it.
        expected: greedy decoding only: called with the text generated so far, returns the
            text the model is expected to write next, or ``None`` (for a completion, the line
            below the cursor, which a model that has filled the hole repeats). The llama-cpp
            engine evaluates its tokens as a draft in one batch and keeps the part the
            model's own choices agree with, so the text is still the greedy one (speculative
            decoding with the expected text as the draft); other engines ignore it.
    """

    prompt: str
    max_tokens: int = 64
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    should_stop: Callable[[str], int | None] | None = None
    deadline_s: float | None = None
    token_healing: bool = False
    seed: int | None = None
    logprobs: bool = False
    first_token_rank: int = 0
    expected: Callable[[str], str | None] | None = None


Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat conversation.

    Attributes:
        role: ``"system"``, ``"user"`` or ``"assistant"``.
        content: the message text.
    """

    role: Role
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """One chat generation job (code actions: explain, fix, document ...).

    The engine formats ``messages`` with the model's own chat template (the
    GGUF's ``tokenizer.chat_template``, ChatML when it has none; a remote
    server applies its own), appends the assistant turn and generates the
    assistant's answer.

    Attributes:
        messages: the conversation, oldest first (at least one message).
        max_tokens: most tokens to generate (>= 1).
        stop: extra stop strings; the end of the assistant turn always stops.
        temperature: 0 for greedy decoding.
        should_stop: as in :class:`GenerationRequest`.
        deadline_s: absolute ``time.monotonic()`` deadline; ``None`` for none.
        seed: as in :class:`GenerationRequest`.
        logprobs: as in :class:`GenerationRequest`.
    """

    messages: tuple[ChatMessage, ...]
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    should_stop: Callable[[str], int | None] | None = None
    deadline_s: float | None = None
    seed: int | None = None
    logprobs: bool = False


@dataclass(frozen=True)
class ModelInfo:
    """What an engine knows about the model behind it.

    Attributes:
        name: a display name (GGUF ``general.name``, the file name, or the
            remote server's model id).
        context_length: tokens the engine can hold (prompt plus generated).
        architecture: GGUF ``general.architecture`` (``"qwen2"``, ``"llama"``,
            ``"starcoder"`` ...) or ``None`` when unknown (remote servers).
        family: the FIM family name of :mod:`codex_ls.families`
            (``"qwen2.5-coder"``, ``"starcoder"`` ...) when known, else ``None``.
        fim: ``(prefix, suffix, middle)`` FIM marker strings when known.
        chat_template: the Jinja chat template the engine formats chats with
            (``None``: ChatML, or applied by a remote server).
        location: the model file path, or the base URL of a remote server.
    """

    name: str
    context_length: int
    architecture: str | None = None
    family: str | None = None
    fim: tuple[str, str, str] | None = None
    chat_template: str | None = None
    location: str = ""


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
        mean_logprob: when the request asked for ``logprobs``, the mean natural-log
            probability of the generated tokens under the model's own distribution
            (temperature 1, before top-k/top-p; whatever the request sampled with);
            ``None`` when not asked, when nothing was generated, or when the engine
            cannot see the logits (ctransformers, remote servers).
    """

    text: str
    finish_reason: FinishReason
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    generated_tokens: int = 0
    elapsed_ms: float = 0.0
    mean_logprob: float | None = None


@dataclass
class CancelToken:
    """Set by the server to stop a generation between two tokens."""

    event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Ask the generation to stop; it stops before its next token (thread-safe)."""
        self.event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self.event.is_set()


class Engine(Protocol):
    """What the server needs from an inference backend.

    Attributes:
        name: the engine's settings name (``llama-cpp``, ``openai``, ``ctransformers``).
        context_length: the context size in tokens.
        ranks_first_token: whether :meth:`generate` honours
            ``GenerationRequest.first_token_rank``.
        heals_tokens: whether :meth:`generate` honours
            ``GenerationRequest.token_healing``.
    """

    name: str
    context_length: int
    heals_tokens: bool
    ranks_first_token: bool

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens in it parsed as specials, no BOS)."""
        ...

    def count_tokens(self, text: str) -> int:
        """``len(self.tokenize(text))``, possibly cached."""
        ...

    def generate(self, request: GenerationRequest, cancel: CancelToken | None = None) -> GenerationResult:
        """Run one raw-prompt generation (FIM completion); blocking.

        Raises:
            GenerationError: generation failed (:class:`EngineUnavailableError`
                when a remote server cannot be reached).
        """
        ...

    def chat(self, request: ChatRequest, cancel: CancelToken | None = None) -> GenerationResult:
        """Generate the assistant's answer to ``request.messages``; blocking.

        Returns the answer text (without the end-of-turn marker) and the
        same accounting as :meth:`generate`.

        Raises:
            GenerationError: as :meth:`generate`; also for an empty conversation
                or a chat template that fails to render.
        """
        ...

    def model_info(self) -> ModelInfo:
        """Name, context length, FIM markers and chat template of the model."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...

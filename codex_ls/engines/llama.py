"""In-process engine on llama-cpp-python (the default).

The model is loaded once per server; generation runs token by token through
``Llama.generate`` so that stop strings, the per-token stop rule, the time
budget and cancellation are all checked between two tokens. llama-cpp-python
reuses the longest common token prefix of the previous prompt from its KV
cache (``Llama.generate(reset=True)`` compares ``_input_ids``), so a prompt
that shares its start with the last one costs only the new tokens.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from functools import lru_cache
from pathlib import Path

from codex_ls.engines.base import (
    CancelToken,
    ChatRequest,
    GenerationError,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    ModelLoadError,
)
from codex_ls.engines.chat import TURN_ENDS, format_chat
from codex_ls.engines.stopping import TextStream

log = logging.getLogger(__name__)


def default_threads() -> int:
    """CPU threads to use: the cores this process may run on, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 2
    return max(1, min(8, cores))


@contextlib.contextmanager
def _stdout_to_stderr():
    """llama.cpp prints with C stdio; keep fd 1 clean for the LSP stream."""
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class LlamaCppEngine:
    """A GGUF model loaded in-process with llama-cpp-python.

    Args:
        model_path: the GGUF file.
        context_length: KV cache size in tokens (``n_ctx``).
        threads: CPU threads; ``None`` for :func:`default_threads`.
        batch_size: prompt tokens evaluated per batch (``n_batch``). Logits are
            only kept for the last token (``logits_all=False``), so this does
            not scale the logits buffer.
        kv_cache_reuse: keep the KV cache between calls and evaluate only the
            tokens after the longest common prefix with the previous prompt;
            ``False`` empties it before every call (a baseline for benchmarks).

    Raises:
        ModelLoadError: the file is missing or llama.cpp cannot load it.
    """

    name = "llama-cpp"

    def __init__(
        self,
        model_path: str | Path,
        *,
        context_length: int = 4096,
        threads: int | None = None,
        batch_size: int = 256,
        kv_cache_reuse: bool = True,
    ):
        path = Path(model_path)
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        try:
            import llama_cpp
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelLoadError(f"llama-cpp-python is not installed ({exc}); reinstall codex-ls") from exc
        threads = threads or default_threads()
        try:
            with _stdout_to_stderr():
                self._llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=context_length,
                    n_batch=min(batch_size, context_length),
                    n_threads=threads,
                    n_threads_batch=threads,
                    use_mmap=True,
                    logits_all=False,
                    verbose=False,
                )
        except Exception as exc:
            raise ModelLoadError(f"llama.cpp could not load {path}: {exc}. The file may be corrupt or not a GGUF model.") from exc
        self.model_path = path
        self.kv_cache_reuse = kv_cache_reuse
        self.context_length = self._llm.n_ctx()
        self._lock = threading.Lock()
        self._eos = {self._llm.token_eos()}
        self._cached_count = lru_cache(maxsize=4096)(self._count)
        self._info: ModelInfo | None = None

    # -- tokens ---------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text``; special tokens written in it are parsed, no BOS added."""
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _count(self, text: str) -> int:
        return len(self.tokenize(text))

    def count_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` (memoised per string)."""
        return self._cached_count(text)

    def token_text(self, token: int) -> bytes:
        return self._llm.detokenize([token])

    # -- generation -----------------------------------------------------------
    def generate(self, request: GenerationRequest, cancel: CancelToken | None = None) -> GenerationResult:
        """Generate greedily (or sampled when ``temperature > 0``) until a stop.

        Stops, checked after every token: end-of-generation token, a stop
        string, ``request.should_stop``, ``max_tokens``, the context end,
        ``deadline_s`` and ``cancel``.

        Raises:
            GenerationError: the prompt is empty or does not fit the context.
        """
        return self._run(request.prompt, request, cancel)

    def chat(self, request: ChatRequest, cancel: CancelToken | None = None) -> GenerationResult:
        """Answer ``request.messages`` as the assistant.

        The messages are formatted with the GGUF's ``tokenizer.chat_template``
        (ChatML when the file has none); generation stops at the end of the
        assistant turn (an end-of-generation token or a turn-end marker such
        as ``<|im_end|>``) and at the same limits as :meth:`generate`.

        Raises:
            GenerationError: no messages, the template fails, or the prompt
                does not fit the context.
        """
        info = self.model_info()
        prompt = format_chat(request.messages, info.chat_template, bos_token=self._token_text(self._llm.token_bos()), eos_token=self._token_text(self._llm.token_eos()))
        return self._run(prompt, request, cancel, extra_stop=TURN_ENDS)

    def model_info(self) -> ModelInfo:
        """Name, architecture, context length, chat template and FIM family from the GGUF metadata."""
        if self._info is None:
            from codex_ls.families import detect_family

            meta = self._llm.metadata
            family = detect_family(lambda text: len(self.tokenize(text)) == 1)
            self._info = ModelInfo(
                name=meta.get("general.name") or self.model_path.name,
                context_length=self.context_length,
                architecture=meta.get("general.architecture"),
                family=family.name if family else None,
                fim=(family.fim.prefix, family.fim.suffix, family.fim.middle) if family else None,
                chat_template=meta.get("tokenizer.chat_template") or None,
                location=str(self.model_path),
            )
        return self._info

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def _run(self, prompt: str, request: GenerationRequest | ChatRequest, cancel: CancelToken | None, extra_stop: tuple[str, ...] = ()) -> GenerationResult:
        start = time.perf_counter()
        tokens = self.tokenize(prompt)
        if not tokens:
            raise GenerationError("empty prompt")
        room = self.context_length - len(tokens)
        if room <= 0:
            raise GenerationError(f"prompt of {len(tokens)} tokens does not fit the context of {self.context_length} tokens")
        max_tokens = max(1, min(request.max_tokens, room))
        with self._lock:
            return self._generate_locked(request, tokens, max_tokens, cancel, start, tuple(request.stop) + extra_stop)

    def _generate_locked(self, request: GenerationRequest | ChatRequest, tokens: list[int], max_tokens: int, cancel: CancelToken | None, start: float, stop: tuple[str, ...]) -> GenerationResult:
        llm = self._llm
        if not self.kv_cache_reuse:
            llm.reset()
        cached = _common_prefix(llm._input_ids.tolist() if llm.n_tokens else [], tokens)
        # llama-cpp-python re-evaluates at least the last token.
        evaluated = len(tokens) - min(cached, len(tokens) - 1)
        eog = self._is_eog
        try:
            with _stdout_to_stderr():
                prefill_start = time.monotonic()
                stopped = self._prefill(tokens, cached, cancel)
                # The time budget is for generating (like llama.vim's t_max_predict_ms): a long prompt
                # evaluated once stays in the KV cache, so it is not cut, only cancelled.
                deadline = None if request.deadline_s is None else request.deadline_s + (time.monotonic() - prefill_start)
                stream = TextStream(stop, request.should_stop, max_tokens, cancel, deadline)
                if stopped is not None:
                    return GenerationResult(
                        text="",
                        finish_reason=stopped,
                        prompt_tokens=len(tokens),
                        prompt_tokens_evaluated=llm.n_tokens - min(cached, llm.n_tokens),
                        generated_tokens=0,
                        elapsed_ms=(time.perf_counter() - start) * 1000.0,
                    )
                gen = llm.generate(
                    tokens,
                    top_k=1 if request.temperature <= 0 else 40,
                    top_p=1.0 if request.temperature <= 0 else 0.95,
                    min_p=0.0,
                    temp=max(0.0, request.temperature),
                    repeat_penalty=1.0,
                    reset=True,
                )
                for token in gen:
                    if eog(token):
                        stream.end("stop")
                        break
                    if stream.push_bytes(llm.detokenize([token], prev_tokens=None)) is not None:
                        break
                gen.close()
        except Exception as exc:  # llama.cpp decode failures surface as RuntimeError
            raise GenerationError(f"generation failed: {exc}") from exc
        return stream.result(len(tokens), evaluated, start, self.context_length)  # ran dry: the context is full

    def _prefill(self, tokens: list[int], cached: int, cancel: CancelToken | None) -> str | None:
        """Evaluate ``tokens[cached:-1]`` in chunks of :data:`PREFILL_CHUNK` tokens, checking ``cancel``
        between chunks (llama-cpp-python's ``generate`` cannot be stopped while it evaluates a
        prompt). ``generate`` then finds all but the last token in the KV cache.

        Returns ``"cancelled"`` when stopped (the KV cache keeps what was evaluated, so the next
        request starts from there), else ``None``.
        """
        llm = self._llm
        end = len(tokens) - 1
        if cached >= end:
            return None
        llm.n_tokens = cached  # eval() drops the KV cache after n_tokens
        for i in range(cached, end, PREFILL_CHUNK):
            if cancel is not None and cancel.cancelled:
                return "cancelled"
            llm.eval(tokens[i : min(end, i + PREFILL_CHUNK)])
        return None

    def _is_eog(self, token: int) -> bool:
        import llama_cpp

        return token in self._eos or bool(llama_cpp.llama_vocab_is_eog(self._llm._model.vocab, token))

    def close(self) -> None:
        """Free the model and its KV cache."""
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            with contextlib.suppress(Exception):
                llm.close()


PREFILL_CHUNK = 64
"""Prompt tokens evaluated between two checks of cancellation and the time budget."""


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i



def load_tokenizer(model_path: str | Path):
    """A tokenizer from a GGUF file's vocabulary alone (no weights loaded; a few MB, milliseconds).

    Returns ``tokenize(text) -> token ids`` (special tokens parsed, no BOS).

    Raises:
        ModelLoadError: the file is missing or not a GGUF llama.cpp can read.
    """
    import llama_cpp

    path = Path(model_path)
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    try:
        with _stdout_to_stderr():
            vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    except Exception as exc:
        raise ModelLoadError(f"llama.cpp could not read the vocabulary of {path}: {exc}") from exc
    return lambda text: vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True)

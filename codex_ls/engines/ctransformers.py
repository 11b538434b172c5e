"""In-process engine on ctransformers (optional extra ``codex-ls[ctransformers]``).

For GGML-era models that llama.cpp no longer loads: StarCoder/SantaCoder
(``gpt_bigcode``, ``starcoder``), GPT-2, GPT-J, GPT-NeoX, MPT, Replit,
Falcon, and llama-architecture GGUF files of its vintage (SentencePiece
vocabulary with scores). ctransformers 0.2.27 (September 2023) is its last
release: it cannot load Qwen2 or any architecture newer than that, nor a GGUF
with a GPT-2 style BPE vocabulary (it needs ``tokenizer.ggml.scores``), which
is why llama-cpp-python is the default engine.

Generation runs token by token through ``LLM.generate`` so that stop strings,
the stop rule, the time budget and cancellation are checked between tokens.
ctransformers tokenizes text as plain text (special tokens written in a
prompt are not parsed), so FIM works only for models whose FIM markers its
tokenizer keeps whole (StarCoder's ``<fim_prefix>`` ...).
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from pathlib import Path

from codex_ls.engines.base import (
    CancelToken,
    ChatRequest,
    EngineConfigError,
    GenerationError,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    ModelLoadError,
)
from codex_ls.engines.chat import TURN_ENDS, chatml
from codex_ls.engines.llama import _stdout_to_stderr, default_threads
from codex_ls.engines.stopping import TextStream


def _is_gguf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"GGUF"


class CTransformersEngine:
    """A GGML or old GGUF model loaded in-process with ctransformers.

    Args:
        model_path: the model file (``.bin`` GGML or ``.gguf``).
        model_type: ctransformers' ``model_type`` (``"llama"``, ``"gpt_bigcode"``,
            ``"starcoder"``, ``"gpt2"``, ``"gptj"``, ``"mpt"``, ``"replit"`` ...);
            ``None`` for a GGUF file: ``"llama"`` when its architecture is llama,
            else ctransformers' own GGUF detection.
        context_length: context size in tokens.
        threads: CPU threads; ``None`` for :func:`~codex_ls.engines.llama.default_threads`.

    Raises:
        ModelLoadError: the extra is not installed, the file is missing, or
            ctransformers cannot load it.
        EngineConfigError: a GGML (non-GGUF) file without ``model_type``.
    """

    name = "ctransformers"
    heals_tokens = False
    ranks_first_token = False

    def __init__(self, model_path: str | Path, *, model_type: str | None = None, context_length: int = 2048, threads: int | None = None):
        path = Path(model_path)
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        try:
            from ctransformers import AutoModelForCausalLM
        except ImportError as exc:
            raise ModelLoadError(f"engine ctransformers needs the extra: pip install 'codex-ls[ctransformers]' ({exc})") from exc
        gguf = _is_gguf(path)
        if model_type is None and not gguf:
            raise EngineConfigError(f"{path.name} is a GGML file: set codexLs.engine.modelType (e.g. gpt_bigcode, gpt2, gptj, mpt, replit, llama)")
        if model_type is None:
            model_type = "llama" if _gguf_architecture(path) == "llama" else None
        self.threads = threads or default_threads()
        try:
            with _stdout_to_stderr():
                self._llm = AutoModelForCausalLM.from_pretrained(
                    str(path), model_type=model_type, context_length=context_length, threads=self.threads, batch_size=64
                )
        except Exception as exc:
            raise ModelLoadError(
                f"ctransformers could not load {path} (model_type {model_type or 'auto'}): {exc}. "
                "It loads GGML-era models only; use the default engine (llama-cpp) for current GGUF files."
            ) from exc
        self.model_path = path
        self.model_type = model_type or self._llm.model_type
        self.context_length = self._llm.context_length or context_length
        self._lock = threading.Lock()
        self._cached_count = lru_cache(maxsize=4096)(self._count)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (no BOS; special tokens are not parsed)."""
        return list(self._llm.tokenize(text, add_bos_token=False))

    def _count(self, text: str) -> int:
        return len(self.tokenize(text))

    def count_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` (memoised per string)."""
        return self._cached_count(text)

    def generate(self, request: GenerationRequest, cancel: CancelToken | None = None) -> GenerationResult:
        """Generate from ``request.prompt`` until a stop (as :meth:`LlamaCppEngine.generate`).

        Raises:
            GenerationError: the prompt is empty or does not fit the context.
        """
        return self._run(self._prompt_tokens(request.prompt), request, cancel, ())

    def chat(self, request: ChatRequest, cancel: CancelToken | None = None) -> GenerationResult:
        """Answer ``request.messages``, formatted as ChatML (ctransformers exposes no chat template).

        Raises:
            GenerationError: no messages, or as :meth:`generate`.
        """
        if not request.messages:
            raise GenerationError("a chat needs at least one message")
        return self._run(self._prompt_tokens(chatml(request.messages)), request, cancel, TURN_ENDS)

    def model_info(self) -> ModelInfo:
        """The file name, ``model_type`` and context length (ctransformers exposes no other metadata)."""
        return ModelInfo(name=self.model_path.name, context_length=self.context_length, architecture=self.model_type, location=str(self.model_path))

    def _prompt_tokens(self, prompt: str) -> list[int]:
        tokens = list(self._llm.tokenize(prompt, add_bos_token=None))  # the model's own BOS rule
        if not tokens:
            raise GenerationError("empty prompt")
        if len(tokens) >= self.context_length:
            raise GenerationError(f"prompt of {len(tokens)} tokens does not fit the context of {self.context_length} tokens")
        return tokens

    def _run(self, tokens: list[int], request, cancel: CancelToken | None, extra_stop: tuple[str, ...]) -> GenerationResult:
        start = time.perf_counter()
        max_tokens = max(1, min(request.max_tokens, self.context_length - len(tokens)))
        stream = TextStream(tuple(request.stop) + extra_stop, request.should_stop, max_tokens, cancel, request.deadline_s)
        greedy = request.temperature <= 0
        llm = self._llm
        with self._lock:
            try:
                gen = llm.generate(
                    tokens,
                    top_k=1 if greedy else 40,
                    top_p=1.0 if greedy else 0.95,
                    temperature=1.0 if greedy else request.temperature,
                    repetition_penalty=1.0,
                    seed=-1 if greedy or request.seed is None else request.seed,
                    threads=self.threads,
                    reset=True,
                )
                for token in gen:
                    if llm.is_eos_token(token):
                        stream.end("stop")
                        break
                    if stream.push_bytes(llm.detokenize([token], decode=False)) is not None:
                        break
                gen.close()
            except Exception as exc:
                raise GenerationError(f"generation failed: {exc}") from exc
        return stream.result(len(tokens), len(tokens), start, self.context_length)

    def close(self) -> None:
        """Free the model."""
        self._llm = None


def _gguf_architecture(path: Path) -> str | None:
    """``general.architecture`` of a GGUF file, read from its header without extra packages; ``None`` if not found."""
    import struct

    try:
        with path.open("rb") as f:
            magic, version = f.read(4), struct.unpack("<I", f.read(4))[0]
            if magic != b"GGUF" or version < 2:
                return None
            _n_tensors, n_kv = struct.unpack("<QQ", f.read(16))
            for _ in range(min(n_kv, 64)):
                (klen,) = struct.unpack("<Q", f.read(8))
                key = f.read(klen).decode("utf-8", errors="replace")
                (vtype,) = struct.unpack("<I", f.read(4))
                if vtype != 8:  # the architecture key is the first string; stop at anything else
                    return None
                (vlen,) = struct.unpack("<Q", f.read(8))
                value = f.read(vlen).decode("utf-8", errors="replace")
                if key == "general.architecture":
                    return value
    except (OSError, struct.error):
        return None
    return None

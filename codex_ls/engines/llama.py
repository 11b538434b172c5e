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
import random
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
        expected_draft: most draft tokens per step taken from the request's expected text
            (``GenerationRequest.expected``, see :meth:`_greedy`); 0 turns it off; -1:
            :data:`EXPECTED_AUTO_DRAFT` where prompt-lookup decoding is on, else 0.
        prompt_lookup: draft tokens per step of prompt-lookup decoding in greedy
            generation (see :meth:`_greedy`); 0 turns it off; -1 starts with
            :data:`LOOKUP_AUTO_DRAFT` and times the steps of the first generations
            (:class:`DraftCostMeter`) to keep it on or turn it off (:func:`choose_draft`).
        kv_shift_min_tokens: after the common prefix, runs of at least this many
            prefix tokens (before the FIM suffix marker) that the KV cache holds
            at another position of its prefix are shifted into place instead of
            evaluated (:mod:`codex_ls.engines.kv_reuse`, llama-server's
            ``--cache-reuse``); 0 turns it off. Needs ``kv_cache_reuse``, a known
            FIM family and a model whose positions llama.cpp can shift.

    Attributes:
        draft_tokens / accepted_tokens: draft tokens (prompt lookup and expected text)
            evaluated and kept since the engine was made (their ratio is the acceptance rate).
        expected_drafts: drafts taken from expected text since the engine was made.
        shifted_tokens: prompt tokens moved within the KV cache instead of
            evaluated (KV shifting) since the engine was made.
        slots: KV cache slots: 2 with ``kv_cache_reuse`` (see :meth:`speculative`), else 1.
        slot_swaps: generations that worked in the other slot than the last one's, since
            the engine was made.
        draft_cost_ratio: with ``prompt_lookup=-1``, the cost ratio the first generations'
            steps gave (:class:`DraftCostMeter`); ``None`` before (and with a set value).

    Raises:
        ModelLoadError: the file is missing or llama.cpp cannot load it.
    """

    name = "llama-cpp"
    heals_tokens = True
    ranks_first_token = True

    def __init__(
        self,
        model_path: str | Path,
        *,
        context_length: int = 4096,
        threads: int | None = None,
        batch_size: int = 256,
        kv_cache_reuse: bool = True,
        prompt_lookup: int = 0,
        kv_shift_min_tokens: int = 0,
        expected_draft: int = 0,
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
        self.kv_shift_min_tokens = max(0, kv_shift_min_tokens) if kv_cache_reuse else 0
        # Two KV cache slots (see speculative()) and the helper sequences of KV shifting.
        self.slots = 2 if kv_cache_reuse and self._enable_sequences() else 1
        if self.kv_shift_min_tokens and (self.slots < 2 or not llama_cpp.llama_memory_can_shift(self._llm._ctx.memory)):
            log.info("KV shifting is off: llama.cpp cannot shift this model's positions")
            self.kv_shift_min_tokens = 0
        self._alt_tokens: list[int] | None = None  # the other slot's tokens by position, if it holds any
        self._main_protected = True  # seq 0 holds what the last non-speculative generation left
        self._speculative = False
        self.slot_swaps = 0
        self.shifted_tokens = 0
        self.draft_tokens = 0
        self.accepted_tokens = 0
        self.expected_drafts = 0
        self.context_length = self._llm.n_ctx()
        # Cancelling a prompt evaluation: llama.cpp asks this callback between two nodes of the
        # compute graph (a few ms apart), so a whole n_batch of tokens goes in one decode. It is
        # set only while a prompt is evaluated: generation checks between tokens.
        self._prefill_cancel: CancelToken | None = None
        self._abort_callback = llama_cpp.ggml_abort_callback(self._should_abort)  # referenced: C keeps the pointer
        self._lock = threading.Lock()
        self._eos = {self._llm.token_eos()}
        self._cached_count = lru_cache(maxsize=4096)(self._count)
        self._info: ModelInfo | None = None
        self._pieces: PieceIndex | None = None
        self._suffix_marker: int | None = None
        self.draft_cost_ratio: float | None = None
        # prompt_lookup=-1: drafting starts on, and the steps of the first generations are
        # timed to decide whether it stays on (nothing is evaluated at load).
        self._meter = DraftCostMeter() if prompt_lookup < 0 else None
        self.prompt_lookup = LOOKUP_AUTO_DRAFT if prompt_lookup < 0 else prompt_lookup
        self._expected_setting = expected_draft

    @property
    def expected_draft(self) -> int:
        """Most draft tokens per step taken from expected text: the ``expected_draft`` given,
        or with -1 :data:`EXPECTED_AUTO_DRAFT` while prompt-lookup decoding is on, else 0."""
        if self._expected_setting >= 0:
            return self._expected_setting
        return EXPECTED_AUTO_DRAFT if self.prompt_lookup > 0 else 0

    def _enable_sequences(self) -> bool:
        """Remake the context with room for more sequences in one unified KV cache (the same
        cells as before, so the same memory): the alternate slot (:meth:`speculative`) and the
        two helper sequences KV shifting uses (:meth:`_prefill_shifted`). Returns ``False``,
        leaving the context as it was, where llama.cpp cannot make it."""
        from llama_cpp import _internals

        llm = self._llm
        params = llm.context_params
        params.n_seq_max = 1 + len(_HELPER_SEQS) + 1
        params.kv_unified = True
        llm._ctx.close()  # free the first context before the second is allocated (peak memory)
        try:
            with _stdout_to_stderr():
                llm._ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        except Exception as exc:  # pragma: no cover - llama.cpp build without multi-sequence support
            log.info("one KV cache slot only: %s", exc)
            params.n_seq_max = 1
            params.kv_unified = False
            with _stdout_to_stderr():
                llm._ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
            return False
        return True

    @contextlib.contextmanager
    def speculative(self):
        """Generations inside this block are speculative (a prefetch the user may never ask for):
        they leave the KV cache slot of the last other generation as it was.

        The KV cache has two slots (llama.cpp sequences 0 and :data:`_ALT_SEQ` in one unified
        cache; the cells of a common prefix are shared, not copied). Every generation first
        works in the slot whose tokens share the longer prefix with its prompt
        (:meth:`_choose_slot`). A speculative one that would work in the slot a real request
        left copies that slot's cells to the other slot first (a metadata operation) and works
        there, so a wrong guess costs the next request nothing; a right one leaves its prompt
        in the cache. A request that matches neither slot overwrites the one it matches less.
        With one slot (``kv_cache_reuse`` off), the block does nothing special.
        """
        self._speculative = True
        try:
            yield
        finally:
            self._speculative = False

    def _choose_slot(self, tokens: list[int], max_tokens: int) -> None:
        """Make seq 0 the slot to work in for a prompt of ``tokens`` (see :meth:`speculative`),
        and drop the other slot when both could not fit the context with this generation."""
        import llama_cpp

        llm = self._llm
        mem = llm._ctx.memory
        main = llm._input_ids.tolist() if llm.n_tokens else []
        alt = self._alt_tokens
        if alt is not None and _common_prefix(alt, tokens) > _common_prefix(main, tokens):
            self._swap_slots()
            main, alt = alt, main
        if self._speculative and self._main_protected:
            # keep the real request's slot: copy it into the other one and work there
            llama_cpp.llama_memory_seq_rm(mem, _ALT_SEQ, -1, -1)
            llama_cpp.llama_memory_seq_cp(mem, 0, _ALT_SEQ, 0, len(main))
            self._alt_tokens = alt = main
            self._main_protected = False
        elif not self._speculative:
            self._main_protected = True
        # Cells both slots may hold (shared ones counted twice) plus this generation's, with room
        # for rejected draft tokens: beyond the context, llama_decode finds no free cells.
        if alt is not None and len(alt) + len(tokens) + max_tokens + SLOT_MARGIN_TOKENS > self.context_length:
            self._drop_alt()

    def _swap_slots(self) -> None:
        """Exchange seq 0 and the alternate slot (cells are relabelled, not copied)."""
        import llama_cpp

        llm = self._llm
        mem = llm._ctx.memory
        tmp = _HELPER_SEQS[0]
        main = llm._input_ids.tolist() if llm.n_tokens else []
        alt = self._alt_tokens or []
        llama_cpp.llama_memory_seq_rm(mem, 0, len(main), -1)  # cells of rejected drafts
        llama_cpp.llama_memory_seq_rm(mem, tmp, -1, -1)
        llama_cpp.llama_memory_seq_cp(mem, 0, tmp, -1, -1)
        llama_cpp.llama_memory_seq_rm(mem, 0, -1, -1)
        llama_cpp.llama_memory_seq_cp(mem, _ALT_SEQ, 0, -1, -1)
        llama_cpp.llama_memory_seq_rm(mem, _ALT_SEQ, -1, -1)
        llama_cpp.llama_memory_seq_cp(mem, tmp, _ALT_SEQ, -1, -1)
        llama_cpp.llama_memory_seq_rm(mem, tmp, -1, -1)
        llm.input_ids[: len(alt)] = alt
        llm.n_tokens = len(alt)
        self._alt_tokens = main
        self._main_protected = not self._main_protected
        self.slot_swaps += 1

    def _drop_alt(self) -> None:
        """Free the alternate slot's cells (those seq 0 does not share)."""
        import llama_cpp

        if self._alt_tokens is None:
            return
        llama_cpp.llama_memory_seq_rm(self._llm._ctx.memory, _ALT_SEQ, -1, -1)
        self._alt_tokens = None
        self._main_protected = True

    def measure_draft_cost(self, draft: int, repeats: int = 3) -> float:
        """How much a prompt-lookup step costs on this machine: the median time (of ``repeats``,
        after one untimed pair) of evaluating ``1 + draft`` tokens with logits for every position,
        over the median time of evaluating one token, both after the same short code prompt
        (the first 24 tokens of :data:`CALIBRATION_CODE`). Empties the KV cache. About 10 model
        steps plus a 21-token prompt (0.6 s for the default model on the 2-core development VM):
        ``benchmarks/prompt_lookup.py`` prints it; the server times its real steps instead
        (:class:`DraftCostMeter`).

        On a CPU that streams the weights from memory for every step (phones, laptops, small
        VMs), a few more tokens in a step cost little and drafting wins; where compute bounds the
        step (the logits of a 151,936-token vocabulary for every draft position), it loses.

        Raises:
            GenerationError: the calibration code is too few tokens for ``draft``.
            RuntimeError: llama.cpp failed to decode.
        """
        import statistics

        llm = self._llm
        with self._lock, _stdout_to_stderr():
            tokens = self.tokenize(CALIBRATION_CODE)[:24]
            base = len(tokens) - draft - 1
            if base < 1:
                raise GenerationError(f"the calibration code is {len(tokens)} tokens, too short for a draft of {draft}")
            llm.reset()
            llm.eval(tokens[:base])
            one: list[float] = []
            batch: list[float] = []
            for i in range(repeats + 1):
                llm.n_tokens = base
                started = time.perf_counter()
                llm.eval(tokens[base : base + 1])
                if i:
                    one.append(time.perf_counter() - started)
                llm.n_tokens = base
                started = time.perf_counter()
                self._decode_all(tokens[base : base + 1 + draft])
                if i:
                    batch.append(time.perf_counter() - started)
            llm.reset()
        return statistics.median(batch) / statistics.median(one)

    def _should_abort(self, _data) -> bool:
        """llama.cpp's abort callback: whether the prompt evaluation under way was cancelled."""
        cancel = self._prefill_cancel
        return cancel is not None and cancel.cancelled

    def _eval_prompt(self, tokens: list[int], cancel: CancelToken | None) -> bool:
        """``Llama.eval(tokens)`` (in batches of ``n_batch``) that stops within a few ms of
        ``cancel`` being set; returns ``False`` when it did. The batches evaluated before the
        cancel stay in the KV cache (``n_tokens`` counts them); the one under way is dropped."""
        if cancel is not None and cancel.cancelled:
            return False
        import llama_cpp

        ctx = self._llm._ctx.ctx
        self._prefill_cancel = cancel
        if cancel is not None:
            llama_cpp.llama_set_abort_callback(ctx, self._abort_callback, None)
        try:
            self._llm.eval(tokens)
        except RuntimeError:
            if cancel is not None and cancel.cancelled:
                return False  # llama_decode returned 2 (aborted)
            raise
        finally:
            self._prefill_cancel = None
            if cancel is not None:
                llama_cpp.llama_set_abort_callback(ctx, llama_cpp.ggml_abort_callback(), None)  # NULL: no callback
        return True

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
        """The UTF-8 bytes of one token id (may be part of a multi-byte character)."""
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
        elif self.slots > 1:
            self._choose_slot(tokens, max_tokens)
        cache_tokens = llm._input_ids.tolist() if llm.n_tokens else []
        cached = _common_prefix(cache_tokens, tokens)
        # The last prompt token is always evaluated again (its logits are not kept).
        evaluated = len(tokens) - min(cached, len(tokens) - 1)
        heal = b""
        if getattr(request, "token_healing", False) and len(tokens) > 1:
            pieces = self._piece_index().pieces
            heal = pieces[tokens[-1]]
            if not heal or (not heal.strip() and not pieces[tokens[-2]].strip()):
                # A control token (the FIM middle marker) is never healed, nor is whitespace
                # after a control token or other whitespace (an indentation): the model could
                # make it as long as it likes. Whitespace after a word is (" " -> " args").
                heal = b""
            else:
                tokens = tokens[:-1]
                cached = min(cached, len(tokens))
                evaluated = len(tokens) - min(cached, len(tokens) - 1)
        greedy = request.temperature <= 0
        want_logprobs = request.logprobs
        try:
            with _stdout_to_stderr():
                prefill_start = time.monotonic()
                shifted_before = self.shifted_tokens
                stopped = self._prefill(tokens, cached, cancel, cache_tokens)
                evaluated -= self.shifted_tokens - shifted_before
                # The time budget is for generating (like llama.vim's t_max_predict_ms): a long prompt
                # evaluated once stays in the KV cache, so it is not cut, only cancelled.
                deadline = None if request.deadline_s is None else request.deadline_s + (time.monotonic() - prefill_start)
                stream = TextStream(stop, request.should_stop, max_tokens, cancel, deadline)
                if stopped is not None:
                    return GenerationResult(
                        text="",
                        finish_reason=stopped,
                        prompt_tokens=len(tokens),
                        prompt_tokens_evaluated=max(0, llm.n_tokens - min(cached, llm.n_tokens) - (self.shifted_tokens - shifted_before)),
                        generated_tokens=0,
                        elapsed_ms=(time.perf_counter() - start) * 1000.0,
                    )
                heal_used = bool(heal)
                if greedy or heal:
                    llm.n_tokens = len(tokens) - 1
                    llm.eval(tokens[-1:])
                    while heal:
                        token, piece, heal = self._healing_step(self._last_logits(), heal)
                        if stream.push_bytes(piece) is not None:
                            break
                        llm.eval([token])
                    if greedy and stream.finish is None:
                        # Greedy decoding by hand: llama-cpp-python's sampler chain is only needed for sampling.
                        self._greedy(stream, want_logprobs, getattr(request, "first_token_rank", 0), getattr(request, "expected", None))
                if stream.finish is None:
                    llm.set_seed(request.seed if request.seed is not None else random.getrandbits(32))
                    # Sampling: generate() finds the prompt in the KV cache and evaluates its last
                    # token (after healing, the healed tokens are part of the prompt).
                    gen = llm.generate(
                        llm._input_ids.tolist() if heal_used else tokens,
                        top_k=40,
                        top_p=0.95,
                        min_p=0.0,
                        temp=request.temperature,
                        repeat_penalty=1.0,
                        reset=True,
                    )
                    for token in gen:
                        if want_logprobs:  # generate() yields before it evaluates the token: the logits are the ones it sampled from
                            stream.logprobs.append(_logprob(self._last_logits(), token))
                        if self._emit(stream, token):
                            break
                    gen.close()
        except Exception as exc:  # llama.cpp decode failures surface as RuntimeError
            raise GenerationError(f"generation failed: {exc}") from exc
        return stream.result(len(tokens), evaluated, start, self.context_length)  # ran dry: the context is full

    def _greedy(self, stream: TextStream, logprobs: bool = False, first_rank: int = 0, expected=None) -> None:
        """Greedy decoding from the current KV cache until ``stream`` ends, with prompt-lookup
        decoding when ``self.prompt_lookup`` > 0.

        Prompt-lookup decoding (Saxena, 2023, "Prompt Lookup Decoding"; llama.cpp's
        ``lookup`` example): the last tokens are looked up in the prompt and what was generated;
        the tokens that followed their latest earlier occurrence are a draft, evaluated in one
        batch with the new token. The draft is kept as far as it equals the model's own argmax
        at each position, so the text is the one plain greedy decoding writes (up to the float
        rounding of a batch); code repeats itself (the suffix, names, argument lists), so whole
        runs of tokens cost one batch instead of one step each.

        ``logprobs``: append each token's log-probability to ``stream.logprobs``.
        ``first_rank``: the first token is the ``first_rank + 1``-th most likely one.
        ``expected``: ``GenerationRequest.expected``; where it gives text, its first
        ``self.expected_draft`` tokens are the draft instead of the lookup's (the same check
        keeps the text greedy).
        """
        llm = self._llm
        lookup = NgramLookup(llm._input_ids.tolist()) if self.prompt_lookup > 0 else None
        token, token_lp = _ranked(self._last_logits(), first_rank, logprobs) if first_rank else _best(self._last_logits(), logprobs)
        while True:
            if logprobs:
                stream.logprobs.append(token_lp)
            if self._emit(stream, token):
                return
            room = self.context_length - llm.n_tokens - 1
            draft: list[int] = []
            if expected is not None and self.expected_draft > 0 and room > 0:
                hint = expected(stream.text)
                if hint:
                    draft = self.tokenize(hint)[: min(self.expected_draft, room)]
                    self.expected_drafts += 1
            if not draft and lookup is not None and room > 0:
                draft = lookup.draft(token, min(self.prompt_lookup, room))
            if lookup is not None:
                lookup.add(token)
            started = time.perf_counter()
            if not draft:
                llm.eval([token])
                token, token_lp = _best(self._last_logits(), logprobs)
                self._timed(1, started)
                continue
            start = llm.n_tokens
            best = self._decode_all([token, *draft], logprobs)
            self._timed(1 + len(draft), started)
            self.draft_tokens += len(draft)
            accepted = 0
            for proposed, (predicted, predicted_lp) in zip(draft, best):
                if proposed != predicted:
                    break
                accepted += 1
                self.accepted_tokens += 1
                if lookup is not None:
                    lookup.add(proposed)
                if logprobs:
                    stream.logprobs.append(predicted_lp)
                if self._emit(stream, proposed):
                    break
            llm.n_tokens = start + 1 + accepted  # the rejected draft's KV cells go at the next eval
            if stream.finish is not None:
                return
            token, token_lp = best[accepted]

    def _timed(self, tokens: int, started: float) -> None:
        """Give a generation step of ``tokens`` tokens that began at ``started``
        (``time.perf_counter()``) to the draft cost meter, while one runs; once it has enough
        steps, turn prompt-lookup decoding (and with it automatic expected drafts) on or off
        for good (:func:`choose_draft`)."""
        if self._meter is None:
            return
        ratio = self._meter.add(tokens, time.perf_counter() - started)
        if ratio is None:
            return
        self._meter = None
        self.draft_cost_ratio = ratio
        self.prompt_lookup = choose_draft(ratio)
        log.info(
            "prompt-lookup decoding: a step with %d draft tokens costs %.2fx a one-token step here: %s",
            LOOKUP_AUTO_DRAFT, ratio, f"on, {self.prompt_lookup} draft tokens" if self.prompt_lookup else "off",
        )

    def _emit(self, stream: TextStream, token: int) -> bool:
        """Give ``token`` to ``stream``: an end-of-generation token ends it (``"stop"``), any
        other is pushed as text. Returns whether the stream has ended."""
        if self._is_eog(token):
            stream.end("stop")
            return True
        return stream.push_bytes(self._llm.detokenize([token], prev_tokens=None)) is not None

    def _decode_all(self, batch: list[int], logprobs: bool = False) -> list[tuple[int, float | None]]:
        """Evaluate ``batch`` after the KV cache's ``n_tokens`` tokens with logits for every
        position; returns the argmax token after each position, with its log-probability
        when ``logprobs`` (else ``None``)."""
        import llama_cpp
        import numpy as np

        llm = self._llm
        start = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, start, -1)
        llm._batch.set_batch(batch=batch, n_past=start, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[start : start + len(batch)] = batch
        llm.n_tokens = start + len(batch)
        n_vocab = llm.n_vocab()
        return [_best(np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, i), shape=(n_vocab,)), logprobs) for i in range(len(batch))]

    def _last_logits(self):
        """The logits of the last evaluated token: a float32 view of shape ``(n_vocab,)``, valid until the next eval."""
        import llama_cpp
        import numpy as np

        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._llm._ctx.ctx, -1), shape=(self._llm.n_vocab(),))

    def _healing_step(self, logits, heal: bytes) -> tuple[int, bytes, bytes]:
        """One token-healing step: the most likely token whose text is consistent with ``heal``
        (it starts with ``heal``, or is a non-empty start of it), the part of its text past
        ``heal`` (what continues the prompt as written), and what of ``heal`` is left after it.

        Token healing after guidance (Microsoft, 2023): the prompt's last token was taken off so
        the model can choose a token that spans the boundary (``"pri"`` -> ``"print"``).
        """
        index = self._piece_index()
        allowed = index.consistent_with(heal)
        token = int(allowed[logits[allowed].argmax()])
        piece = index.pieces[token]
        if len(piece) < len(heal):
            return token, b"", heal[len(piece):]
        return token, piece[len(heal):], b""

    def _piece_index(self) -> "PieceIndex":
        if self._pieces is None:
            self._pieces = PieceIndex.of(self._llm)
        return self._pieces

    def _prefill(self, tokens: list[int], cached: int, cancel: CancelToken | None, cache_tokens: list[int] | None = None) -> str | None:
        """Evaluate ``tokens[cached:-1]`` in batches of ``n_batch`` tokens, stopping within a few ms
        of ``cancel`` (:meth:`_eval_prompt`: llama-cpp-python's ``generate`` cannot be stopped
        while it evaluates a prompt). ``generate`` then finds all but the last token in the KV cache. With KV
        shifting on, runs of prefix tokens found in the prefix of ``cache_tokens`` (the
        cache's tokens by position) are shifted into place instead (:meth:`_prefill_shifted`).

        Returns ``"cancelled"`` when stopped (the KV cache keeps the batches finished before the
        cancel, so the next request starts from there), else ``None``.
        """
        llm = self._llm
        end = len(tokens) - 1
        if cached >= end:
            return None
        marker = self._fim_suffix_token() if self.kv_shift_min_tokens and cache_tokens else None
        if marker is not None and marker in cache_tokens[cached:] and marker in tokens[cached:end]:  # FIM prompts only (not chat)
            from codex_ls.engines.kv_reuse import Segment, plan_kv_reuse

            # Only the prefix moves: runs come from before the cached prompt's suffix marker and
            # go before the new one. A moved suffix, evaluated for another cursor, misleads the
            # model about where the hole is (benchmarks/latency.py --scenarios pause --positions 80:
            # exact lines fell from 81 to 54 of 240 when the suffix moved too, 80 with the prefix only).
            cache_end = cache_tokens.index(marker, cached)
            new_marker = tokens.index(marker, cached, end)
            plan = plan_kv_reuse(cache_tokens[:cache_end], tokens[:new_marker], cached, self.kv_shift_min_tokens) + [Segment(new_marker, end)]
            runs = [(sg.start, sg.end, sg.cached_at) for sg in plan if sg.cached_at is not None]
            log.debug("KV shift: %d cached, %d common, runs (start, end, from) %s, %d fresh", len(cache_tokens), cached, runs, sum(sg.end - sg.start for sg in plan if sg.cached_at is None))
            if runs:
                # Moving cells moves them for every sequence that holds them: the other slot goes.
                self._drop_alt()
                return self._prefill_shifted(tokens, plan, cancel)
        llm.n_tokens = cached  # eval() drops the KV cache after n_tokens
        return None if self._eval_prompt(tokens[cached:end], cancel) else "cancelled"

    def _fim_suffix_token(self) -> int | None:
        """The token id of the model's FIM suffix marker, or ``None`` (no FIM family known, or
        the marker is not one token): KV shifting is then not used."""
        if self._suffix_marker is None:
            fim = self.model_info().fim
            ids = self.tokenize(fim[1]) if fim else []
            self._suffix_marker = ids[0] if len(ids) == 1 else -1
        return None if self._suffix_marker < 0 else self._suffix_marker

    def _prefill_shifted(self, tokens: list[int], plan, cancel: CancelToken | None) -> str | None:
        """Carry out a :func:`~codex_ls.engines.kv_reuse.plan_kv_reuse` plan: evaluate its fresh
        segments and move its cached runs to their new positions, in prompt order.

        llama.cpp only appends to a sequence at the position after its last one, so a run
        cannot be moved into place before the fresh tokens ahead of it exist. The runs are
        first tagged with a helper sequence (``llama_memory_seq_cp``: the cells are shared, not
        copied), everything of sequence 0 after the common prefix is dropped, and then, in
        order, fresh tokens are evaluated on sequence 0 and each run is moved (through a
        second helper sequence, so that runs still waiting are never touched) and tagged
        with sequence 0 again. Adds the shifted tokens to :attr:`shifted_tokens`.
        """
        import llama_cpp

        llm = self._llm
        mem = llm._ctx.memory
        waiting, moving = _HELPER_SEQS
        for segment in plan:
            if segment.cached_at is not None:
                llama_cpp.llama_memory_seq_cp(mem, 0, waiting, segment.cached_at, segment.cached_at + segment.end - segment.start)
        llama_cpp.llama_memory_seq_rm(mem, 0, plan[0].start, -1)
        llm.n_tokens = plan[0].start
        try:
            for segment in plan:
                if segment.cached_at is None:
                    if not self._eval_prompt(tokens[segment.start : segment.end], cancel):
                        return "cancelled"
                    continue
                at, size = segment.cached_at, segment.end - segment.start
                llama_cpp.llama_memory_seq_cp(mem, waiting, moving, at, at + size)
                llama_cpp.llama_memory_seq_rm(mem, waiting, at, at + size)
                if at != segment.start:
                    llama_cpp.llama_memory_seq_add(mem, moving, at, at + size, segment.start - at)
                llama_cpp.llama_memory_seq_cp(mem, moving, 0, segment.start, segment.end)
                llama_cpp.llama_memory_seq_rm(mem, moving, -1, -1)
                llm.input_ids[segment.start : segment.end] = tokens[segment.start : segment.end]
                llm.n_tokens = segment.end
                self.shifted_tokens += size
            return None
        finally:
            llama_cpp.llama_memory_seq_rm(mem, waiting, -1, -1)

    def _is_eog(self, token: int) -> bool:
        import llama_cpp

        return token in self._eos or bool(llama_cpp.llama_vocab_is_eog(self._llm._model.vocab, token))

    def close(self) -> None:
        """Free the model and its KV cache."""
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            with contextlib.suppress(Exception):
                llm.close()


LOOKUP_AUTO_DRAFT = 2
"""Draft tokens per step of automatic prompt-lookup decoding (``prompt_lookup=-1``):
the fastest size in ``benchmarks/prompt_lookup.py`` on the 2-core development VM (0.64x the
time of plain greedy decoding, 73% of the drafted tokens kept; 4 and 8 tokens: 0.69x, 0.75x)."""

LOOKUP_MAX_COST_RATIO = 1.6
"""Automatic prompt-lookup decoding stays on where a step with :data:`LOOKUP_AUTO_DRAFT`
draft tokens costs at most this many one-token steps (:class:`DraftCostMeter`).
With 73% of drafted tokens kept (the benchmark), a drafted step yields about 1 + 2 x 0.73 = 2.5
tokens (and no draft means a plain step): below this cost the drafts save time, with a margin
for prompts that repeat less than the benchmark's."""

EXPECTED_AUTO_DRAFT = 16
"""Most draft tokens per step for expected text (``expected_draft=-1`` where prompt-lookup
decoding is on): a line of code is rarely longer, and a step of 16 tokens costs about 4.2
one-token steps on the 2-core development VM (2 tokens: 1.30;
``benchmarks/prompt_lookup.py --drafts 0,2,16 --positions 4``, last column)."""

CALIBRATION_CODE = (
    "def mean(values):\n    total = 0\n    for value in values:\n        total += value\n"
    "    return total / len(values)\n\n\ndef variance(values):\n    m = mean(values)\n"
    "    return sum((value - m) ** 2 for value in values) / len(values)\n"
)
"""A short piece of code whose tokens time the model steps of :meth:`LlamaCppEngine.measure_draft_cost`."""


def choose_draft(cost_ratio: float) -> int:
    """Draft tokens per prompt-lookup step for a machine where a step with
    :data:`LOOKUP_AUTO_DRAFT` draft tokens costs ``cost_ratio`` one-token steps: that size when
    it is at most :data:`LOOKUP_MAX_COST_RATIO`, else 0 (off)."""
    return LOOKUP_AUTO_DRAFT if cost_ratio <= LOOKUP_MAX_COST_RATIO else 0


CALIBRATION_STEPS = 6
"""Timed steps of each kind (one token; ``1 + LOOKUP_AUTO_DRAFT`` tokens) after which
:class:`DraftCostMeter` decides; a completion of the default model takes a few of each."""


class DraftCostMeter:
    """What a prompt-lookup step costs on this machine, from the steps of real generations:
    the median time of a step of ``1 + draft`` tokens (with logits for each) over the median
    time of a one-token step, once there are ``steps`` of each (the first of each kind, which
    may pay for a cold cache, is not counted). Other step sizes are not counted.

    The same figure as :meth:`LlamaCppEngine.measure_draft_cost`, without evaluating anything
    at model load (0.57 s on the 2-core development VM) and without emptying the KV cache.

    Args:
        draft: the draft size timed (tokens).
        steps: timings of each kind needed.
    """

    def __init__(self, draft: int = LOOKUP_AUTO_DRAFT, steps: int = CALIBRATION_STEPS):
        self.draft = draft
        self.steps = steps
        self.one: list[float] = []
        self.batch: list[float] = []
        self._seen: set[int] = set()

    def add(self, tokens: int, seconds: float) -> float | None:
        """Record a step of ``tokens`` tokens that took ``seconds``; returns the cost ratio once
        both kinds have ``steps`` timings, else ``None``."""
        import statistics

        if tokens == 1:
            times = self.one
        elif tokens == 1 + self.draft:
            times = self.batch
        else:
            return None
        if tokens not in self._seen:
            self._seen.add(tokens)  # the first step of a kind warms caches up: not counted
            return None
        times.append(seconds)
        if len(self.one) < self.steps or len(self.batch) < self.steps:
            return None
        return statistics.median(self.batch) / statistics.median(self.one)


_HELPER_SEQS = (1, 2)
"""Sequence ids KV shifting uses for runs waiting to be moved and for the run being moved."""

_ALT_SEQ = 3
"""Sequence id of the KV cache's alternate slot (:meth:`LlamaCppEngine.speculative`)."""

SLOT_MARGIN_TOKENS = 64
"""Cells kept free beyond a generation's prompt and ``max_tokens`` before the alternate slot is
dropped: rejected draft tokens hold cells until the next evaluation (drafts are at most
:data:`EXPECTED_AUTO_DRAFT` tokens)."""


class NgramLookup:
    """Draft tokens for prompt-lookup decoding: what followed the latest earlier occurrence of
    the last :data:`LOOKUP_NGRAMS` tokens (longest first) in the prompt and the generated text.

    Args:
        history: the token ids so far (prompt, then generated); :meth:`add` appends one.
    """

    def __init__(self, history: list[int]):
        self.history: list[int] = []
        self._last: dict[tuple[int, ...], int] = {}
        for token in history:
            self.add(token)

    def add(self, token: int) -> None:
        """Append ``token``; the n-grams ending with it now point past it."""
        self.history.append(token)
        end = len(self.history)
        for n in LOOKUP_NGRAMS:
            if end >= n:
                self._last[tuple(self.history[end - n : end])] = end

    def draft(self, token: int, limit: int) -> list[int]:
        """At most ``limit`` tokens expected after ``history + [token]`` (call before :meth:`add`)."""
        for n in LOOKUP_NGRAMS:
            if len(self.history) < n - 1:
                continue
            key = tuple(self.history[len(self.history) - n + 1 :]) + (token,)
            end = self._last.get(key)
            if end is not None:
                return self.history[end : end + limit]
        return []


LOOKUP_NGRAMS = (3, 2)
"""N-gram sizes looked up for a draft, longest first."""


class PieceIndex:
    """The text (bytes) of every token of a vocabulary, indexed for token healing.

    Attributes:
        pieces: ``pieces[token]`` is the token's text as UTF-8 bytes (``b""`` for control tokens).

    Built once per model, on first use, from ``llama_token_to_piece`` (about 0.15 s for Qwen's
    151,936 tokens, timed once on the 2-core development machine).
    """

    def __init__(self, pieces: list[bytes]):
        import numpy as np

        self.pieces = pieces
        order = sorted((p, t) for t, p in enumerate(pieces) if p)
        self._sorted = [p for p, _t in order]
        self._sorted_ids = np.array([t for _p, t in order], dtype=np.int64)
        self._exact: dict[bytes, list[int]] = {}
        for t, p in enumerate(pieces):
            if p:
                self._exact.setdefault(p, []).append(t)

    @classmethod
    def of(cls, llm) -> "PieceIndex":
        """The index of a loaded ``llama_cpp.Llama``: one piece per token id, special tokens rendered as empty."""
        import ctypes

        import llama_cpp

        vocab = llm._model.vocab
        buf = ctypes.create_string_buffer(512)
        pieces = []
        for token in range(llm.n_vocab()):
            n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
            pieces.append(buf.raw[:n] if n > 0 else b"")
        return cls(pieces)

    def consistent_with(self, text: bytes):
        """Token ids (int64 array) whose text starts with ``text`` or is a non-empty start of it."""
        import bisect

        import numpy as np

        lo = bisect.bisect_left(self._sorted, text)
        if text and text[-1] < 255:  # every string that starts with text sorts below this bound
            hi = bisect.bisect_left(self._sorted, text[:-1] + bytes([text[-1] + 1]), lo)
        else:
            hi = lo
            while hi < len(self._sorted) and self._sorted[hi].startswith(text):
                hi += 1
        starts = [t for k in range(1, len(text)) for t in self._exact.get(text[:k], ())]
        return np.concatenate([self._sorted_ids[lo:hi], np.array(starts, dtype=np.int64)])


def _logprob(logits, token: int) -> float:
    """``log softmax(logits)[token]`` (natural log) of a float32 logits row, in float64."""
    import numpy as np

    row = logits.astype(np.float64)
    top = row.max()
    return float(row[token] - top - np.log(np.exp(row - top).sum()))


def _best(logits, logprobs: bool) -> tuple[int, float | None]:
    """The argmax token of a logits row, with its log-probability when ``logprobs``."""
    token = int(logits.argmax())
    return token, (_logprob(logits, token) if logprobs else None)


def _ranked(logits, rank: int, logprobs: bool) -> tuple[int, float | None]:
    """The ``rank + 1``-th most likely token of a logits row (rank 0: the argmax), with its
    log-probability when ``logprobs``."""
    import numpy as np

    top = np.argpartition(logits, -(rank + 1))[-(rank + 1):]
    token = int(top[np.argsort(logits[top])[::-1][rank]])
    return token, (_logprob(logits, token) if logprobs else None)


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

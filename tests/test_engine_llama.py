"""The in-process llama-cpp engine: token healing and the KV cache, on the real default model.

Token healing takes the prompt's last token off and lets the model pick a token that starts
with its text; the returned text must still continue the prompt as written. The cursor's line
goes after the FIM middle marker (see codex_ls.completion), so typing one more character
must cost only the tokens after the longest common prefix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_ls.engines.base import CancelToken, GenerationRequest
from codex_ls.engines.llama import LlamaCppEngine, PieceIndex
from codex_ls.models import resolve_model


def test_piece_index_finds_tokens_consistent_with_a_text():
    index = PieceIndex([b"", b"p", b"pr", b"pri", b"print", b"private", b"prx", b"q", b" print"])
    assert sorted(index.consistent_with(b"pri").tolist()) == [1, 2, 3, 4, 5]  # starts of "pri" and words starting with it
    assert sorted(index.consistent_with(b"prin").tolist()) == [1, 2, 3, 4]
    assert sorted(index.consistent_with(b" ").tolist()) == [8]
    assert index.consistent_with(b"z").tolist() == []


@pytest.fixture(scope="module")
def engine():
    eng = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=2048)
    yield eng
    eng.close()


FIM = "<|fim_prefix|>import sys\n\n\ndef main():\n    args = sys.argv[1:]\n<|fim_suffix|>\n\nmain()\n<|fim_middle|>"


@pytest.mark.real_model
@pytest.mark.parametrize(
    ("typed", "word", "differs"),
    [
        ("    for arg in ar", "args", True),  # the prompt's own "ar" token makes the model start a new word
        ("    for arg in", "args", False),  # the healed " in" token goes on as " in" + " args"
        ("    for arg in ", "args", True),  # a space after a word is healed: " args", not "  args"
    ],
)
def test_token_healing_continues_the_word_being_typed(engine, typed, word, differs):
    healed = engine.generate(GenerationRequest(prompt=FIM + typed, max_tokens=6, token_healing=True))
    line = (typed + healed.text).split("\n")[0]
    # the text continues the prompt as written: the healed token's own text is not repeated
    assert line.startswith(typed)
    assert f" {word}" in line[len("    for arg in") - 1 :], line
    assert "in  " not in line  # no doubled space
    plain = engine.generate(GenerationRequest(prompt=FIM + typed, max_tokens=6))
    assert ((typed + plain.text).split("\n")[0] != line) == differs


@pytest.mark.real_model
@pytest.mark.parametrize("end", ["", "       "])
def test_token_healing_keeps_a_control_token_or_a_whitespace_run(engine, end):
    # The prompt ends with the FIM middle marker, or an indentation: nothing is healed (the model
    # could make a run of spaces as long as it likes), the answer is the ordinary one.
    a = engine.generate(GenerationRequest(prompt=FIM + end, max_tokens=8, token_healing=True))
    b = engine.generate(GenerationRequest(prompt=FIM + end, max_tokens=8))
    assert a.text == b.text and a.text.strip()
    assert a.prompt_tokens == b.prompt_tokens


# A prompt the model is sure of at every step (each greedy token has p >= 0.97 on the default
# model): a near-tie would let sampling at a low temperature pick the runner-up and say nothing
# about the KV cache. (FIM above is one: "\n" and "if" are 0.05 apart in logits, and which one
# wins depends on the CPU's kernels; it failed this test on AVX2-only machines.)
MONTHS = '<|fim_prefix|>MONTHS = [\n    "January",\n    "February",\n<|fim_suffix|>\n]\n<|fim_middle|>'


@pytest.mark.real_model
@pytest.mark.parametrize("before", ["same prompt", "longer prompt", "other prompt"])
def test_sampling_starts_after_the_whole_prompt_whatever_the_kv_cache_holds(engine, before):
    # At a temperature this low, sampling picks the argmax: the text must be the greedy one,
    # whether the KV cache holds this prompt and an earlier answer, a longer prompt, or another.
    first = {"same prompt": MONTHS, "longer prompt": MONTHS + '    "March",\n', "other prompt": "<|fim_prefix|>x = 1<|fim_suffix|><|fim_middle|>"}[before]
    greedy = engine.generate(GenerationRequest(prompt=MONTHS, max_tokens=12, logprobs=True))
    # The premise: no near-tie. A mean log-probability this high over 12 tokens puts each token
    # at p >= 0.79, a logit gap of >= 1.3 to any other, 130 at temperature 0.01.
    assert greedy.text.strip() and greedy.mean_logprob is not None and greedy.mean_logprob >= -0.02, (greedy.text, greedy.mean_logprob)
    engine.generate(GenerationRequest(prompt=first, max_tokens=12))
    sampled = engine.generate(GenerationRequest(prompt=MONTHS, max_tokens=12, temperature=0.01, seed=1)).text
    assert sampled == greedy.text


@pytest.mark.real_model
def test_the_same_seed_samples_the_same_text(engine):
    texts = [engine.generate(GenerationRequest(prompt=FIM, max_tokens=24, temperature=1.0, seed=seed)).text for seed in (7, 8, 9, 7)]
    assert texts[0] == texts[3] and texts[0].strip()
    assert len(set(texts)) > 1  # other seeds sample other text


@pytest.mark.real_model
def test_one_more_character_evaluates_only_the_new_tokens(engine):
    line = "    for arg in args:"
    engine.generate(GenerationRequest(prompt=FIM + line[:10], max_tokens=4, token_healing=True))
    evaluated = []
    for n in range(11, len(line) + 1):
        result = engine.generate(GenerationRequest(prompt=FIM + line[:n], max_tokens=4, token_healing=True))
        assert result.prompt_tokens > 20
        evaluated.append(result.prompt_tokens_evaluated)
    # the FIM prompt before the typed line stays in the KV cache: a keystroke re-evaluates at most
    # the last two tokens of the line (their tokenization may change) and the healed one
    assert max(evaluated) <= 3, evaluated


def _file_fim(lines: list[str], start: int, cursor: int, end: int) -> str:
    """A FIM prompt for a cursor at the start of ``lines[cursor]``: prefix from ``start``, suffix up to ``end``."""
    return "<|fim_prefix|>" + "".join(lines[start:cursor]) + "<|fim_suffix|>" + "".join(lines[cursor:end]) + "<|fim_middle|>"


@pytest.mark.real_model
def test_kv_shifting_moves_the_rest_of_the_prefix_when_the_prompt_start_moves():
    """The prompt's start moves 20 lines down a real file (the prefix was cut again): the rest
    of the old prefix is in the KV cache, about 250 positions later than it is wanted, and is
    moved there instead of evaluated; the suffix is always evaluated. The KV cache is then
    as if the new prompt had been evaluated: asking again evaluates only the last token and
    gives the same answer. From a fresh evaluation, moving the start by one line gives the
    answer a fresh evaluation gives (a missing or wrong shift changes it)."""
    import textwrap

    import llama_cpp

    lines = Path(textwrap.__file__).read_text().splitlines(keepends=True)
    eng = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=2048, kv_shift_min_tokens=32)
    plain = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=2048)
    try:
        ask = lambda engine, prompt: engine.generate(GenerationRequest(prompt=prompt, max_tokens=8, stop=("\n",)))  # noqa: E731
        ask(eng, _file_fim(lines, 150, 210, 240))
        later = _file_fim(lines, 170, 210, 240)
        kept = len(eng.tokenize("".join(lines[170:210])))
        suffix = len(eng.tokenize("".join(lines[210:240])))
        answer = ask(eng, later)
        assert eng.shifted_tokens >= kept - 8, (eng.shifted_tokens, kept)
        assert answer.prompt_tokens_evaluated <= suffix + 12, answer  # the suffix and the markers
        again = ask(eng, later)
        assert again.prompt_tokens_evaluated == 1 and again.text == answer.text
        mem = eng._llm._ctx.memory
        assert [llama_cpp.llama_memory_seq_pos_max(mem, seq) for seq in (1, 2)] == [-1, -1]  # the helper sequences are empty
        # The cursor moves down: the old suffix is never moved (it was evaluated for another hole).
        before = eng.shifted_tokens
        ask(eng, _file_fim(lines, 170, 220, 250))
        assert eng.shifted_tokens == before
        # One line less at the start, from a fresh evaluation: the fresh answer.
        eng._llm.reset()
        moved = _file_fim(lines, 150, 210, 240)
        assert ask(eng, moved).prompt_tokens_evaluated == len(eng.tokenize(moved))
        one_less = _file_fim(lines, 151, 210, 240)
        shifted = ask(eng, one_less)
        assert shifted.prompt_tokens_evaluated <= suffix + 12
        assert shifted.text == ask(plain, one_less).text
    finally:
        eng.close()
        plain.close()


def test_ngram_lookup_drafts_what_followed_the_latest_earlier_occurrence():
    from codex_ls.engines.llama import NgramLookup

    lookup = NgramLookup([1, 2, 3, 4, 5, 9, 2, 3, 7, 8])
    # ... 2, 3 + next token 3? no: the history ends with 7, 8; a new token 2 has no earlier (8, 2)
    assert lookup.draft(2, 4) == []
    lookup = NgramLookup([1, 2, 3, 4, 5, 9, 1, 2])
    assert lookup.draft(3, 2) == [4, 5]  # (1, 2, 3) seen before: 4, 5 followed
    lookup = NgramLookup([5, 2, 3, 4, 6, 2, 3, 8, 1, 2])
    assert lookup.draft(3, 3) == [8, 1, 2]  # the latest earlier (2, 3) wins
    lookup.add(3)
    assert lookup.history[-1] == 3


@pytest.mark.real_model
def test_prompt_lookup_keeps_drafted_tokens_where_the_code_repeats():
    eng = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=2048, prompt_lookup=4)
    try:
        body = "".join(f"    total_{i} = compute(values[{i}], weights[{i}], offset={i})\n" for i in range(8))
        prompt = f"<|fim_prefix|>def f(values, weights):\n{body}    total_8 = compute(<|fim_suffix|>\n    return total_0\n<|fim_middle|>"
        result = eng.generate(GenerationRequest(prompt=prompt, max_tokens=40))
        assert result.generated_tokens == 40 and "weights[" in result.text
        assert eng.draft_tokens > 0 and eng.accepted_tokens > 0  # the repeated pattern was drafted and kept
    finally:
        eng.close()


@pytest.fixture(scope="module")
def reference():
    """llama-cpp-python keeping the logits of every position: the reference log-probabilities."""
    from llama_cpp import Llama

    llm = Llama(str(resolve_model(allow_download=False).path), n_ctx=512, logits_all=True, verbose=False)
    yield llm
    llm.close()


def _reference_mean_logprob(llm, prompt: str, text: str, generated: int) -> float:
    import numpy as np

    head = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    tokens = llm.tokenize((prompt + text).encode(), add_bos=False, special=True)
    assert tokens[: len(head)] == head and len(tokens) - len(head) == generated  # the same tokens again
    llm.reset()
    llm.eval(tokens)
    rows = np.asarray(llm.scores[len(head) - 1 : len(tokens) - 1], dtype=np.float64)
    top = rows.max(axis=1, keepdims=True)
    logsoftmax = rows - top - np.log(np.exp(rows - top).sum(axis=1, keepdims=True))
    return float(logsoftmax[np.arange(generated), tokens[len(head) :]].mean())


AREA = (
    "<|fim_prefix|>def area(shape, width, height):\n    if shape == 'square':\n        return width * height\n"
    "    if shape == 'triangle':\n        return width * height / 2\n<|fim_suffix|>\n<|fim_middle|>"
)


@pytest.mark.real_model
@pytest.mark.parametrize(("lookup", "temperature"), [(0, 0.0), (4, 0.0), (0, 0.8)])
def test_mean_logprob_is_the_models_own_log_probability_of_the_answer(reference, lookup, temperature):
    # Greedy step by step, greedy with prompt-lookup drafts (batched logits), and sampled (the
    # logits generate() sampled from): the same figure as evaluating prompt + answer afresh.
    eng = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=512, prompt_lookup=lookup)
    try:
        prompt = AREA
        result = eng.generate(GenerationRequest(prompt=prompt, max_tokens=16, temperature=temperature, seed=3, logprobs=True))
        assert result.finish_reason == "length" and result.generated_tokens == 16
        assert result.mean_logprob is not None and result.mean_logprob < 0
        assert result.mean_logprob == pytest.approx(_reference_mean_logprob(reference, prompt, result.text, 16), abs=0.01)
        assert eng.generate(GenerationRequest(prompt=prompt, max_tokens=4)).mean_logprob is None  # only when asked
        if lookup:
            assert eng.accepted_tokens >= 4  # drafts were kept: their log-probabilities come from the batch
    finally:
        eng.close()


@pytest.fixture
def fresh_engine():
    """An engine with nothing in its KV cache: log-probabilities as from a fresh evaluation."""
    eng = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=512)
    yield eng
    eng.close()


@pytest.mark.real_model
def test_first_token_rank_starts_with_the_models_next_choices(reference, fresh_engine):
    # the reference: the model's distribution of the first token after the prompt, sorted
    import numpy as np

    engine = fresh_engine

    head = reference.tokenize(AREA.encode(), add_bos=False, special=True)
    reference.reset()
    reference.eval(head)
    row = np.asarray(reference.scores[len(head) - 1], dtype=np.float64)
    order = np.argsort(row)[::-1]
    logsoftmax = row - row.max() - np.log(np.exp(row - row.max()).sum())
    firsts = []
    for rank in range(3):
        result = engine.generate(GenerationRequest(prompt=AREA, max_tokens=1, first_token_rank=rank, logprobs=True))
        token = reference.tokenize(result.text.encode(), add_bos=False, special=True)
        assert token == [int(order[rank])], (rank, result.text)
        assert result.mean_logprob == pytest.approx(logsoftmax[order[rank]], abs=0.01)
        firsts.append(result.text)
    assert len(set(firsts)) == 3
    # then greedy: rank 0 is the plain greedy answer
    plain = engine.generate(GenerationRequest(prompt=AREA, max_tokens=8))
    assert engine.generate(GenerationRequest(prompt=AREA, max_tokens=8, first_token_rank=0)).text == plain.text
    second = engine.generate(GenerationRequest(prompt=AREA, max_tokens=8, first_token_rank=1))
    assert second.text.startswith(firsts[1]) and second.text != plain.text


class _CancelAfter(CancelToken):
    """A cancel token that reads as cancelled from its ``reads``-th read on (the engine reads it
    between two graph nodes of a prompt evaluation, and before and after each decode)."""

    def __init__(self, reads: int):
        super().__init__()
        self.reads, self.count = reads, 0

    @property
    def cancelled(self) -> bool:
        self.count += 1
        return self.count >= self.reads


def test_a_cancel_stops_the_prompt_evaluation_inside_a_batch():
    """A 540-token prompt is evaluated in batches of 256 tokens, one llama_decode each; a cancel
    that comes during the first batch stops it there (llama.cpp's abort callback), not after it:
    the KV cache holds none of the prompt, and the next request evaluates it all and answers as a
    fresh engine does."""
    from conftest import SLOW_MODEL

    eng = LlamaCppEngine(SLOW_MODEL, context_length=2048, threads=1)
    try:
        prompt = "def f(x):\n    return x\n" * 60
        request = GenerationRequest(prompt=prompt, max_tokens=4)
        cancel = _CancelAfter(reads=20)
        result = eng.generate(request, cancel)
        assert result.finish_reason == "cancelled" and result.generated_tokens == 0
        assert 20 <= cancel.count < 40  # read between graph nodes, and not long after the cancel
        assert eng._llm.n_tokens == 0  # the first batch was dropped, the others never started
        again = eng.generate(request)
        assert again.prompt_tokens_evaluated == again.prompt_tokens == len(eng.tokenize(prompt))
        fresh = LlamaCppEngine(SLOW_MODEL, context_length=2048, threads=1)
        try:
            assert fresh.generate(request).text == again.text
        finally:
            fresh.close()
    finally:
        eng.close()


def test_prompt_lookup_is_turned_on_only_where_a_draft_step_is_cheap():
    from codex_ls.engines.llama import LOOKUP_AUTO_DRAFT, LOOKUP_MAX_COST_RATIO, choose_draft

    assert choose_draft(1.2) == LOOKUP_AUTO_DRAFT  # memory-bound steps: a few more tokens cost little
    assert choose_draft(LOOKUP_MAX_COST_RATIO) == LOOKUP_AUTO_DRAFT
    assert choose_draft(LOOKUP_MAX_COST_RATIO + 0.01) == 0
    assert choose_draft(2.5) == 0
    assert choose_draft(float("inf")) == 0  # not measured


def test_draft_cost_meter_decides_on_the_medians_once_it_has_enough_steps_of_each_kind():
    from codex_ls.engines.llama import DraftCostMeter

    meter = DraftCostMeter(draft=2, steps=3)
    assert meter.add(1, 9.0) is None and meter.add(3, 9.0) is None  # the first of each kind: not counted
    for one, batch in ((0.040, 0.050), (0.044, 0.060), (0.042, 0.056)):
        assert meter.add(5, 1.0) is None  # other step sizes (longer drafts) are not counted
        assert meter.add(1, one) is None
        ratio = meter.add(3, batch)
    assert ratio == pytest.approx(0.056 / 0.042)
    assert meter.one == [0.040, 0.044, 0.042] and meter.batch == [0.050, 0.060, 0.056]


@pytest.mark.real_model
def test_automatic_prompt_lookup_evaluates_nothing_at_load_and_times_the_first_generations():
    from codex_ls.engines.llama import LOOKUP_AUTO_DRAFT, choose_draft

    path = resolve_model(allow_download=False).path
    auto = LlamaCppEngine(path, context_length=1024, prompt_lookup=-1, expected_draft=-1)
    try:
        assert auto._llm.n_tokens == 0 and auto.draft_cost_ratio is None  # nothing evaluated at load
        assert auto.prompt_lookup == LOOKUP_AUTO_DRAFT  # drafting is on while it is timed
        body = "".join(f"    total_{i} = compute(values[{i}], weights[{i}], offset={i})\n" for i in range(8))
        prompt = f"<|fim_prefix|>def f(values, weights):\n{body}    total_8 = compute(<|fim_suffix|>\n    return total_0\n<|fim_middle|>"
        for _ in range(6):
            auto.generate(GenerationRequest(prompt=prompt, max_tokens=32))
            if auto.draft_cost_ratio is not None:
                break
        ratio = auto.draft_cost_ratio
        assert ratio is not None and 0 < ratio < float("inf")  # measured on real steps; its size is the benchmark's business
        assert auto.prompt_lookup == choose_draft(ratio) and auto.expected_draft == (16 if auto.prompt_lookup else 0)
        assert auto._meter is None  # decided once, for good
    finally:
        auto.close()


REPEAT_PREFIX = "MONTHS = [\n    'January',\n    'February',\n"
REPEAT_SUFFIX = "    'April',\n    'May',\n]\n"


@pytest.mark.real_model
def test_expected_text_is_drafted_in_one_batch_and_the_answer_stays_the_greedy_one():
    from codex_ls.stops import StopRule, analyze_cursor

    prompt = f"<|fim_prefix|>{REPEAT_PREFIX}<|fim_suffix|>{REPEAT_SUFFIX}<|fim_middle|>"
    answers = {}
    for expected_draft in (0, 16):
        eng = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=512, prompt_lookup=0, expected_draft=expected_draft)
        try:
            rule = StopRule(analyze_cursor(REPEAT_PREFIX, REPEAT_SUFFIX), look_past=6)
            result = eng.generate(GenerationRequest(prompt=prompt, max_tokens=48, should_stop=rule, expected=rule.expected))
            answers[expected_draft] = (result.text, result.finish_reason, result.generated_tokens)
            if expected_draft:
                # the model repeated the line below the hole ('April'): the lines it began like
                # that line were checked in batches, kept, and the repeat ended the completion
                assert eng.expected_drafts >= 1 and eng.accepted_tokens >= 3
            else:
                assert eng.expected_drafts == 0 and eng.draft_tokens == 0
            # an expectation the model does not share changes nothing
            wrong = eng.generate(GenerationRequest(prompt=prompt, max_tokens=20, expected=lambda text: " unrelated(42)\n" if text.endswith("\n") else None))
            answers[("wrong", expected_draft)] = wrong.text
        finally:
            eng.close()
    assert answers[0] == answers[16]
    assert answers[16][1] == "rule" and "'April'" not in answers[16][0]  # the repeat is cut off
    assert answers[("wrong", 0)] == answers[("wrong", 16)]


def test_expected_drafts_follow_prompt_lookup_unless_set():
    from conftest import SLOW_MODEL

    from codex_ls.engines.llama import EXPECTED_AUTO_DRAFT

    for lookup, setting, drafts in ((2, -1, EXPECTED_AUTO_DRAFT), (0, -1, 0), (0, 8, 8), (2, 0, 0)):
        eng = LlamaCppEngine(SLOW_MODEL, context_length=256, prompt_lookup=lookup, expected_draft=setting)
        try:
            assert eng.expected_draft == drafts
        finally:
            eng.close()


@pytest.mark.real_model
def test_a_speculative_generation_keeps_the_last_real_requests_kv_cache_slot():
    """A prefetch (``speculative()``) works in the other KV cache slot: the real request's prompt
    asked again evaluates only its last token, the prefetched prompt asked for real too, and
    both answers are the ones a fresh evaluation gives. A second speculation overwrites the
    first one's slot, not the real request's."""
    import textwrap

    lines = Path(textwrap.__file__).read_text().splitlines(keepends=True)
    path = resolve_model(allow_download=False).path
    eng = LlamaCppEngine(path, context_length=2048)
    plain = LlamaCppEngine(path, context_length=2048, kv_cache_reuse=False)
    try:
        assert eng.slots == 2 and plain.slots == 1
        ask = lambda engine, prompt: engine.generate(GenerationRequest(prompt=prompt, max_tokens=8, stop=("\n",)))  # noqa: E731
        real = _file_fim(lines, 150, 200, 215)
        guess = _file_fim(lines, 150, 201, 215)  # the user goes one line down
        other_guess = _file_fim(lines, 150, 202, 215)
        first = ask(eng, real)
        with eng.speculative():
            guessed = ask(eng, guess)
        assert guessed.prompt_tokens_evaluated < guessed.prompt_tokens - 100  # it started from the shared prefix
        again = ask(eng, real)
        assert again.prompt_tokens_evaluated == 1 and again.text == first.text
        for prompt, speculative in ((guess, True), (other_guess, True)):
            with eng.speculative():
                ask(eng, prompt)
        back = ask(eng, real)  # two speculations later, the real request's slot is intact
        assert back.prompt_tokens_evaluated == 1 and back.text == first.text
        later = ask(eng, other_guess)  # the last speculation's prompt is in the other slot
        assert later.prompt_tokens_evaluated == 1 and later.text == ask(plain, other_guess).text
        assert eng.slot_swaps >= 2
    finally:
        eng.close()
        plain.close()


@pytest.mark.real_model
def test_the_other_slot_goes_when_both_would_not_fit_the_context():
    import textwrap

    lines = Path(textwrap.__file__).read_text().splitlines(keepends=True)
    eng = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=1024)
    try:
        ask = lambda prompt: eng.generate(GenerationRequest(prompt=prompt, max_tokens=8, stop=("\n",)))  # noqa: E731
        ask(_file_fim(lines, 150, 180, 190))
        with eng.speculative():
            ask(_file_fim(lines, 150, 181, 190))
        assert eng._alt_tokens is not None
        # a prompt unrelated to both, about 600 tokens: the two slots and it cannot all fit in 1,024 cells
        end = next(n for n in range(310, len(lines)) if len(eng.tokenize(_file_fim(lines, 300, n - 10, n))) > 600)
        big = _file_fim(lines, 300, end - 10, end)
        assert 600 < len(eng.tokenize(big)) < 900
        assert ask(big).text == LlamaCppEngine(resolve_model(allow_download=False).path, context_length=1024, kv_cache_reuse=False).generate(
            GenerationRequest(prompt=big, max_tokens=8, stop=("\n",))
        ).text
        assert eng._alt_tokens is None
    finally:
        eng.close()

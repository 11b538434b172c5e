"""The ctransformers engine (extra ``ctransformers``) with a tiny llama GGUF of its vintage.

ctransformers 0.2.27 bundles a llama.cpp from September 2023: it loads a
llama-architecture GGUF with a SentencePiece vocabulary (tokens with ``▁``,
``<0xXX>`` byte tokens, scores), not the GPT-2 style BPE vocabulary of the
shared tiny model. The test writes such a file with the ``gguf`` package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ctransformers  # noqa: E402,F401  (test extra: a missing install must fail, not skip)

from codex_ls.engines.base import CancelToken, ChatMessage, ChatRequest, GenerationRequest, ModelLoadError  # noqa: E402
from codex_ls.model_manager import ModelChoice, create_engine  # noqa: E402
from codex_ls.settings import EngineSettings  # noqa: E402

WORDS = ("def", "return", "import", "class", "self", "print", "if", "else", "for", "in", "x", "y", "f", "(", ")", ":", "=", "+", "1", "0")


def write_tiny_spm_llama(path: Path, *, seed: int = 0, n_layer: int = 2, n_embd: int = 64, n_head: int = 4, n_ff: int = 128, context_length: int = 512) -> Path:
    """A random-weight llama GGUF (F32, about 0.5 MB) with a SentencePiece-style vocabulary: ``<unk>``, ``<s>``, ``</s>``, 256 byte tokens, a few words."""
    import gguf

    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    for word in WORDS:
        for tok in (word, "\u2581" + word):
            if tok not in tokens:
                tokens.append(tok)
                types.append(gguf.TokenType.NORMAL)
    tokens.append("\u2581")
    types.append(gguf.TokenType.NORMAL)
    scores = [0.0] * 259 + [-float(i) for i in range(len(tokens) - 259)]
    rng = np.random.default_rng(seed)

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    output = normal((len(tokens), n_embd), 0.05)
    output[:3] = 0.0  # never pick <unk>/<s>/</s>: generation runs to max_tokens
    tensors = [("token_embd.weight", normal((len(tokens), n_embd), 1.0))]
    for i in range(n_layer):
        p = f"blk.{i}."
        tensors += [
            (p + "attn_norm.weight", np.ones(n_embd, np.float32)),
            (p + "attn_q.weight", normal((n_embd, n_embd), 0.02)),
            (p + "attn_k.weight", normal((n_embd, n_embd), 0.02)),
            (p + "attn_v.weight", normal((n_embd, n_embd), 0.02)),
            (p + "attn_output.weight", normal((n_embd, n_embd), 0.02)),
            (p + "ffn_norm.weight", np.ones(n_embd, np.float32)),
            (p + "ffn_gate.weight", normal((n_ff, n_embd), 0.02)),
            (p + "ffn_up.weight", normal((n_ff, n_embd), 0.02)),
            (p + "ffn_down.weight", normal((n_embd, n_ff), 0.02)),
        ]
    tensors += [("output_norm.weight", np.ones(n_embd, np.float32)), ("output.weight", output)]
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny spm llama")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(context_length)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    for name, data in tensors:
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = write_tiny_spm_llama(tmp_path_factory.mktemp("ct") / "spm-llama.gguf")
    choice = ModelChoice(path=str(path), name=None, context_length=512, threads=1, engine=EngineSettings(name="ctransformers"))
    eng = create_engine(path, choice)  # selected by the settings, as the server does
    yield eng
    eng.close()


def test_loads_old_style_llama_gguf_and_tokenizes(engine):
    info = engine.model_info()
    assert engine.name == "ctransformers" and info.architecture == "llama" and info.context_length == 512
    tokens = engine.tokenize("def f(x):")
    assert tokens and 1 not in tokens  # no BOS
    assert engine.count_tokens("def f(x):") == len(tokens)


def test_generation_is_greedy_and_honours_stops_and_cancel(engine):
    prompt = "def f("
    full = engine.generate(GenerationRequest(prompt, max_tokens=12))
    print(f"\nctransformers tiny llama: {full}")
    assert full.finish_reason == "length" and full.generated_tokens == 12 and full.prompt_tokens >= 3
    assert engine.generate(GenerationRequest(prompt, max_tokens=12)).text == full.text
    stop = full.text[3:5]
    cut = engine.generate(GenerationRequest(prompt, max_tokens=12, stop=(stop,)))
    assert cut.finish_reason == "stop" and cut.text == full.text[: full.text.index(stop)]
    token = CancelToken()
    token.cancel()
    cancelled = engine.generate(GenerationRequest(prompt, max_tokens=100), token)
    assert cancelled.finish_reason == "cancelled" and cancelled.generated_tokens == 1


def test_sampling_follows_the_seed(engine):
    texts = [engine.generate(GenerationRequest("def f(", max_tokens=12, temperature=1.0, seed=seed)).text for seed in (1, 2, 3, 1)]
    assert texts[0] == texts[3]  # the same seed, the same text
    assert len(set(texts)) > 1  # other seeds sample other text


def test_chat_uses_chatml(engine):
    result = engine.chat(ChatRequest((ChatMessage("user", "fix f"),), max_tokens=5))
    assert result.generated_tokens == 5 and result.prompt_tokens > 10  # the ChatML markers are in the prompt


def test_current_gguf_is_refused_with_a_clear_error(tiny_model):
    choice = ModelChoice(path=str(tiny_model), name=None, context_length=512, threads=1, engine=EngineSettings(name="ctransformers"))
    with pytest.raises(ModelLoadError, match="GGML-era"):
        create_engine(tiny_model, choice)  # a GPT-2 BPE vocabulary without scores: too new for it

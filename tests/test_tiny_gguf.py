"""The tiny self-written GGUF model loads in llama.cpp and behaves like a Qwen-style code model."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from codex_ls.testing.tiny_gguf import MODEL_NAME, SPECIAL_TOKENS, tiny_vocab, write_tiny_gguf

import gguf  # noqa: E402  (test extra: a missing install must fail, not skip)
import llama_cpp  # noqa: E402


def _load(path: Path):
    return llama_cpp.Llama(model_path=str(path), n_ctx=512, n_threads=2, verbose=False)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("tiny") / "tiny.gguf")


@pytest.fixture(scope="module")
def llm(model_path: Path):
    model = _load(model_path)
    yield model
    model.close()


def test_file_is_small_and_fast_to_write(tmp_path: Path) -> None:
    write_tiny_gguf(tmp_path / "warmup.gguf")  # first call pays for importing gguf
    t0 = time.perf_counter()
    path = write_tiny_gguf(tmp_path / "m.gguf")
    elapsed = time.perf_counter() - t0
    size = path.stat().st_size
    print(f"\ntiny gguf: {size} bytes, written in {elapsed * 1000:.1f} ms")
    assert size < 5 * 1024 * 1024
    assert elapsed < 1.0


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf", seed=1).read_bytes()
    b = write_tiny_gguf(tmp_path / "b.gguf", seed=1).read_bytes()
    c = write_tiny_gguf(tmp_path / "c.gguf", seed=2).read_bytes()
    assert a == b
    assert a != c


def test_metadata_reads_back(model_path: Path) -> None:
    reader = gguf.GGUFReader(model_path)

    def value(key: str):
        return reader.fields[key].contents()

    assert value("general.architecture") == "llama"
    assert value("general.name") == MODEL_NAME
    assert value("tokenizer.ggml.model") == "gpt2"
    assert value("tokenizer.ggml.pre") == "qwen2"
    assert value("tokenizer.ggml.add_bos_token") is False
    assert "<|im_start|>" in value("tokenizer.chat_template")

    tokens, _, special_ids = tiny_vocab()
    assert value("tokenizer.ggml.tokens") == list(tokens)
    types = value("tokenizer.ggml.token_type")
    for s in SPECIAL_TOKENS:
        assert types[special_ids[s]] == gguf.TokenType.CONTROL
    assert value("tokenizer.ggml.eos_token_id") == special_ids["<|endoftext|>"]
    assert value("tokenizer.ggml.padding_token_id") == special_ids["<|endoftext|>"]
    assert value("tokenizer.ggml.fim_pre_token_id") == special_ids["<|fim_prefix|>"]
    assert value("tokenizer.ggml.fim_suf_token_id") == special_ids["<|fim_suffix|>"]
    assert value("tokenizer.ggml.fim_mid_token_id") == special_ids["<|fim_middle|>"]
    assert value("tokenizer.ggml.fim_pad_token_id") == special_ids["<|fim_pad|>"]
    assert value("tokenizer.ggml.fim_rep_token_id") == special_ids["<|repo_name|>"]
    assert value("tokenizer.ggml.fim_sep_token_id") == special_ids["<|file_sep|>"]
    assert 256 + 100 < len(tokens) < 1000


def test_llama_cpp_sees_the_special_tokens(llm) -> None:
    _, _, special_ids = tiny_vocab()
    assert llm.n_vocab() == len(tiny_vocab()[0])
    assert llm.token_eos() == special_ids["<|endoftext|>"]
    ids = llm.tokenize(
        b"<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>", add_bos=False, special=True
    )
    pre, suf, mid = (special_ids[s] for s in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"))
    assert ids[0] == pre
    assert ids[-1] == mid
    assert suf in ids
    assert ids.count(pre) == ids.count(suf) == ids.count(mid) == 1
    # Without special=True the markers are ordinary text, split into many tokens.
    plain = llm.tokenize(b"<|fim_prefix|>", add_bos=False, special=False)
    assert len(plain) > 1 and pre not in plain


@pytest.mark.parametrize(
    "text",
    [
        "def f(x):\n    return x + 1\n",
        "\tfor (int i = 0; i < n; i++) {}\r\n",
        "héllo 😀",
        "",
    ],
)
def test_detokenize_round_trips(llm, text: str) -> None:
    data = text.encode("utf-8")
    ids = llm.tokenize(data, add_bos=False, special=False)
    assert llm.detokenize(ids) == data


def test_merges_compress_code(llm) -> None:
    code = b"    def __init__(self):\n        return self.value\n"
    assert len(llm.tokenize(code, add_bos=False)) < len(code) * 0.7


def test_greedy_completion_is_deterministic(llm, model_path: Path) -> None:
    prompt = "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n<|fim_middle|>"
    t0 = time.perf_counter()
    fresh = _load(model_path)
    t1 = time.perf_counter()
    first = fresh.create_completion(prompt, max_tokens=16, temperature=0)
    t2 = time.perf_counter()
    fresh.close()
    second = llm.create_completion(prompt, max_tokens=16, temperature=0)
    n = first["usage"]["completion_tokens"]
    print(
        f"\ntiny model: load {(t1 - t0) * 1000:.1f} ms, generate {n} tokens "
        f"{(t2 - t1) * 1000:.1f} ms; text={first['choices'][0]['text']!r}"
    )
    assert 1 <= n <= 16
    assert first["choices"][0]["text"] == second["choices"][0]["text"]
    assert first["usage"] == second["usage"]


def test_bias_token_makes_the_model_stop(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "eos.gguf", bias_token="<|endoftext|>")
    model = _load(path)
    try:
        out = model.create_completion("def f():", max_tokens=16, temperature=0)
        assert out["usage"]["completion_tokens"] == 0
        assert out["choices"][0]["finish_reason"] == "stop"
    finally:
        model.close()


def test_bias_token_must_be_in_vocab(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_tiny_gguf(tmp_path / "x.gguf", bias_token="<|not a token|>")

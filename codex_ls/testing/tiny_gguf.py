"""A tiny random-weight GGUF model that tests write for themselves.

:func:`write_tiny_gguf` writes a llama-architecture GGUF file of well under
1 MB (F32 tensors, random weights) with a Qwen-style byte-level BPE tokenizer:
the 256 GPT-2 byte tokens, a few hundred merges learned deterministically from a
small built-in code sample, and the Qwen2.5-Coder special tokens
(``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``, ``<|fim_prefix|>``,
``<|fim_middle|>``, ``<|fim_suffix|>``, ``<|fim_pad|>``, ``<|repo_name|>``,
``<|file_sep|>``) as CONTROL tokens, with the FIM token ids, EOS/PAD ids and a
ChatML chat template set in the metadata.  ``llama_cpp.Llama`` loads it and
generates (meaningless) text from it in milliseconds, so the completion engine
can be tested end to end without downloading a real model.

The file is a pure function of the arguments: the same arguments give the same
bytes.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "MODEL_NAME",
    "SPECIAL_TOKENS",
    "bytes_to_unicode",
    "tiny_vocab",
    "write_tiny_gguf",
]

#: ``general.name`` of the written model.
MODEL_NAME = "codex-ls tiny test model"

#: The control tokens, in vocabulary order (same relative order as Qwen2.5-Coder).
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)

#: Upper bound on the number of BPE merges learned from the built-in sample.
MAX_MERGES = 400

# A ChatML template in the style of Qwen2.5's (without the tool-calling parts).
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)

# Small multi-language code sample the merges are learned from.
_CODE_SAMPLE = '''\
import os
import sys
from pathlib import Path
from typing import Any, Optional


def read_file(path: str) -> str:
    """Return the contents of the file at path."""
    with open(path, "r", encoding="utf-8") as f:
        return f.read()


class Config:
    def __init__(self, name: str, value: Optional[int] = None) -> None:
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"Config(name={self.name!r}, value={self.value!r})"

    def update(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            if hasattr(self, key):
                setattr(self, key, value)
            else:
                raise KeyError(key)


def fibonacci(n: int) -> int:
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


def main(argv: list[str]) -> int:
    for arg in argv[1:]:
        if os.path.exists(arg):
            print(read_file(arg))
        else:
            print(f"not found: {arg}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

// JavaScript
function add(a, b) {
  return a + b;
}

const items = [1, 2, 3].map((x) => x * 2);
export default function render(props) {
  const { title, children } = props;
  if (!title) {
    return null;
  }
  return `<div class="title">${title}</div>`;
}

// Rust
fn main() {
    let mut total: i32 = 0;
    for i in 0..10 {
        total += i;
    }
    println!("total = {}", total);
}

pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }
}

// Go
package main

import "fmt"

func main() {
	for i := 0; i < 10; i++ {
		fmt.Println(i)
	}
	if err := run(); err != nil {
		return
	}
}

/* C */
#include <stdio.h>

int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        printf("%s\\n", argv[i]);
    }
    return 0;
}
'''

# ASCII approximation of Qwen2's pre-tokenizer regex (\\p{L} -> [A-Za-z],
# \\p{N} -> [0-9]); the merges only need to be sensible, not exact.
_PRETOKENIZE = re.compile(
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"
    r"|[^\r\nA-Za-z0-9]?[A-Za-z]+"
    r"|[0-9]"
    r"| ?[^\sA-Za-z0-9]+[\r\n]*"
    r"|\s*[\r\n]+"
    r"|\s+(?!\S)"
    r"|\s+"
)


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character mapping (256 entries)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def _learn_merges(text: str, max_merges: int) -> list[tuple[str, str]]:
    """Learn up to ``max_merges`` byte-level BPE merges from ``text``.

    Classic BPE training on pre-tokenized words; the most frequent adjacent
    pair wins, ties broken by the lexicographically smallest pair, so the
    result is deterministic.  Stops early when no pair occurs twice.
    """
    b2u = bytes_to_unicode()
    words = Counter(
        tuple(b2u[b] for b in piece.encode("utf-8")) for piece in _PRETOKENIZE.findall(text)
    )
    vocab: dict[tuple[str, ...], int] = dict(words)
    merges: list[tuple[str, str]] = []
    for _ in range(max_merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in vocab.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best_count = max(pairs.values())
        if best_count < 2:
            break
        best = min(p for p, c in pairs.items() if c == best_count)
        merges.append(best)
        joined = best[0] + best[1]
        new_vocab: dict[tuple[str, ...], int] = {}
        for word, count in vocab.items():
            if len(word) < 2:
                new_vocab[word] = new_vocab.get(word, 0) + count
                continue
            out: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            key = tuple(out)
            new_vocab[key] = new_vocab.get(key, 0) + count
        vocab = new_vocab
    return merges


@lru_cache(maxsize=1)
def tiny_vocab() -> tuple[tuple[str, ...], tuple[str, ...], dict[str, int]]:
    """The tokenizer written by :func:`write_tiny_gguf`.

    Returns ``(tokens, merges, special_ids)``: the token strings in id order
    (256 byte tokens in byte order, then one token per merge, then
    :data:`SPECIAL_TOKENS`), the merges as ``"left right"`` strings in rank
    order, and the id of each special token.
    """
    b2u = bytes_to_unicode()
    tokens: list[str] = [b2u[b] for b in range(256)]
    merges = _learn_merges(_CODE_SAMPLE, MAX_MERGES)
    seen = set(tokens)
    for left, right in merges:
        merged = left + right
        if merged not in seen:  # BPE training never re-creates a token, but be safe
            seen.add(merged)
            tokens.append(merged)
    special_ids = {}
    for s in SPECIAL_TOKENS:
        special_ids[s] = len(tokens)
        tokens.append(s)
    return tuple(tokens), tuple(f"{a} {b}" for a, b in merges), special_ids


def write_tiny_gguf(
    path: Path,
    *,
    seed: int = 0,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_ff: int = 128,
    context_length: int = 2048,
    bias_token: str | None = None,
) -> Path:
    """Write a tiny random-weight llama-architecture GGUF model to ``path``.

    The model (all tensors F32; numpy shapes given, GGML ``ne`` is reversed):

    - ``token_embd.weight`` ``(n_vocab, n_embd)``, ``output.weight``
      ``(n_vocab, n_embd)`` (untied), ``output_norm.weight`` ``(n_embd,)``;
    - per block ``blk.N``: ``attn_norm``/``ffn_norm`` ``(n_embd,)``,
      ``attn_q``/``attn_k``/``attn_v``/``attn_output`` ``(n_embd, n_embd)``,
      ``ffn_gate``/``ffn_up`` ``(n_ff, n_embd)``, ``ffn_down`` ``(n_embd, n_ff)``.

    ``n_head`` query heads and as many KV heads, head size ``n_embd // n_head``
    (RoPE over all of it, base 1e6), RMS-norm eps 1e-6, trained context
    ``context_length`` tokens.  The tokenizer is :func:`tiny_vocab`'s
    (``n_vocab`` = 256 bytes + merges + 9 specials, about 650), tokenizer model
    ``gpt2`` with pre-tokenizer ``qwen2``, no BOS added, ``<|endoftext|>`` as
    BOS/EOS/PAD, the FIM pre/suf/mid/pad/rep/sep token ids set, and a ChatML
    chat template.  With the defaults the file is about 0.7 MB and takes a few
    tens of milliseconds to write.

    Weights are drawn from ``numpy.random.default_rng(seed)``; the same
    arguments give byte-identical files.  The output rows of the control tokens
    are zero (logit 0 while the best ordinary token's logit is positive), so
    greedy generation never picks an end-of-generation token by chance: it runs
    to ``max_tokens``.  With ``bias_token`` (any token string in the
    vocabulary, e.g. ``"<|endoftext|>"``) the model instead predicts that token
    with overwhelming probability at every position, which gives tests a model
    that stops at once.

    Returns ``path``.
    """
    import gguf  # test-only dependency; keep importing this module cheap

    if n_embd % n_head:
        raise ValueError(f"n_embd ({n_embd}) must be a multiple of n_head ({n_head})")
    head_dim = n_embd // n_head
    if head_dim % 2:
        raise ValueError(f"head size ({head_dim}) must be even for RoPE")

    tokens, merges, special_ids = tiny_vocab()
    n_vocab = len(tokens)
    bias_id: int | None = None
    if bias_token is not None:
        try:
            bias_id = tokens.index(bias_token)
        except ValueError:
            raise ValueError(f"bias_token {bias_token!r} is not in the vocabulary") from None

    path = Path(path)
    rng = np.random.default_rng(seed)

    def normal(shape: tuple[int, ...], std: float) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    tensors: list[tuple[str, np.ndarray]] = []
    token_embd = normal((n_vocab, n_embd), 1.0)
    output = normal((n_vocab, n_embd), 0.05)
    special_rows = list(special_ids.values())
    output[special_rows] = 0.0
    if bias_id is not None:
        # Dimension 0 becomes a constant "bias channel": every embedding has a
        # large value there, which survives the small random blocks and the RMS
        # norm, and only the biased token reads it.
        token_embd[:, 0] = 8.0
        output[:, 0] = 0.0
        output[bias_id, 0] = 20.0
    tensors.append(("token_embd.weight", token_embd))
    for i in range(n_layer):
        p = f"blk.{i}."
        tensors += [
            (p + "attn_norm.weight", np.ones(n_embd, dtype=np.float32)),
            (p + "attn_q.weight", normal((n_embd, n_embd), 0.02)),
            (p + "attn_k.weight", normal((n_embd, n_embd), 0.02)),
            (p + "attn_v.weight", normal((n_embd, n_embd), 0.02)),
            (p + "attn_output.weight", normal((n_embd, n_embd), 0.02)),
            (p + "ffn_norm.weight", np.ones(n_embd, dtype=np.float32)),
            (p + "ffn_gate.weight", normal((n_ff, n_embd), 0.02)),
            (p + "ffn_up.weight", normal((n_ff, n_embd), 0.02)),
            (p + "ffn_down.weight", normal((n_embd, n_ff), 0.02)),
        ]
    tensors += [
        ("output_norm.weight", np.ones(n_embd, dtype=np.float32)),
        ("output.weight", output),
    ]

    w = gguf.GGUFWriter(path, "llama")
    w.add_name(MODEL_NAME)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(context_length)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(1_000_000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(n_vocab)

    token_types = [gguf.TokenType.NORMAL] * n_vocab
    for i in special_ids.values():
        token_types[i] = gguf.TokenType.CONTROL
    eos = special_ids["<|endoftext|>"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(list(tokens))
    w.add_token_types(token_types)
    w.add_token_merges(list(merges))
    w.add_bos_token_id(eos)
    w.add_eos_token_id(eos)
    w.add_pad_token_id(eos)
    w.add_add_bos_token(False)
    T = gguf.Keys.Tokenizer
    for key, tok in (
        (T.FIM_PRE_ID, "<|fim_prefix|>"),
        (T.FIM_SUF_ID, "<|fim_suffix|>"),
        (T.FIM_MID_ID, "<|fim_middle|>"),
        (T.FIM_PAD_ID, "<|fim_pad|>"),
        (T.FIM_REP_ID, "<|repo_name|>"),
        (T.FIM_SEP_ID, "<|file_sep|>"),
    ):
        w.add_uint32(key, special_ids[tok])
    w.add_chat_template(CHAT_TEMPLATE)

    for name, data in tensors:
        w.add_tensor(name, data)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path

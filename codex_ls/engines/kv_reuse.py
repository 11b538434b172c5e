"""Plan which prompt tokens can be taken from elsewhere in the KV cache (KV shifting).

The longest common prefix of the cached tokens and a new prompt is free. What
follows it is often in the cache too, only at another position: when the
prompt's start moves down (the prefix was cut again, or a pinned scope header
above it changed), the rest of the old prefix is still cached, some tokens later
than it is wanted. llama.cpp can move cached cells to new positions
(``llama_memory_seq_add``, which re-rotates the keys' RoPE), so such a run costs
nothing to evaluate.

The idea is llama-server's ``--cache-reuse N`` (``n_cache_reuse``, used by
llama.vim): a run of at least N tokens of the new prompt that the cache holds,
in the same order, is shifted into place instead of evaluated. Shifted cells
keep the attention over the text that came before them when they were
evaluated, so the result is close to, not the same as, a fresh evaluation; the
minimum run length keeps short, coincidental matches out. Unlike llama-server,
:func:`plan_kv_reuse` also evaluates the tokens between two runs and goes on
matching after them. Which runs may move at all is the caller's choice (the
llama engine moves prefix text only: see ``LlamaCppEngine._prefill``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Segment:
    """A piece of the new prompt: ``prompt[start:end]``, either evaluated (``cached_at`` is
    ``None``) or shifted from the cached cells at positions ``cached_at .. cached_at + (end - start)``."""

    start: int
    end: int
    cached_at: int | None = None


KEY_TOKENS = 8
"""Tokens per index key when looking for a run (a run must be at least this long)."""


def plan_kv_reuse(cached: Sequence[int], prompt: Sequence[int], start: int, min_tokens: int) -> list[Segment]:
    """Split ``prompt[start:]`` into evaluated segments and runs shifted from ``cached``.

    Args:
        cached: the token ids in the KV cache, by position.
        prompt: the new prompt's token ids.
        start: how many leading tokens the two share (the common prefix, kept in place).
        min_tokens: the shortest run worth shifting (tokens); runs are taken in
            cache order (each starts after the previous one ends, at or after
            ``start``), the longest at each prompt position.

    Returns:
        Consecutive segments covering ``prompt[start:]`` in order (empty when
        ``start == len(prompt)``); a single evaluated segment when no run
        qualifies.
    """
    n = len(prompt)
    if start >= n:
        return []
    key = max(1, min(KEY_TOKENS, min_tokens))
    index: dict[tuple[int, ...], list[int]] = {}
    for p in range(start, len(cached) - key + 1):
        index.setdefault(tuple(cached[p : p + key]), []).append(p)
    segments: list[Segment] = []
    pending = j = start  # prompt[pending:j] is waiting to be evaluated
    floor = start  # runs must start at or after this cache position
    while j + min_tokens <= n and index:
        best_at, best_len = -1, 0
        for p in index.get(tuple(prompt[j : j + key]), ()):
            if p < floor:
                continue
            length = key
            while j + length < n and p + length < len(cached) and prompt[j + length] == cached[p + length]:
                length += 1
            if length > best_len:
                best_at, best_len = p, length
        if best_len < min_tokens:
            j += 1
            continue
        if pending < j:
            segments.append(Segment(pending, j))
        segments.append(Segment(j, j + best_len, best_at))
        j += best_len
        pending = j
        floor = best_at + best_len
    if pending < n:
        segments.append(Segment(pending, n))
    return segments

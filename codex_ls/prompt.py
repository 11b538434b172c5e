"""Fill-in-the-middle (FIM) prompt building under a token budget.

Pure functions: the caller passes the text before and after the cursor, the
model's FIM template and a token counter (the model's own tokenizer). The
prefix keeps the lines nearest the cursor, the suffix the lines right after
it; both are cut at line boundaries so the model never sees half a line at
the far end of its context.

Layout (prefix-suffix-middle, "PSM", the order Qwen2.5-Coder was trained on)::

    <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>

The Qwen2.5-Coder technical report (arXiv:2409.12186, section 3) gives this
format; llama-cpp-python's ``suffix=`` argument is not used because it
inserts token ids that do not match Qwen's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class FimTemplate:
    """The special strings of a model's FIM format."""

    prefix: str = "<|fim_prefix|>"
    suffix: str = "<|fim_suffix|>"
    middle: str = "<|fim_middle|>"

    def render(self, prefix: str, suffix: str) -> str:
        """The prompt string for one hole (PSM order)."""
        return f"{self.prefix}{prefix}{self.suffix}{suffix}{self.middle}"


@dataclass(frozen=True)
class FimPrompt:
    """A rendered prompt and what went into it.

    Attributes:
        text: the prompt string.
        prefix: the part of the text before the cursor that was kept.
        suffix: the part after the cursor that was kept.
        prefix_tokens / suffix_tokens: their sizes in tokens (line sums, an
            estimate within a few tokens of the joint tokenization).
    """

    text: str
    prefix: str
    suffix: str
    prefix_tokens: int
    suffix_tokens: int


def _split_keepends(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def clip_prefix(prefix: str, budget: int, count_tokens: Callable[[str], int]) -> tuple[str, int]:
    """Keep the end of ``prefix`` that fits ``budget`` tokens, in whole lines.

    The line the cursor is on (the text after the last newline) is always
    kept, even if it alone is over budget. Returns ``(kept_text, tokens)``.
    """
    head, sep, current = prefix.rpartition("\n")
    used = count_tokens(current) if current else 0
    if not sep:
        return current, used
    kept: list[str] = [current]
    lines = _split_keepends(head + sep)
    for line in reversed(lines):
        cost = count_tokens(line)
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    return "".join(reversed(kept)), used


def clip_suffix(suffix: str, budget: int, count_tokens: Callable[[str], int]) -> tuple[str, int]:
    """Keep the start of ``suffix`` that fits ``budget`` tokens, in whole lines.

    The rest of the cursor's line (up to and including its newline) is always
    kept. Returns ``(kept_text, tokens)``.
    """
    lines = _split_keepends(suffix)
    if not lines:
        return "", 0
    kept = [lines[0]]
    used = count_tokens(lines[0])
    for line in lines[1:]:
        cost = count_tokens(line)
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    return "".join(kept), used


def build_fim_prompt(
    prefix: str,
    suffix: str,
    template: FimTemplate,
    count_tokens: Callable[[str], int],
    *,
    prefix_tokens: int = 1024,
    suffix_tokens: int = 256,
) -> FimPrompt:
    """Render a FIM prompt for the hole between ``prefix`` and ``suffix``.

    Args:
        prefix: document text before the cursor.
        suffix: document text after the cursor.
        template: the model's FIM strings.
        count_tokens: the model's token counter (tokens per string).
        prefix_tokens / suffix_tokens: budgets in tokens; text is dropped at
            line boundaries, farthest from the cursor first.
    """
    kept_prefix, p_used = clip_prefix(prefix, prefix_tokens, count_tokens)
    kept_suffix, s_used = clip_suffix(suffix, suffix_tokens, count_tokens)
    return FimPrompt(template.render(kept_prefix, kept_suffix), kept_prefix, kept_suffix, p_used, s_used)

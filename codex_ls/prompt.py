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

    def render(self, prefix: str, suffix: str, order: str = "psm") -> str:
        """The prompt string for one hole.

        ``order="psm"`` (prefix, suffix, middle) is Qwen2.5-Coder's training format;
        ``"spm"`` puts the suffix first (``<|fim_suffix|>S<|fim_prefix|>P<|fim_middle|>``),
        so that typing, which changes only the end of the prefix, leaves the rest of
        the prompt in the KV cache.
        """
        if order == "spm":
            return f"{self.suffix}{suffix}{self.prefix}{prefix}{self.middle}"
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
        context_tokens: tokens spent on other files and pinned lines (imports,
            enclosing scope headers) before the prefix.
        first_line: the 0-based line of the document where the kept prefix
            starts (pinned lines aside); pass it back as ``anchor_line`` for the
            next prompt of the same document (see :func:`build_prompt`).
    """

    text: str
    prefix: str
    suffix: str
    prefix_tokens: int
    suffix_tokens: int
    context_tokens: int = 0
    first_line: int = 0


def _split_keepends(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _take(lines, budget: int, count_tokens: Callable[[str], int], used: int = 0) -> tuple[list[str], int]:
    """The leading ``lines`` whose token costs, added to ``used``, stay within ``budget``; and the new total."""
    kept: list[str] = []
    for line in lines:
        cost = count_tokens(line)
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    return kept, used


PREFIX_CHUNK_LINES = 32
"""When the prefix is cut, it starts on a line number that is a multiple of this."""


def clip_prefix(prefix: str, budget: int, count_tokens: Callable[[str], int], chunk_lines: int = PREFIX_CHUNK_LINES) -> tuple[str, int]:
    """Keep the end of ``prefix`` that fits ``budget`` tokens, in whole lines.

    The line the cursor is on (the text after the last newline) is always
    kept, even if it alone is over budget. When the top of the prefix must go,
    the kept part starts at a line whose 0-based number is a multiple of
    ``chunk_lines``: moving the cursor forward then leaves the prompt's start,
    and the engine's KV cache for it, unchanged until the cursor has moved
    that many lines (the idea of llama.vim's chunked context). Returns
    ``(kept_text, tokens)``.
    """
    head, sep, current = prefix.rpartition("\n")
    used = count_tokens(current) if current else 0
    if not sep:
        return current, used
    lines = _split_keepends(head + sep)
    above, used = _take(reversed(lines), budget, count_tokens, used)
    kept = [current, *above]
    first = len(lines) - (len(kept) - 1)  # index of the first kept line of the file
    if first > 0 and chunk_lines > 1:
        # Start on a line number that is a multiple of chunk_lines, so that the start (and the
        # KV cache of everything after it) stays put while the cursor moves on.
        snapped = -(-first // chunk_lines) * chunk_lines
        while first < snapped and len(kept) > 1:
            used -= count_tokens(kept.pop())
            first += 1
    return "".join(reversed(kept)), used


STICKY_PREFIX_FACTOR = 2
"""A prefix that starts at the previous prompt's first line may grow to this many times the
prefix budget before its start moves (see :func:`build_prompt`)."""


def prefix_from(prefix: str, anchor_line: int, limit: int, count_tokens: Callable[[str], int]) -> tuple[str, int] | None:
    """The prefix from its 0-based line ``anchor_line`` on, with its token cost, if that line is
    in ``prefix`` and the cost is at most ``limit`` tokens; else ``None``."""
    lines = _split_keepends(prefix)
    if prefix.endswith("\n"):
        lines.append("")  # the cursor's (empty) line
    if anchor_line < 0 or anchor_line >= len(lines):
        return None
    used = 0
    for line in lines[anchor_line:]:
        used += count_tokens(line) if line else 0
        if used > limit:
            return None
    return "".join(lines[anchor_line:]), used


def clip_suffix(suffix: str, budget: int, count_tokens: Callable[[str], int]) -> tuple[str, int]:
    """Keep the start of ``suffix`` that fits ``budget`` tokens, in whole lines.

    The rest of the cursor's line (up to and including its newline) is always
    kept. Returns ``(kept_text, tokens)``.
    """
    lines = _split_keepends(suffix)
    if not lines:
        return "", 0
    below, used = _take(lines[1:], budget, count_tokens, count_tokens(lines[0]))
    return lines[0] + "".join(below), used


def suffix_through_line(suffix: str, line: int) -> str:
    """``suffix`` up to the end of its 0-based line ``line`` (line 0: the rest of the cursor's
    line), with that line's line break; all of it if it has no more lines. ``line < 0`` keeps
    line 0."""
    end = -1
    for _ in range(max(line, 0) + 1):
        end = suffix.find("\n", end + 1)
        if end == -1:
            return suffix
    return suffix[: end + 1]


@dataclass(frozen=True)
class RepoFormat:
    """A model's repository-level prompt tokens (Qwen2.5-Coder: ``<|repo_name|>``, ``<|file_sep|>``)."""

    repo_name: str = "<|repo_name|>"
    file_sep: str = "<|file_sep|>"


def _clip_pinned(pinned: list[tuple[int, str]], budget: int, count_tokens: Callable[[str], int]) -> tuple[str, int]:
    """The pinned lines (in order) that fit ``budget`` tokens, joined as lines."""
    kept, used = _take((text + "\n" for _line, text in pinned), budget, count_tokens)
    return "".join(kept), used


def build_prompt(
    prefix: str,
    suffix: str,
    template: FimTemplate,
    count_tokens: Callable[[str], int],
    *,
    prefix_tokens: int = 1024,
    suffix_tokens: int = 256,
    pinned: list[tuple[int, str]] | None = None,
    files: list[tuple[str, str]] | None = None,
    current_path: str = "",
    repo: RepoFormat | None = None,
    repo_name: str = "",
    order: str = "psm",
    anchor_line: int | None = None,
) -> FimPrompt:
    """A FIM prompt that spends its budget on the nearest code first, plus context.

    Args:
        prefix / suffix: the document text before / after the cursor.
        template: the model's FIM strings.
        count_tokens: the model's token counter (tokens per string).
        prefix_tokens / suffix_tokens: budgets in tokens; text is dropped at
            line boundaries, farthest from the cursor first (see :func:`clip_prefix`).
        pinned: ``(line, text)`` lines of the document (0-based line numbers, in
            order) that the prompt keeps even when the prefix budget cuts the
            top of the file: the imports, then the headers of the enclosing
            class and function. A pinned line above the kept prefix is put at
            the start of the prefix; pinned lines are paid from the prefix
            budget first (at most half of it).
        files: ``(path, text)`` of other files' code for the prompt, put first
            in the repository format (``repo`` required); skipped without one.
        current_path: the current file's path, after the other files.
        repo_name: the repository name after ``repo.repo_name``.
        order: ``"psm"`` or ``"spm"`` (see :meth:`FimTemplate.render`).
        anchor_line: the previous prompt's ``first_line`` for this document. The
            prefix starts there again as long as that costs at most
            :data:`STICKY_PREFIX_FACTOR` times ``prefix_tokens``: when the cursor
            moves down, the start of the prompt, and the KV cache of everything up
            to the previous cursor, stay put, and only the lines in between are new.
            Otherwise (or with ``None``) the prefix is cut to its budget again.

    Layout with files (Qwen2.5-Coder repository-level FIM, arXiv:2409.12186)::

        <|repo_name|>name\n<|file_sep|>a.py\n...<|file_sep|>cur.py\n<|fim_prefix|>...

    Without ``files`` and ``pinned`` this is the plain FIM prompt of the clipped prefix and suffix.
    """
    head = ""
    context = 0
    if files and repo is not None:
        parts = [f"{repo.repo_name}{repo_name}\n"] if repo.repo_name else []
        for path, text in files:
            parts.append(f"{repo.file_sep}{path}\n{text}")
        parts.append(f"{repo.file_sep}{current_path}\n")
        head = "".join(parts)
        context += sum(count_tokens(text) for _path, text in files)
    pinned_text, pinned_used = _clip_pinned(list(pinned or ()), prefix_tokens // 2, count_tokens)
    anchored = None if anchor_line is None else prefix_from(prefix, anchor_line, STICKY_PREFIX_FACTOR * prefix_tokens - pinned_used, count_tokens)
    kept_prefix, p_used = anchored or clip_prefix(prefix, prefix_tokens - pinned_used, count_tokens)
    first_kept = prefix.count("\n") - kept_prefix.count("\n")
    if pinned:
        above = [(line, text) for line, text in pinned if line < first_kept]
        pinned_text, pinned_used = _clip_pinned(above, prefix_tokens // 2, count_tokens)
        if pinned_text:
            kept_prefix = pinned_text + kept_prefix
            context += pinned_used
    kept_suffix, s_used = clip_suffix(suffix, suffix_tokens, count_tokens)
    return FimPrompt(head + template.render(kept_prefix, kept_suffix, order), kept_prefix, kept_suffix, p_used, s_used, context, first_kept)

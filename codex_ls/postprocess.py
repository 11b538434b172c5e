"""Turning raw model output into text that is safe to show.

Pure: :func:`postprocess` takes the generated text, the
:class:`~codex_ls.stops.CursorContext` and an optional syntax check, and
returns the text to insert at the cursor, or ``""`` when nothing good is
left. Steps, in order:

1. strip chat artefacts of instruct models (Markdown code fences);
2. drop text that repeats what follows the cursor (the rest of the line in
   line mode; the next lines in block mode);
3. trim trailing whitespace; whitespace alone becomes ``""``;
4. keep the longest prefix of whole lines that passes the syntax check
   (inserted, it adds no tree-sitter ERROR/MISSING node to the document);
   lines inserted before the code of a line end with a line break.
"""

from __future__ import annotations

import re
from typing import Callable

from codex_ls.stops import CursorContext, indent_width, is_distinctive

_FENCE = re.compile(r"^[ \t]*```[\w+-]*[ \t]*$", re.MULTILINE)


def strip_fences(text: str) -> str:
    """Remove Markdown code fences; if a fenced block exists keep only its body.

    ``"```python\\nx = 1\\n```\\nSome prose"`` becomes ``"x = 1"``. Text without
    fences is returned unchanged.
    """
    fences = list(_FENCE.finditer(text))
    if not fences:
        return text
    first = fences[0]
    if first.start() > 0 and text[: first.start()].strip():
        # Code first, then a fence that starts prose or another block: keep the code.
        return text[: first.start()]
    body_start = first.end() + 1
    if len(fences) >= 2:
        return text[body_start : fences[1].start()]
    return text[body_start:]


def drop_suffix_overlap(text: str, ctx: CursorContext) -> str:
    """Cut the part of ``text`` that repeats what already follows the cursor: the rest of the
    cursor's line (line mode), or, from a line of ``text`` that is the first code line below
    the cursor (:attr:`~codex_ls.stops.CursorContext.next_lines`), everything from that line
    on.

    Such a line at another indentation width (columns, :func:`~codex_ls.stops.indent_width`)
    that more code of the answer follows is not a repeat but a line of the answer: in
    ``if n < 2:`` / hole / ``            return False``, the answer ``        return False``
    (8 columns), ``    for k in range(2, n):``, ``        if n % k == 0:`` fills the body the
    hole lacks, and the line below belongs to the block the answer goes on to open. As the
    answer's last line it is taken for a repeat (a one-line answer that only copies the line
    below one level deeper is wrong far more often than not)."""
    rest = ctx.line_suffix.strip()
    if ctx.mode == "line" and rest:
        stripped = text.rstrip()
        if stripped.endswith(rest):
            return stripped[: len(stripped) - len(rest)]
        return text
    if ctx.next_lines and is_distinctive(ctx.next_lines[0]):
        lines = text.split("\n")
        target = ctx.next_lines[0].strip()
        width = indent_width(ctx.next_lines[0])
        for i, line in enumerate(lines):
            whole = ctx.line_prefix + line if i == 0 else line
            if (i > 0 or ctx.mode == "block") and whole.strip() == target:
                if indent_width(whole) == width or not any(later.strip() for later in lines[i + 1 :]):
                    return "\n".join(lines[:i])
    return text


def postprocess(text: str, ctx: CursorContext, syntax_ok: Callable[[str], bool] | None = None) -> str:
    """The text to insert at the cursor, or ``""``.

    Args:
        text: what the model generated after the stop rules cut it.
        ctx: the cursor context the completion was generated for.
        syntax_ok: called with a candidate insertion; ``True`` when the
            document with it inserted has no more syntax errors than before.
            ``None`` skips the check (unknown language).
    """
    text = strip_fences(text)
    text = drop_suffix_overlap(text, ctx)
    if ctx.mode == "line":
        text = text.split("\n", 1)[0]
    text = text.rstrip()
    if not text.strip():
        return ""
    end = "\n" if ctx.insert_lines else ""  # new lines above existing code end with a line break
    if syntax_ok is None:
        return text + end
    lines = text.split("\n")
    for keep in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:keep]).rstrip() + end
        if candidate.strip() and syntax_ok(candidate):
            return candidate
    return ""

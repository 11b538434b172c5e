"""Where a completion should end: the completion mode and per-token stop rules.

Pure and server-free. :func:`analyze_cursor` looks at the text around the
cursor and decides the shape of the completion; :class:`StopRule` is called
after every generated token with the text so far and returns where to cut
once the completion is complete, so the engine stops early instead of
generating tokens that will be thrown away.

Rules (the quality issue refines them):

* **line** mode - the cursor's line already has code after the cursor: the
  completion ends at the end of the line.
* **statement** mode - the cursor's line has code before the cursor: one
  line, unless that line ends by opening a block (``:``, ``{``, ``(``, ``[``),
  in which case the block's body follows as in block mode.
* **block** mode - the cursor is on a blank line (or before the code of a
  line): lines at the cursor's indentation or deeper; the block ends at the
  first non-blank line indented less than the cursor (or, for an opened
  block, not deeper than its opener). In the middle of a block (code at the
  same depth follows) only one statement, plus the body it opens.
* In every mode a closing bracket that the generated text did not open ends
  the completion (the suffix already has it), and so does a line that
  repeats the next non-blank line after the cursor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["line", "statement", "block"]

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}
BLOCK_OPENING_ENDS = (":", "{", "(", "[", "=>")


def indent_width(line: str, tab_size: int = 4) -> int:
    """Width of the leading whitespace of ``line`` in columns (tabs = ``tab_size``)."""
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += tab_size - width % tab_size
        else:
            break
    return width


@dataclass(frozen=True)
class CursorContext:
    """The text around the cursor, as the stop rules need it.

    Attributes:
        line_prefix: the cursor's line up to the cursor.
        line_suffix: the cursor's line after the cursor (no line break).
        next_lines: the next few non-blank lines after the cursor's line.
        mode: see the module docstring.
        depth: brackets open at the cursor that the suffix does not close;
            the completion may close that many.
        line_comment: the language's line comment marker.
        insert_lines: the cursor is at the start of a line of code (only
            whitespace before it): the completion is whole new lines inserted
            above that code, so it ends with a line break.
    """

    line_prefix: str
    line_suffix: str
    next_lines: tuple[str, ...]
    mode: Mode
    depth: int = 0
    line_comment: str = "#"
    insert_lines: bool = False

    @property
    def mid_block(self) -> bool:
        """Block mode with code after the cursor at the same depth or deeper: complete one
        statement (and the body it opens), not a run of statements that the code below may
        already hold."""
        return self.mode == "block" and bool(self.next_lines) and indent_width(self.next_lines[0]) >= self.cursor_indent

    @property
    def below_indent(self) -> int | None:
        """Indentation (columns) of the first code line below the cursor (the line the cursor
        is before, when whole lines are inserted above it); ``None`` without one."""
        if self.insert_lines:
            return indent_width(self.line_prefix + self.line_suffix)
        return indent_width(self.next_lines[0]) if self.next_lines else None

    @property
    def cursor_indent(self) -> int:
        """Indentation (columns) that bounds a block completion.

        The cursor's indentation; when the cursor sits in column 0 of a blank
        line, or before the code of a line, the indentation of the code that
        follows (the user has not indented yet, or inserts above that code).
        """
        if self.insert_lines:
            return max(indent_width(self.line_prefix), indent_width(self.line_suffix))
        if not self.line_prefix and self.next_lines:
            return indent_width(self.next_lines[0])
        return indent_width(self.line_prefix)


def analyze_cursor(prefix: str, suffix: str, lookahead: int = 3, line_comment: str = "#") -> CursorContext:
    """Build the :class:`CursorContext` for the hole between ``prefix`` and ``suffix``."""
    line_prefix = prefix[prefix.rfind("\n") + 1 :]
    nl = suffix.find("\n")
    line_suffix = suffix if nl == -1 else suffix[:nl]
    line_suffix = line_suffix.rstrip("\r")
    rest = "" if nl == -1 else suffix[nl + 1 :]
    next_lines: list[str] = []
    for line in rest.split("\n"):
        if line.strip():
            next_lines.append(line.rstrip("\r"))
            if len(next_lines) >= lookahead:
                break
    insert_lines = False
    if line_suffix.strip() and not line_prefix.strip():
        # Before the code of a line: insert whole lines above it.
        mode: Mode = "block"
        insert_lines = True
        next_lines.insert(0, line_suffix)
        del next_lines[lookahead:]
    elif line_suffix.strip():
        mode = "line"
    elif line_prefix.strip():
        mode = "statement"
    else:
        mode = "block"
    depth = open_depth(prefix, suffix, line_comment)
    return CursorContext(line_prefix, line_suffix, tuple(next_lines), mode, depth, line_comment, insert_lines)


def bracket_scan(text: str, depth: int = 0, line_comment: str = "#") -> tuple[int | None, int, int]:
    """Scan ``text`` for a closing bracket that takes the depth below 0.

    Brackets inside single-line string literals and line comments
    (``line_comment``) are ignored. Returns ``(index of the first closer
    below depth 0 or None, depth at the end, number of closers below depth
    0)``; after such a closer the scan goes on from depth 0.
    """
    first: int | None = None
    unmatched = 0
    quote: str | None = None
    escaped = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote or (ch == "\n" and quote != "`"):
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in OPENERS:
            depth += 1
        elif ch in CLOSERS:
            depth -= 1
            if depth < 0:
                if first is None:
                    first = i
                unmatched += 1
                depth = 0
        elif line_comment and text.startswith(line_comment, i):
            j = text.find("\n", i)
            if j == -1:
                break
            i = j
            continue
        i += 1
    return first, depth, unmatched


def open_depth(prefix: str, suffix: str, line_comment: str = "#", window_lines: int = 200) -> int:
    """Brackets the prefix leaves open that the suffix does not close (>= 0).

    Only the ``window_lines`` lines on each side of the cursor are scanned.
    """
    near_prefix = "\n".join(prefix.split("\n")[-window_lines:])
    _, opened, _ = bracket_scan(near_prefix, 0, line_comment)
    near_suffix = "\n".join(suffix.split("\n")[:window_lines])
    _, _, closed = bracket_scan(near_suffix, 0, line_comment)
    return max(0, opened - closed)


@dataclass
class StopRule:
    """Per-token stop check for one completion (see the module docstring).

    Call it with the whole text generated so far; it returns ``None`` to go
    on, or the index (code points) to cut the text at. When generation ended
    for another reason (end token, token limit, time), :meth:`decide` with
    ``finished=True`` gives the final cut.

    Attributes:
        ctx: the cursor context.
        max_lines: most lines of a multi-line completion.
        floor: indentation (columns) below which no completed line may go:
            the body level of the enclosing top-level definition (0 at module level),
            or, with code below the cursor, of the innermost function around the cursor
            if that is deeper, but not deeper than that code (see :func:`completion_floor`).
        look_past: in block mode with code below the cursor, how many lines to go
            on generating after the conservative end (one statement in the middle
            of a block, or the block's dedent) while looking for the model to
            repeat the first line below the cursor: a repeat means the model has
            filled the hole, and the completion is cut right before it (so a
            multi-line hole gets all its lines). Without a repeat the
            conservative end stands. 0 turns this off.
        seen: the longest text the rule has been asked about (the whole generation once it
            has ended); :meth:`longer_cuts` reads it.
    """

    ctx: CursorContext
    max_lines: int = 12
    floor: int = 0
    look_past: int = 0
    seen: str = field(default="", repr=False)

    def __call__(self, text: str) -> int | None:
        return self.decide(text, finished=False)

    def decide(self, text: str, finished: bool = True, ended: bool = False) -> int | None:
        """The cut for ``text``; ``None`` (only while not ``finished``) to go on generating.

        ``ended``: the model ended the text itself (an end-of-generation token): a model
        trained for fill-in-the-middle says so when the middle joins the code below, so the
        lines it wrote past the conservative end are kept, as if it had then repeated the code
        below, within the same limits (``look_past`` lines, the enclosing body, brackets).
        """
        if len(text) > len(self.seen):
            self.seen = text
        cut = self._conservative(text)
        ctx = self.ctx
        target = ctx.next_lines[0].strip() if ctx.next_lines else ""
        target_indent = ctx.below_indent or 0  # the first code line below the cursor, as a whole line
        if (
            cut is None
            or not self.look_past
            or ctx.mode != "block"
            or not is_distinctive(target)
            or (cut < len(text) and text[cut] != "\n")
        ):
            return cut if cut is not None or not finished else len(text)
        # Look past the conservative end for a repeat of the code below the cursor.
        pos = cut + 1
        lines_done = text.count("\n", 0, cut) + 1
        extra = 0
        while pos <= len(text):
            end = text.find("\n", pos)
            line = text[pos:] if end == -1 else text[pos:end]
            stripped = line.strip()
            if stripped:
                if indent_width(line) == target_indent and _repeats(stripped, target, complete=end != -1, finished=finished):
                    return pos - 1
                if indent_width(line) < self.floor:
                    return cut  # its indentation is known from its first character: out of the enclosing body
            if end == -1:
                return len(text) if ended and finished else cut if finished else None
            extra += 1
            lines_done += 1
            if extra > self.look_past or lines_done >= self.max_lines:
                return cut
            cut_bracket, _, _ = bracket_scan(text[: end + 1], ctx.depth, ctx.line_comment)
            if cut_bracket is not None and cut_bracket > cut:
                return cut
            pos = end + 1
        return len(text) if ended and finished else cut if finished else None

    def longer_cuts(self, cut: int) -> list[int]:
        """Cuts (code-point indices into :attr:`seen`) that keep more of what the model wrote
        than ``cut``: the end of each complete line after it, shortest first, up to
        ``look_past`` lines (at least one) and :attr:`max_lines` in all, stopping at a line
        that goes below :attr:`floor`.

        For a completion whose cut answer was refused (it breaks the syntax, most often a
        block header left without its body where the code below is the rest of that block:
        ``for b in brackets:`` above ``else:``): the model often wrote the missing lines before
        the rule stopped it, and the shortest longer answer that the checks accept is worth
        more than no answer. Block mode only (``[]`` otherwise).
        """
        if self.ctx.mode != "block":
            return []
        text = self.seen
        cuts: list[int] = []
        lines_done = text.count("\n", 0, cut) + 1
        pos = cut
        while len(cuts) < max(1, self.look_past) and lines_done < self.max_lines:
            start = text.find("\n", pos)
            if start == -1:
                break
            end = text.find("\n", start + 1)
            if end == -1:
                break
            line = text[start + 1 : end]
            if line.strip() and indent_width(line) < self.floor:
                break
            lines_done += 1
            pos = end
            if line.strip():
                cuts.append(end)
        return cuts

    def expected(self, text: str) -> str | None:
        """What the model is expected to write after ``text`` (generated so far), when a line
        of it after the first may be repeating the first code line below the cursor (the
        *target*); else ``None``:

        * at the start of such a line: the target's indentation and first word;
        * once the line has begun the target, code included: the rest of the target and its
          line break.

        A model that has filled the hole goes on with the code below it. The engine checks
        the expected text in one batch (:attr:`codex_ls.engines.base.GenerationRequest.expected`)
        instead of one step per token, and the repeat then ends the completion (see
        :meth:`decide`). Only the first word is expected at a line start: a model writing
        another line there rejects it at once, so the batch it costs stays small.
        Block mode only, with a target worth matching (:func:`is_distinctive`).
        """
        ctx = self.ctx
        if ctx.mode != "block" or not ctx.next_lines:
            return None
        nl = text.rfind("\n")
        if nl == -1:
            return None
        partial = text[nl + 1 :]
        target = ctx.line_prefix + ctx.line_suffix if ctx.insert_lines else ctx.next_lines[0]
        if not is_distinctive(target):
            return None
        if not partial:
            code = len(target) - len(target.lstrip())
            m = _FIRST_WORD.match(target, code)
            return target[: m.end()] if m else None
        if not partial.strip() or len(partial) >= len(target) or not target.startswith(partial):
            return None
        return target[len(partial) :] + "\n"

    def _conservative(self, text: str) -> int | None:
        ctx = self.ctx
        cut_bracket, _, _ = bracket_scan(text, ctx.depth, ctx.line_comment)
        nl = text.find("\n")
        if ctx.mode == "line":
            cuts = [c for c in (cut_bracket, nl if nl != -1 else None) if c is not None]
            return min(cuts) if cuts else None
        if nl == -1:
            return cut_bracket
        # The first line is complete: does it open a block?
        first_line = ctx.line_prefix + text[:nl]
        if cut_bracket is not None and cut_bracket < nl:
            return cut_bracket
        opened = first_line.rstrip().endswith(BLOCK_OPENING_ENDS)
        if ctx.mid_block and not first_line.strip():
            return nl  # mid-block, the model wants a blank line first: nothing useful to show
        if (ctx.mode == "statement" or ctx.mid_block) and not opened:
            return nl
        if ctx.mid_block and indent_width(ctx.next_lines[0]) > indent_width(first_line):
            return nl  # the code below is deeper: it is the body of the line being written
        if opened and (ctx.mode == "statement" or ctx.mid_block):
            threshold = indent_width(first_line)  # body lines must be deeper
            strict = False
        else:
            # lines may stay at the cursor's indentation (at the end of a file: the enclosing body's)
            threshold = ctx.cursor_indent if ctx.next_lines or ctx.line_prefix else max(ctx.cursor_indent, self.floor)
            strict = True
        # Walk the complete lines after the first one.
        pos = nl + 1
        lines_done = 1
        while True:
            end = text.find("\n", pos)
            if end == -1:
                # The last line is incomplete, but its indentation is known from its first
                # character: a dedent ends the block now, not after the rest of the line
                # (a closing bracket may still be kept: wait for its line's end).
                line = text[pos:]
                if line.strip() and line.lstrip()[:1] not in CLOSERS:
                    width = indent_width(line)
                    if (width < threshold) if strict else (width <= threshold):
                        return pos - 1
                break
            line = text[pos:end]
            if line.strip():
                width = indent_width(line)
                if (width < threshold) if strict else (width <= threshold):
                    if not strict and line.lstrip()[:1] in CLOSERS and bracket_scan(text[:pos], 0, ctx.line_comment)[1] > 0:
                        return end  # the closer of the block the completion opened: keep it, then stop
                    return pos - 1  # cut before the line break that starts the dedented line
                if ctx.next_lines and is_distinctive(line) and line.strip() == ctx.next_lines[0].strip():
                    return pos - 1  # the model started repeating the code after the cursor
            if cut_bracket is not None and cut_bracket < end:
                return _cut_line_start(text, cut_bracket)
            lines_done += 1
            if lines_done >= self.max_lines:
                return end
            pos = end + 1
        if cut_bracket is not None:
            return _cut_line_start(text, cut_bracket)
        return None


_FIRST_WORD = re.compile(r"\w+|[^\w\s]+")
"""A line's first word: a run of word characters, or else of punctuation (``})``, ``#``)."""

REPEAT_MIN_CHARS = 12
"""A line left incomplete when generation ended that is a prefix of the line below the cursor,
this long or longer (or as long as that line), counts as repeating it."""


def _repeats(line: str, target: str, complete: bool, finished: bool = True) -> bool:
    """Whether a generated line (stripped) repeats ``target`` (stripped).

    A complete line must equal it. An incomplete line counts only once generation has ended
    (``finished``: the token limit or the time budget cut it) and it is a long enough prefix of
    the target (:data:`REPEAT_MIN_CHARS`); while the model is still writing, its line is not
    judged before its end. Code that repeats itself line after line (``elif gpa > 3.7:`` arms,
    ``temp.append(grid[i][j - 1])`` next to ``temp.append(grid[i][j + 1])``) has many lines that
    begin like the code below and end otherwise; judged early, a prefix of one cut the hole
    there. On the 970 HumanEval multi-line tasks of ``--shard 1/12`` and ``2/12``, 79 have a
    hidden line, after the first, that shares 12 or more leading characters with the first line
    below the hole without being it, and 3 of them passed while prefixes counted. A model that
    does repeat the target finishes that line in one batch
    (:attr:`codex_ls.engines.base.GenerationRequest.expected`), so waiting costs little.

    Not sooner either: a line that only begins like the code below (``if char == '<':`` above
    ``if depth < 0:``) is often the next line of a longer hole. Counting the target's first
    word as a repeat on the first line past the conservative end was measured and dropped:
    ``benchmarks/humaneval_infilling.py --set multi --limit 120`` went from 37 to 35 tasks
    passed (single-line, seeded 200: 146 to 145) for 3% less latency."""
    if complete:
        return line == target
    return finished and target.startswith(line) and len(line) >= min(len(target), REPEAT_MIN_CHARS)


def completion_floor(prefix: str, ctx: CursorContext, function_body: int | None) -> int:
    """The :attr:`StopRule.floor` for a completion at the end of ``prefix``.

    :func:`body_floor`; with code below the cursor and ``function_body``, the body level of the
    innermost function or method around the cursor
    (:func:`codex_ls.context.function_body_indent`), if deeper, capped at the code below's
    indentation. A hole inside a method is filled by lines of that method: a line at the class
    body's level (the model has finished the method and begun the next one, ``    def
    _split_text(self, text):``) cannot come before the rest of the method, so looking past the
    conservative end for a repeat of the code below stops there. The cap keeps a hole at the end
    of an inner function open to the outer body, where the code below goes on.
    """
    floor = body_floor(prefix)
    below = ctx.below_indent
    if below is None or function_body is None:
        return floor
    return max(floor, min(function_body, below))


def body_floor(prefix: str, window_lines: int = 400) -> int:
    """The body level (columns) of the top-level definition the cursor is in; 0 outside one.

    The indentation of the first code line after the last line of the prefix
    that starts with code in column 0, when that line opens a block (ends with
    ``:``, ``{`` or ``(``... see ``BLOCK_OPENING_ENDS``) or a decorator/signature continues;
    only the last ``window_lines`` lines are read.
    """
    lines = prefix.split("\n")[-window_lines:]
    body = 0
    for line in reversed(lines[:-1]):
        if not line.strip():
            continue
        width = indent_width(line)
        if width == 0:
            return body if line[:1] not in "#)]}" or body else 0
        body = width
    return 0


def is_distinctive(line: str) -> bool:
    """A line worth matching against the suffix: it has a letter or digit (not just ``}`` or ``);``)."""
    return any(ch.isalnum() for ch in line)


def _cut_line_start(text: str, index: int) -> int:
    """Cut before an unmatched closing bracket; if only whitespace precedes it on its line, cut the line break too."""
    line_start = text.rfind("\n", 0, index)
    if line_start != -1 and not text[line_start + 1 : index].strip():
        return line_start
    return index


def indent_unit(text: str, default: int = 4, window_lines: int = 400) -> str:
    """The document's indentation step: ``"\\t"`` if lines indent with tabs, else the most
    common positive indentation increase (in spaces, 1 to 8) from the start of a statement
    that opens a block (its code ends with ``:`` or ``{``) to the next code line; ties go to
    the smaller step.

    Only block openers count because the other increases are not steps: continuation lines
    inside an open ``(`` or ``[`` (``num = [1, 4,`` then 11 spaces; a parameter list) and
    the indented examples of a docstring. Continuation lines and lines inside a
    triple-quoted string are skipped (a statement's indentation is that of its first line).
    Without any block opener, every increase between consecutive code lines counts. Only
    the first ``window_lines`` lines are read; ``" " * default`` when none indents.
    """
    after_opener: dict[int, int] = {}
    any_increase: dict[int, int] = {}
    tabs = spaces = 0
    prev: int | None = None
    opener = False
    in_string = False
    depth = 0  # ( and [ left open by the lines so far; braces are block delimiters in C-like code
    for line in text.split("\n", window_lines)[:window_lines]:
        quotes = line.count('"""') + line.count("'''")
        if in_string:
            in_string = quotes % 2 == 0  # the line that closes the string is inside it too
            continue
        if not line.strip():
            continue
        code = _code_part(_code_part(line, "#"), "//")
        if not code:
            continue  # a comment line
        continued = depth > 0
        _, depth, _ = bracket_scan(code.translate(_NO_BRACES), depth, "")
        in_string = quotes % 2 == 1
        if continued:
            opener = opener or (not in_string and code.endswith((":", "{")))
            continue
        if line.startswith("\t"):
            tabs += 1
        elif line.startswith(" "):
            spaces += 1
        width = indent_width(line)
        if prev is not None and 0 < width - prev <= 8:
            any_increase[width - prev] = any_increase.get(width - prev, 0) + 1
            if opener:
                after_opener[width - prev] = after_opener.get(width - prev, 0) + 1
        prev = width
        opener = not in_string and code.endswith((":", "{"))
    if tabs > spaces:
        return "\t"
    counts = after_opener or any_increase
    if not counts:
        return " " * default
    return " " * max(counts, key=lambda k: (counts[k], -k))


_NO_BRACES = str.maketrans("{}", "  ")


_DOCSTRING_END = ('"""', "'''")


def indentation_hint(prefix: str, ctx: CursorContext, unit: str) -> str | None:
    """The exact indentation the first completed line must have, when Python's rules fix it.

    For a block completion on a blank line (or inserted above a line of code),
    with ``prev`` the last code line before the cursor and ``next`` the first
    code line after it:

    * ``prev`` opens a block (ends with ``:``): the new line is the first
      statement of that body: ``prev``'s indentation plus ``unit`` (or
      ``next``'s, if it is deeper than ``prev`` but less than that).
    * ``next`` is deeper than ``prev`` and ``prev`` opens nothing: the new line
      must open ``next``'s block, and with a consistent step it can only sit at
      ``prev``'s level.
    * ``prev`` ends a docstring: the body goes on at the docstring's level.

    Returns the whitespace string, or ``None`` when the indentation is the
    model's choice (a dedent may end a block there), and always ``None`` when
    ``prev`` leaves a bracket open (``value_map = {``): the new line continues
    that expression, where the block rules above do not apply. Python only;
    brace languages do not need it.
    """
    if ctx.mode != "block" or ctx.line_prefix.strip():
        return None
    lines = prefix.split("\n")[:-1]
    prev = next((line for line in reversed(lines) if line.strip()), None)
    if prev is None:
        return None
    prev_ws = prev[: len(prev) - len(prev.lstrip())]
    code = prev.split(" #", 1)[0].rstrip() if "#" in prev else prev.rstrip()
    following = ctx.next_lines[0] if ctx.next_lines else None
    next_w = indent_width(following) if following is not None else None
    prev_w = indent_width(prev)
    if bracket_scan(code, 0, "#")[1] > 0:
        return None  # inside the brackets prev opened
    if code.endswith(":") and not code.lstrip().startswith(("#", "lambda")):
        body = prev_ws + unit
        if following is not None and prev_w < next_w < indent_width(body):
            return following[:len(following) - len(following.lstrip())]
        return body
    if following is not None and next_w > prev_w:
        return prev_ws
    if code.lstrip().startswith(_DOCSTRING_END) or (code.endswith(_DOCSTRING_END) and code.count(code[-3:]) % 2 == 1):
        return prev_ws
    return None


def indentation_levels(prefix: str, ctx: CursorContext, window_lines: int = 200) -> list[str]:
    """The indentations a new Python line at the cursor may take when Python's rules leave
    the choice open (:func:`indentation_hint` returns ``None``): deepest first.

    From the last code line before the cursor upwards, each code line less indented than
    all below it gives a level (the body of the last block goes on, or an enclosing block
    does, after a dedent). With a next code line at width ``n``, the levels at ``n`` or
    deeper are kept, and the one level just below ``n`` (a line there must open the block
    that the next line is the body of). Only levels that start with what the cursor's line
    already holds. Returns the whitespace strings as written in the document; ``[]`` unless
    the cursor is at the start of a block completion.
    """
    if ctx.mode != "block" or ctx.line_prefix.strip():
        return []
    levels: list[str] = []
    width: int | None = None
    for line in reversed(prefix.split("\n")[:-1][-window_lines:]):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        w = indent_width(line)
        if width is None or w < width:
            levels.append(line[: len(line) - len(line.lstrip())])
            width = w
            if w == 0:
                break
    if ctx.next_lines:
        n = indent_width(ctx.next_lines[0])
        levels = [lv for lv in levels if indent_width(lv) >= n] + [lv for lv in levels if indent_width(lv) < n][:1]
    return [lv for lv in levels if lv.startswith(ctx.line_prefix)]


def _code_part(line: str, line_comment: str) -> str:
    """``line`` without a trailing line comment (a comment marker after whitespace) and trailing space."""
    if line_comment and line_comment in line:
        if line.lstrip().startswith(line_comment):
            return ""
        line = line.split(" " + line_comment, 1)[0]
    return line.rstrip()


def block_steps(text: str, opener: str, line_comment: str = "#") -> set[int]:
    """The indentation steps (columns) ``text`` uses for block bodies: for every code line that
    ends with ``opener`` (a block header: ``":"`` in Python, ``"{"`` in brace languages), how much
    deeper the next code line is, when it is deeper. Comment lines are skipped.

    PEP 8 and every formatter use one step (:func:`indent_unit`); some code uses two somewhere
    (HumanEval/95's ``elif ...:`` body), and then a completion may too.
    """
    steps: set[int] = set()
    header: int | None = None
    for line in text.split("\n"):
        code = _code_part(line, line_comment)
        if not code.strip():
            continue
        width = indent_width(line)
        if header is not None and width > header:
            steps.add(width - header)
        header = width if code.endswith(opener) else None
    return steps


def header_body_jump(head: str, tail: str, opener: str, line_comment: str = "#") -> int:
    """How many columns deeper than an insertion's block header the next code line is (0 when
    the insertion does not end with a header, no code line follows, or it is not deeper).

    ``head`` is the document's text from the start of the cursor's line to the end of the
    insertion, ``tail`` the text after the cursor. The insertion's last code line (with the rest
    of the cursor's line, if the insertion ends inside it) is the header when it ends with
    ``opener`` (``":"`` in Python, ``"{"`` in brace languages). Only the lines of ``tail`` up to
    its first code line are read.

    A jump larger than every body step the document uses (:func:`block_steps`, at least
    :func:`indent_unit`) means a level is missing: the body below belongs to a header the
    insertion did not write (``for char in text:`` above ``            if depth == 0:``, 12
    columns, 8 deeper, lacks the ``if char == ")":`` between them). Python accepts any deeper
    body and tree-sitter parses it, so only the indentation tells (HumanEval multi-line
    infilling, ``--shard 1/12`` to ``3/12`` of the full set: 61 of the 65 answers with this fault
    failed their tests, 1 timed out).
    """
    if head.endswith("\n"):
        upto, below = head[:-1], tail
    else:
        rest_of_line, _, below = tail.partition("\n")
        upto = head + rest_of_line
    last = next((line for line in reversed(upto.split("\n")) if _code_part(line, line_comment)), None)
    if last is None or not _code_part(last, line_comment).endswith(opener):
        return 0
    start = 0
    while start <= len(below):
        end = below.find("\n", start)
        line = below[start:] if end == -1 else below[start:end]
        if _code_part(line, line_comment):
            return max(0, indent_width(line) - indent_width(last))
        if end == -1:
            break
        start = end + 1
    return 0


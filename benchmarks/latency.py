"""Inline completion latency through the real server, as an editor drives it.

What it measures, per file and per server, with median and 95th percentile:

* ``pause``: the user stops typing inside a function body and waits. The
  document is opened once; for each sampled position (moving forward through
  the file) one incremental ``didChange`` restores the line cut for the
  previous position and deletes the rest of this line (as if the user had
  typed up to the cursor), then one ``textDocument/inlineCompletion`` is sent
  and awaited. Latency (ms) = request sent to answer received. Also counted: *exact
  lines*, answers whose first line is exactly the rest of the line in the real file
  (a check that latency work does not change what is suggested).
* ``typing``: a real line of the file is deleted (after its indentation) and
  typed again character by character, one incremental ``didChange`` per
  keystroke at ``--cps`` characters per second (real sleeps), with one
  ``inlineCompletion`` per keystroke sent without waiting for the previous
  answer (as VS Code does; by default the previous request, if unanswered, is
  also cancelled with ``$/cancelRequest`` as VS Code does). An answer that
  arrives after a newer keystroke, or is a ``RequestCancelled`` error, is
  *discarded* (the editor would drop it); the others are *kept* (*shown* if
  they hold a suggestion, else *empty*). Reported: ``typing-word``: for each
  keystroke that ends a word, the time (ms) from that keystroke to the first
  suggestion shown, for that state or, when its own answer was discarded or
  empty, for a later state of the same line (word ends never followed by one
  are counted, not timed); ``typing-key``: keystroke to its own answer (ms),
  kept answers, for the keystrokes that are not typing-through; ``typing-through``: keystrokes that typed exactly the next
  character of the suggestion shown last (the server can answer those from
  its cache), keystroke to its own answer (ms), kept answers. Also the model
  runs logged while typing (cancelled ones included) and the prompt tokens
  they evaluated per keystroke.
* ``accept``: the user writes the rest of a function by accepting suggestions.
  At a sampled line of a function body, the rest of the body (from the line's
  indentation to the end of the body's last statement) is deleted and one
  request made there. Then, ``--accept-steps`` times while a suggestion is
  shown: the user reads it for ``--read-ms`` (1,350 ms: the mental preparation
  operator M of the keystroke-level model, Card, Moran & Newell, 1980), accepts
  it (one ``didChange`` inserting it, and the request an editor sends right
  after an accept, cancelled if unanswered at the next keystroke), and 200 ms
  later (the keystroke operator K) presses Enter (a ``didChange`` with a line break and the indentation an editor
  gives: the last line's, one level more after a line that opens a block, as
  :func:`codex_ls.prefetch.next_line_indent` writes it, so this editor indents
  as the server predicts) and sends the request that is timed: ``accept`` =
  Enter's request to its answer (ms). The server may prepare that answer while
  the user reads (``completion.prefetch``): such an answer logs no model run.
  The prefetches' own model runs (``prefetch ...`` debug lines) are counted, with
  the prompt tokens they evaluated and the tokens they generated: their CPU cost.
* ``cold``: a fresh server per run: process start to the first completion
  (ms), the document opened and the request sent right after ``initialize``
  (the server waits for its model); also the model load time (ms).
* Memory and tokens: the peak resident set size of each server process
  (``VmHWM`` from ``/proc/<pid>/status``, bytes; psutil's current RSS where
  there is no ``/proc``), and per request the prompt tokens, the prompt tokens
  the engine evaluated (what was not in its KV cache) and the generated
  tokens, from the server's debug line ``completion <uri> mode=.. prompt=N
  eval=N gen=N Xms finish=.. shown=N chars`` (``logLevel: debug``, received as
  ``window/logMessage``). A request that logged no such line did not run the
  model (no suggestion possible here, or answered from a cache).
* ``no-reuse`` baseline in the same run: a second server with
  ``{"model": {"kvCacheReuse": false}}`` (a fresh KV cache per request) gets
  the same ``pause`` and ``typing`` work, interleaved per file with the
  ``reuse`` server so both see the same machine load; the ratio of medians
  (no-reuse / reuse) is printed.

Files: real source files from the standard library and installed packages,
not from this repository: Python ``textwrap.py`` (stdlib), JavaScript
``semver/classes/range.js`` (bundled with npm), Go ``persistent-https``
(shipped with git's documentation) or ``strings.go`` of a Go installation;
a language with no file found offline is skipped, and the output says so.
Positions are chosen with tree-sitter (:class:`codex_ls.documents.Document`):
lines inside function bodies, cut at a word boundary, never inside a string
or comment.

The server's stderr goes to a temporary log file (its path is printed), never
to an unread pipe. Each request has a timeout (``--request-timeout``); a
timed-out request is cancelled and counted, and the run goes on. The machine
is shared and noisy: compare ratios and medians, not single requests.

    python benchmarks/latency.py
    python benchmarks/latency.py --positions 8 --lines 1 --scenarios pause,typing
    python benchmarks/latency.py --file /usr/lib/python3.11/textwrap.py --no-baseline --json rows.json
    python benchmarks/latency.py --setting completion.fimOrder=spm --setting model.threads=1
    python benchmarks/latency.py --scenarios accept --accepts 8 --no-baseline --setting completion.prefetch=false
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/jsonfile.py

from jsonfile import write_json  # noqa: E402

from lsprotocol import types  # noqa: E402
from pygls.exceptions import JsonRpcRequestCancelled  # noqa: E402

from codex_ls.client import LspSession  # noqa: E402
from codex_ls.documents import Document  # noqa: E402

SCENARIOS = ("pause", "typing", "cold", "accept")

# The server's per-request debug line (codex_ls/completion.py); fields are parsed as key=value
# pairs so that extra fields added later do not break the parser.
LOG_RE = re.compile(r"completion (?P<uri>\S+) (?P<rest>.*\bprompt=\d+.*)")
PREFETCH_RE = re.compile(r"\bprefetch (?P<uri>\S+) (?P<rest>mode=.*\bprompt=\d+.*)")  # codex_ls/features/prefetch.py's runs
FIELD_RE = re.compile(r"(\w+)=(\S+)")
MS_RE = re.compile(r"(?:^|\s)(\d+(?:\.\d+)?)ms(?:\s|$)")
MODEL_READY_RE = re.compile(r"model ready: (?P<path>.+?) \((?P<ms>\d+) ms\)")

# Node types whose ``body`` field is a function body, per canonical language name.
_JS_FUNCTIONS = frozenset({
    "function_declaration", "function_expression", "function", "arrow_function", "method_definition",
    "generator_function_declaration", "generator_function",
})
FUNCTION_TYPES: dict[str, frozenset[str]] = {
    "python": frozenset({"function_definition"}),
    "javascript": _JS_FUNCTIONS,
    "typescript": _JS_FUNCTIONS,
    "tsx": _JS_FUNCTIONS,
    "go": frozenset({"function_declaration", "method_declaration", "func_literal"}),
    "rust": frozenset({"function_item", "closure_expression"}),
    "java": frozenset({"method_declaration", "constructor_declaration", "lambda_expression"}),
    "c": frozenset({"function_definition"}),
    "cpp": frozenset({"function_definition", "lambda_expression"}),
}
CUT_AFTER = " ([{.,"  # a cut point follows one of these and starts a token (a word boundary)
LINE_SKIP = ("#", "//", "/*", "*", "@", '"""', "'''")  # comment, decorator or docstring lines


# ---------------------------------------------------------------------------
# files and positions (pure)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (LSP's default position encoding)."""
    return len(text.encode("utf-16-le")) // 2


def default_files() -> tuple[list[Path], list[str]]:
    """Real Python, JavaScript and Go files found on this machine; notes for languages skipped.

    Python: the standard library's ``textwrap.py``. JavaScript: ``semver``'s
    ``classes/range.js`` as bundled with the installed npm. Go: ``strings.go``
    of a Go installation, else git's ``contrib/persistent-https/proxy.go``
    (shipped in Debian's git package).
    """
    files = [Path(textwrap.__file__)]
    notes: list[str] = []
    js: list[Path] = []
    npm = shutil.which("npm")
    if npm:
        js.append(Path(npm).resolve().parents[1] / "node_modules" / "semver" / "classes" / "range.js")
    js += [Path(p) / "npm" / "node_modules" / "semver" / "classes" / "range.js" for p in ("/usr/lib/node_modules", "/usr/local/lib/node_modules", "/opt/homebrew/lib/node_modules")]
    found = next((p for p in js if p.is_file()), None)
    if found:
        files.append(found)
    else:
        notes.append("JavaScript skipped: no npm-bundled semver/classes/range.js found offline (pass --file)")
    go: list[Path] = []
    goroot = os.environ.get("GOROOT")
    gobin = shutil.which("go")
    for root in ([goroot] if goroot else []) + ([str(Path(gobin).resolve().parents[1])] if gobin else []) + ["/usr/lib/go", "/usr/local/go"]:
        go.append(Path(root) / "src" / "strings" / "strings.go")
    go.append(Path("/usr/share/doc/git/contrib/persistent-https/proxy.go"))
    found = next((p for p in go if p.is_file()), None)
    if found:
        files.append(found)
    else:
        notes.append("Go skipped: no Go source found offline (no Go installation, no git contrib/persistent-https; pass --file)")
    return files, notes


@dataclass(frozen=True)
class Spot:
    """A cursor position: ``line`` (0-based), ``column`` (code points into the line), ``rest``
    (the text of the line after the cursor, which the user has not typed yet)."""

    line: int
    column: int
    rest: str

    def utf16_character(self, line_text: str) -> int:
        """The LSP character (UTF-16 code units) of the cursor in ``line_text``."""
        return utf16_len(line_text[: self.column])


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def function_body_lines(doc: Document) -> list[int]:
    """Rows (0-based) inside function bodies, after each function's first line, sorted."""
    if doc.tree is None or doc.language is None:
        return []
    kinds = FUNCTION_TYPES.get(doc.language.name)
    rows: set[int] = set()
    for node in _walk(doc.tree.root_node):
        if kinds is not None:
            if node.type not in kinds:
                continue
        elif "function" not in node.type and "method" not in node.type:
            continue
        body = node.child_by_field_name("body")
        if body is None:
            continue
        first = max(body.start_point[0], node.start_point[0] + 1)
        rows.update(range(first, body.end_point[0] + 1))
    return sorted(rows)


def _line_offsets(text: str) -> list[int]:
    """Code-point offset of the start of every line."""
    out = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            out.append(i + 1)
    return out


def _in_string_or_comment(doc: Document, byte: int) -> bool:
    """Whether a cursor at UTF-8 offset ``byte`` lies inside a string or comment node."""
    if doc.tree is None or byte <= 0:
        return False
    node = doc.tree.root_node.descendant_for_byte_range(byte - 1, byte)
    while node is not None:
        if ("string" in node.type or "comment" in node.type) and node.start_byte < byte < node.end_byte:
            return True
        node = node.parent
    return False


def candidate_spots(doc: Document) -> dict[int, list[Spot]]:
    """Cut points inside function bodies, by row: after the indentation or after a word
    boundary (after one of :data:`CUT_AFTER`, before a non-space), with a non-empty rest of line, not inside a string or
    comment; comment, decorator, docstring and closing-bracket lines are left out."""
    text = doc.text
    lines = text.split("\n")
    starts = _line_offsets(text)
    out: dict[int, list[Spot]] = {}
    for row in function_body_lines(doc):
        if row >= len(lines):
            continue
        line = lines[row].rstrip("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith(LINE_SKIP) or not any(c.isalnum() or c == "_" for c in stripped):
            continue
        indent = len(line) - len(line.lstrip())
        spots = []
        for k in range(indent, len(line)):
            if k != indent and (line[k - 1] not in CUT_AFTER or line[k] == " "):
                continue
            if not line[k:].strip():
                continue
            byte = len(text[: starts[row] + k].encode("utf-8"))
            if _in_string_or_comment(doc, byte):
                continue
            spots.append(Spot(row, k, line[k:]))
        if spots:
            out[row] = spots
    return out


def pause_spots(doc: Document, n: int, rng: random.Random) -> list[Spot]:
    """``n`` positions on distinct rows inside function bodies, in file order (seeded)."""
    by_row = candidate_spots(doc)
    rows = sorted(rng.sample(sorted(by_row), min(n, len(by_row))))
    return [rng.choice(by_row[r]) for r in rows]


def typing_lines(doc: Document, n: int, rng: random.Random, min_chars: int = 8, max_chars: int = 60) -> list[Spot]:
    """``n`` whole lines inside function bodies to retype, in file order (seeded): the spot is
    the end of the indentation and ``rest`` the line's text after it (``min_chars`` to
    ``max_chars`` characters, at least two words)."""
    by_row = candidate_spots(doc)
    lines = doc.text.split("\n")
    ok = []
    for row, spots in by_row.items():
        first = spots[0]
        line = lines[row].rstrip("\r")
        if first.column != len(line) - len(line.lstrip()):
            continue
        content = first.rest.rstrip()
        if min_chars <= len(content) <= max_chars and len(re.findall(r"\w+", content)) >= 2:
            ok.append(Spot(row, first.column, content))
    ok.sort(key=lambda s: s.line)
    chosen = sorted(rng.sample(range(len(ok)), min(n, len(ok))))
    return [ok[i] for i in chosen]


def accept_spots(doc: Document, n: int, rng: random.Random) -> list[tuple[Spot, tuple[int, int]]]:
    """``n`` line starts inside function bodies (in file order, seeded), each with the end
    ``(row, column)`` of the body's last statement: the ``accept`` scenario deletes from the
    spot to there. Lines of the body's last statement are left out (nothing after them)."""
    if doc.tree is None or doc.language is None:
        return []
    kinds = FUNCTION_TYPES.get(doc.language.name)
    by_row = candidate_spots(doc)
    lines = doc.text.split("\n")
    ends: dict[int, tuple[int, int]] = {}
    for node in _walk(doc.tree.root_node):
        if kinds is not None and node.type not in kinds:
            continue
        body = node.child_by_field_name("body")
        while body is not None and len(body.named_children) == 1 and body.named_children[0].type == "statement_list":
            body = body.named_children[0]  # tree-sitter-go: block > statement_list > statements
        if body is None or not body.named_children:
            continue
        last = body.named_children[-1]
        end = (last.end_point[0], len(doc.source.split(b"\n")[last.end_point[0]][: last.end_point[1]].decode("utf-8", "replace")))
        first = max(body.start_point[0], node.start_point[0] + 1)
        for row in range(first, last.start_point[0]):
            ends[row] = end  # inner functions come later in the walk: the innermost wins
    ok = []
    for row in sorted(by_row):
        if row not in ends:
            continue
        first = by_row[row][0]
        line = lines[row].rstrip("\r")
        if first.column == len(line) - len(line.lstrip()):
            ok.append((first, ends[row]))
    chosen = sorted(rng.sample(range(len(ok)), min(n, len(ok))))
    return [ok[i] for i in chosen]


def _after_insert(line: int, char16: int, text: str) -> tuple[int, int]:
    """The LSP position (UTF-16) after ``text`` is inserted at ``(line, char16)``."""
    parts = text.split("\n")
    if len(parts) == 1:
        return line, char16 + utf16_len(text)
    return line + len(parts) - 1, utf16_len(parts[-1])


def word_ends(content: str) -> list[int]:
    """States (number of characters typed) right after the last keystroke of each word."""
    word = lambda c: c.isalnum() or c == "_"  # noqa: E731
    return [i + 1 for i, c in enumerate(content) if word(c) and (i + 1 == len(content) or not word(content[i + 1]))]


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated ``q`` quantile (0..1) of ``values``."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# ---------------------------------------------------------------------------
# the client side: an LspSession with stderr to a file, debug lines, raw requests


def parse_log(message: str, pattern: re.Pattern = LOG_RE) -> dict | None:
    """The fields of a ``completion <uri> ... prompt=N eval=N gen=N Xms ...`` line (``pattern``
    :data:`PREFETCH_RE`: of a ``prefetch <uri> ...`` line), or ``None``."""
    m = pattern.search(message)
    if not m:
        return None
    fields: dict[str, Any] = dict(FIELD_RE.findall(m["rest"]))
    for key in ("prompt", "eval", "gen", "shown", "retries"):
        if key in fields:
            try:
                fields[key] = int(fields[key])
            except ValueError:
                pass
    ms = MS_RE.search(m["rest"])
    fields["engine_ms"] = float(ms.group(1)) if ms else None
    fields["uri"] = m["uri"]
    return fields


@dataclass
class LogEntry:
    t: float  # perf_counter seconds when received
    uri: str
    fields: dict
    claimed: bool = False


@dataclass
class Pending:
    """One ``inlineCompletion`` request in flight; times are ``perf_counter`` seconds."""

    msg_id: str
    uri: str
    line: int
    character: int
    t_sent: float
    future: asyncio.Future
    state: int = 0  # typing: characters typed when it was sent
    t_done: float | None = None
    result: types.InlineCompletionList | None = None
    error: BaseException | None = None
    status: str = "pending"  # shown | empty | stale | cancelled | error | timeout
    log: dict | None = None


# Runs the server command with its stderr (fd 2) appended to a file: exec keeps the pid.
_LAUNCHER = "import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT|os.O_APPEND, 0o600); os.dup2(fd, 2); os.close(fd); os.execvp(sys.argv[2], sys.argv[2:])"


class BenchSession(LspSession):
    """:class:`LspSession` whose server writes stderr to ``log_path``; keeps the server's
    ``completion ...`` debug lines and sends raw requests whose answer time is recorded."""

    def __init__(self, *, label: str, log_path: Path, server_cmd: list[str], **kwargs):
        super().__init__(server_cmd=[sys.executable, "-c", _LAUNCHER, str(log_path), *server_cmd], **kwargs)
        self.label = label
        self.log_path = log_path
        self.logs: list[LogEntry] = []
        self.prefetch_logs: list[LogEntry] = []
        self.model_path: str | None = None
        self.load_ms: float | None = None
        features = self.client.protocol.fm.features  # replace the base class's no-op handler
        features.pop(types.WINDOW_LOG_MESSAGE, None)

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def _log(params: types.LogMessageParams):
            fields = parse_log(params.message)
            if fields is not None:
                self.logs.append(LogEntry(time.perf_counter(), fields["uri"], fields))
                return
            fields = parse_log(params.message, PREFETCH_RE)
            if fields is not None:
                self.prefetch_logs.append(LogEntry(time.perf_counter(), fields["uri"], fields))
                return
            ready = MODEL_READY_RE.search(params.message)
            if ready:
                self.model_path, self.load_ms = ready["path"], float(ready["ms"])

    @property
    def pid(self) -> int | None:
        server = self.client._server
        return server.pid if server is not None else None

    def peak_rss_bytes(self) -> int | None:
        """Peak resident set size of the server process (bytes): ``VmHWM``, else psutil's RSS now."""
        pid = self.pid
        if pid is None:
            return None
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        try:
            import psutil

            return int(psutil.Process(pid).memory_info().rss)
        except Exception:
            return None

    def change(self, uri: str, edits: list[tuple[tuple[int, int], tuple[int, int], str]]) -> None:
        """One incremental ``didChange``: ``edits`` are ``((line, char), (line, char), text)`` in
        UTF-16 positions, applied in order."""
        self._versions[uri] = self._versions.get(uri, 0) + 1
        changes = [
            types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(line=s[0], character=s[1]), end=types.Position(line=e[0], character=e[1])),
                text=text,
            )
            for s, e, text in edits
        ]
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self._versions[uri]),
                content_changes=changes,
            )
        )

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))

    def request(self, uri: str, line: int, character: int, state: int = 0, on_done=None) -> Pending:
        """Send ``textDocument/inlineCompletion`` (automatic trigger) without waiting for it."""
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        )
        msg_id = str(uuid.uuid4())
        t = time.perf_counter()
        fut = self.client.protocol.send_request_async(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id)
        p = Pending(msg_id, uri, line, character, t, fut, state)

        def done(f: asyncio.Future) -> None:
            p.t_done = time.perf_counter()
            if f.cancelled():
                p.error = asyncio.CancelledError()
            elif f.exception() is not None:
                p.error = f.exception()
            else:
                result = f.result()
                if isinstance(result, list) or result is None:
                    result = types.InlineCompletionList(items=list(result or []))
                p.result = result
            if on_done is not None:
                on_done(p)  # classifies typing answers (kept or stale) at arrival time
            if p.error is None:  # an error answer (RequestCancelled) comes before its debug line, if any
                p.log = self._claim_log(p, kept=p.status in ("shown", "empty"))

        fut.add_done_callback(done)
        return p

    def _claim_log(self, p: Pending, kept: bool = True) -> dict | None:
        """The latest unclaimed debug line for ``p``'s document received while ``p`` was in
        flight (the server logs before it answers, and runs one model request at a time).

        The line carries no request id, so this is a heuristic when requests overlap
        (typing): a request cancelled with ``$/cancelRequest`` is answered at once and its
        engine work logs later, so a line with ``finish=cancelled`` is never given to an
        answer the editor kept (``kept``). Sequential requests (pause, cold) match exactly.
        """
        for entry in reversed(self.logs):
            if entry.t < p.t_sent:
                break
            if entry.uri == p.uri and not entry.claimed and not (kept and entry.fields.get("finish") == "cancelled"):
                entry.claimed = True
                return entry.fields
        return None

    def logged_between(self, uri: str, t0: float, t1: float) -> list[dict]:
        """Every debug line for ``uri`` received between ``t0`` and ``t1`` (perf_counter s)."""
        return [e.fields for e in self.logs if e.uri == uri and t0 <= e.t <= t1]

    def cancel(self, p: Pending) -> None:
        """``$/cancelRequest`` for ``p`` if it has not been answered."""
        if p.t_done is None and not self.client.stopped:
            self.client.cancel_request(types.CancelParams(id=p.msg_id))

    async def wait(self, p: Pending, timeout_s: float) -> Pending:
        """Wait for ``p``'s answer; on timeout, cancel it and mark it ``timeout``."""
        try:
            await asyncio.wait_for(asyncio.shield(p.future), timeout_s)
        except (asyncio.TimeoutError, TimeoutError):
            self.cancel(p)
            p.status = "timeout"
        except Exception:
            pass  # recorded by the done callback
        if p.status == "pending":
            p.status = classify(p)
        return p


def classify(p: Pending, newer_sent: bool = False) -> str:
    """``cancelled``/``error`` for an error answer, ``stale`` if a newer keystroke was sent
    before it arrived, else ``shown`` (an item) or ``empty``."""
    if p.error is not None:
        return "cancelled" if isinstance(p.error, (JsonRpcRequestCancelled, asyncio.CancelledError)) else "error"
    if newer_sent:
        return "stale"
    return "shown" if p.result is not None and p.result.items else "empty"


def ghost_text(p: Pending, line_text: str, column: int) -> str | None:
    """What a shown answer adds after the cursor (``column`` code points into ``line_text``),
    or ``None`` when its range does not start on the cursor's line at or before the cursor."""
    if p.result is None or not p.result.items:
        return None
    item = p.result.items[0]
    insert = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
    if item.range is None:
        return insert
    start = item.range.start
    cursor16 = utf16_len(line_text[:column])
    if start.line != p.line or start.character > cursor16:
        return None
    typed = line_text.encode("utf-16-le")[start.character * 2 : cursor16 * 2].decode("utf-16-le")
    return insert[len(typed):] if insert.startswith(typed) else None


# ---------------------------------------------------------------------------
# scenarios


@dataclass
class Row:
    """One request. Times in ms; tokens from the server's debug line (``None``: no model run)."""

    server: str
    file: str
    scenario: str  # pause | typing | cold
    kind: str = ""  # typing: start | key; cold: first
    line: int = 0
    character: int = 0
    state: int = 0  # typing: characters of the line typed
    char: str = ""  # typing: the key typed
    word_end: bool = False
    through: bool = False  # typing: the key typed the next character of the suggestion shown last
    status: str = ""
    latency_ms: float | None = None  # pause: request to answer; typing: keystroke to answer; cold: process start to answer
    word_ms: float | None = None  # typing, word ends: keystroke to the first suggestion shown for this or a later state
    line_model_runs: int | None = None  # typing, start row: model runs logged while the line was typed (cancelled ones too)
    line_eval_tokens: int | None = None  # typing, start row: prompt tokens they evaluated in all
    load_ms: float | None = None  # cold: process start to model ready
    prompt_tokens: int | None = None
    eval_tokens: int | None = None
    gen_tokens: int | None = None
    retries: int | None = None  # generations after the first (a refused answer asked for again); eval counts them all
    engine_ms: float | None = None
    finish: str | None = None
    shown: str = ""  # the suggestion (first 80 characters)
    expected: str = ""  # the rest of the line in the real file
    exact: bool | None = None  # pause: the suggestion's first line is exactly the rest of the line
    prefetch_runs: int | None = None  # accept, first rows: prefetch model runs logged for this spot
    prefetch_eval_tokens: int | None = None  # ... the prompt tokens they evaluated in all
    prefetch_gen_tokens: int | None = None  # ... and the tokens they generated


def _row(server: str, file: str, scenario: str, p: Pending, t_from: float, **kw) -> Row:
    r = Row(server, file, scenario, line=p.line, character=p.character, state=p.state, status=p.status, **kw)
    if p.t_done is not None and p.status != "timeout":
        r.latency_ms = (p.t_done - t_from) * 1000.0
    if p.log:
        r.prompt_tokens, r.eval_tokens, r.gen_tokens = p.log.get("prompt"), p.log.get("eval"), p.log.get("gen")
        r.retries = p.log.get("retries")
        r.engine_ms, r.finish = p.log.get("engine_ms"), p.log.get("finish")
    if p.result is not None and p.result.items:
        item = p.result.items[0]
        r.shown = (item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value)[:80]
    return r


def exact_line(p: Pending, rest: str) -> bool:
    """Whether the answer's first suggested line is exactly ``rest``, the rest of the cursor's
    line in the real file (line-level exact match, trailing spaces aside): a check that
    latency work (KV cache reuse, shifting) did not change what is suggested."""
    if p.result is None or not p.result.items:
        return False
    item = p.result.items[0]
    text = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
    first = text.split("\n", 1)[0].rstrip()
    return bool(first) and first == rest.rstrip()


async def run_pause(session: BenchSession, path: Path, text: str, spots: list[Spot], timeout_s: float) -> list[Row]:
    """The ``pause`` scenario on one file (see the module docstring)."""
    lines = [l.rstrip("\r") for l in text.split("\n")]  # positions never cover a CR of a CRLF file
    uri = session.open(path, text=text)
    rows: list[Row] = []
    prev: Spot | None = None
    try:
        for spot in spots:
            edits = []
            if prev is not None:  # restore the previous line
                at = (prev.line, prev.utf16_character(lines[prev.line]))
                edits.append((at, at, prev.rest))
            line = lines[spot.line]
            edits.append(((spot.line, spot.utf16_character(line)), (spot.line, utf16_len(line)), ""))
            session.change(uri, edits)
            prev = spot
            p = session.request(uri, spot.line, spot.utf16_character(line))
            await session.wait(p, timeout_s)
            row = _row(session.label, path.name, "pause", p, p.t_sent, expected=spot.rest[:80])
            row.exact = exact_line(p, spot.rest)
            rows.append(row)
    finally:
        session.close(uri)
    return rows


async def run_typing(session: BenchSession, path: Path, text: str, spots: list[Spot], cps: float, timeout_s: float, cancel_previous: bool = True) -> list[Row]:
    """The ``typing`` scenario on one file (see the module docstring)."""
    lines = [l.rstrip("\r") for l in text.split("\n")]  # positions never cover a CR of a CRLF file
    uri = session.open(path, text=text)
    rows: list[Row] = []
    try:
        for spot in spots:
            rows += await _type_line(session, uri, path.name, lines[spot.line], spot, cps, timeout_s, cancel_previous)
    finally:
        session.close(uri)
    return rows


async def _type_line(session: BenchSession, uri: str, name: str, line: str, spot: Spot, cps: float, timeout_s: float, cancel_previous: bool) -> list[Row]:
    content = spot.rest
    indent = line[: spot.column]
    row = spot.line
    col16 = utf16_len(indent)
    # Delete the line's text after the indentation; the user arrives there and waits once.
    session.change(uri, [((row, col16), (row, col16 + utf16_len(content)), "")])
    state = {"typed": 0, "shown": None}  # shown: (state, ghost text) of the suggestion shown last

    def on_done(p: Pending) -> None:
        if p.status == "pending":
            p.status = classify(p, newer_sent=state["typed"] > p.state)
        if p.status == "shown":
            ghost = ghost_text(p, indent + content[: p.state], spot.column + p.state)
            state["shown"] = (p.state, ghost) if ghost else None

    start = session.request(uri, row, col16, 0, on_done)
    await session.wait(start, timeout_s)
    t_line = time.perf_counter()
    out = [_row(session.label, name, "typing", start, start.t_sent, kind="start", expected=content[:80])]
    ends = set(word_ends(content))
    pendings: list[Pending] = []
    t_keys: list[float] = []
    through: list[bool] = []
    t0 = time.perf_counter()
    last: Pending | None = start
    for i, ch in enumerate(content):
        delay = t0 + i / cps - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        typed = i + 1
        hit = False
        if state["shown"] is not None:
            j, ghost = state["shown"]
            so_far = content[j:typed]
            hit = ghost.startswith(so_far) and len(so_far) < len(ghost)
            if not ghost.startswith(so_far):
                state["shown"] = None
        if cancel_previous and last is not None:
            session.cancel(last)
        t_key = time.perf_counter()
        state["typed"] = typed
        at = col16 + utf16_len(content[:i])
        session.change(uri, [((row, at), (row, at), ch)])
        last = session.request(uri, row, at + utf16_len(ch), typed, on_done)
        pendings.append(last)
        t_keys.append(t_key)
        through.append(hit)
    for p in pendings:
        await session.wait(p, timeout_s)
    await asyncio.sleep(0.05)  # debug lines of cancelled engine work still on the wire
    logged = session.logged_between(uri, t_line, time.perf_counter())
    out[0].line_model_runs = len(logged)
    out[0].line_eval_tokens = sum(int(f.get("eval") or 0) for f in logged)
    for i, p in enumerate(pendings):
        typed = i + 1
        word_ms = None
        if typed in ends:
            shown = next((q for q in pendings[i:] if q.status == "shown" and q.t_done is not None), None)
            if shown is not None:
                word_ms = (shown.t_done - t_keys[i]) * 1000.0
        out.append(_row(session.label, name, "typing", p, t_keys[i], kind="key", char=content[i], word_end=typed in ends, through=through[i], word_ms=word_ms, expected=content[typed:][:80]))
    # The line is typed again in full: the document is the original text again.
    return out


async def run_accept(session: BenchSession, path: Path, text: str, spots: list[tuple[Spot, tuple[int, int]]], steps: int, read_s: float, timeout_s: float) -> list[Row]:
    """The ``accept`` scenario on one file (see the module docstring): rows of kind ``first``
    (the request at the spot, with the spot's prefetch counts), ``after-accept`` (the
    request right after an accept) and ``next`` (Enter's request: the timed one)."""
    from codex_ls.prefetch import next_line_indent
    from codex_ls.stops import indent_unit

    lines = [l.rstrip("\r") for l in text.split("\n")]
    python = path.suffix == ".py"
    rows: list[Row] = []
    for spot, (end_row, end_col) in spots:
        uri = session.open(path, text=text)
        t_spot = time.perf_counter()
        try:
            line = lines[spot.line]
            char16 = spot.utf16_character(line)
            session.change(uri, [((spot.line, char16), (end_row, utf16_len(lines[end_row][:end_col])), "")])
            p = session.request(uri, spot.line, char16)
            await session.wait(p, timeout_s)
            first = _row(session.label, path.name, "accept", p, p.t_sent, kind="first", expected=spot.rest[:80])
            rows.append(first)
            before = "\n".join(lines[: spot.line] + [line[: spot.column]])  # the text before the cursor
            unit = indent_unit(before)
            at = (spot.line, char16)
            for _ in range(steps):
                shown = ghost_text(p, before[before.rfind("\n") + 1 :], len(before) - before.rfind("\n") - 1)
                if not shown:
                    break
                await asyncio.sleep(read_s)
                session.change(uri, [(at, at, shown)])  # Tab: the suggestion goes in
                at = _after_insert(*at, shown)
                before += shown
                q = session.request(uri, *at)  # editors ask again right after an accept
                await asyncio.sleep(0.2)
                if q.t_done is None:
                    session.cancel(q)  # unanswered at the next keystroke: the editor cancels it
                enter = "\n" + next_line_indent(before[before.rfind("\n") + 1 :], unit, python)
                session.change(uri, [(at, at, enter)])  # Enter, auto-indented
                at = _after_insert(*at, enter)
                before += enter
                p = session.request(uri, *at)
                await session.wait(q, timeout_s)
                rows.append(_row(session.label, path.name, "accept", q, q.t_sent, kind="after-accept"))
                await session.wait(p, timeout_s)
                rows.append(_row(session.label, path.name, "accept", p, p.t_sent, kind="next"))
            await asyncio.sleep(0.05)  # debug lines still on the wire
        finally:
            session.close(uri)
        logged = [e.fields for e in session.prefetch_logs if e.uri == uri and e.t >= t_spot]
        first.prefetch_runs = len(logged)
        first.prefetch_eval_tokens = sum(int(f.get("eval") or 0) for f in logged)
        first.prefetch_gen_tokens = sum(int(f.get("gen") or 0) for f in logged)
    return rows


async def run_cold(cfg: "Config", path: Path, text: str, spot: Spot, log_path: Path) -> tuple[Row, int | None]:
    """One ``cold`` run: a fresh server, the document opened with the line cut at ``spot``,
    one request right after ``initialize``; latency = process start to answer (ms). Returns
    the row and the server's peak RSS (bytes)."""
    lines = text.split("\n")
    line = lines[spot.line]
    cut = "\n".join(lines[: spot.line] + [line[: spot.column] + line[len(line.rstrip("\r")):]] + lines[spot.line + 1 :])
    session = BenchSession(label="cold", log_path=log_path, server_cmd=cfg.server_cmd, model=cfg.model, settings=cfg.settings(reuse=True), root=path.parent)
    async with session:
        uri = session.open(path, text=cut)
        p = session.request(uri, spot.line, spot.utf16_character(line))
        await session.wait(p, cfg.cold_timeout_s)
        r = _row("cold", path.name, "cold", p, session.started, kind="first", expected=spot.rest[:80])
        if session.model_settled_at is not None:
            r.load_ms = (session.model_settled_at - session.started) * 1000.0
        rss = session.peak_rss_bytes()
    return r, rss


# ---------------------------------------------------------------------------
# the run


@dataclass
class Config:
    """What to run. Times in seconds unless named ``_ms``."""

    files: list[Path]
    positions: int = 30
    lines: int = 5
    scenarios: tuple[str, ...] = SCENARIOS
    baseline: bool = True
    model: str | None = None
    engine: str | None = None
    url: str | None = None
    extra_settings: dict = field(default_factory=dict)
    cps: float = 10.0
    cancel_previous: bool = True
    cold_runs: int = 3
    accepts: int = 6
    accept_steps: int = 3
    read_ms: float = 1350.0
    seed: int = 0
    request_timeout_s: float = 60.0
    cold_timeout_s: float = 300.0
    load_timeout_s: float = 600.0
    min_chars: int = 8
    max_chars: int = 60
    log_dir: Path | None = None
    progress: bool = False  # one line per file, scenario and server on stderr
    server_cmd: list[str] = field(default_factory=lambda: [sys.executable, "-m", "codex_ls"])
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        cmd = list(self.server_cmd)
        if self.engine:
            cmd += ["--engine", self.engine]
        if self.url:
            cmd += ["--url", self.url]
        self.server_cmd = cmd

    def settings(self, reuse: bool) -> dict:
        """The ``initializationOptions`` of the ``reuse`` or ``no-reuse`` server."""
        settings = json.loads(json.dumps(self.extra_settings))
        settings["logLevel"] = "debug"
        if not reuse:
            settings.setdefault("model", {})["kvCacheReuse"] = False
        return settings


@dataclass
class Result:
    rows: list[Row]
    rss: dict[str, int | None]  # server label -> peak RSS (bytes)
    model_path: str | None
    load_ms: dict[str, float | None]
    log_dir: Path
    notes: list[str]


def _progress(cfg: "Config", message: str) -> None:
    if cfg.progress:
        print(f"[latency {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def _warm_up(session: BenchSession, timeout_s: float) -> None:
    """An untimed request on an unrelated document: one-time engine costs stay out of the numbers."""
    path = Path(tempfile.gettempdir()) / "codex-ls-latency-warmup" / "warmup.py"
    uri = session.open(path, text="def add(a, b):\n    return \n", language_id="python")
    p = session.request(uri, 1, 11)
    await session.wait(p, timeout_s)
    session.close(uri)


async def run_benchmark(cfg: Config) -> Result:
    """Run every scenario of ``cfg``; returns one :class:`Row` per request."""
    log_dir = cfg.log_dir or Path(tempfile.mkdtemp(prefix="codex-ls-latency-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(cfg.seed)
    work = []
    notes = list(cfg.notes)
    for path in cfg.files:
        text = path.read_text(encoding="utf-8")
        doc = Document(path.resolve().as_uri(), text)
        if doc.tree is None:
            notes.append(f"{path}: no tree-sitter grammar for this file type; skipped")
            continue
        pause = pause_spots(doc, cfg.positions, rng)
        typing = typing_lines(doc, cfg.lines, rng, cfg.min_chars, cfg.max_chars)
        accept = accept_spots(doc, cfg.accepts, random.Random(f"{cfg.seed}:{path.name}")) if "accept" in cfg.scenarios else []
        if not pause:
            notes.append(f"{path}: no positions inside function bodies; skipped")
            continue
        work.append((path, text, pause, typing, accept))
    rows: list[Row] = []
    rss: dict[str, int | None] = {}
    load_ms: dict[str, float | None] = {}
    model_path = None
    labels = ["reuse"] + (["no-reuse"] if cfg.baseline else [])
    if any(s in cfg.scenarios for s in ("pause", "typing", "accept")) and work:
        sessions = [
            BenchSession(label=label, log_path=log_dir / f"server-{label}.log", server_cmd=cfg.server_cmd, model=cfg.model, settings=cfg.settings(reuse=label == "reuse"), root=work[0][0].parent)
            for label in labels
        ]
        entered: list[BenchSession] = []
        try:
            for s in sessions:
                await s.__aenter__()
                entered.append(s)
            for s in sessions:
                await asyncio.wait_for(s.model_settled.wait(), cfg.load_timeout_s)
                load_ms[s.label] = (s.model_settled_at - s.started) * 1000.0
                if s.messages:
                    notes.append(f"{s.label} server said: {' | '.join(s.messages)}")
                await _warm_up(s, cfg.request_timeout_s)
                model_path = model_path or s.model_path
            for path, text, pause, typing, accept in work:
                if "pause" in cfg.scenarios:
                    for s in sessions:
                        _progress(cfg, f"pause {path.name} {s.label}: {len(pause)} positions")
                        rows += await run_pause(s, path, text, pause, cfg.request_timeout_s)
                if "typing" in cfg.scenarios:
                    if not typing:
                        notes.append(f"{path.name}: no line of {cfg.min_chars}-{cfg.max_chars} characters to type")
                    for s in sessions:
                        _progress(cfg, f"typing {path.name} {s.label}: {len(typing)} lines, {sum(len(t.rest) for t in typing)} keys")
                        rows += await run_typing(s, path, text, typing, cfg.cps, cfg.request_timeout_s, cfg.cancel_previous)
                if "accept" in cfg.scenarios:
                    for s in sessions:
                        _progress(cfg, f"accept {path.name} {s.label}: {len(accept)} spots, up to {cfg.accept_steps} accepts each")
                        rows += await run_accept(s, path, text, accept, cfg.accept_steps, cfg.read_ms / 1000.0, cfg.request_timeout_s)
            for s in sessions:
                rss[s.label] = s.peak_rss_bytes()
        finally:
            for s in reversed(entered):
                await s.__aexit__(None, None, None)
    if "cold" in cfg.scenarios:
        peak = None
        for path, text, pause, _typing, _accept in work:
            for n in range(cfg.cold_runs):
                _progress(cfg, f"cold {path.name}: run {n + 1}/{cfg.cold_runs}")
                row, r = await run_cold(cfg, path, text, pause[0], log_dir / f"server-cold-{path.stem}-{n}.log")
                rows.append(row)
                if r is not None:
                    peak = max(peak or 0, r)
        rss["cold"] = peak
    return Result(rows, rss, model_path, load_ms, log_dir, notes)


# ---------------------------------------------------------------------------
# report


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.median(values), percentile(values, 0.95)


def _med(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


KEPT = ("shown", "empty")  # answers the editor keeps (not discarded, not failed)


def summarize(rows: list[Row]) -> list[dict]:
    """One summary per (scenario, file, server).

    ``requests``: rows in the scenario (word ends for ``typing-word``, typing-through
    keystrokes for ``typing-through``, the other keystrokes for ``typing-key``); ``n``: those with a
    latency (ms): kept answers, or for ``typing-word`` word ends followed by a shown
    suggestion; ``median_ms``/``p95_ms`` over them. Token medians (tokens) over the kept
    answers that logged a model run; ``model_runs`` counts those, ``no_model`` the kept
    answers without one. ``typing-key`` adds ``line_model_runs`` and ``eval_tokens_per_key``:
    every model run logged while typing, cancelled ones included, and the prompt tokens
    they evaluated per keystroke.
    """
    out = []
    keys = []
    for r in rows:
        k = (r.file, r.server)
        if k not in keys:
            keys.append(k)
    own = lambda r: r.latency_ms if r.status in KEPT else None  # noqa: E731
    key = lambda r: r.scenario == "typing" and r.kind == "key"  # noqa: E731
    scen = [
        ("pause", lambda r: r.scenario == "pause", own),
        ("typing-word", lambda r: key(r) and r.word_end, lambda r: r.word_ms),
        ("typing-key", lambda r: key(r) and not r.through, own),
        ("typing-through", lambda r: key(r) and r.through, own),
        ("cold", lambda r: r.scenario == "cold", own),
        ("accept", lambda r: r.scenario == "accept" and r.kind == "next", own),
    ]
    for name, pick, value in scen:
        for file, server in keys:
            sel = [r for r in rows if r.file == file and r.server == server and pick(r)]
            if not sel:
                continue
            vals = [v for v in (value(r) for r in sel) if v is not None]
            median, p95 = _stats(vals)
            kept = [r for r in sel if r.status in KEPT] if name != "typing-word" else []
            model_rows = [r for r in kept if r.eval_tokens is not None]
            s = {
                "scenario": name, "file": file, "server": server, "requests": len(sel), "n": len(vals),
                "median_ms": median, "p95_ms": p95,
                "prompt_tokens": _med([r.prompt_tokens for r in model_rows]),
                "eval_tokens": _med([r.eval_tokens for r in model_rows]),
                "eval_tokens_p95": percentile([r.eval_tokens for r in model_rows], 0.95) if model_rows else None,
                "gen_tokens": _med([r.gen_tokens for r in model_rows]),
                "model_runs": len(model_rows),
                "no_model": len(kept) - len(model_rows),
                "kept": len(kept),
                "shown": sum(r.status == "shown" for r in sel),
                "discarded": sum(r.status in ("stale", "cancelled") for r in sel),
                "failed": sum(r.status in ("error", "timeout") for r in sel),
                "exact": sum(bool(r.exact) for r in sel) if name == "pause" else None,
            }
            if name == "typing-key":
                starts = [r for r in rows if r.file == file and r.server == server and r.scenario == "typing" and r.kind == "start"]
                s["line_model_runs"] = sum(r.line_model_runs or 0 for r in starts)
                n_keys = sum(1 for r in rows if r.file == file and r.server == server and key(r))
                s["eval_tokens_per_key"] = sum(r.line_eval_tokens or 0 for r in starts) / n_keys
            if name == "cold":
                s["load_ms"] = _med([r.load_ms for r in sel])
            if name == "accept":
                firsts = [r for r in rows if r.file == file and r.server == server and r.scenario == "accept" and r.kind == "first"]
                s["spots"] = len(firsts)
                s["prefetch_runs"] = sum(r.prefetch_runs or 0 for r in firsts)
                s["prefetch_eval_tokens"] = sum(r.prefetch_eval_tokens or 0 for r in firsts)
                s["prefetch_gen_tokens"] = sum(r.prefetch_gen_tokens or 0 for r in firsts)
                s["model_eval_tokens"] = sum(r.eval_tokens or 0 for r in sel)
                s["model_gen_tokens"] = sum(r.gen_tokens or 0 for r in sel)
            out.append(s)
    return out


def _fmt(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def render(summary: list[dict], result: Result) -> str:
    """The Markdown table, the no-reuse/reuse ratios and the memory line."""
    lines = [
        "| scenario | file | server | n | median ms | p95 ms | prompt tok | eval tok (med/p95) | gen tok | notes |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in summary:
        notes = []
        if s["scenario"] == "typing-word":
            notes.append(f"{s['n']}/{s['requests']} word ends followed by a suggestion")
        else:
            if s["n"] != s["requests"]:
                notes.append(f"{s['n']}/{s['requests']} kept")
            notes.append(f"{s['shown']} shown")
            if s.get("exact") is not None:
                notes.append(f"{s['exact']} exact lines")
            if s["discarded"]:
                notes.append(f"{s['discarded']} discarded")
            if s["no_model"]:
                notes.append(f"{s['no_model']} kept without a model run")
        if s["failed"]:
            notes.append(f"{s['failed']} failed")
        if "eval_tokens_per_key" in s:
            notes.append(f"{s['line_model_runs']} model runs while typing, {s['eval_tokens_per_key']:.0f} eval tok/key")
        if s.get("load_ms") is not None:
            notes.append(f"model load {s['load_ms']:.0f} ms")
        if s["scenario"] == "accept":
            notes.append(
                f"{s['spots']} spots; these requests' model runs: {s['model_eval_tokens']} eval + {s['model_gen_tokens']} gen tok; "
                f"prefetch runs {s['prefetch_runs']}: {s['prefetch_eval_tokens']} eval + {s['prefetch_gen_tokens']} gen tok"
            )
        lines.append(
            f"| {s['scenario']} | {s['file']} | {s['server']} | {s['n']} | {_fmt(s['median_ms'])} | {_fmt(s['p95_ms'])} | "
            f"{_fmt(s['prompt_tokens'])} | {_fmt(s['eval_tokens'])}/{_fmt(s['eval_tokens_p95'])} | {_fmt(s['gen_tokens'])} | {', '.join(notes)} |"
        )
    ratios = []
    by = {(s["scenario"], s["file"], s["server"]): s for s in summary}
    for (scenario, file, server), s in by.items():
        base = by.get((scenario, file, "no-reuse"))
        if server == "reuse" and base and s["median_ms"] and base["median_ms"]:
            ratios.append(f"{scenario} {file}: {base['median_ms'] / s['median_ms']:.2f}x")
    out = "\n".join(lines)
    if ratios:
        out += "\n\nno-reuse / reuse median (higher: reuse is faster): " + "; ".join(ratios)
    mem = [f"{k} {v / 2**20:.0f} MB" for k, v in result.rss.items() if v]
    if mem:
        out += "\npeak RSS (VmHWM): " + ", ".join(mem) + ("  (cold: the largest of its runs)" if "cold" in result.rss else "")
    return out


def header(cfg: Config) -> str:
    """Machine, load, model and settings, printed before the run."""
    cpu = next((l.split(":", 1)[1].strip() for l in _read("/proc/cpuinfo").splitlines() if l.startswith("model name")), platform.processor() or "?")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    try:
        import llama_cpp

        llama = llama_cpp.__version__
    except Exception:
        llama = "not installed"
    mem = next((l.split()[1] for l in _read("/proc/meminfo").splitlines() if l.startswith("MemTotal:")), None)
    return "\n".join([
        f"# codex-ls latency benchmark ({time.strftime('%Y-%m-%d %H:%M:%S')})",
        f"machine: {cores} cores ({cpu}), {int(mem) / 2**20:.0f} GB RAM" if mem else f"machine: {cores} cores ({cpu})",
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min)",
        f"python {platform.python_version()}, llama-cpp-python {llama}",
        f"model: {cfg.model or 'the default model'}; engine: {cfg.engine or 'llama-cpp'}{' at ' + cfg.url if cfg.url else ''}",
        f"settings (initializationOptions): reuse {json.dumps(cfg.settings(True))}" + (f", no-reuse {json.dumps(cfg.settings(False))}" if cfg.baseline else ""),
        f"scenarios: {','.join(cfg.scenarios)}; positions {cfg.positions}, typing lines {cfg.lines} at {cfg.cps:g} chars/s "
        f"({'previous request cancelled per keystroke' if cfg.cancel_previous else 'no $/cancelRequest'}), cold runs {cfg.cold_runs}, accept spots {cfg.accepts} x {cfg.accept_steps} steps, read {cfg.read_ms:g} ms, seed {cfg.seed}",
        "files: " + ", ".join(str(p) for p in cfg.files),
    ] + [f"note: {n}" for n in cfg.notes])


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, action="append", help="source file to use (repeatable; default: stdlib textwrap.py, npm's semver range.js, a Go file)")
    parser.add_argument("--positions", type=int, default=30, help="pause positions per file")
    parser.add_argument("--lines", type=int, default=5, help="lines typed per file")
    parser.add_argument("--cps", type=float, default=10.0, help="typing speed (characters per second)")
    parser.add_argument("--model", help="GGUF path or registry name (default: the default model)")
    parser.add_argument("--engine", choices=["llama-cpp", "openai", "ctransformers"], help="passed to the server as --engine")
    parser.add_argument("--url", help="passed to the server as --url (the openai engine's server)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset of pause,typing,cold,accept")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True, help="also run the no-reuse server (model.kvCacheReuse false)")
    parser.add_argument("--cancel", action=argparse.BooleanOptionalAction, default=True, help="typing: $/cancelRequest the unanswered previous request on each keystroke, as VS Code does")
    parser.add_argument("--settings", type=json.loads, default={}, help="extra initializationOptions (JSON) for every server, e.g. '{\"completion\": {\"maxTokens\": 32}}'")
    parser.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE", help="one extra setting for every server, e.g. completion.fimOrder=spm or model.threads=1 (repeatable; JSON or plain value)")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh servers per file for the cold scenario")
    parser.add_argument("--accepts", type=int, default=6, help="accept: spots per file")
    parser.add_argument("--accept-steps", type=int, default=3, help="accept: suggestions accepted in a row at each spot, at most")
    parser.add_argument("--read-ms", type=float, default=1350.0, help="accept: how long the user reads a suggestion before accepting it (ms)")
    parser.add_argument("--request-timeout", type=float, default=60.0, help="seconds to wait for one answer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the per-request rows and the summary here (gzip-compressed if the name ends in .gz)")
    args = parser.parse_args(argv)
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    for item in args.setting:  # dotted key, JSON or plain value (as benchmarks/humaneval_infilling.py)
        key, _, value = item.partition("=")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        *path, last = key.split(".")
        node = args.settings
        for part in path:
            node = node.setdefault(part, {})
        node[last] = parsed
    if args.file:
        files, notes = list(args.file), []
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            parser.error(f"no such file: {', '.join(missing)}")
    else:
        files, notes = default_files()
    cfg = Config(
        files=files, positions=args.positions, lines=args.lines, scenarios=scenarios, baseline=args.baseline,
        model=args.model, engine=args.engine, url=args.url, extra_settings=args.settings, cps=args.cps,
        cancel_previous=args.cancel, cold_runs=args.cold_runs, accepts=args.accepts, accept_steps=args.accept_steps, read_ms=args.read_ms, seed=args.seed, request_timeout_s=args.request_timeout, notes=notes, progress=True,
    )
    print(header(cfg), flush=True)
    result = asyncio.run(run_benchmark(cfg))
    summary = summarize(result.rows)
    print(f"model file: {result.model_path or '?'}; model load: " + ", ".join(f"{k} {v:.0f} ms" for k, v in result.load_ms.items() if v is not None))
    for n in result.notes[len(cfg.notes):]:
        print(f"note: {n}")
    print(f"server logs: {result.log_dir}")
    print()
    print(render(summary, result))
    print(
        "\nms: pause = request to answer; typing-word = last keystroke of a word to the first suggestion shown (for that state or a later one of the line); "
        "typing-key (keystrokes not typing through a suggestion) / typing-through = keystroke to its own answer, kept answers only (shown or empty; discarded = superseded or cancelled); "
        "cold = process start to first answer; accept = Enter's request after an accepted suggestion to its answer. Tokens: medians over kept answers that ran the model (server debug line); "
        "eval = prompt tokens evaluated (not found in the KV cache)."
    )
    if args.json:
        write_json(args.json, {"header": header(cfg), "summary": summary, "rss_bytes": result.rss, "load_ms": result.load_ms, "model_path": result.model_path, "rows": [asdict(r) for r in result.rows]})
        print(f"rows: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

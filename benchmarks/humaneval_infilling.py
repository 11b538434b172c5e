"""HumanEval infilling pass@1 through the real server, as an editor would ask for it.

What it measures: functional correctness (pass@1, one greedy completion per
task) of codex-ls inline completions on HumanEval infilling (Bavarian et al.,
2022, "Efficient Training of Language Models to Fill in the Middle"), for the
product strategy ``syntax`` and the two baselines ``raw`` (the model until its
end token or ``--max-tokens``) and ``first-line`` (only the first generated
line), on the same task sample and engine settings; plus request latency and
the number of generated tokens.

Two readings of ``first-line``: the server's ``first-line`` strategy stops the
model at its first line break (the cheapest way to get that line); the issue's
baseline, "keeping only the first generated line" of the raw model continuing
until its end token, is the derived row ``raw, first line``: each ``raw`` answer
cut to its first line, with the raw request's latency (printed whenever ``raw``
runs; no extra model work). Both have the same text, up to the float rounding of
a batch. With ``syntax`` in the run, the median over tasks of syntax's latency
divided by each other row's is printed too (paired: the same tasks).

How: for each strategy, one ``codex-ls`` server is started over stdio with
:class:`codex_ls.client.LspSession` (pygls client, the same code path as an
editor) with ``completion.strategy``, ``completion.maxTokens`` and a large
``completion.timeoutMs`` (so the time budget does not cut generation) as
``initializationOptions``, and ``logLevel: debug`` so the server's per-request
``completion ... gen=N ...`` line arrives as ``window/logMessage``. After the
model has loaded and one untimed warm-up request, each task's document
``prompt + suffix`` is opened (one URI per task) and
``textDocument/inlineCompletion`` is asked at the end of ``prompt`` (LSP line
and UTF-16 character); requests are sequential. The returned item's
``insertText`` replaces its ``range`` (UTF-16 positions converted to string
offsets); no item means an empty middle. Only ``prompt`` and ``suffix`` reach
the server: ``canonical_solution`` and ``test`` are used for scoring and
``--check`` only. Scoring runs ``completed + "\\n\\n" + test +
"\\n\\ncheck(<entry_point>)"`` in a fresh ``python -I`` subprocess in a temporary
directory with a timeout; exit code 0 is a pass. Tests run after each
server session has closed (``--jobs`` in parallel), so they do not compete
with generation for the CPU and skew the latencies.

``--check`` scores the canonical solutions instead of the model (no server);
it must print 100%.

Data: /work/shared/data/humaneval-infilling/ (from openai/human-eval-infilling,
MIT licence; see the LICENSE and README.md there).

    python benchmarks/humaneval_infilling.py --check --set single
    python benchmarks/humaneval_infilling.py --set single --limit 30
    python benchmarks/humaneval_infilling.py --set multi --limit 20 --strategies syntax,raw --json out.json

A run too long for one sitting goes in shards (every N-th task, from the K-th), joined into one
table afterwards; latencies are comparable only between shards run on the same machine:

    python benchmarks/humaneval_infilling.py --set multi --shard 1/12 --json multi-1.json
    python benchmarks/humaneval_infilling.py --merge multi-*.json
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import gzip
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/jsonfile.py

from jsonfile import read_json, write_json  # noqa: E402,F401  (read_json: the --merge files)

def _data_dir() -> Path:
    """``$HUMANEVAL_INFILLING_DIR``, else ``shared/data/humaneval-infilling`` beside the checkout (as on CI), else /work/shared."""
    if os.environ.get("HUMANEVAL_INFILLING_DIR"):
        return Path(os.environ["HUMANEVAL_INFILLING_DIR"])
    for base in (ROOT.parent / "shared", Path("/work/shared")):
        if (base / "data" / "humaneval-infilling").is_dir():
            return base / "data" / "humaneval-infilling"
    return ROOT.parent / "shared" / "data" / "humaneval-infilling"


DATA_DIR = _data_dir()
FILES = {
    "single": "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi": "HumanEval-MultiLineInfilling.jsonl.gz",
}
STRATEGIES = ("syntax", "raw", "first-line")

# The server's debug line for each completion (codex_ls/completion.py).
LOG_RE = re.compile(
    r"completion (?P<uri>\S+) mode=(?P<mode>\S+) prompt=(?P<prompt>\d+) eval=(?P<eval>\d+) "
    r"gen=(?P<gen>\d+) (?P<ms>\d+)ms finish=(?P<finish>\S+) shown=(?P<shown>\d+) chars"
    r"(?:.*? retries=(?P<retries>\d+))?(?: first_gen=(?P<first_gen>\d+))?"
)


# ---------------------------------------------------------------------------
# data and text positions (pure)


def load_tasks(which: str, data_dir: Path = DATA_DIR) -> list[dict]:
    """All tasks of ``which`` (``"single"`` or ``"multi"``), in file order."""
    with gzip.open(data_dir / FILES[which], "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sample_tasks(tasks: list[dict], limit: int | None, seed: int) -> list[dict]:
    """A seeded random sample of ``limit`` tasks (all if ``None``), kept in file order."""
    if limit is None or limit >= len(tasks):
        return list(tasks)
    chosen = sorted(random.Random(seed).sample(range(len(tasks)), limit))
    return [tasks[i] for i in chosen]


def shard_of(tasks: list[dict], spec: str) -> list[dict]:
    """Shard ``K/N`` of ``tasks``: every N-th task starting with the K-th (1-based), in order, so
    that each shard spreads over the whole set and the N shards together are ``tasks`` exactly
    once. Lets a run too long for one sitting (the full multi-line set takes about 12 hours here
    with both baselines) go in pieces, joined by ``--merge``. Raises ``ValueError`` for a spec
    that is not ``K/N`` with ``1 <= K <= N``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"--shard must be K/N with 1 <= K <= N, got {spec!r}")
    k, n = int(match[1]), int(match[2])
    return tasks[k - 1 :: n]


# the keys that must agree for shards' results to be one table
MERGE_KEYS = ("set", "seed", "limit", "model", "hole", "max_tokens", "timeout_ms", "settings", "code")

#: What decides a completion: the server package, its tree-sitter queries and the model registry.
CODE_PATHS = ("codex_ls", "grammars", "models")


def code_version(root: Path = ROOT) -> str | None:
    """The version of the code that answers, as ``git rev-parse HEAD:<path>`` of each of
    :data:`CODE_PATHS` joined (three 40-hex tree ids, comma-separated), plus ``"+dirty"`` when
    ``git status`` shows a change under them. Commits that touch only the benchmark, the tests or
    the README keep it, so shards run on such commits still merge; ``None`` outside a git checkout.
    Written into ``--json`` and checked by ``--merge`` (a key of :data:`MERGE_KEYS`)."""
    try:
        trees = subprocess.run(["git", "rev-parse", *(f"HEAD:{p}" for p in CODE_PATHS)], cwd=root,
                               capture_output=True, text=True, check=True).stdout.split()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *CODE_PATHS], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return ",".join(trees) + ("+dirty" if dirty else "")


def merge_payloads(payloads: list[dict]) -> tuple[dict, dict[str, list[TaskResult]]]:
    """Join the ``--json`` files of several runs of one sample (shards, or reruns of other
    strategies) into one set of rows: ``(meta, rows)``, where ``meta`` holds the shared
    :data:`MERGE_KEYS`, the summed ``wall_s`` and the ``shards`` seen, and ``rows`` maps each
    strategy to its results in the sample's order. Raises ``ValueError`` when the files disagree
    on a key of :data:`MERGE_KEYS` (a file without ``settings`` counts as none; ``code`` is
    :func:`code_version`, so shards of different server code do not merge) or when one task of
    one strategy is in two files."""
    if not payloads:
        raise ValueError("nothing to merge")

    def value(payload: dict, key: str):
        return payload.get(key, [] if key == "settings" else None)  # files from before `settings` was written

    meta = {key: value(payloads[0], key) for key in MERGE_KEYS}
    for payload in payloads[1:]:
        for key in MERGE_KEYS:
            if value(payload, key) != meta[key]:
                raise ValueError(f"the files disagree on {key}: {meta[key]!r} and {value(payload, key)!r}")
    order = {t["task_id"]: i for i, t in enumerate(sample_tasks(load_tasks(meta["set"]), meta["limit"], meta["seed"]))}
    rows: dict[str, list[TaskResult]] = {}
    seen: dict[str, set[str]] = {}
    for payload in payloads:
        for strategy, results in payload["results"].items():
            for item in results:
                if item["task_id"] in seen.setdefault(strategy, set()):
                    raise ValueError(f"{strategy}: {item['task_id']} is in two files")
                seen[strategy].add(item["task_id"])
                rows.setdefault(strategy, []).append(TaskResult(**item))
    for results in rows.values():
        results.sort(key=lambda r: order.get(r.task_id, len(order)))
    meta["wall_s"] = sum(p.get("wall_s", 0.0) for p in payloads)
    meta["shards"] = sorted({p.get("shard") or "all" for p in payloads})
    meta["sample_size"] = len(order)
    return meta, rows


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def end_position(text: str) -> tuple[int, int]:
    """LSP position (line, UTF-16 character) of the end of ``text`` (``\\n``, ``\\r\\n``, ``\\r`` breaks)."""
    lines = re.split(r"\r\n|\r|\n", text)
    return len(lines) - 1, utf16_len(lines[-1])


def offset_at(text: str, line: int, character: int) -> int:
    """String (code point) offset of the LSP position ``(line, character)`` in ``text``.

    ``character`` counts UTF-16 code units; past the end of its line it is
    clamped to the line end, and a line past the end of the text gives
    ``len(text)`` (as LSP asks).
    """
    pos = 0
    for _ in range(line):
        m = re.compile(r"\r\n|\r|\n").search(text, pos)
        if m is None:
            return len(text)
        pos = m.end()
    m = re.compile(r"\r\n|\r|\n").search(text, pos)
    line_end = m.start() if m else len(text)
    units = 0
    i = pos
    while i < line_end and units < character:
        units += 2 if ord(text[i]) > 0xFFFF else 1
        i += 1
    return i


def apply_edit(text: str, start: tuple[int, int], end: tuple[int, int], new_text: str) -> str:
    """``text`` with the LSP range ``start``..``end`` replaced by ``new_text``."""
    a, b = offset_at(text, *start), offset_at(text, *end)
    return text[:a] + new_text + text[b:]


def document_for(task: dict, hole: str = "line-start") -> str:
    """The editor's text for ``task``; the cursor is at the end of ``prompt`` either way.

    ``line-start``: ``prompt + suffix``, the cursor at column 0 of the suffix's
    first line (the benchmark's own setup). ``blank-line``: ``prompt + "\\n" +
    suffix``, the cursor on an empty line of its own (as after pressing Enter in
    an editor); the completion then needs no final line break.
    """
    return task["prompt"] + ("\n" if hole == "blank-line" else "") + task["suffix"]


def first_line_of(insert_text: str | None, hole: str = "line-start") -> str | None:
    """The first line of a ``raw`` completion, as the issue's ``first-line`` baseline keeps it
    (the raw model's continuation, then only its first generated line).

    ``None`` (no item) when that line is blank or there is no completion. With the
    ``line-start`` hole the completion inserts whole lines above the code at the cursor, so the
    kept line ends with a line break (as the server's ``first-line`` strategy writes it); with
    ``blank-line`` it does not.
    """
    if insert_text is None:
        return None
    line = insert_text.split("\n", 1)[0]
    if not line.strip():
        return None
    return line + ("\n" if hole == "line-start" else "")


RAW_FIRST_LINE = "raw, first line"
"""The derived row: each ``raw`` answer cut to its first line, with the raw request's latency and
tokens (the model continued until its end token or ``--max-tokens`` before the line was kept)."""


def raw_first_line(tasks: list[dict], raw: list[TaskResult], hole: str) -> list[TaskResult]:
    """``raw``'s results with each answer cut to its first line (:func:`first_line_of`); latency,
    tokens and the rest are the raw request's, and ``status`` is left for scoring."""
    out = []
    for task, r in zip(tasks, raw):
        cut = first_line_of(r.insert_text, hole)
        text = document_for(task, hole)
        d = TaskResult(**{**asdict(r), "strategy": RAW_FIRST_LINE, "status": "", "insert_text": cut})
        d.error = r.error if r.error.startswith("request failed") else ""  # not raw's test error
        if cut is not None and r.range is not None:
            d.completed = apply_edit(text, tuple(r.range[0]), tuple(r.range[1]), cut)
        else:
            d.completed, d.range = text, None
        out.append(d)
    return out


def paired_ratio(a: list[TaskResult], b: list[TaskResult]) -> tuple[float, float] | None:
    """Median over tasks of ``a``'s latency / ``b``'s latency, and the median of the per-task
    differences (ms); ``None`` without a task timed in both. Pairs by ``task_id``: a task in only
    one of the lists (a merge of shards where one strategy ran on fewer tasks) is left out."""
    b_latency = {y.task_id: y.latency_ms for y in b}
    pairs = [(x.latency_ms, b_latency.get(x.task_id)) for x in a]
    pairs = [(x, y) for x, y in pairs if x and y]
    if not pairs:
        return None
    return statistics.median(x / y for x, y in pairs), statistics.median(x - y for x, y in pairs)


def program_for(task: dict, completed: str) -> str:
    """The test program: the completed code, the task's tests and the call to ``check``."""
    return completed + "\n\n" + task["test"] + "\n\ncheck(" + task["entry_point"] + ")\n"


# ---------------------------------------------------------------------------
# scoring


def run_program(program: str, timeout_s: float) -> tuple[str, str]:
    """Run ``program`` in a fresh isolated interpreter; returns (``pass``|``fail``|``timeout``, stderr tail)."""
    with tempfile.TemporaryDirectory(prefix="he-") as tmp:
        path = Path(tmp) / "program.py"
        path.write_text(program, encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-I", str(path)],
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout ends all it started
            env={"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"},
        )
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            return "timeout", ""
        tail = err.decode("utf-8", "replace").strip().splitlines()
        return ("pass" if proc.returncode == 0 else "fail"), (tail[-1][:300] if tail else "")


def score(programs: list[str], jobs: int, timeout_s: float) -> list[tuple[str, str]]:
    """Run every program (identical programs once), ``jobs`` at a time."""
    unique = list(dict.fromkeys(programs))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = dict(zip(unique, pool.map(lambda p: run_program(p, timeout_s), unique)))
    return [results[p] for p in programs]


def score_results(tasks: list[dict], results: list["TaskResult"], jobs: int, timeout_s: float) -> list["TaskResult"]:
    """Run each result's completed program against its task's tests and set its ``status``
    (and ``error``, unless the request's own error is there already); returns ``results``."""
    for r, (status, err) in zip(results, score([program_for(t, r.completed) for t, r in zip(tasks, results)], jobs, timeout_s)):
        r.status, r.error = status, r.error or err
    return results


# ---------------------------------------------------------------------------
# driving the server


@dataclass
class TaskResult:
    task_id: str
    strategy: str
    line: int
    character: int
    status: str = ""  # pass | fail | timeout
    error: str = ""  # last stderr line of a failing test, or the request's error
    latency_ms: float | None = None
    insert_text: str | None = None  # None: no item
    range: list[list[int]] | None = None  # [[line, character], [line, character]]
    gen_tokens: int | None = None
    prompt_tokens: int | None = None
    eval_tokens: int | None = None
    retries: int | None = None  # generations after the first (indentation, first-token, names retries)
    first_gen_tokens: int | None = None  # tokens generated by the first generation
    mode: str | None = None
    finish: str | None = None
    completed: str = field(default="", repr=False)


def make_session_class():
    from lsprotocol import types

    from codex_ls.client import LspSession

    class LoggingSession(LspSession):
        """:class:`LspSession` that keeps the server's ``completion ...`` debug lines, by URI."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.completion_logs: dict[str, dict] = {}
            features = self.client.protocol.fm.features  # replace the base class's no-op handler
            features.pop(types.WINDOW_LOG_MESSAGE, None)

            @self.client.feature(types.WINDOW_LOG_MESSAGE)
            def _log(params: types.LogMessageParams):
                m = LOG_RE.search(params.message)
                if m:
                    self.completion_logs[m["uri"]] = m.groupdict()

        async def log_for(self, uri: str, wait_s: float = 2.0) -> dict | None:
            """The debug line for ``uri`` (sent before the answer; waits a little just in case)."""
            deadline = time.perf_counter() + wait_s
            while uri not in self.completion_logs and time.perf_counter() < deadline:
                await asyncio.sleep(0.01)
            return self.completion_logs.get(uri)

    return LoggingSession


async def generate(strategy: str, tasks: list[dict], args, tag: str) -> tuple[list[TaskResult], float]:
    """Ask one fresh server for every task's completion; returns the results and the model load time (s)."""
    session_cls = make_session_class()
    settings = {
        "completion": {"strategy": strategy, "maxTokens": args.max_tokens, "timeoutMs": args.timeout_ms},
        "logLevel": "debug",
    }
    for item in args.setting:  # --setting completion.fimOrder=spm (dotted key, JSON or plain value)
        key, _, value = item.partition("=")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        *path, last = key.split(".")
        node = settings
        for part in path:
            node = node.setdefault(part, {})
        node[last] = parsed
    results: list[TaskResult] = []
    async with session_cls(model=args.model, settings=settings) as session:
        await asyncio.wait_for(session.model_settled.wait(), 600)
        load_s = session.model_settled_at - session.started
        if session.messages:
            print(f"[{strategy}] server: {' | '.join(session.messages)}", file=sys.stderr)
        # untimed warm-up on an unrelated document (first-request costs stay out of the numbers)
        warm = "def add(a, b):\n    return "
        uri = session.open(Path(f"/tmp/he-{tag}/{strategy}/warmup.py"), text=warm, language_id="python")
        await session.inline_completion(uri, 1, 11, args.request_timeout)
        for n, task in enumerate(tasks):
            text = document_for(task, args.hole)
            line, character = end_position(task["prompt"])
            r = TaskResult(task["task_id"], strategy, line, character)
            uri = session.open(Path(f"/tmp/he-{tag}/{strategy}/{n}/task.py"), text=text, language_id="python")
            t0 = time.perf_counter()
            try:
                result = await session.inline_completion(uri, line, character, args.request_timeout)
            except Exception as exc:  # timeout or JSON-RPC error: an empty middle, reported
                r.latency_ms = (time.perf_counter() - t0) * 1000.0
                r.error = f"request failed: {type(exc).__name__}: {exc}"
                r.completed = text
                session.close(uri)
                results.append(r)
                continue
            r.latency_ms = (time.perf_counter() - t0) * 1000.0
            if result.items:
                item = result.items[0]
                insert = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
                if item.range is not None:
                    start = (item.range.start.line, item.range.start.character)
                    end = (item.range.end.line, item.range.end.character)
                else:  # no range: insert at the cursor
                    start = end = (line, character)
                r.insert_text = insert
                r.range = [list(start), list(end)]
                r.completed = apply_edit(text, start, end, insert)
            else:
                r.completed = text
            log = await session.log_for(uri)
            if log is not None:
                r.gen_tokens, r.prompt_tokens, r.eval_tokens = int(log["gen"]), int(log["prompt"]), int(log["eval"])
                r.mode, r.finish = log["mode"], log["finish"]
                if log.get("retries") is not None:
                    r.retries = int(log["retries"])
                if log.get("first_gen") is not None:
                    r.first_gen_tokens = int(log["first_gen"])
            # Closed, as an editor closes a file: an open task would be context (other open
            # documents' definitions) for the next tasks, some of them holes in the same function.
            session.close(uri)
            results.append(r)
            if args.verbose:
                print(f"[{strategy}] {n + 1}/{len(tasks)} {task['task_id']} {r.latency_ms:.0f} ms gen={r.gen_tokens} {r.insert_text!r}", file=sys.stderr)
    return results, load_s


# ---------------------------------------------------------------------------
# report


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def table(rows: dict[str, list[TaskResult]]) -> str:
    out = [
        "| strategy | tasks | pass@1 | median latency ms | p95 latency ms | mean generated tokens | empty |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for strategy, results in rows.items():
        n = len(results)
        passed = sum(r.status == "pass" for r in results)
        lat = [r.latency_ms for r in results if r.latency_ms is not None]
        gen = [r.gen_tokens for r in results if r.gen_tokens is not None]
        empty = sum(r.insert_text is None for r in results)
        med = f"{statistics.median(lat):.0f}" if lat else "n/a"
        p95 = f"{percentile(lat, 0.95):.0f}" if lat else "n/a"
        mean_gen = f"{statistics.fmean(gen):.1f}" if gen and len(gen) == n else ("n/a" if not gen else f"{statistics.fmean(gen):.1f} ({len(gen)}/{n} logged)")
        pct = f"{passed / n:.1%}" if n else "n/a"
        out.append(f"| {strategy} | {n} | {pct} ({passed}/{n}) | {med} | {p95} | {mean_gen} | {empty} |")
    return "\n".join(out)


def model_label(model: str | None) -> str:
    if model:
        return model
    try:
        from codex_ls.models import default_spec

        return f"{default_spec().name} (default)"
    except Exception:
        return "default"


def report(rows: dict[str, list[TaskResult]], check: bool = False) -> str:
    """The table of ``rows`` (:func:`table`), then, for a model run, what its columns mean and
    syntax's paired latency ratio against each other row (:func:`paired_ratio`)."""
    out = [table(rows)]
    if not check:
        out += ["", "latency: request to answer, after model load and one untimed warm-up; "
                "generated tokens: the server's `gen=` debug log line; empty: no item returned"]
        if RAW_FIRST_LINE in rows:
            out.append(f"{RAW_FIRST_LINE}: each raw answer cut to its first line (the raw model continued until its end "
                       "token or maxTokens, then only its first generated line is kept), with the raw request's latency; "
                       "first-line: the server stops at the first line break")
        if "syntax" in rows and len(rows) > 1:
            out.append("")
            for other, results in rows.items():
                paired = paired_ratio(rows["syntax"], results) if other != "syntax" else None
                if paired is not None:
                    out.append(f"syntax against {other}, paired per task: median latency ratio {paired[0]:.2f}x, "
                               f"median difference {paired[1]:+.0f} ms")
    return "\n".join(out)


def merge_main(paths: list[Path]) -> int:
    """``--merge``: print one table from the ``--json`` files of shards (:func:`merge_payloads`)."""
    try:
        meta, rows = merge_payloads([read_json(p) for p in paths])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"--merge: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{s} {len(r)}" for s, r in rows.items())
    print(f"set: {meta['set']} ({FILES[meta['set']]})  sample: {meta['sample_size']}"
          + (f" (seeded random sample of {meta['limit']})" if meta["limit"] is not None else " (all)")
          + f"  seed: {meta['seed']}  hole: {meta['hole']}")
    print(f"merged from {len(paths)} file{'s' if len(paths) > 1 else ''} (shards: {', '.join(meta['shards'])}); tasks per strategy: {counts}")
    if "canonical" not in rows:
        print(f"model: {meta['model']}  maxTokens: {meta['max_tokens']}  timeoutMs: {meta['timeout_ms']}"
              + (f"  settings: {' '.join(meta['settings'])}" if meta["settings"] else ""))
    print(f"code: {meta['code']}")
    print(f"total wall time of the runs: {meta['wall_s']:.1f} s")
    print()
    print(report(rows, check="canonical" in rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(FILES), default="single", dest="which")
    parser.add_argument("--limit", type=int, help="seeded random sample of N tasks (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="GGUF path or registry name, passed to the server as --model")
    parser.add_argument("--jobs", type=int, default=2, help="test programs run in parallel")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated, from: " + ", ".join(STRATEGIES))
    parser.add_argument("--max-tokens", type=int, default=128, help="completion.maxTokens, the same for every strategy")
    parser.add_argument("--timeout-ms", type=int, default=20000, help="completion.timeoutMs (large: the time budget should not cut generation)")
    parser.add_argument("--request-timeout", type=float, default=120.0, help="client-side limit per request (s)")
    parser.add_argument("--test-timeout", type=float, default=10.0, help="limit per test program (s)")
    parser.add_argument("--hole", choices=("line-start", "blank-line"), default="line-start",
                        help="line-start: document prompt+suffix (default); blank-line: prompt+'\\n'+suffix, the cursor on an empty line")
    parser.add_argument("--only", help="comma-separated task ids (or @FILE with one per line): run only these, after --limit/--seed sampling")
    parser.add_argument("--shard", metavar="K/N", help="run only every N-th task of the sample, from the K-th (1-based), after --limit/--seed and --only; join the --json files with --merge")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON", help="print one table from the --json files of shards (no run)")
    parser.add_argument("--check", action="store_true", help="score the canonical solutions (no server); must be 100%%")
    parser.add_argument("--json", type=Path, help="write per-task results here (gzip-compressed if the name ends in .gz)")
    parser.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE", help="extra server setting for every strategy, e.g. completion.fimOrder=spm (repeatable)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each completion to stderr")
    args = parser.parse_args(argv)
    if args.merge:
        return merge_main(args.merge)

    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        parser.error(f"unknown strategies: {', '.join(unknown) or '(none)'}")

    started = time.perf_counter()
    code = code_version()  # the code that answers, read before the run
    load_at_start = "%.2f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else "n/a"
    tasks = sample_tasks(load_tasks(args.which), args.limit, args.seed)
    if args.only:
        wanted = Path(args.only[1:]).read_text(encoding="utf-8").split() if args.only.startswith("@") else args.only.split(",")
        unknown_ids = set(wanted) - {t["task_id"] for t in tasks}
        if unknown_ids:
            parser.error(f"--only: not in the sample: {', '.join(sorted(unknown_ids)[:5])}")
        keep = set(wanted)
        tasks = [t for t in tasks if t["task_id"] in keep]
    if args.shard:
        try:
            tasks = shard_of(tasks, args.shard)
        except ValueError as exc:
            parser.error(str(exc))
    rows: dict[str, list[TaskResult]] = {}
    loads: dict[str, float] = {}
    if args.check:
        results = []
        for task in tasks:
            line, character = end_position(task["prompt"])
            r = TaskResult(task["task_id"], "canonical", line, character, insert_text=task["canonical_solution"])
            middle = task["canonical_solution"]
            if args.hole == "blank-line" and middle.endswith("\n"):
                middle = middle[:-1]  # the document already has the line break
            r.completed = apply_edit(document_for(task, args.hole), (line, character), (line, character), middle)
            results.append(r)
        rows["canonical"] = results
    else:
        tag = f"{os.getpid()}"
        for strategy in strategies:
            results, loads[strategy] = asyncio.run(generate(strategy, tasks, args, tag))
            rows[strategy] = results
            # score now that the server is gone: tests do not compete with the next server for the CPU
            score_results(tasks, results, args.jobs, args.test_timeout)
        if "raw" in rows:
            rows[RAW_FIRST_LINE] = score_results(tasks, raw_first_line(tasks, rows["raw"], args.hole), args.jobs, args.test_timeout)
    if args.check:
        score_results(tasks, rows["canonical"], args.jobs, args.test_timeout)
    wall = time.perf_counter() - started

    sample = f"{len(tasks)}" + (f" (seeded random sample of {args.limit})" if args.limit is not None and args.limit < len(load_tasks(args.which)) else " (all)")
    if args.only:
        sample += f", --only {len(tasks)} of them"
    if args.shard:
        sample += f", shard {args.shard}: {len(tasks)} of them"
    print(f"set: {args.which} ({FILES[args.which]})  tasks: {sample}  seed: {args.seed}  hole: {args.hole}")
    if args.check:
        print("mode: --check (canonical solutions, no model)")
    else:
        print(f"model: {model_label(args.model)}  maxTokens: {args.max_tokens}  timeoutMs: {args.timeout_ms}  "
              + "model load s: " + ", ".join(f"{s} {v:.1f}" for s, v in loads.items()))
    print(f"code: {code}")
    print(f"total wall time: {wall:.1f} s  (load average at start: {load_at_start})")
    print()
    print(report(rows, args.check))

    if args.json:
        payload = {
            "set": args.which, "seed": args.seed, "limit": args.limit, "model": model_label(args.model),
            "hole": args.hole, "max_tokens": args.max_tokens, "timeout_ms": args.timeout_ms, "wall_s": wall,
            "settings": args.setting, "shard": args.shard, "only": args.only, "code": code,
            "results": {s: [asdict(r) for r in rs] for s, rs in rows.items()},
        }
        write_json(args.json, payload)
    if args.check:
        return 0 if all(r.status == "pass" for r in rows["canonical"]) else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""HumanEval through the *Implement function* code action, over LSP, against a bare-prompt baseline.

What it measures: functional correctness (pass@1, one greedy answer per task) of the code that
the *Implement function* code action writes for HumanEval (Chen et al., 2021), its latency
(``codeAction/resolve`` request to answer), the share of answers the server refused because
they would add syntax errors, and how fast actions are listed; plus, in the same run, a
baseline: the same model file asked with the bare HumanEval prompt as the only chat message
(no system prompt of ours, no context, no checks; the first fenced block of the answer, or the
whole answer, is the program, with the prompt put in front when it does not define the
function itself). Both stop generating once the answer's first code block is closed (the
prose after it is never used).

How: one ``codex-ls`` server is started over stdio with :class:`codex_ls.client.LspSession`
(pygls client, VS Code-like capabilities: code action ``resolveSupport`` for ``edit`` and
``dataSupport``, so the model runs in ``codeAction/resolve``) and ``codeActions.maxTokens`` /
``codeActions.timeoutMs`` as ``initializationOptions``. For each task the document ``prompt +
"    pass\\n"`` is opened (one URI per task), ``textDocument/codeAction`` is asked on the line
of ``def <entry_point>``, the *Implement function* action is resolved and its workspace edit
applied to the text. Every applied edit is checked: the edited text must not have more
tree-sitter errors than the document had (asserted; the run fails otherwise). A resolve that
returns no edit (the server showed a message) counts as refused and leaves ``pass`` in place.
Listing speed: ``textDocument/codeAction`` on a 2,000-line Python file, timed over LSP (round
trip) and in-process (:func:`codex_ls.actions.find_targets`). The baseline then runs
in-process on :class:`codex_ls.engines.llama.LlamaCppEngine` with the same model file, context
length and greedy decoding, after the server has exited (they never share the CPU). Tests run
``program + "\\n\\n" + test + "\\n\\ncheck(<entry_point>)"`` in a fresh ``python -I``
subprocess with a timeout (``--jobs`` at a time), after all generation.

Data: HumanEval.jsonl.gz in ``../shared/data/humaneval/`` beside the checkout (or
``$HUMANEVAL_DIR``); MIT licence, see the LICENSE there.

    python benchmarks/nl2code.py --limit 40
    python benchmarks/nl2code.py                    # all 164 tasks
    python benchmarks/nl2code.py --model qwen2.5-coder-1.5b-instruct-q4_k_m --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from humaneval_infilling import apply_edit, model_label, percentile, sample_tasks, score  # noqa: E402


def _data_dir() -> Path:
    """``$HUMANEVAL_DIR``, else ``shared/data/humaneval`` beside the checkout (as on CI), else /work/shared."""
    if os.environ.get("HUMANEVAL_DIR"):
        return Path(os.environ["HUMANEVAL_DIR"])
    for base in (ROOT.parent / "shared", Path("/work/shared")):
        if (base / "data" / "humaneval" / "HumanEval.jsonl.gz").is_file():
            return base / "data" / "humaneval"
    return ROOT.parent / "shared" / "data" / "humaneval"


DATA_FILE = _data_dir() / "HumanEval.jsonl.gz"
IMPLEMENT_KIND = "refactor.rewrite.codexLs.implementFunction"


def load_tasks(path: Path = DATA_FILE) -> list[dict]:
    """All HumanEval tasks, in file order."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def document_for(task: dict) -> str:
    """The editor's text: the prompt (imports, helpers, signature, docstring) with the body ``pass``."""
    return task["prompt"].rstrip("\n") + "\n    pass\n"


def def_line(task: dict) -> int:
    """The 0-based line of ``def <entry_point>(`` in the document."""
    lines = document_for(task).split("\n")
    return max(i for i, line in enumerate(lines) if line.startswith(f"def {task['entry_point']}("))


def program_for(task: dict, completed: str) -> str:
    """The test program: the completed code, the task's tests and the call to ``check``."""
    return completed + "\n\n" + task["test"] + "\n\ncheck(" + task["entry_point"] + ")\n"


def baseline_program(task: dict, answer: str) -> str:
    """The baseline's program: the answer's first fenced block (else the whole answer), with
    the prompt in front when the code does not define the entry point itself."""
    from codex_ls.actions import extract_code

    code = extract_code(answer) if "```" in answer else answer
    if f"def {task['entry_point']}(" in code:
        return code
    return task["prompt"] + code


@dataclass
class Result:
    task_id: str
    method: str
    status: str = ""  # pass | fail | timeout
    error: str = ""
    latency_ms: float | None = None
    refused: bool = False
    gen_tokens: int | None = None
    finish: str | None = None
    errors_before: int = 0
    errors_after: int = 0
    completed: str = field(default="", repr=False)


def _capabilities():
    from pytest_lsp import client_capabilities  # VS Code's real capabilities (resolveSupport: edit)

    return client_capabilities("visual-studio-code")


def _edits(edit, uri: str) -> list:
    if edit.document_changes:
        return [e for change in edit.document_changes for e in change.edits if change.text_document.uri == uri]
    return list((edit.changes or {}).get(uri, []))


def listing_file() -> str:
    """A 2,000-line Python file (the example file and stdlib modules, repeated) with an empty function at the end."""
    import textwrap as tw

    parts = [(ROOT / "examples" / "inventory.py").read_text(encoding="utf-8"), Path(tw.__file__).read_text(encoding="utf-8")]
    lines: list[str] = []
    while len(lines) < 1990:
        for part in parts:
            lines.extend(part.split("\n"))
    lines = lines[:1990]
    lines += ["", "", "def parse_rows(text: str) -> list[dict]:", '    """Parse CSV text into one dict per row."""', "    pass", ""]
    return "\n".join(lines)


async def run_action(tasks: list[dict], args, tag: str) -> tuple[list[Result], dict]:
    """Every task through the server's Implement function action; returns results and listing timings (ms)."""
    from lsprotocol import types

    from codex_ls.client import LspSession
    from codex_ls.documents import Document

    settings = {"codeActions": {"maxTokens": args.max_tokens, "timeoutMs": args.timeout_ms}, "model": {"threads": args.threads}, "logLevel": "debug"}
    session = LspSession(model=args.model, settings=settings, capabilities=_capabilities())
    gen_logs: dict[str, tuple[int, str]] = {}
    features = session.client.protocol.fm.features
    features.pop(types.WINDOW_LOG_MESSAGE, None)

    @session.client.feature(types.WINDOW_LOG_MESSAGE)
    def _log(params: types.LogMessageParams):
        import re

        m = re.search(r"code action implement (\S+) prompt=\d+ eval=\d+ gen=(\d+) \d+ms finish=(\w+)", params.message)
        if m:
            gen_logs[m.group(1)] = (int(m.group(2)), m.group(3))

    @session.client.feature(types.WORKSPACE_CONFIGURATION)
    def _configuration(params: types.ConfigurationParams):
        return [None for _ in params.items]  # no settings beyond the initializationOptions

    async def code_actions(uri: str, line: int, character: int):
        pos = types.Position(line=line, character=character)
        result = await session.client.text_document_code_action_async(
            types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(start=pos, end=pos), context=types.CodeActionContext(diagnostics=[]))
        )
        return [a for a in (result or []) if isinstance(a, types.CodeAction)]

    results: list[Result] = []
    timings: dict = {}
    async with session:
        await asyncio.wait_for(session.model_settled.wait(), 600)
        if session.messages:
            print(f"server: {' | '.join(session.messages)}", file=sys.stderr)
        # listing speed on a 2,000-line file
        big = listing_file()
        uri = session.open(Path(f"/tmp/nl2code-{tag}/listing.py"), text=big, language_id="python")
        n_lines = big.count("\n")
        lsp_ms = []
        for i in range(args.listing_requests):
            line = n_lines - 3 if i % 2 == 0 else (i * 37) % n_lines
            t0 = time.perf_counter()
            actions = await code_actions(uri, line, 4)
            lsp_ms.append((time.perf_counter() - t0) * 1000.0)
            if i == 0:
                assert any(a.kind == IMPLEMENT_KIND for a in actions), "no Implement function action on the 2,000-line file"
        from codex_ls.actions import find_targets

        doc = Document("file:///listing.py", big, 1, "python")
        local_ms = []
        for i in range(args.listing_requests):
            line = n_lines - 3 if i % 2 == 0 else (i * 37) % n_lines
            t0 = time.perf_counter()
            find_targets(doc, doc.offset_at(line, 4))
            local_ms.append((time.perf_counter() - t0) * 1000.0)
        session.close(uri)
        timings = {"lsp_median_ms": statistics.median(lsp_ms), "lsp_p95_ms": percentile(lsp_ms, 0.95), "core_median_ms": statistics.median(local_ms), "lines": n_lines}

        for n, task in enumerate(tasks):
            text = document_for(task)
            uri = session.open(Path(f"/tmp/nl2code-{tag}/{n}/task.py"), text=text, language_id="python")
            r = Result(task["task_id"], "action")
            before = Document(uri, text, 1, "python").error_count()
            r.errors_before = r.errors_after = before
            actions = await code_actions(uri, def_line(task), 4)
            action = next((a for a in actions if a.kind == IMPLEMENT_KIND), None)
            if action is None:
                r.error, r.completed = "no Implement function action listed", text
                results.append(r)
                continue
            messages_before = len(session.messages)
            t0 = time.perf_counter()
            try:
                resolved = await asyncio.wait_for(session.client.code_action_resolve_async(action), args.request_timeout)
            except Exception as exc:  # timeout or JSON-RPC error: reported, scored as the unchanged document
                r.latency_ms = (time.perf_counter() - t0) * 1000.0
                r.error, r.completed = f"request failed: {type(exc).__name__}: {exc}", text
                results.append(r)
                continue
            r.latency_ms = (time.perf_counter() - t0) * 1000.0
            completed = text
            if resolved.edit is None:
                r.refused = len(session.messages) > messages_before
            else:
                edits = sorted(_edits(resolved.edit, uri), key=lambda e: (e.range.start.line, e.range.start.character), reverse=True)
                for e in edits:  # LSP edits refer to the original text; applied last to first
                    completed = apply_edit(completed, (e.range.start.line, e.range.start.character), (e.range.end.line, e.range.end.character), e.new_text)
                r.errors_after = Document(uri, completed, 2, "python").error_count()
                assert r.errors_after <= before, f"{task['task_id']}: the edit added syntax errors ({before} -> {r.errors_after})"
            r.completed = completed
            # one task open at a time, as in an editor with one file (other open files feed the prompt)
            session.close(uri)
            await asyncio.sleep(0.05)  # the generation log line is sent just before the answer
            if uri in gen_logs:
                r.gen_tokens, r.finish = gen_logs[uri]
            results.append(r)
            if args.verbose:
                print(f"[action] {n + 1}/{len(tasks)} {task['task_id']} {r.latency_ms:.0f} ms gen={r.gen_tokens} refused={r.refused}", file=sys.stderr)
    return results, timings


def run_baseline(tasks: list[dict], args) -> list[Result]:
    """The bare-prompt baseline, in-process, with the same model file and engine settings."""
    from codex_ls.actions import code_block_end
    from codex_ls.engines.base import ChatMessage, ChatRequest
    from codex_ls.engines.llama import LlamaCppEngine
    from codex_ls.models import looks_like_path, resolve_model

    if args.model and looks_like_path(args.model):
        path = Path(args.model)
    else:
        path = resolve_model(args.model).path
    engine = LlamaCppEngine(path, context_length=4096, threads=args.threads)
    results = []
    try:
        for n, task in enumerate(tasks):
            t0 = time.perf_counter()
            out = engine.chat(ChatRequest(messages=(ChatMessage("user", task["prompt"]),), max_tokens=args.max_tokens, should_stop=code_block_end, deadline_s=time.monotonic() + args.timeout_ms / 1000.0))
            r = Result(task["task_id"], "baseline", latency_ms=(time.perf_counter() - t0) * 1000.0, gen_tokens=out.generated_tokens, finish=out.finish_reason)
            r.completed = baseline_program(task, out.text)
            results.append(r)
            if args.verbose:
                print(f"[baseline] {n + 1}/{len(tasks)} {task['task_id']} {r.latency_ms:.0f} ms gen={r.gen_tokens}", file=sys.stderr)
    finally:
        engine.close()
    return results


def table(rows: dict[str, list[Result]]) -> str:
    out = [
        "| method | tasks | pass@1 | median latency ms | p95 latency ms | refused by the syntax check | mean generated tokens |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for method, results in rows.items():
        n = len(results)
        passed = sum(r.status == "pass" for r in results)
        lat = [r.latency_ms for r in results if r.latency_ms is not None]
        gen = [r.gen_tokens for r in results if r.gen_tokens is not None]
        refused = sum(r.refused for r in results)
        med = f"{statistics.median(lat):.0f}" if lat else "n/a"
        p95 = f"{percentile(lat, 0.95):.0f}" if lat else "n/a"
        refused_text = f"{refused / n:.1%} ({refused}/{n})" if method == "action" and n else "n/a (no checks)"
        mean_gen = f"{statistics.fmean(gen):.0f}" if gen else "n/a"
        out.append(f"| {method} | {n} | {passed / n:.1%} ({passed}/{n}) | {med} | {p95} | {refused_text} | {mean_gen} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="seeded random sample of N tasks (default: all 164)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="GGUF path or registry name (server --model, and the baseline's model)")
    parser.add_argument("--max-tokens", type=int, default=512, help="codeActions.maxTokens, and the baseline's limit")
    parser.add_argument("--timeout-ms", type=int, default=3600000, help="codeActions.timeoutMs (large: the time budget should not cut answers)")
    parser.add_argument("--request-timeout", type=float, default=600.0, help="client-side limit per resolve (s)")
    parser.add_argument("--test-timeout", type=float, default=10.0, help="limit per test program (s)")
    parser.add_argument("--jobs", type=int, default=2, help="test programs run in parallel")
    parser.add_argument("--listing-requests", type=int, default=50, help="codeAction requests timed on the 2,000-line file")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare-prompt baseline")
    parser.add_argument("--threads", type=int, help="CPU threads per model (model.threads; default: the number of cores, at most 8)")
    parser.add_argument("--parallel-baseline", action="store_true",
                        help="run the baseline at the same time as the action (faster on a busy machine; latencies then include the competition)")
    parser.add_argument("--json", type=Path, help="write per-task results here")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    load_at_start = "%.2f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else "n/a"
    all_tasks = load_tasks()
    tasks = sample_tasks(all_tasks, args.limit, args.seed)
    rows: dict[str, list[Result]] = {}
    baseline: list[Result] = []
    worker = None
    if not args.no_baseline and args.parallel_baseline:
        import threading

        worker = threading.Thread(target=lambda: baseline.extend(run_baseline(tasks, args)), name="baseline")
        worker.start()
    action, timings = asyncio.run(run_action(tasks, args, str(os.getpid())))
    rows["action"] = action
    if worker is not None:
        worker.join()
        rows["baseline"] = baseline
    elif not args.no_baseline:
        rows["baseline"] = run_baseline(tasks, args)
    for results in rows.values():
        for r, (status, err) in zip(results, score([program_for(t, r.completed) if r.method == "action" else r.completed + "\n\n" + t["test"] + "\n\ncheck(" + t["entry_point"] + ")\n" for t, r in zip(tasks, results)], args.jobs, args.test_timeout)):
            r.status, r.error = status, r.error or err
    wall = time.perf_counter() - started
    worse = [r.task_id for r in action if r.errors_after > r.errors_before]
    sample = f"{len(tasks)}" + (f" (seeded random sample, seed {args.seed})" if len(tasks) < len(all_tasks) else " (all)")
    print(f"HumanEval ({DATA_FILE}) tasks: {sample}")
    print(f"model: {model_label(args.model)}  maxTokens: {args.max_tokens}  threads: {args.threads or 'default'}  total wall time: {wall:.0f} s  (load average at start: {load_at_start})"
          + ("  baseline run in parallel with the action" if args.parallel_baseline else ""))
    print()
    print(table(rows))
    print()
    print(f"listing (textDocument/codeAction, {timings['lines']}-line file, {args.listing_requests} requests): "
          f"median {timings['lsp_median_ms']:.1f} ms over LSP (p95 {timings['lsp_p95_ms']:.1f} ms), median {timings['core_median_ms']:.2f} ms in find_targets")
    print(f"edits that added syntax errors: {len(worse)} (asserted 0)")
    print("action: Implement function over LSP (codeAction + codeAction/resolve), latency = resolve request to answer; "
          "baseline: the same model in-process, the bare prompt as the only chat message, no context, no checks")
    if args.json:
        payload = {"seed": args.seed, "limit": args.limit, "model": model_label(args.model), "max_tokens": args.max_tokens, "wall_s": wall,
                   "listing": timings, "results": {m: [asdict(r) for r in rs] for m, rs in rows.items()}}
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 1 if worse else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""benchmarks/latency.py: position sampling, and its core run end to end on the tiny model.

The end-to-end test drives real servers (``reuse``, ``no-reuse`` and one ``cold``)
over stdio with the tiny test-written GGUF on the standard library's
``textwrap.py``, with very few positions and keystrokes, and checks the shape
of the rows, the summary and the table; it asserts no timing thresholds.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import textwrap
from pathlib import Path

import pytest
from lsprotocol import types

from codex_ls.documents import Document
from conftest import CACHE_DIR, TINY_MODEL

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("latency_bench", ROOT / "benchmarks" / "latency.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("latency_bench", bench)  # dataclasses look their module up
_spec.loader.exec_module(bench)

JS = """\
class Range {
  constructor (range, options) {
    this.options = options
    this.raw = range.trim()
  }
}
// a comment
function parse (s) {
  const parts = s.split(' ')  // trailing comment
  return parts.map(p => p.trim())
}
"""

GO = """\
package main

func add(a, b int) int {
\tsum := a + b
\t// not here
\treturn sum
}
"""

PY = '''\
def f(x):
    """Docstring line."""
    y = x + 1  # comment
    return g(y, "a (string")
'''


def _doc(name: str, text: str) -> Document:
    return Document(f"file:///tmp/{name}", text)


@pytest.mark.parametrize("name,text", [("a.js", JS), ("a.go", GO), ("a.py", PY)])
def test_spots_are_inside_function_bodies_and_outside_strings_and_comments(name, text):
    doc = _doc(name, text)
    lines = text.split("\n")
    by_row = bench.candidate_spots(doc)
    assert by_row, "no positions found"
    body_rows = set(bench.function_body_lines(doc))
    for row, spots in by_row.items():
        assert row in body_rows
        for spot in spots:
            line = lines[spot.line]
            assert line[spot.column:] == spot.rest and spot.rest.strip()
            before = line[: spot.column]
            assert "//" not in before and "#" not in before  # never inside a comment
            assert before.count('"') % 2 == 0 and before.count("'") % 2 == 0  # never inside a string
    # comment-only lines and docstrings are left out
    assert all(not lines[r].strip().startswith(("//", '"""')) for r in by_row)


def test_sampling_is_seeded_ordered_and_bounded():
    text = Path(textwrap.__file__).read_text(encoding="utf-8")
    doc = Document(Path(textwrap.__file__).resolve().as_uri(), text)
    a = bench.pause_spots(doc, 10, random.Random(3))
    b = bench.pause_spots(doc, 10, random.Random(3))
    assert a == b and len(a) == 10
    assert [s.line for s in a] == sorted({s.line for s in a})  # forward through the file, distinct rows
    lines = bench.typing_lines(doc, 4, random.Random(3), min_chars=8, max_chars=40)
    assert len(lines) == 4
    for spot in lines:
        line = text.split("\n")[spot.line]
        assert 8 <= len(spot.rest) <= 40
        assert line[: spot.column].strip() == "" and line[spot.column:].rstrip() == spot.rest


def test_word_ends_and_ghost_text():
    assert bench.word_ends("if x.y(a1):") == [2, 4, 6, 9]
    assert bench.word_ends("return") == [6]
    assert bench.utf16_len("a\U0001F600b") == 4
    item = types.InlineCompletionItem(insert_text="foo(bar)", range=types.Range(start=types.Position(line=3, character=6), end=types.Position(line=3, character=6)))
    p = bench.Pending("1", "file:///x.py", 3, 6, 0.0, None, result=types.InlineCompletionList(items=[item]))
    assert bench.ghost_text(p, "    x.", 6) == "foo(bar)"
    # a range that starts before the cursor: the part already typed is not ghost text
    item.range = types.Range(start=types.Position(line=3, character=4), end=types.Position(line=3, character=6))
    item.insert_text = "x.foo(bar)"
    assert bench.ghost_text(p, "    x.", 6) == "foo(bar)"
    item.insert_text = "y.foo"
    assert bench.ghost_text(p, "    x.", 6) is None
    assert bench.parse_log("completion file:///a.py mode=line prompt=812 eval=3 gen=7 123ms finish=rule shown=12 chars") == {
        "mode": "line", "prompt": 812, "eval": 3, "gen": 7, "finish": "rule", "shown": 12, "engine_ms": 123.0, "uri": "file:///a.py",
    }
    assert bench.parse_log("completion file:///a.py: nothing to complete here (string, comment or end of block)") is None


async def test_benchmark_core_on_the_tiny_model(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("CODEX_LS_MODEL", raising=False)
    monkeypatch.setenv("CODEX_LS_CACHE_DIR", str(CACHE_DIR))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = Path(textwrap.__file__)
    cfg = bench.Config(
        files=[path], positions=2, lines=1, cps=50.0, cold_runs=1, accepts=1, accept_steps=1, read_ms=300.0, model=str(TINY_MODEL), max_chars=14,
        # small budgets: the tiny model never stops by itself
        extra_settings={"completion": {"timeoutMs": 300, "maxTokens": 8, "prefixTokens": 256, "suffixTokens": 64}},
        request_timeout_s=60.0, cold_timeout_s=120.0, load_timeout_s=120.0, log_dir=tmp_path / "logs",
    )
    assert cfg.settings(reuse=False)["model"] == {"kvCacheReuse": False} and cfg.settings(reuse=True)["logLevel"] == "debug"
    result = await bench.run_benchmark(cfg)
    rows = result.rows
    by = lambda **kw: [r for r in rows if all(getattr(r, k) == v for k, v in kw.items())]  # noqa: E731
    for server in ("reuse", "no-reuse"):
        pause = by(server=server, scenario="pause")
        assert len(pause) == 2
        assert all(r.status in ("shown", "empty") and r.latency_ms > 0 for r in pause)
        # a refused answer asked for again (retries) evaluates at least the prompt's last token again
        assert all(r.prompt_tokens > 0 and 0 < r.eval_tokens <= r.prompt_tokens * (1 + r.retries) and r.gen_tokens >= 0 for r in pause), pause
        typing = by(server=server, scenario="typing")
        starts, keys = [r for r in typing if r.kind == "start"], [r for r in typing if r.kind == "key"]
        assert len(starts) == 1 and 8 <= len(keys) <= 14
        assert "".join(r.char for r in keys) + "" == keys[0].char + keys[0].expected
        assert all(r.status in ("shown", "empty", "stale", "cancelled") for r in keys)
        assert keys[-1].status in ("shown", "empty") and keys[-1].latency_ms > 0  # the last keystroke's answer is kept
        ends = [r for r in keys if r.word_end]
        assert ends and all(r.word_ms is None or r.word_ms > 0 for r in ends)  # timed when a suggestion followed
        assert all(r.word_ms is None for r in keys if not r.word_end)
        assert starts[0].line_model_runs >= 1 and starts[0].line_eval_tokens > 0
    # no-reuse evaluates the whole prompt every time
    assert all(r.eval_tokens == r.prompt_tokens * (1 + r.retries) for r in rows if r.server == "no-reuse" and r.eval_tokens is not None and r.scenario != "accept")
    # accept: a first request per spot, then accepts while suggestions are shown
    for server in ("reuse", "no-reuse"):
        accept = by(server=server, scenario="accept")
        firsts = [r for r in accept if r.kind == "first"]
        assert len(firsts) == 1 and firsts[0].status in ("shown", "empty") and firsts[0].prefetch_runs is not None
        nexts = [r for r in accept if r.kind == "next"]
        assert len(nexts) == len([r for r in accept if r.kind == "after-accept"]) <= 1
        assert all(r.status in ("shown", "empty") and r.latency_ms > 0 for r in nexts)
    assert by(server="no-reuse", scenario="accept", kind="first")[0].prefetch_runs == 0  # one KV cache slot: no prefetch
    cold = by(scenario="cold")
    assert len(cold) == 1 and cold[0].latency_ms > cold[0].load_ms > 0
    assert set(result.rss) == {"reuse", "no-reuse", "cold"} and all(v > 10 * 2**20 for v in result.rss.values())
    assert result.model_path and Path(result.model_path).name == TINY_MODEL.name
    assert (tmp_path / "logs" / "server-reuse.log").stat().st_size > 0  # stderr went to the log file

    summary = bench.summarize(rows)
    scenarios = {(s["scenario"], s["server"]) for s in summary}
    assert {("pause", "reuse"), ("pause", "no-reuse"), ("typing-word", "reuse"), ("typing-key", "no-reuse"), ("cold", "cold")} <= scenarios
    for s in summary:
        assert 0 <= s["n"] <= s["requests"]
        if s["n"]:
            assert s["median_ms"] > 0 and s["p95_ms"] >= s["median_ms"]
        if s["scenario"] == "typing-key":
            assert s["kept"] >= 1 and s["line_model_runs"] >= 1 and s["eval_tokens_per_key"] > 0
    table = bench.render(summary, result)
    assert table.splitlines()[0].startswith("| scenario | file | server | n | median ms | p95 ms |")
    assert len([l for l in table.splitlines() if l.startswith(("| pause", "| typing", "| cold", "| accept"))]) == len(summary)
    assert "no-reuse / reuse median" in table and "peak RSS" in table
    json.dumps([bench.asdict(r) for r in rows])  # the --json rows serialize


def test_exact_line_compares_the_first_suggested_line_with_the_rest_of_the_line():
    def answer(text: str | None):
        p = bench.Pending("1", "file:///a.py", 0, 0, 0.0, None)
        p.result = None if text is None else types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=text)])
        return p

    assert bench.exact_line(answer("x + 1)  \n    return y"), "x + 1)\n")
    assert not bench.exact_line(answer("x + 1"), "x + 1)")  # a start of the line is not the line
    assert not bench.exact_line(answer("x + 2)"), "x + 1)")
    assert not bench.exact_line(answer("\n    y = 2"), "")  # an empty first line never counts
    assert not bench.exact_line(answer(None), "x")


def test_json_ending_in_gz_is_written_compressed(tmp_path):
    """latency.py's ``--json`` goes through benchmarks/jsonfile.py: a ``.gz`` name is gzip, another plain JSON."""
    import gzip

    payload = {"summary": [{"scenario": "pause", "median_ms": 1.5}], "rows": []}
    packed, plain = tmp_path / "r.json.gz", tmp_path / "r.json"
    bench.write_json(packed, payload)
    bench.write_json(plain, payload)
    assert json.loads(gzip.decompress(packed.read_bytes())) == payload
    assert json.loads(plain.read_text()) == payload


def test_accept_spots_are_line_starts_with_the_end_of_their_functions_body():
    text = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n\n\ndef g():\n    return 1\n"
    doc = Document("file:///a.py", text)
    spots = bench.accept_spots(doc, 10, random.Random(0))
    assert [(s.line, s.column) for s, _ in spots] == [(1, 4), (2, 4), (3, 8)]  # never on a body's last statement
    assert {end for _, end in spots} == {(4, 16)}  # the end of `return total`
    go = Document("file:///a.go", "package main\n\nfunc f(x int) int {\n\ty := x\n\tz := y\n\treturn z\n}\n")
    assert [(s.line, s.column, end) for s, end in bench.accept_spots(go, 10, random.Random(0))] == [(3, 1, (5, 9)), (4, 1, (5, 9))]
    assert bench._after_insert(3, 4, "ab") == (3, 6) and bench._after_insert(3, 4, "ab\n  c") == (4, 3)
    line = "DEBUG codex_ls.completion: prefetch file:///a.py mode=block prompt=48 eval=35 gen=12 5ms finish=length shown=18 chars"
    assert bench.parse_log(line) is None and bench.parse_log(line, bench.PREFETCH_RE)["eval"] == 35

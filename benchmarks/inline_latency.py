"""Inline completion latency on one real file, through the real server over stdio.

Drives ``codex-ls`` exactly as an editor would (pygls client, ``didOpen``,
``didChange``, ``textDocument/inlineCompletion``) with the real default model
unless ``--model`` says otherwise. Holes: lines inside function bodies, cut
after their first word (``return``, ``if``, ...) or left as an empty line;
the requests move forward through the file. Prints the median and 95th
percentile latency, the share of non-empty answers, and whether the server
still answers after all requests.

    python benchmarks/inline_latency.py --file examples/inventory.py --requests 50
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codex_ls.client import LspSession  # noqa: E402
from codex_ls.documents import Document  # noqa: E402


def holes(text: str) -> list[tuple[int, int]]:
    """Positions inside function bodies: after the first word of an indented statement."""
    out = []
    for i, line in enumerate(text.split("\n")):
        stripped = line.strip()
        indent = len(line) - len(stripped)
        if indent < 4 or not stripped or stripped.startswith(("#", '"', "'", ")", "]", "}", "@")):
            continue
        first = stripped.split(" ", 1)[0]
        out.append((i, indent + len(first) + (1 if " " in stripped else 0)))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def run(path: Path, requests: int, model: str | None) -> int:
    original = path.read_text(encoding="utf-8")
    spots = holes(original)
    if not spots:
        print("no holes found", file=sys.stderr)
        return 1
    step = max(1, len(spots) // requests)
    chosen = (spots[::step] * (requests // max(1, len(spots[::step])) + 1))[:requests]
    latencies: list[float] = []
    shown = 0
    parse_ok = 0
    async with LspSession(model=model, root=path.parent) as session:
        uri = session.open(path)
        await asyncio.wait_for(session.model_settled.wait(), 600)
        load_s = session.model_settled_at - session.started
        for line, character in chosen:
            lines = original.split("\n")
            lines[line] = lines[line][:character]
            text = "\n".join(lines)
            session.replace_all(uri, text)
            t0 = time.perf_counter()
            result = await session.inline_completion(uri, line, character)
            latencies.append((time.perf_counter() - t0) * 1000.0)
            if result.items:
                shown += 1
                item = result.items[0]
                before = Document(uri, text, 0, None)  # language from the URI's extension
                offset = before.offset_at(item.range.start.line, item.range.start.character)
                after = Document(uri, text[:offset] + item.insert_text + text[offset:], 0, None)
                parse_ok += after.error_count() <= before.error_count()
        final = await session.inline_completion(uri, chosen[0][0], chosen[0][1])
        alive = final is not None
    print(f"file: {path}  requests: {len(latencies)}  model load: {load_s * 1000:.0f} ms")
    print("| requests | non-empty | parse ok | median ms | p95 ms | max ms | served after all |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {len(latencies)} | {shown} ({shown / len(latencies):.0%}) | {parse_ok}/{shown} | "
        f"{statistics.median(latencies):.0f} | {percentile(latencies, 0.95):.0f} | {max(latencies):.0f} | {'yes' if alive else 'NO'} |"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=ROOT / "examples" / "inventory.py")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--model", help="GGUF path or registry name (default: the default model)")
    args = parser.parse_args()
    return asyncio.run(run(args.file, args.requests, args.model))


if __name__ == "__main__":
    raise SystemExit(main())

"""Prompt-lookup decoding on and off, on the in-process engine (the default model, greedy).

For positions inside real source files (the standard library's ``textwrap.py`` and
``difflib.py`` by default; not this repository), a FIM prompt (40 lines before, 30 after)
is evaluated once, then the same prompt generates ``--tokens`` tokens with each draft size
of ``--drafts`` (0 is plain greedy decoding). Printed per draft size: median and 95th
percentile generation time (ms; the prompt is already in the KV cache, so this is decoding
only), tokens per second, draft tokens evaluated and the share kept (acceptance), and how
many answers equal plain greedy decoding's (a batch rounds floats differently, so a few
may differ), and what one step with that many draft tokens costs against a one-token step
(:meth:`LlamaCppEngine.measure_draft_cost`: the figure the server's automatic choice,
``model.promptLookupTokens = -1``, times on the first generations' steps for 2 draft tokens).
The machine is shared: compare the ratio to draft 0 in the same run.

    python benchmarks/prompt_lookup.py
    python benchmarks/prompt_lookup.py --drafts 0,3 --positions 20 --model qwen2.5-coder-1.5b-instruct-q4_k_m
"""

from __future__ import annotations

import argparse
import statistics
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codex_ls.engines.base import GenerationRequest  # noqa: E402
from codex_ls.engines.llama import LlamaCppEngine  # noqa: E402
from codex_ls.models import looks_like_path, resolve_model  # noqa: E402


def prompts(files: list[Path], per_file: int) -> list[str]:
    """FIM prompts (Qwen's PSM format) at ``per_file`` evenly spread lines of each file."""
    out = []
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        usable = range(40, max(41, len(lines) - 30))
        step = max(1, len(usable) // per_file)
        for line in list(usable)[::step][:per_file]:
            prefix = "".join(lines[line - 40 : line])
            suffix = "".join(lines[line : line + 30])
            out.append(f"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>")
    return out


def main(argv: list[str] | None = None) -> int:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="GGUF path or registry name (default: the registry's default)")
    parser.add_argument("--drafts", default="0,2,4,8", help="comma-separated draft sizes; 0 is plain greedy decoding")
    parser.add_argument("--positions", type=int, default=8, help="positions per file")
    parser.add_argument("--tokens", type=int, default=64, help="tokens generated per position")
    parser.add_argument("--file", type=Path, action="append", help="source file (repeatable)")
    args = parser.parse_args(argv)
    files = args.file or [stdlib / "textwrap.py", stdlib / "difflib.py"]
    path = args.model if args.model and looks_like_path(args.model) else resolve_model(args.model, allow_download=False).path
    drafts = [int(d) for d in args.drafts.split(",")]
    work = prompts(files, args.positions)
    print(f"model {Path(path).name}; {len(work)} prompts from {', '.join(f.name for f in files)}; {args.tokens} tokens each", flush=True)
    answers: dict[int, list[str]] = {}
    rows = []
    for draft in drafts:
        engine = LlamaCppEngine(path, context_length=4096, prompt_lookup=draft)
        cost = f"{engine.measure_draft_cost(draft, repeats=5):.2f}x" if draft else "1.00x"
        times, texts, generated = [], [], 0
        for prompt in work:
            engine.generate(GenerationRequest(prompt=prompt, max_tokens=1))  # the prompt into the KV cache
            start = time.perf_counter()
            result = engine.generate(GenerationRequest(prompt=prompt, max_tokens=args.tokens))
            times.append((time.perf_counter() - start) * 1000.0)
            texts.append(result.text)
            generated += result.generated_tokens
        answers[draft] = texts
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
        same = sum(a == b for a, b in zip(texts, answers.get(0, texts)))
        accept = f"{engine.accepted_tokens / engine.draft_tokens:.0%}" if engine.draft_tokens else "-"
        rows.append((draft, statistics.median(times), p95, generated / (sum(times) / 1000.0), engine.draft_tokens, accept, same, cost))
        engine.close()
    base = rows[0][1] if rows and rows[0][0] == 0 else None
    print("| draft tokens | median ms | p95 ms | tokens/s | drafted | kept | same text as greedy | median vs draft 0 | one step vs a one-token step |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for draft, med, p95, tps, drafted, accept, same, cost in rows:
        ratio = f"{med / base:.2f}x" if base else "-"
        print(f"| {draft} | {med:.0f} | {p95:.0f} | {tps:.1f} | {drafted} | {accept} | {same}/{len(work)} | {ratio} | {cost} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

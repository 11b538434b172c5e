"""Code actions end to end with the real default model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M).

Each action in each of Python, JavaScript, Go and Rust, resolved over stdio as VS Code would:
the edit must come back, parse with no more tree-sitter errors than before, and land in the
right place (the text around the replaced range is unchanged). The time budget is large: this
checks what is written, not how fast (see benchmarks/nl2code.py).
"""

from __future__ import annotations

import os

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from codex_ls.actions import TextEdit, apply_edits
from codex_ls.documents import Document
from conftest import server_command

pytestmark = pytest.mark.real_model

ENV = {k: v for k, v in os.environ.items() if k not in ("CODEX_LS_MODEL", "CODEX_LS_CACHE_DIR")} | {"HF_HUB_OFFLINE": "1"}

# (file name, text, (line, character) of the request, selection end or None, action kind suffix, lines kept above, lines kept below)
CASES = {
    "python-implement": ("a.py", 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n    pass\n', (0, 5), None, "implementFunction", 2, 0),
    "python-generate": ("b.py", 'def main():\n    names = ["b", "a"]\n    # sort the names alphabetically and print each one\n    \n', (3, 4), None, "generateFromComment", 3, 0),
    "python-edit": ("c.py", "def total(prices):\n    # use the built-in sum function\n    t = 0\n    for p in prices:\n        t += p\n    return t\n", (2, 0), (4, 14), "editSelection", 2, 1),
    "javascript-implement": ("a.js", "// Return the sum of a and b.\nfunction add(a, b) {\n  // TODO\n}\n", (1, 10), None, "implementFunction", 2, 1),
    "javascript-generate": ("b.js", "function main() {\n  const names = ['b', 'a'];\n  // sort the names alphabetically and log each one\n}\n", (2, 6), None, "generateFromComment", 3, 1),
    "javascript-edit": ("c.js", "function total(prices) {\n  // use reduce to add the prices\n  let t = 0;\n  for (const p of prices) t += p;\n  return t;\n}\n", (2, 0), (3, 33), "editSelection", 2, 2),
    "go-implement": ("a.go", "package main\n\n// Add returns the sum of a and b.\nfunc Add(a int, b int) int {\n\tpanic(\"not implemented\")\n}\n", (3, 6), None, "implementFunction", 4, 1),
    "go-generate": ("b.go", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tnames := []string{\"b\", \"a\"}\n\t// print each name on its own line\n}\n", (6, 6), None, "generateFromComment", 7, 1),
    "go-edit": ("c.go", "package main\n\nfunc Total(prices []int) int {\n\t// return early when prices is empty\n\tt := 0\n\tfor _, p := range prices {\n\t\tt += p\n\t}\n\treturn t\n}\n", (4, 0), (4, 7), "editSelection", 4, 5),
    "rust-implement": ("a.rs", "/// Returns the sum of a and b.\nfn add(a: i32, b: i32) -> i32 {\n    todo!()\n}\n", (1, 4), None, "implementFunction", 2, 1),
    "rust-generate": ("b.rs", "fn main() {\n    let names = vec![\"b\", \"a\"];\n    // print each name on its own line\n}\n", (2, 8), None, "generateFromComment", 3, 1),
    "rust-edit": ("c.rs", "fn total(prices: &[i32]) -> i32 {\n    // use an iterator and sum\n    let mut t = 0;\n    for p in prices { t += p; }\n    t\n}\n", (2, 0), (3, 31), "editSelection", 2, 2),
}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=ENV))
async def client(lsp_client: LanguageClient):
    lsp_client.init_result = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual-studio-code"), initialization_options={"codeActions": {"maxTokens": 200, "timeoutMs": 900000}})
    )
    yield
    await lsp_client.shutdown_session()


@pytest.mark.parametrize("case", list(CASES))
async def test_real_model_action_edit_parses_and_lands_in_place(client: LanguageClient, case: str):
    name, text, (line, character), sel_end, kind, kept_above, kept_below = CASES[case]
    language = {"py": "python", "js": "javascript", "go": "go", "rs": "rust"}[name.rsplit(".", 1)[1]]
    uri = f"file:///tmp/real-ca/{case}/{name}"
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)))
    start = types.Position(line=line, character=character)
    end = types.Position(line=sel_end[0], character=sel_end[1]) if sel_end else start
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(start=start, end=end), context=types.CodeActionContext(diagnostics=[]))
    )
    chosen = [a for a in actions or [] if isinstance(a, types.CodeAction) and a.kind.endswith(kind)]
    assert len(chosen) == 1, [a.title for a in actions or []]
    resolved = await client.code_action_resolve_async(chosen[0])
    assert resolved.edit is not None, [m.message for m in client.messages]
    edits = [e for change in resolved.edit.document_changes for e in change.edits]
    doc = Document(uri, text, 1, language)
    after = apply_edits(text, [TextEdit(doc.offset_at(e.range.start.line, e.range.start.character), doc.offset_at(e.range.end.line, e.range.end.character), e.new_text) for e in edits])
    assert Document(uri, after, 2, language).error_count() <= doc.error_count() == 0, after
    lines, new_lines = text.split("\n"), after.split("\n")
    assert new_lines[:kept_above] == lines[:kept_above], after  # the signature / comment above is untouched
    if kept_below:
        assert new_lines[-kept_below - 1 :] == lines[-kept_below - 1 :], after  # and so is the code below
    assert after != text and len(new_lines) >= kept_above + kept_below + 1


REDRAW_DOC = (
    "def pairs_with_sum(numbers: list[int], total: int) -> int:\n"
    '    """Count the pairs (i < j) with numbers[i] + numbers[j] == total.\n'
    "    Use count_pairs_fast(numbers, total), which does exactly that.\n"
    '    """\n'
    "    pass\n"
)


def test_an_answer_with_undefined_names_is_drawn_again_with_fixed_seeds(caplog):
    """The docstring sends the model to a helper nothing defines: the first (greedy) answer
    calls it, pyflakes sees it, and the answer is drawn again, the same way every time."""
    import logging

    from codex_ls.actions import IMPLEMENT, find_targets
    from codex_ls.actions.lint import new_undefined_names
    from codex_ls.engines.base import CancelToken
    from codex_ls.engines.llama import LlamaCppEngine
    from codex_ls.features.code_action import REDRAWS, _write
    from codex_ls.models import resolve_model
    from codex_ls.settings import Settings

    doc = Document("file:///redraw.py", REDRAW_DOC, 0, "python")
    (target,) = [t for t in find_targets(doc, REDRAW_DOC.index("pass")) if t.kind == IMPLEMENT]
    engine = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=2048)
    settings = Settings().code_actions
    runs = []
    try:
        for _ in range(2):
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="codex_ls"):
                plan, _result = _write(engine, doc, target, [], settings, CancelToken(), lambda n: None)
            drawn = [r.getMessage() for r in caplog.records if "drawing again" in r.getMessage()]
            runs.append((plan, drawn))
    finally:
        engine.close()
    plan, drawn = runs[0]
    assert drawn and "`count_pairs_fast` is undefined" in drawn[0]  # the greedy answer called the undefined helper
    assert 1 <= len(drawn) <= REDRAWS
    assert plan.refused is None
    left = new_undefined_names(REDRAW_DOC, apply_edits(REDRAW_DOC, plan.edits))
    assert len(left) < 1 or len(drawn) == REDRAWS  # kept a redrawn answer without it, or tried them all
    assert runs[1][0].edits == plan.edits and runs[1][1] == drawn  # fixed seeds: the same edit again


SURE_DOC = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n    pass\n'
UNSURE_DOC = (
    "def merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:\n"
    '    """Merge overlapping or touching ranges; return them sorted."""\n'
    "    pass\n"
)


def _write_logged(text: str, caplog):
    """Run *Implement function* on ``text`` in process; returns the kept answer, the mean
    log-probability of every answer drawn (from the log, in order) and the redraw messages."""
    import logging
    import re

    from codex_ls.actions import IMPLEMENT, find_targets
    from codex_ls.engines.base import CancelToken
    from codex_ls.engines.llama import LlamaCppEngine
    from codex_ls.features.code_action import _write
    from codex_ls.models import resolve_model
    from codex_ls.settings import Settings

    doc = Document("file:///unsure.py", text, 0, "python")
    (target,) = [t for t in find_targets(doc, text.index("pass")) if t.kind == IMPLEMENT]
    engine = LlamaCppEngine(resolve_model(allow_download=False).path, context_length=2048)
    caplog.clear()
    try:
        with caplog.at_level(logging.INFO, logger="codex_ls"):
            plan, result = _write(engine, doc, target, [], Settings().code_actions, CancelToken(), lambda n: None)
    finally:
        engine.close()
    messages = [r.getMessage() for r in caplog.records]
    logprobs = [float(m) for msg in messages for m in re.findall(r"finish=\w+ logprob=(-?[0-9.]+)$", msg)]
    return plan, result, logprobs, [m for m in messages if "drawing again" in m]


def test_a_sure_answer_is_kept_without_drawing_again(caplog):
    from codex_ls.features.code_action import UNSURE_LOGPROB

    plan, result, logprobs, drawn = _write_logged(SURE_DOC, caplog)
    assert plan.refused is None and drawn == []
    assert logprobs == [pytest.approx(result.mean_logprob, abs=5e-4)] and result.mean_logprob >= UNSURE_LOGPROB


def test_an_unsure_answer_is_drawn_again_and_the_most_likely_answer_is_kept(caplog):
    """The greedy answer's mean log-probability is below the threshold, so more answers are
    drawn (until one is sure, at most REDRAWS) and the most likely one is kept: here a redrawn
    one (fixed seeds: the same answers every time)."""
    from codex_ls.features.code_action import REDRAWS, UNSURE_LOGPROB

    plan, result, logprobs, drawn = _write_logged(UNSURE_DOC, caplog)
    assert plan.refused is None
    assert logprobs[0] < UNSURE_LOGPROB and "unsure" in drawn[0]
    assert 1 <= len(drawn) <= REDRAWS and len(logprobs) == len(drawn) + 1
    assert result.mean_logprob == pytest.approx(max(logprobs), abs=5e-4)  # none had flaws: the likeliest wins
    assert result.mean_logprob > logprobs[0] + 1e-3  # and it is not the first answer
    assert len(drawn) == REDRAWS or max(logprobs) >= UNSURE_LOGPROB  # stopped early only once sure

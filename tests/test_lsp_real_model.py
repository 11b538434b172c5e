"""End to end over stdio with the real default model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M).

The model comes from the installed part packages (assembled once into the
user cache by the resolver). The server gets no initialization options, as
an editor with no codex-ls settings would send. Holes are made in real code:
the Python standard library and this repository's example file.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from codex_ls.documents import Document
from conftest import ROOT, server_command

pytestmark = pytest.mark.real_model

ENV = {k: v for k, v in os.environ.items() if k not in ("CODEX_LS_MODEL", "CODEX_LS_CACHE_DIR")} | {"HF_HUB_OFFLINE": "1"}


def _inline_caps() -> types.ClientCapabilities:
    caps = client_capabilities("neovim@v0.11.0")
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    return caps


PROFILES = {"inline (neovim-0.12, utf-8)": _inline_caps, "fallback (neovim-0.11)": lambda: client_capabilities("neovim@v0.11.0")}


@pytest_lsp.fixture(params=list(PROFILES), config=ClientServerConfig(server_command=server_command(), server_env=ENV))
async def client(request, lsp_client: LanguageClient):
    lsp_client.init_result = await lsp_client.initialize_session(types.InitializeParams(capabilities=PROFILES[request.param]()))
    yield
    await lsp_client.shutdown_session()


def holes_in(text: str, count: int) -> list[tuple[int, int, str]]:
    """Holes inside function bodies: (line, character, hidden rest of line).

    Each hole keeps a statement's indentation and first word and hides the rest of the line.
    """
    lines = text.split("\n")
    holes = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not line.startswith("        ") or not stripped or stripped.startswith(("#", '"', "'", ")", "]", "}")):
            continue
        if not stripped.startswith(("return ", "if ", "for ", "self.", "raise ")):
            continue
        keep = len(line) - len(stripped) + len(stripped.split(" ", 1)[0]) + 1
        holes.append((i, keep, line[keep:]))
    step = max(1, len(holes) // count)
    return holes[::step][:count]


async def complete(client: LanguageClient, uri: str, line: int, character: int) -> list[tuple[str, types.Range]]:
    pos = types.Position(line=line, character=character)
    doc = types.TextDocumentIdentifier(uri=uri)
    if client.capabilities.text_document.inline_completion is not None:
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(text_document=doc, position=pos, context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked))
        )
        return [(i.insert_text, i.range) for i in result.items]
    result = await client.text_document_completion_async(types.CompletionParams(text_document=doc, position=pos))
    return [(i.text_edit.new_text, i.text_edit.range) for i in result.items]


def apply(text: str, rng: types.Range, new_text: str, encoding: str) -> str:
    doc = Document("file:///x.py", text, 0, "python", encoding=encoding)
    start = doc.offset_at(rng.start.line, rng.start.character)
    end = doc.offset_at(rng.end.line, rng.end.character)
    return text[:start] + new_text + text[end:]


@pytest.mark.parametrize("source", [ROOT / "examples" / "inventory.py", Path(textwrap.__file__)], ids=["examples/inventory.py", "stdlib textwrap.py"])
async def test_real_completions_inside_functions_parse(client: LanguageClient, source: Path):
    original = source.read_text(encoding="utf-8")
    encoding = str(client.init_result.capabilities.position_encoding or "utf-16")
    holes = holes_in(original, 4)
    assert len(holes) >= 3
    shown = 0
    for version, (line, character, _hidden) in enumerate(holes, start=1):
        lines = original.split("\n")
        lines[line] = lines[line][:character]
        text = "\n".join(lines)
        uri = f"file:///tmp/real/{version}/{source.name}"
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        items = await complete(client, uri, line, character)
        if not items:
            continue
        new_text, rng = items[0]
        assert new_text.strip()
        assert rng.start == rng.end and rng.start.line == line
        before = Document(uri, text, 1, "python")
        after = Document(uri, apply(text, rng, new_text, encoding), 1, "python")
        assert after.error_count() <= before.error_count(), new_text
        shown += 1
    assert shown >= len(holes) // 2 + 1, f"only {shown} of {len(holes)} holes got a suggestion"

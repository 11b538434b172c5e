"""Prefetch over LSP (tiny model): the line after an accepted suggestion is answered from what
the server prepared while the user read it, without a model run at the request."""

from __future__ import annotations

import asyncio

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from codex_ls.prefetch import indent_unit, next_line_indent
from conftest import TINY_MODEL, server_command, server_env

TEXT = "def f(xs):\n    total = 0\n    \n\n\nprint(f([1]))\n"
LINE, COLUMN = 2, 4  # the empty line in the body, after its indentation


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command("--model", str(TINY_MODEL)), server_env=server_env()))
async def client(lsp_client: LanguageClient):
    caps = client_capabilities("visual-studio-code")
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            # strategy "first-line": the tiny model's first line is shown as it is, whatever it writes
            initialization_options={"completion": {"maxTokens": 12, "strategy": "first-line"}, "logLevel": "debug"},
        )
    )
    yield
    await lsp_client.shutdown_session()


async def inline(client: LanguageClient, uri: str, line: int, character: int) -> list[types.InlineCompletionItem]:
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        )
    )
    return list(result.items if isinstance(result, types.InlineCompletionList) else result or [])


def insert(client: LanguageClient, uri: str, version: int, line: int, character: int, text: str) -> tuple[int, int]:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=types.Position(line=line, character=character), end=types.Position(line=line, character=character)), text=text)],
        )
    )
    parts = text.split("\n")
    return (line, character + len(text)) if len(parts) == 1 else (line + len(parts) - 1, len(parts[-1]))


def logged(client: LanguageClient, start: str) -> list[str]:
    """The server's log lines (after ``LEVEL logger: ``) that start with ``start``."""
    lines = [m.message.split(": ", 1)[-1] for m in client.log_messages]
    return [line for line in lines if line.startswith(start)]


def count(client: LanguageClient, start: str) -> int:
    """Model runs logged as ``start <uri> mode=... prompt=...`` (``completion `` or ``prefetch ``)."""
    return sum(1 for line in logged(client, start) if " prompt=" in line)


async def wait_for(predicate, timeout: float = 60.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def first_suggestion(client: LanguageClient, uri: str) -> str:
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=TEXT)))
    items = await inline(client, uri, LINE, COLUMN)
    assert len(items) == 1
    return items[0].insert_text


async def test_the_line_after_an_accepted_suggestion_is_answered_from_the_prefetch(client: LanguageClient):
    uri = "file:///tmp/prefetch.py"
    shown = await first_suggestion(client, uri)
    assert shown.strip() and "\n" not in shown  # the tiny model's (deterministic) line
    # the user reads the suggestion; the server prepares the next line meanwhile
    assert await wait_for(lambda: count(client, "prefetch ") == 1)
    assert await wait_for(lambda: any(" ready: " in line for line in logged(client, "prefetch ")))
    real_runs = count(client, "completion ")
    at = insert(client, uri, 2, LINE, COLUMN, shown)  # Tab
    assert await inline(client, uri, *at) == []  # the request right after an accept: nothing, the prefetch is kept
    before = TEXT[: TEXT.index("    \n\n") + COLUMN] + shown
    at = insert(client, uri, 3, *at, "\n" + next_line_indent(before.rsplit("\n", 1)[-1], indent_unit(before), True))  # Enter
    items = await inline(client, uri, *at)
    assert len(items) == 1 and items[0].insert_text.strip()
    assert count(client, "completion ") == real_runs  # no model run for this request
    assert any("typing-through hit" in m.message for m in client.log_messages)


async def test_any_other_request_stops_the_prefetch(client: LanguageClient):
    uri = "file:///tmp/prefetch-other.py"
    await first_suggestion(client, uri)
    # a request elsewhere right away (within completion.prefetchDelayMs): the planned prefetch
    # does not start, or is stopped between two tokens
    runs = count(client, "completion ")
    await inline(client, uri, 1, 4)
    await asyncio.sleep(1.0)
    assert count(client, "completion ") == runs + 1
    assert all("finish=cancelled" in line for line in logged(client, "prefetch ") if " prompt=" in line)
    assert not any(" ready: " in line for line in logged(client, "prefetch "))

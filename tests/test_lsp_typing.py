"""Typing through a suggestion over LSP: the rest comes from the server's memory, not the model."""

from __future__ import annotations

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from conftest import TINY_MODEL, server_command, server_env


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command("--model", str(TINY_MODEL)), server_env=server_env()))
async def client(lsp_client: LanguageClient):
    caps = client_capabilities("visual-studio-code")
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=caps, initialization_options={"completion": {"maxTokens": 24}, "logLevel": "debug"})
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


def model_calls(client: LanguageClient) -> int:
    return sum(1 for m in client.log_messages if "completion " in m.message and " prompt=" in m.message)  # prefetch runs log "prefetch ..."


async def test_typing_what_was_shown_is_answered_without_the_model(client: LanguageClient):
    uri = "file:///tmp/typing.txt"  # plain text: whatever the tiny model writes is shown
    line = "the quick brown "
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id="plaintext", version=1, text=f"{line}\nend\n"))
    )
    items = await inline(client, uri, 0, len(line))
    assert len(items) == 1
    shown = items[0].insert_text
    typed = shown.lstrip()[:2] or shown[:1]
    typed = shown[: shown.index(typed) + len(typed)]
    assert typed and len(typed) < len(shown.rstrip())
    calls = model_calls(client)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(line=0, character=len(line)), end=types.Position(line=0, character=len(line))),
                    text=typed,
                )
            ],
        )
    )
    items = await inline(client, uri, 0, len(line) + len(typed))
    assert [i.insert_text for i in items] == [shown[len(typed):]]
    assert any("typing-through hit" in m.message for m in client.log_messages)
    assert model_calls(client) == calls  # the model was not asked again

    # typing something else asks the model again
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(line=0, character=len(line) + len(typed)), end=types.Position(line=0, character=len(line) + len(typed))),
                    text="\u2603",
                )
            ],
        )
    )
    await inline(client, uri, 0, len(line) + len(typed) + 1)
    assert model_calls(client) == calls + 1


def last_model_run(client: LanguageClient) -> tuple[int, int]:
    """(prompt tokens, prompt tokens evaluated) of the server's last completion debug line."""
    import re

    found = [re.search(r" prompt=(\d+) eval=(\d+) ", m.message) for m in client.log_messages]
    prompt, evaluated = [f for f in found if f][-1].groups()
    return int(prompt), int(evaluated)


async def test_moving_down_the_file_evaluates_only_the_new_lines(client: LanguageClient):
    uri = "file:///tmp/moving.txt"
    text = "".join(f"row {i} has value {i * 7}\n" for i in range(400))
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id="plaintext", version=1, text=text))
    )
    await inline(client, uri, 300, 4)
    first_prompt, _ = last_model_run(client)
    await inline(client, uri, 340, 4)
    prompt, evaluated = last_model_run(client)
    # The server kept the prompt's start (its line) for this document: the KV cache holds the
    # prompt up to the old cursor; the 40 new lines and the suffix are evaluated, not the rest.
    # (Cut to its budget again, the prefix would start 32 lines further down: all of it new.)
    assert prompt > first_prompt
    assert evaluated < prompt * 3 // 4, (prompt, evaluated)


async def test_typing_an_unclosed_brace_keeps_the_suffix_in_the_kv_cache(client: LanguageClient):
    # The suffix ends with the function around the cursor (completion.suffixScope). Half-typed,
    # `if n > 0 {` leaves a brace open and tree-sitter then ends the function elsewhere; the
    # server keeps the suffix's end while the user types on the line, so each keystroke
    # evaluates only its own tokens instead of the suffix again.
    uri = "file:///tmp/typing.go"
    body = "".join(f"\tv{i} := {i}\n" for i in range(30))
    text = "package main\n\nfunc size() int {\n" + body + "\tn := 0\n\t\n\treturn n\n}\n\n" + "".join(f"func after{i}() int {{ return {i} }}\n" for i in range(20))
    line = text.split("\n").index("\t")
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id="go", version=1, text=text))
    )
    await inline(client, uri, line, 1)
    evaluated_per_key = []
    for version, ch in enumerate("if n > 0 {", start=2):
        character = version - 1  # after the tab and the characters typed so far
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=types.Position(line=line, character=character), end=types.Position(line=line, character=character)), text=ch)],
            )
        )
        calls = model_calls(client)
        await inline(client, uri, line, character + 1)
        if model_calls(client) > calls:
            evaluated_per_key.append(last_model_run(client)[1])
    assert len(evaluated_per_key) >= 8, evaluated_per_key  # the model ran for (nearly) every keystroke
    assert max(evaluated_per_key) <= 8, evaluated_per_key

"""Code actions end to end over stdio with pytest-lsp: the real server and engine, tiny GGUF models.

The tiny models' text is meaningless, so these tests check the protocol: what is listed for
each editor profile (resolve vs. command), that listing never runs the model, the refused-edit
path, workspace/applyEdit, work-done progress, cancellation and malformed requests. The real
default model writes real code in ``test_code_actions_real_model.py``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Union

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from codex_ls.actions import apply_edits
from codex_ls.documents import Document
from conftest import SLOW_MODEL, TINY_MODEL, server_command, server_env

PROFILES = {
    "vscode": lambda: client_capabilities("visual-studio-code"),  # resolves edits, documentChanges
    "neovim-0.11": lambda: client_capabilities("neovim@v0.11.0"),  # resolves edits, utf-8 positions
    "emacs-29": lambda: client_capabilities("emacs"),  # no resolve: command + workspace/applyEdit
}

SAMPLES = {
    "python": ("sample.py", "import os\n\n\ndef area(r: float) -> float:\n    \"\"\"Area of a circle.\"\"\"\n    pass\n\n\ndef main():\n    # print the area of circles of radius 1 to 3\n    \n"),
    "javascript": ("sample.js", "// Area of a circle.\nfunction area(r) {\n  // TODO\n}\n\nfunction main() {\n  // print the area of circles of radius 1 to 3\n}\n"),
    "go": ("sample.go", "package main\n\n// Area of a circle.\nfunc Area(r float64) float64 {\n\tpanic(\"not implemented\")\n}\n\nfunc main() {\n\t// print the area of circles of radius 1 to 3\n}\n"),
    "rust": ("sample.rs", "/// Area of a circle.\nfn area(r: f64) -> f64 {\n    todo!()\n}\n\nfn main() {\n    // print the area of circles of radius 1 to 3\n}\n"),
}


def _apply_edit_handler(client: LanguageClient) -> None:
    client.applied_edits = []
    # lsprotocol's client-side hook reads any object with a "command" key as a Command, so a
    # CodeAction that carries a command (spec-valid, what clients without resolve get) would
    # come back mangled; tell them apart by the type of "command", as editors do.
    converter = client.protocol._converter

    def command_or_code_action(obj, _type):
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(Union[types.Command, types.CodeAction], command_or_code_action)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):
        client.applied_edits.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)


@pytest_lsp.fixture(
    params=list(PROFILES),
    config=ClientServerConfig(server_command=server_command("--model", str(TINY_MODEL)), server_env=server_env()),
)
async def client(request, lsp_client: LanguageClient):
    _apply_edit_handler(lsp_client)
    lsp_client.init_result = await lsp_client.initialize_session(
        types.InitializeParams(capabilities=PROFILES[request.param](), initialization_options={"codeActions": {"maxTokens": 24}, "logLevel": "debug"})
    )
    lsp_client.profile = request.param
    yield
    await lsp_client.shutdown_session()


def open_doc(client: LanguageClient, uri: str, text: str, language_id: str) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)))


def encoding(client: LanguageClient) -> str:
    return str(client.init_result.capabilities.position_encoding or "utf-16")


async def list_actions(client: LanguageClient, uri: str, line: int, character: int, end: tuple[int, int] | None = None, only=None):
    rng = types.Range(start=types.Position(line=line, character=character), end=types.Position(line=end[0], character=end[1]) if end else types.Position(line=line, character=character))
    result = await client.text_document_code_action_async(
        types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri), range=rng, context=types.CodeActionContext(diagnostics=[], only=only))
    )
    return [a for a in (result or []) if isinstance(a, types.CodeAction)]


def edits_of(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    if edit.document_changes:
        return [e for change in edit.document_changes for e in change.edits if change.text_document.uri == uri]
    return list((edit.changes or {}).get(uri, []))


def apply_lsp(text: str, edits: list[types.TextEdit], enc: str) -> str:
    doc = Document("file:///x", text, 0, None, encoding=enc)
    from codex_ls.actions import TextEdit

    return apply_edits(text, [TextEdit(doc.offset_at(e.range.start.line, e.range.start.character), doc.offset_at(e.range.end.line, e.range.end.character), e.new_text) for e in edits])


async def choose(client: LanguageClient, action: types.CodeAction, uri: str) -> types.WorkspaceEdit | None:
    """Run an action as the profile's editor would: resolve it, or execute its command (the edit then arrives through workspace/applyEdit)."""
    if action.data is not None:
        resolved = await client.code_action_resolve_async(action)
        return resolved.edit
    assert action.command is not None and action.edit is None
    before = len(client.applied_edits)
    await client.workspace_execute_command_async(types.ExecuteCommandParams(command=action.command.command, arguments=action.command.arguments))
    return client.applied_edits[-1].edit if len(client.applied_edits) > before else None


async def test_initialize_advertises_code_actions_and_commands(client: LanguageClient):
    caps = client.init_result.capabilities
    provider = caps.code_action_provider
    assert isinstance(provider, types.CodeActionOptions) and provider.resolve_provider
    assert set(provider.code_action_kinds) == {
        "refactor.rewrite.codexLs.generateFromComment", "refactor.rewrite.codexLs.implementFunction", "refactor.rewrite.codexLs.editSelection",
    }
    assert {"codexLs.generateFromComment", "codexLs.implementFunction", "codexLs.editSelection"} <= set(caps.execute_command_provider.commands)


async def test_listing_offers_each_action_without_calling_the_model(client: LanguageClient):
    for language in SAMPLES:
        await _check_listing(client, language)
    assert not any(m.message.startswith("code action ") for m in client.log_messages)  # the model never ran


async def _check_listing(client: LanguageClient, language: str) -> None:
    name, text = SAMPLES[language]
    uri = f"file:///tmp/ca/{client.profile}/{name}"
    open_doc(client, uri, text, language)
    lines = text.split("\n")
    fn_line = next(i for i, l in enumerate(lines) if re.search(r"\b(def|fn|func|function) [Aa]rea", l))
    comment_line = next(i for i, l in enumerate(lines) if "print the area" in l)
    implement = await list_actions(client, uri, fn_line, 4)
    generate = await list_actions(client, uri, comment_line, 8)
    selection = await list_actions(client, uri, comment_line + 1, 0, end=(comment_line + 1, 0))
    assert [a.title for a in implement] == [f"Implement function {'Area' if language == 'go' else 'area'}"]
    assert implement[0].kind == "refactor.rewrite.codexLs.implementFunction"
    assert [a.kind for a in generate if a.kind.endswith("generateFromComment")] == ["refactor.rewrite.codexLs.generateFromComment"]
    assert all(a.edit is None for a in implement + generate)  # lazy: no edit until chosen
    resolves = client.profile != "emacs-29"
    for action in implement + generate:
        assert (action.data is not None) == resolves and (action.command is not None) == (not resolves)
    assert not any(a.kind.endswith("editSelection") for a in selection)  # no selection, no edit
    assert await list_actions(client, uri, fn_line, 4, only=[types.CodeActionKind.QuickFix]) == []
    assert len(await list_actions(client, uri, fn_line, 4, only=[types.CodeActionKind.Refactor])) == 1


EDIT_SAMPLES = {
    "python": ("edit.py", "def total(prices):\n    # use the built-in sum\n    t = 0\n    for p in prices:\n        t += p\n    return t\n", (2, 0), (4, 14)),
    "javascript": ("edit.js", "function total(prices) {\n  // use reduce to add the prices\n  let t = 0;\n  for (const p of prices) t += p;\n  return t;\n}\n", (2, 0), (3, 33)),
    "go": ("edit.go", "package main\n\nfunc Total(prices []int) int {\n\t// return early when prices is empty\n\tt := 0\n\treturn t\n}\n", (4, 0), (4, 7)),
    "rust": ("edit.rs", "fn total(prices: &[i32]) -> i32 {\n    // use an iterator and sum\n    let mut t = 0;\n    for p in prices { t += p; }\n    t\n}\n", (2, 0), (3, 31)),
}


async def test_listing_offers_edit_selection_under_an_instruction_comment(client: LanguageClient):
    for language in EDIT_SAMPLES:
        await _check_edit_listing(client, language)


async def _check_edit_listing(client: LanguageClient, language: str) -> None:
    name, text, start, end = EDIT_SAMPLES[language]
    uri = f"file:///tmp/ca/{client.profile}/{name}"
    open_doc(client, uri, text, language)
    actions = await list_actions(client, uri, *start, end=end)
    assert [a.title for a in actions] == ["Edit selection"]
    assert actions[0].kind == "refactor.rewrite.codexLs.editSelection"
    # the same lines without the instruction comment above: nothing to offer
    no_comment = "\n".join(l for l in text.split("\n") if "//" not in l and "#" not in l)
    uri2 = f"file:///tmp/ca/{client.profile}/plain-{name}"
    open_doc(client, uri2, no_comment, language)
    assert await list_actions(client, uri2, start[0] - 1, 0, end=(end[0] - 1, end[1])) == []


async def test_chosen_action_never_adds_syntax_errors(client: LanguageClient):
    """Whatever the random model writes: an edit that keeps the file parsing, or no edit and a message."""
    for language in SAMPLES:
        await _check_chosen(client, language)


async def _check_chosen(client: LanguageClient, language: str) -> None:
    name, text = SAMPLES[language]
    uri = f"file:///tmp/ca/{client.profile}/choose/{name}"
    open_doc(client, uri, text, language)
    fn_line = next(i for i, l in enumerate(text.split("\n")) if re.search(r"\b(def|fn|func|function) [Aa]rea", l))
    (action,) = await list_actions(client, uri, fn_line, 6)
    messages_before = len(client.messages)
    edit = await choose(client, action, uri)
    if edit is None:
        assert any("nothing was changed" in m.message for m in client.messages[messages_before:])
    else:
        edits = edits_of(edit, uri)
        assert len(edits) >= 1
        after = apply_lsp(text, edits, encoding(client))
        assert Document(uri, after, 2, language).error_count() <= Document(uri, text, 1, language).error_count()
        signature_end = text.index("\n", text.index("rea(")) + 1
        assert after.startswith(text[:signature_end])  # the doc comment and signature are kept


async def test_malformed_requests_get_errors_and_the_server_survives(client: LanguageClient):
    with pytest.raises(JsonRpcException):
        await client.code_action_resolve_async(types.CodeAction(title="x", data={"uri": 5}))
    with pytest.raises(JsonRpcException):
        await client.code_action_resolve_async(types.CodeAction(title="x", data={"uri": "file:///never-opened.py", "kind": "implement", "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}}))
    with pytest.raises(JsonRpcException):
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="codexLs.implementFunction", arguments=[]))
    with pytest.raises(JsonRpcException):
        await list_actions(client, "file:///tmp/ca/never-opened.py", 0, 0)
    name, text = SAMPLES["rust"]
    uri = f"file:///tmp/ca/{client.profile}/after-errors/{name}"
    open_doc(client, uri, text, "rust")
    assert len(await list_actions(client, uri, 1, 4)) == 1


# --- a model that only says "xxxx...": refused edits, applyEdit, progress, cancellation -------------

SLOW = {"codeActions": {"maxTokens": 8}, "model": {"contextLength": 8192}, "logLevel": "debug"}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command("--model", str(SLOW_MODEL)), server_env=server_env()))
async def slow(lsp_client: LanguageClient):
    _apply_edit_handler(lsp_client)
    lsp_client.init_result = await lsp_client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code"), initialization_options=SLOW))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command("--model", str(SLOW_MODEL)), server_env=server_env()))
async def slow_emacs(lsp_client: LanguageClient):
    _apply_edit_handler(lsp_client)
    lsp_client.init_result = await lsp_client.initialize_session(types.InitializeParams(capabilities=client_capabilities("emacs"), initialization_options=SLOW))
    yield
    await lsp_client.shutdown_session()


def generations(client: LanguageClient) -> list[tuple[int, str]]:
    """(generated tokens, finish reason) of every code action generation the server logged."""
    out = []
    for m in client.log_messages:
        found = re.search(r"code action \w+ \S+ prompt=\d+ eval=\d+ gen=(\d+) \d+ms finish=(\w+)", m.message)
        if found:
            out.append((int(found.group(1)), found.group(2)))
    return out


async def wait_for(predicate, timeout: float = 60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_refused_edit_shows_a_message_and_changes_nothing(slow: LanguageClient):
    # "xxxxxxxx" as a field of a Rust struct does not parse: the edit must be refused.
    text = "struct Point {\n    // the x and y coordinates as floats\n}\n"
    uri = "file:///tmp/ca/refused.rs"
    open_doc(slow, uri, text, "rust")
    (action,) = await list_actions(slow, uri, 1, 10)
    assert action.title == "Generate code from comment"
    resolved = await slow.code_action_resolve_async(action)
    assert resolved.edit is None
    assert any("syntax errors" in m.message and "nothing was changed" in m.message for m in slow.messages)
    assert generations(slow) and generations(slow)[-1][1] == "length"


async def test_command_path_applies_one_workspace_edit(slow_emacs: LanguageClient):
    text = "def main():\n    # print the area of circles of radius 1 to 3\n    \n"
    uri = "file:///tmp/ca/command.py"
    open_doc(slow_emacs, uri, text, "python")
    (action,) = await list_actions(slow_emacs, uri, 2, 4)
    assert action.command.command == "codexLs.generateFromComment"
    await slow_emacs.workspace_execute_command_async(types.ExecuteCommandParams(command=action.command.command, arguments=action.command.arguments))
    assert len(slow_emacs.applied_edits) == 1
    params = slow_emacs.applied_edits[0]
    assert params.label == "Generate code from comment"
    (edit,) = edits_of(params.edit, uri)
    # the blank line under the comment becomes the code, at the comment's indentation
    assert edit.range.start == types.Position(line=1, character=len("    # print the area of circles of radius 1 to 3"))
    assert re.fullmatch(r"\n    x+", edit.new_text)


async def test_edit_selection_command_takes_the_instruction_as_an_argument(slow: LanguageClient):
    text = "def f(v):\n    s = 0\n    return s\n"
    uri = "file:///tmp/ca/edit.py"
    open_doc(slow, uri, text, "python")
    arg = {"uri": uri, "range": {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}}, "instruction": "start from one"}
    await slow.workspace_execute_command_async(types.ExecuteCommandParams(command="codexLs.editSelection", arguments=[arg]))
    (params,) = slow.applied_edits
    (edit,) = edits_of(params.edit, uri)
    assert edit.range == types.Range(start=types.Position(line=1, character=0), end=types.Position(line=1, character=9))
    assert re.fullmatch(r"    x+", edit.new_text)
    assert params.edit.document_changes[0].text_document.version == 1


async def test_resolve_reports_work_done_progress(slow: LanguageClient):
    text = "def main():\n    # print the area of circles of radius 1 to 3\n"
    uri = "file:///tmp/ca/progress.py"
    open_doc(slow, uri, text, "python")
    (action,) = await list_actions(slow, uri, 1, 10)
    resolved = await slow.code_action_resolve_async(action)
    assert resolved.edit is not None
    reports = [r for token, r in slow.progress_reports.items() if str(token).startswith("codex-ls/code-action/")]
    assert reports, "no code action progress"
    kinds = [type(r).__name__ for r in reports[-1]]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
    assert reports[-1][0].cancellable is True and reports[-1][-1].message == "done"


async def _long_resolve(client: LanguageClient, uri: str):
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"codexLs": {**SLOW, "codeActions": {"maxTokens": 3000, "timeoutMs": 600000}}}))
    open_doc(client, uri, "def main():\n    # print the area of circles of radius 1 to 3\n", "python")
    (action,) = await list_actions(client, uri, 1, 10)
    return action


async def test_cancel_request_stops_generation(slow: LanguageClient):
    action = await _long_resolve(slow, "file:///tmp/ca/cancel.py")
    future = slow.protocol.send_request(types.CODE_ACTION_RESOLVE, action, msg_id="resolve-me")
    assert await wait_for(lambda: any(str(t).startswith("codex-ls/code-action/") for t in slow.progress_reports), 30)
    await asyncio.sleep(1.0)
    slow.cancel_request(types.CancelParams(id="resolve-me"))
    with pytest.raises(JsonRpcException):
        await asyncio.wrap_future(future)
    assert await wait_for(lambda: generations(slow), 60)
    generated, reason = generations(slow)[-1]
    assert reason == "cancelled" and generated < 3000


async def test_progress_cancel_stops_generation_and_changes_nothing(slow: LanguageClient):
    action = await _long_resolve(slow, "file:///tmp/ca/progress-cancel.py")
    task = asyncio.ensure_future(slow.code_action_resolve_async(action))
    assert await wait_for(lambda: any(str(t).startswith("codex-ls/code-action/") for t in slow.progress_reports), 30)
    token = next(t for t in slow.progress_reports if str(t).startswith("codex-ls/code-action/"))
    await asyncio.sleep(1.0)
    slow.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    resolved = await asyncio.wait_for(task, 60)
    assert resolved.edit is None
    generated, reason = generations(slow)[-1]
    assert reason == "cancelled" and generated < 3000

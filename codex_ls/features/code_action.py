"""textDocument/codeAction, codeAction/resolve and the codexLs.* commands: code from words.

Listing is instant: :func:`codex_ls.actions.find_targets` (tree-sitter only) gives the titles,
and nothing calls the model. The model runs when an action is chosen: in ``codeAction/resolve``
when the client can resolve the ``edit`` property (``resolveSupport`` and ``dataSupport``),
else in ``workspace/executeCommand`` followed by ``workspace/applyEdit``. Either way the work
is reported with work-done progress (cancellable: ``window/workDoneProgress/cancel`` or
``$/cancelRequest`` stop the model between two tokens), and the answer is checked by
:func:`codex_ls.actions.plan_edit` before anything changes: a refused answer gives one
``window/showMessage`` and no edit. The edit is one ``WorkspaceEdit`` (one undo).

Commands (one argument, an object):
``codexLs.generateFromComment`` / ``codexLs.implementFunction`` / ``codexLs.editSelection``
``{"uri": str, "range": LSP Range, "instruction": str (editSelection only, optional)}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import replace
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from codex_ls.actions import ACTION_KINDS, EDIT, GENERATE, IMPLEMENT, TITLES, ActionTarget, answer_prefix, apply_edits, build_messages, code_block_end, find_targets, plan_edit
from codex_ls.actions.lint import new_undefined_names, undefined_names
from codex_ls.engines.base import CancelToken, EngineError
from codex_ls.features.inline_completion import snapshot

log = logging.getLogger(__name__)

COMMANDS = {
    GENERATE: "codexLs.generateFromComment",
    IMPLEMENT: "codexLs.implementFunction",
    EDIT: "codexLs.editSelection",
}
"""``workspace/executeCommand`` command per action kind."""
_KIND_OF_COMMAND = {v: k for k, v in COMMANDS.items()}


def _supports(obj: Any, *path: str) -> Any:
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def client_resolves_edits(caps: types.ClientCapabilities | None) -> bool:
    """Whether the client resolves a code action's ``edit`` lazily (``resolveSupport.properties``
    holds ``"edit"`` and ``dataSupport`` is true)."""
    props = _supports(caps, "text_document", "code_action", "resolve_support", "properties") or []
    return "edit" in props and bool(_supports(caps, "text_document", "code_action", "data_support"))


def _wanted_kinds(only: list[str] | None) -> tuple[str, ...] | None:
    """The action kinds a ``context.only`` filter lets through (``None``: all)."""
    if not only:
        return None
    kinds = tuple(k for k, lsp_kind in ACTION_KINDS.items() if any(lsp_kind == o or lsp_kind.startswith(str(o) + ".") for o in only))
    return kinds


def _offsets(doc, rng: types.Range) -> tuple[int, int]:
    if min(rng.start.line, rng.start.character, rng.end.line, rng.end.character) < 0:
        raise JsonRpcInvalidParams("negative position in range")
    return doc.offset_at(rng.start.line, rng.start.character), doc.offset_at(rng.end.line, rng.end.character)


def list_actions(ls, params: types.CodeActionParams) -> list[types.CodeAction]:
    """The code actions for ``params`` (no model call). Raises ``JsonRpcInvalidParams`` for an
    unknown document or a negative position."""
    if not ls.settings.code_actions.enabled:
        return []
    uri = params.text_document.uri
    doc = ls.documents.get(uri)
    if doc is None:
        raise JsonRpcInvalidParams(f"document not open: {uri}")
    kinds = _wanted_kinds(params.context.only if params.context else None)
    if kinds == ():
        return []
    start, end = _offsets(doc, params.range)
    targets = find_targets(doc, start, end, kinds=kinds)
    lazy = client_resolves_edits(ls.client_capabilities)
    actions = []
    for target in targets:
        data = {"uri": uri, "kind": target.kind, "version": doc.version, "range": {
            "start": {"line": params.range.start.line, "character": params.range.start.character},
            "end": {"line": params.range.end.line, "character": params.range.end.character},
        }}
        action = types.CodeAction(title=target.title, kind=ACTION_KINDS[target.kind])
        if lazy:
            action.data = data
        else:
            action.command = types.Command(title=target.title, command=COMMANDS[target.kind], arguments=[data])
        actions.append(action)
    return actions


def _parse_data(data: Any, kind: str | None = None) -> tuple[str, str, types.Range, str | None]:
    """``(uri, kind, range, instruction)`` from a code action's ``data`` or a command argument.

    Raises:
        JsonRpcInvalidParams: anything missing or of the wrong type.
    """
    if not isinstance(data, dict):
        raise JsonRpcInvalidParams("code action data must be an object with uri and range")
    uri, kind = data.get("uri"), kind or data.get("kind")
    rng = data.get("range") or ({"start": data["position"], "end": data["position"]} if isinstance(data.get("position"), dict) else None)
    instruction = data.get("instruction")
    if not isinstance(uri, str) or kind not in COMMANDS or not isinstance(rng, dict):
        raise JsonRpcInvalidParams("code action data needs uri (string), kind and range")
    if instruction is not None and not isinstance(instruction, str):
        raise JsonRpcInvalidParams("instruction must be a string")
    try:
        def pos(p):
            line, character = p["line"], p["character"]
            if not (isinstance(line, int) and isinstance(character, int)) or isinstance(line, bool) or isinstance(character, bool):
                raise TypeError
            return types.Position(line=line, character=character)

        return uri, kind, types.Range(start=pos(rng["start"]), end=pos(rng["end"])), instruction
    except (KeyError, TypeError):
        raise JsonRpcInvalidParams("range must be {start: {line, character}, end: {line, character}}") from None


class _Progress:
    """Work-done progress for one code action, created by the server; cancellable."""

    def __init__(self, ls, title: str, cancel: CancelToken):
        self.ls = ls
        self.title = title
        self.cancel = cancel
        self.token: str | None = None

    async def begin(self) -> None:
        if not _supports(self.ls.client_capabilities, "window", "work_done_progress"):
            return
        token = f"codex-ls/code-action/{uuid.uuid4()}"
        try:
            await asyncio.wait_for(self.ls.work_done_progress.create_async(token), 5)
        except Exception as exc:  # the client refused or did not answer: no progress
            log.info("window/workDoneProgress/create failed: %s", exc)
            return
        self.token = token
        self.ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=f"codex-ls: {self.title}", message="asking the model", cancellable=True))
        future = self.ls.work_done_progress.tokens.get(token)
        if future is not None:
            future.add_done_callback(lambda f: self.cancel.cancel() if f.cancelled() else None)

    def report(self, message: str) -> None:
        if self.token is not None:
            self.ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message))

    def end(self, message: str) -> None:
        if self.token is not None:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.ls.work_done_progress.tokens.pop(self.token, None)
            self.token = None


REDRAWS = 2
"""Most extra answers drawn for an answer with flaws or an unsure one (see :func:`_write`)."""
REDRAW_TEMPERATURE = 0.7
"""Sampling temperature of those extra answers (the first one is greedy by default)."""
UNSURE_LOGPROB = -0.1
"""An answer whose mean log-probability per token (natural log) is below this is unsure:
more answers are drawn and the most likely one is kept. Chosen on HumanEval with the 0.5B
model (``benchmarks/nl2code.py``): the median greedy answer that fails its tests scores
-0.108, the median one that passes -0.063; about a third of the answers fall below it."""


def _ask(engine, chat, target: ActionTarget, settings, cancel: CancelToken, deadline: float, on_tokens, count: list[int], seed: int | None = None):
    """Engine thread: one answer to ``chat`` (an in-process model continues the answer prefix);
    ``seed`` for sampling (``settings.temperature > 0``)."""
    from codex_ls.engines.base import ChatRequest, GenerationRequest
    from codex_ls.engines.chat import TURN_ENDS, format_chat

    prefix = answer_prefix(target) if getattr(engine, "name", "") == "llama-cpp" else ""

    def should_stop(text: str):
        count[0] += 1
        if count[0] % 16 == 0:
            on_tokens(count[0])
        cut = code_block_end(prefix + text)  # the prose after the code block is never used
        return None if cut is None else max(0, cut - len(prefix))

    if prefix:
        # An in-process model continues an answer that already holds the signature: it writes
        # only the body (fewer tokens, and it cannot change the signature).
        prompt = format_chat(chat, engine.model_info().chat_template) + prefix
        result = engine.generate(GenerationRequest(prompt=prompt, max_tokens=settings.max_tokens, stop=TURN_ENDS, temperature=settings.temperature, should_stop=should_stop, deadline_s=deadline, seed=seed, logprobs=True), cancel)
        result.text = prefix + result.text
        return result
    request = ChatRequest(messages=chat, max_tokens=settings.max_tokens, temperature=settings.temperature, should_stop=should_stop, deadline_s=deadline, seed=seed, logprobs=True)
    return engine.chat(request, cancel)


def _write(engine, snap, target: ActionTarget, others, settings, cancel: CancelToken, on_tokens):
    """Engine thread: prompt, generate, check. Returns ``(plan, result)``.

    An answer with flaws (:func:`_flaws`: refused by the checks; a Python answer that uses
    names nothing defines, ``factorial(i)`` with no ``factorial``, found with pyflakes; an
    answer cut by the token limit) or an unsure one (mean log-probability per token below
    :data:`UNSURE_LOGPROB`, for engines that report it) is drawn again, up to :data:`REDRAWS`
    times, from the same prompt at :data:`REDRAW_TEMPERATURE` with fixed seeds (1, 2: the same
    request gives the same edit), until the best answer so far has neither. The best answer
    is the first by :func:`_rank`: passes the checks, then fewest flaws, then highest mean
    log-probability. Rejection sampling with static checks plus mean log-probability
    reranking (Chen et al., 2021, "Evaluating Large Language Models Trained on Code", sec. 3.3:
    among samples, the one with the highest mean token log-probability passes more often than
    a random one); nothing is run. Asking the 0.5B model to fix its answer instead
    (Self-Debugging, Chen et al., 2023) made it repeat the same code."""
    from codex_ls.engines.base import ChatMessage

    chat = tuple(ChatMessage(role, content) for role, content in build_messages(snap, target, others))
    deadline = time.monotonic() + settings.timeout_ms / 1000.0
    count = [0]
    result = _ask(engine, chat, target, settings, cancel, deadline, on_tokens, count)
    _log_result(target, snap, result)
    if cancel.cancelled or result.finish_reason == "cancelled":
        return None, result
    plan = plan_edit(snap, target, result.text)
    python = snap.language is not None and snap.language.name == "python"
    undefined_before = undefined_names(snap.text) if python else None  # the user's own, once
    flaws = _flaws(snap, plan, result, undefined_before)
    for attempt in range(REDRAWS):
        unsure = result.mean_logprob is not None and result.mean_logprob < UNSURE_LOGPROB
        if not (flaws or unsure) or time.monotonic() >= deadline:
            break
        why = flaws or [f"unsure (mean log-probability {result.mean_logprob:.3f})"]
        log.info("code action %s %s: %s; drawing again", target.kind, snap.uri, "; ".join(why))
        again = replace(settings, temperature=max(settings.temperature, REDRAW_TEMPERATURE))
        second = _ask(engine, chat, target, again, cancel, deadline, on_tokens, count, seed=attempt + 1)
        _log_result(target, snap, second)
        if cancel.cancelled or second.finish_reason == "cancelled":
            return None, second
        redrawn = plan_edit(snap, target, second.text)
        left = _flaws(snap, redrawn, second, undefined_before)
        if _rank(redrawn, left, second) > _rank(plan, flaws, result):
            plan, result, flaws = redrawn, second, left
    return plan, result


def _rank(plan, flaws: list[str], result) -> tuple[bool, int, float]:
    """How good an answer is (greater is better): it passes the checks, it has fewer
    :func:`_flaws`, it has a higher mean log-probability (``-inf`` when unknown)."""
    return (plan.refused is None, -len(flaws), result.mean_logprob if result.mean_logprob is not None else float("-inf"))


def _flaws(snap, plan, result, undefined_before) -> list[str]:
    """What makes an answer worth drawing again (``[]``: nothing): why it was refused (no code,
    only the placeholder, new syntax errors); else, in Python (``undefined_before``: the
    document's own undefined names, ``None`` elsewhere or when it does not compile), each name
    it uses that nothing defines, and running out of tokens (``finish_reason == "length"``: a
    small model that repeats itself until the limit)."""
    if plan.refused is not None:
        return [plan.refused]
    flaws = []
    if undefined_before is not None:
        flaws += [f"`{name}` is undefined" for name in new_undefined_names(undefined_before, apply_edits(snap.text, plan.edits))]
    if result.finish_reason == "length":
        flaws.append("the answer ran out of tokens")
    return flaws


def _log_result(target: ActionTarget, snap, result) -> None:
    log.info(
        "code action %s %s prompt=%d eval=%d gen=%d %.0fms finish=%s logprob=%s",
        target.kind, snap.uri, result.prompt_tokens, result.prompt_tokens_evaluated, result.generated_tokens, result.elapsed_ms, result.finish_reason,
        "n/a" if result.mean_logprob is None else f"{result.mean_logprob:.3f}",
    )


def _position(doc, offset: int) -> types.Position:
    line, character = doc.position_at(offset)
    return types.Position(line=line, character=character)


async def _chat_engine(ls, timeout_s: float):
    wait = getattr(ls.models, "wait_chat_ready", None) or ls.models.wait_ready
    return await wait(timeout_s)


async def run_action(ls, data: Any, kind: str | None = None) -> tuple[types.WorkspaceEdit | None, str]:
    """Write the code of one code action: returns the workspace edit (``None`` when nothing is
    to change) and its title. Shows a message when the answer is refused, the action no longer
    applies or the model is not available.

    Raises:
        JsonRpcInvalidParams: malformed data, unknown document.
        asyncio.CancelledError: the request was cancelled (the model is stopped first).
    """
    uri, kind, rng, instruction = _parse_data(data, kind)
    doc = ls.documents.get(uri)
    if doc is None:
        raise JsonRpcInvalidParams(f"document not open: {uri}")
    start, end = _offsets(doc, rng)
    targets = find_targets(doc, start, end, instruction=instruction, kinds=(kind,))
    title = TITLES[kind]
    if not targets:
        ls.show_warning(f"{title}: nothing to do here any more (the code changed, or no instruction was found)")
        return None, title
    target = targets[0]
    title = target.title
    settings = ls.settings
    engine = await _chat_engine(ls, settings.model.load_timeout_ms / 1000.0)
    if engine is None:
        ls.show_warning(f"{title}: the model is not loaded")
        return None, title
    snap = snapshot(doc)
    others = [snapshot(d) for d in ls.documents if d.uri != uri and d.language is not None and doc.language is not None and d.language.name == doc.language.name][:20]
    ls.prefetcher.cancel()  # the engine is needed now
    cancel = ls.requests.begin(f"{uri}#code-action")
    progress = _Progress(ls, title, cancel)
    await progress.begin()
    loop = asyncio.get_running_loop()

    def on_tokens(n: int) -> None:
        loop.call_soon_threadsafe(progress.report, f"{n} tokens written")

    started = time.perf_counter()
    try:
        plan, result = await loop.run_in_executor(ls.engine_executor, _write, engine, snap, target, others, settings.code_actions, cancel, on_tokens)
    except asyncio.CancelledError:
        cancel.cancel()
        progress.end("cancelled")
        log.info("code action %s %s cancelled", kind, uri)
        raise
    except EngineError as exc:
        progress.end("failed")
        ls.show_warning(f"{title}: the model failed: {exc}")
        return None, title
    finally:
        ls.requests.end(f"{uri}#code-action", cancel)
    ms = (time.perf_counter() - started) * 1000.0
    outcome = "cancelled" if plan is None else ("refused: " + plan.refused if plan.refused else "ok")
    log.info("code action %s %s result=%s (%.0f ms)", kind, uri, outcome, ms)
    if plan is None:
        progress.end("cancelled")
        return None, title
    if plan.refused:
        progress.end("nothing changed")
        ls.show_warning(f"{title}: {plan.refused}; nothing was changed.")
        return None, title
    current = ls.documents.get(uri)
    if current is None or current.version != snap.version:
        progress.end("nothing changed")
        ls.show_warning(f"{title}: the document changed while the model was writing; nothing was changed. Try again.")
        return None, title
    progress.end("done")
    edits = [
        types.TextEdit(range=types.Range(start=_position(snap, e.start), end=_position(snap, e.end)), new_text=e.new_text)
        for e in plan.edits
    ]
    if _supports(ls.client_capabilities, "workspace", "workspace_edit", "document_changes"):
        edit = types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=snap.version), edits=edits)])
    else:
        edit = types.WorkspaceEdit(changes={uri: edits})
    return edit, title


def register(server) -> None:
    """Register ``textDocument/codeAction``, ``codeAction/resolve`` and the :data:`COMMANDS`."""
    kinds = list(ACTION_KINDS.values())

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=kinds, resolve_provider=True))
    def code_action(ls, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        """The actions that apply at the range, unresolved (no model work yet)."""
        return list_actions(ls, params) or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls, action: types.CodeAction) -> types.CodeAction:
        """Run the model and attach the workspace edit; the action comes back without one if nothing was generated."""
        if action.data is None:
            return action  # nothing to resolve
        edit, _title = await run_action(ls, action.data)
        if edit is not None:
            action.edit = edit
        return action

    def command(kind: str):
        async def execute(ls, *args) -> None:
            if len(args) != 1:
                raise JsonRpcInvalidParams(f"{COMMANDS[kind]} takes one argument: {{uri, range, instruction?}}")
            edit, title = await run_action(ls, args[0], kind)
            if edit is None:
                return None
            result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=title))
            if not result.applied:
                ls.show_warning(f"{title}: the editor did not apply the edit ({result.failure_reason or 'no reason given'})")
            return None

        return execute

    for kind, name in COMMANDS.items():
        server.command(name)(command(kind))

"""initialize, initialized, workspace/didChangeConfiguration, shutdown.

Settings come from ``initializationOptions`` and then from the ``codexLs``
section of ``workspace/configuration`` when the client supports it. Invalid
settings: details to the log, one message to the user, defaults used. The
model starts loading after ``initialized``, reported with work-done progress
when the client supports it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from lsprotocol import types

from codex_ls.model_manager import choose_model
from codex_ls.settings import SECTION, Settings, SettingsError, parse_settings

log = logging.getLogger(__name__)


def _merge(base, over):
    """Deep-merge two JSON objects; values in ``over`` win (``over`` None: ``base``)."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return base if over is None else over
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(merged.get(key), value) if key in merged else value
    return merged


def _apply_settings(ls, raw, source: str) -> None:
    """Parse ``raw`` on top of the ``initializationOptions`` and make it the settings snapshot."""
    if source == "initializationOptions":
        ls.raw_init_options = raw
    else:
        raw = _merge(getattr(ls, "raw_init_options", None), raw)
    try:
        ls.settings = parse_settings(raw)
    except SettingsError as exc:
        for detail in exc.details:
            log.warning("invalid setting from %s: %s", source, detail)
        ls.settings = Settings()
        if not ls.settings_error_shown:
            ls.settings_error_shown = True
            ls.show_warning(f"invalid settings ({'; '.join(exc.details)}); using the defaults. See the settings table in the README.")
    logging.getLogger("codex_ls").setLevel(ls.settings.log_level.upper())


def _client_supports(ls, *path: str) -> bool:
    obj = ls.client_capabilities
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return False
    return bool(obj)


async def _pull_configuration(ls) -> None:
    if not _client_supports(ls, "workspace", "configuration"):
        return
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        )
    except Exception as exc:  # a client that fails this request keeps the init options
        log.info("workspace/configuration failed: %s", exc)
        return
    if result and result[0] is not None:
        _apply_settings(ls, result[0], "workspace/configuration")


def start_model(ls) -> None:
    """Start loading the model chosen by the settings, with progress if the client supports it."""
    choice = choose_model(ls.settings.model, ls.cli_model, ls.settings.engine, getattr(ls, "cli_engine", None))
    if choice == ls.models.choice and ls.models.state in ("loading", "ready"):
        return
    loop = asyncio.get_running_loop()
    if not _client_supports(ls, "window", "work_done_progress"):
        ls.models.start(choice)
        return
    token = f"codex-ls/model/{uuid.uuid4()}"
    # Progress arrives from the load thread; it is sent once the client has
    # created the token, and ends when the load finishes.
    state = {"created": False, "begun": False, "ended": False, "last": ("resolving model", 0)}

    def send(message: str, percentage: int | None) -> None:
        state["last"] = (message, percentage)
        if not state["created"] or state["ended"]:
            return
        if not state["begun"]:
            state["begun"] = True
            ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title="codex-ls: loading model", message=message, percentage=percentage, cancellable=False))
        else:
            ls.work_done_progress.report(token, types.WorkDoneProgressReport(message=message, percentage=percentage))

    def progress(message: str, percentage: int | None) -> None:
        loop.call_soon_threadsafe(send, message, percentage)

    ls.models.start(choice, progress)

    async def create_and_follow() -> None:
        try:
            await ls.work_done_progress.create_async(token)
        except Exception as exc:
            log.info("window/workDoneProgress/create failed: %s", exc)
            return
        state["created"] = True
        if ls.models.state == "loading":
            send(*state["last"])
            await ls.models.wait_ready(3600)
        else:
            send("", None)
        state["ended"] = True
        message = "model ready" if ls.models.state == "ready" else "model failed to load"
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    asyncio.ensure_future(create_and_follow())


def register(server) -> None:
    """Register ``initialize``, ``initialized``, ``workspace/didChangeConfiguration`` and ``shutdown``."""

    @server.feature(types.INITIALIZE)
    def initialize(ls, params: types.InitializeParams) -> None:
        """Record the negotiated position encoding and the client's capabilities; apply ``initializationOptions``."""
        encoding = ls.workspace.position_encoding or types.PositionEncodingKind.Utf16
        ls.documents.encoding = str(getattr(encoding, "value", encoding))
        ls.loop = asyncio.get_event_loop()
        ls.supports_inline_completion = _client_supports(ls, "text_document", "inline_completion")
        if params.initialization_options is not None:
            _apply_settings(ls, params.initialization_options, "initializationOptions")
        from codex_ls.features import completion

        completion.register_fallback(ls)

    @server.feature(types.INITIALIZED)
    async def initialized(ls, params: types.InitializedParams) -> None:
        """Pull the ``codexLs`` section, then start loading the model in the background."""
        await _pull_configuration(ls)
        start_model(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls, params: types.DidChangeConfigurationParams) -> None:
        """Take pushed ``codexLs`` settings, or pull them when the push holds none; reload the model if it changed."""
        settings = params.settings
        if isinstance(settings, dict) and SECTION in settings:
            _apply_settings(ls, settings[SECTION], "workspace/didChangeConfiguration")
        else:
            await _pull_configuration(ls)
        start_model(ls)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls, *args) -> None:
        """Free the model."""
        ls.models.close()

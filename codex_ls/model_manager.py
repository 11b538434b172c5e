"""Loading the model in the background and handing it to requests.

The server starts answering at once; the model (resolve, maybe assemble
from the installed part packages, then load) is prepared in a worker thread
after ``initialized``. Requests await :meth:`ModelManager.wait_ready`, which
returns the engine as soon as it is ready, ``None`` after a bounded wait or
when loading failed. A failure is reported once, through the ``on_error``
callback (the server turns it into one ``window/showMessage``).

The engine is chosen by the ``engine`` settings (or ``--engine``/``--url``):
llama-cpp-python in-process (default), an OpenAI-compatible server, or
ctransformers. Features get the engine from here and never import an engine
module. A remote server that goes away is reported once per outage (the
first failed request after a success), not once per request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Literal

from codex_ls.completion import ModelProfile
from codex_ls.engines.base import Engine, EngineConfigError, EngineError, EngineUnavailableError
from codex_ls.prompt import FimTemplate, RepoFormat
from codex_ls.settings import EngineSettings, ModelSettings

log = logging.getLogger(__name__)

State = Literal["idle", "loading", "ready", "failed"]


@dataclass(frozen=True)
class ModelChoice:
    """Which model to load: an explicit GGUF path or a registry name (``None``: default)."""

    path: str | None
    name: str | None
    context_length: int
    threads: int | None
    family: str | None = None
    engine: EngineSettings = EngineSettings()
    kv_cache_reuse: bool = True
    prompt_lookup: int = 0
    kv_shift_min_tokens: int = 0
    expected_draft: int = 0


def choose_model(
    settings: ModelSettings,
    cli_model: str | None = None,
    engine: EngineSettings | None = None,
    cli_engine: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> ModelChoice:
    """Apply the precedence ``--model`` > env ``CODEX_LS_MODEL`` > ``model.path`` > ``model.name`` > default.

    ``--model`` and ``CODEX_LS_MODEL`` may hold a path or a registry name.
    ``engine`` are the engine settings; ``cli_engine`` (``{"name": ..., "url":
    ...}`` from ``--engine``/``--url``) overrides them. For the remote engine
    the model path or name only selects the local tokenizer and FIM format.
    """
    env = os.environ if env is None else env
    explicit = cli_model or env.get("CODEX_LS_MODEL") or None
    path, name = None, settings.name
    if explicit:
        from codex_ls.models import looks_like_path

        if looks_like_path(explicit):
            path = explicit
        else:
            name = explicit
    elif settings.path:
        path = settings.path
    engine = engine or EngineSettings()
    overrides = {k: v for k, v in (cli_engine or {}).items() if v is not None}
    if overrides:
        engine = dataclasses.replace(engine, **overrides)
    return ModelChoice(path, name or None, settings.context_length, settings.threads, settings.family, engine, settings.kv_cache_reuse, settings.prompt_lookup_tokens, settings.kv_shift_min_tokens, settings.expected_draft_tokens)


def default_profile() -> ModelProfile:
    """Qwen2.5-Coder's FIM template and stop strings, for explicit GGUF paths."""
    from codex_ls.models import default_spec

    return profile_for(default_spec())


def profile_for(spec) -> ModelProfile:  # spec: codex_ls.models.ModelSpec
    """The completion profile (FIM template, stop strings) of a registry entry."""
    repo = RepoFormat(spec.repo_name, spec.file_sep) if spec.file_sep else None
    return ModelProfile(FimTemplate(spec.fim_prefix, spec.fim_suffix, spec.fim_middle), tuple(spec.stop), repo)


def _family_repo(family) -> "RepoFormat | None":
    """A family's repository-level format: Qwen's ``<|repo_name|>`` goes with its ``<|file_sep|>``;
    families with only a file separator (StarCoder2's ``<file_sep>``) get an empty repo-name token."""
    if not family.file_sep:
        return None
    return RepoFormat("<|repo_name|>" if family.file_sep == "<|file_sep|>" else "", family.file_sep)


def family_profile(engine: Engine, family: str | None) -> ModelProfile:
    """The profile of a GGUF outside the registry: the named family, else the detected one, else Qwen's.

    Raises:
        EngineError: ``family`` names no known family.
    """
    from codex_ls.families import detect_family, load_families

    families = load_families()
    if family:
        if family not in families:
            raise EngineError(f"unknown model.family {family!r}; known: {', '.join(families)}")
        chosen = families[family]
    else:
        chosen = detect_family(lambda text: len(engine.tokenize(text)) == 1, families)
        if chosen is None:
            log.warning("no FIM family detected for this model; using Qwen2.5-Coder's format (set codexLs.model.family)")
            return default_profile()
    log.info("FIM family: %s", chosen.name)
    return ModelProfile(chosen.fim, chosen.stop, _family_repo(chosen))


ProgressCallback = Callable[[str, int | None], None]
"""``progress(message, percentage or None)``."""


class ModelManager:
    """Owns the engines: loads them in a thread, serves them to requests, reloads on change.

    Args:
        loop: the server's event loop (to wake waiters from the load thread).
        engine_factory: ``(model_path or None, choice) -> Engine``; raises
            EngineError. ``model_path`` is ``None`` for the remote engine.
            Default: :func:`create_engine`.
        on_error: called with the user-facing message once per failed load
            and once per outage of a remote engine (on the event loop).

    Attributes:
        engine: the completion engine once ready (wrapped to report outages).
        chat_engine: the engine for code actions (chat): the completion engine
            unless ``engine.chatModel`` names another model.
        profile: the completion model's FIM template and stop strings.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, engine_factory: Callable[..., Engine] | None = None, on_error: Callable[[str], None] | None = None):
        self.loop = loop
        self.engine_factory = engine_factory or create_engine
        self.on_error = on_error or (lambda message: None)
        self.state: State = "idle"
        self.engine: Engine | None = None
        self.chat_engine: Engine | None = None
        self.profile: ModelProfile | None = None
        self.error: str | None = None
        self.model_path: str | None = None
        self.load_ms: float | None = None
        self.choice: ModelChoice | None = None
        self._ready = asyncio.Event()
        self._generation = 0
        self._outage = False
        self._outage_lock = threading.Lock()

    def start(self, choice: ModelChoice, progress: ProgressCallback | None = None) -> None:
        """Begin loading ``choice`` in a background thread (no-op if it is already loaded or loading)."""
        if choice == self.choice and self.state in ("loading", "ready"):
            return
        old = (self.engine, self.chat_engine)
        self.choice = choice
        self.state = "loading"
        self.engine = self.chat_engine = None
        self.error = None
        self._ready.clear()
        self._generation += 1
        generation = self._generation
        thread = threading.Thread(target=self._load, args=(choice, generation, progress, old), name="codex-ls-model-load", daemon=True)
        thread.start()

    def _load(self, choice: ModelChoice, generation: int, progress: ProgressCallback | None, old: tuple[Engine | None, Engine | None]) -> None:
        from codex_ls.models import ModelError, resolve_model

        report = progress or (lambda message, pct: None)
        started = time.perf_counter()
        _close_engines(*old)
        engine = chat = None
        try:
            if choice.engine.name == "openai":
                report(f"connecting to {choice.engine.url}", 50)
                engine = self.engine_factory(None, choice)
                location = getattr(engine, "url", choice.engine.url)
                profile = self._remote_profile(engine, choice)
                chat = engine
            else:
                report("resolving model", 0)

                last = [-1]

                def bytes_progress(done: int, total: int) -> None:
                    tenth = done * 10 // max(total, 1)
                    if tenth != last[0]:  # one report per 10%
                        last[0] = tenth
                        report(f"assembling model ({done >> 20} of {total >> 20} MiB)", int(done * 90 / max(total, 1)))

                resolved = resolve_model(choice.name, path=choice.path, progress=bytes_progress)
                report(f"loading {resolved.path.name}", 90)
                engine = self.engine_factory(resolved.path, choice)
                location = str(resolved.path)
                profile = profile_for(resolved.spec) if resolved.spec is not None else family_profile(engine, choice.family)
                chat = engine
                if choice.engine.chat_model:
                    from codex_ls.models import looks_like_path

                    chat_model = choice.engine.chat_model
                    chat_path = resolve_model(None if looks_like_path(chat_model) else chat_model, path=chat_model if looks_like_path(chat_model) else None).path
                    report(f"loading {chat_path.name} for code actions", 95)
                    chat = self.engine_factory(chat_path, choice)
        except (ModelError, EngineError) as exc:
            _close_engines(engine, chat)
            self._finish(generation, None, None, None, str(exc), None, started)
            return
        except Exception as exc:  # anything else is a bug, but the server must stay up
            _close_engines(engine, chat)
            log.exception("model load failed")
            self._finish(generation, None, None, None, f"codex-ls could not load the model: {exc!r}", None, started)
            return
        self._finish(generation, _Reporting(engine, self), _Reporting(chat, self) if chat is not engine else None, profile, None, location, started)

    def _remote_profile(self, engine: Engine, choice: ModelChoice) -> ModelProfile:
        """The FIM profile for a remote model: ``model.family``, else detected with the server's tokenizer, else the registry model's."""
        try:
            if choice.family or getattr(engine, "tokenizer_kind", None) != "estimate":
                profile = family_profile(engine, choice.family) if choice.family else self._detect_remote(engine, choice)
            else:  # pragma: no cover - detection is impossible without a tokenizer
                profile = self._registry_profile(choice)
        except EngineUnavailableError as exc:
            log.warning("%s; using the FIM format of the configured model until the server answers", exc)
            self.report_unavailable(exc)
            profile = self._registry_profile(choice)
        if hasattr(engine, "fim"):
            engine.fim = (profile.fim.prefix, profile.fim.suffix, profile.fim.middle)
        return profile

    def _detect_remote(self, engine: Engine, choice: ModelChoice) -> ModelProfile:
        from codex_ls.families import detect_family, load_families

        found = detect_family(lambda text: len(engine.tokenize(text)) == 1, load_families())
        if found is not None:
            log.info("FIM family of the remote model: %s", found.name)
            return ModelProfile(found.fim, found.stop, _family_repo(found))
        return self._registry_profile(choice)

    @staticmethod
    def _registry_profile(choice: ModelChoice) -> ModelProfile:
        from codex_ls.models import load_registry

        if choice.name:
            spec = load_registry().get(choice.name)
            if spec is not None:
                return profile_for(spec)
        return default_profile()

    def _finish(self, generation, engine, chat, profile, error, path, started) -> None:
        def apply() -> None:
            if generation != self._generation:  # superseded by a newer load
                _close_engines(engine, chat)
                return
            self.load_ms = (time.perf_counter() - started) * 1000.0
            if error is None:
                self.engine, self.chat_engine, self.profile, self.model_path, self.state = engine, chat or engine, profile, path, "ready"
                log.info("model ready: %s (%.0f ms)", path, self.load_ms)
            else:
                self.state, self.error = "failed", error
                log.error("model failed to load: %s", error)
                self.on_error(error)
            self._ready.set()

        self.loop.call_soon_threadsafe(apply)

    def report_unavailable(self, exc: EngineUnavailableError) -> None:
        """Tell the user once that the inference server is gone; again only after it has come back."""
        with self._outage_lock:
            first, self._outage = not self._outage, True
        if first:
            message = f"{exc}. Completions are empty until it answers again."
            self.loop.call_soon_threadsafe(self.on_error, message)
        else:
            log.info("%s", exc)

    def report_success(self) -> None:
        """A request went through: the next outage is reported again."""
        if self._outage:
            with self._outage_lock:
                self._outage = False
            log.info("the inference server answers again")

    async def wait_ready(self, timeout_s: float) -> Engine | None:
        """The engine, waiting up to ``timeout_s`` seconds while it loads; ``None`` if not ready.

        A request that arrives before loading started (between ``initialize``
        and the end of the ``initialized`` handler) waits too.
        """
        if self.state == "ready":
            return self.engine
        if self.state == "failed":
            return None
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except asyncio.TimeoutError:
            return None
        return self.engine if self.state == "ready" else None

    async def wait_chat_ready(self, timeout_s: float) -> Engine | None:
        """The chat (code action) engine, waiting as :meth:`wait_ready`; ``None`` if not ready."""
        engine = await self.wait_ready(timeout_s)
        return None if engine is None else (self.chat_engine or engine)

    def close(self) -> None:
        """Free the engines."""
        self._generation += 1
        _close_engines(self.engine, self.chat_engine)
        self.engine, self.chat_engine, self.state = None, None, "idle"


class _Reporting:
    """An engine whose outages (:class:`EngineUnavailableError`) are reported once through its manager."""

    def __init__(self, inner: Engine, manager: ModelManager):
        self.inner = inner
        self._manager = manager

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def _call(self, method: str, *args, answered: bool = False):
        try:
            result = getattr(self.inner, method)(*args)
        except EngineUnavailableError as exc:
            self._manager.report_unavailable(exc)
            raise
        if answered:  # only a generation proves the server is back (token counts may come from a cache)
            self._manager.report_success()
        return result

    def tokenize(self, text: str) -> list[int]:
        return self._call("tokenize", text)

    def count_tokens(self, text: str) -> int:
        return self._call("count_tokens", text)

    def generate(self, request, cancel=None):
        return self._call("generate", request, cancel, answered=True)

    def chat(self, request, cancel=None):
        return self._call("chat", request, cancel, answered=True)

    def model_info(self):
        return self._call("model_info")

    def close(self) -> None:
        self.inner.close()


def _close_engines(*engines: Engine | None) -> None:
    seen: set[int] = set()
    for engine in engines:
        if engine is not None and id(engine) not in seen:
            seen.add(id(engine))
            engine.close()


def create_engine(path, choice: ModelChoice) -> Engine:
    """The engine named by ``choice.engine.name`` for the GGUF/GGML file ``path`` (``None`` for the remote engine).

    Raises:
        EngineConfigError: a remote engine without ``engine.url``, or settings it refuses.
        ModelLoadError: the model cannot be loaded (or the ctransformers extra is missing).
    """
    kind = choice.engine.name
    if kind == "openai":
        from codex_ls.engines.openai import OpenAIEngine

        if not choice.engine.url:
            raise EngineConfigError("engine \"openai\" needs codexLs.engine.url (or --url), e.g. http://127.0.0.1:8080")
        return OpenAIEngine(
            choice.engine.url,
            model=choice.engine.model,
            chat_model=choice.engine.chat_model,
            api_key_env=choice.engine.api_key_env,
            timeout_ms=choice.engine.timeout_ms,
            allow_remote=choice.engine.allow_remote,
            context_length=choice.context_length,
            local_tokenizer=lambda: _local_tokenizer(choice),
        )
    if kind == "ctransformers":
        from codex_ls.engines.ctransformers import CTransformersEngine

        return CTransformersEngine(path, model_type=choice.engine.model_type, context_length=choice.context_length, threads=choice.threads)
    from codex_ls.engines.llama import LlamaCppEngine

    return LlamaCppEngine(path, context_length=choice.context_length, threads=choice.threads, kv_cache_reuse=choice.kv_cache_reuse, prompt_lookup=choice.prompt_lookup, kv_shift_min_tokens=choice.kv_shift_min_tokens, expected_draft=choice.expected_draft)


def _local_tokenizer(choice: ModelChoice):
    """The tokenizer of the configured (registry or path) model, vocabulary only, for a server without one."""
    from codex_ls.engines.llama import load_tokenizer
    from codex_ls.models import resolve_model

    return load_tokenizer(resolve_model(choice.name, path=choice.path).path)

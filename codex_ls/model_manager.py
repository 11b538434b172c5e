"""Loading the model in the background and handing it to requests.

The server starts answering at once; the model (resolve, maybe assemble
from the installed part packages, then load) is prepared in a worker thread
after ``initialized``. Requests await :meth:`ModelManager.wait_ready`, which
returns the engine as soon as it is ready, ``None`` after a bounded wait or
when loading failed. A failure is reported once, through the ``on_error``
callback (the server turns it into one ``window/showMessage``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Literal

from codex_ls.completion import ModelProfile
from codex_ls.engines.base import Engine, EngineError
from codex_ls.prompt import FimTemplate
from codex_ls.settings import ModelSettings

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


def choose_model(settings: ModelSettings, cli_model: str | None = None, env: dict[str, str] | None = None) -> ModelChoice:
    """Apply the precedence ``--model`` > env ``CODEX_LS_MODEL`` > ``model.path`` > ``model.name`` > default.

    ``--model`` and ``CODEX_LS_MODEL`` may hold a path or a registry name.
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
    return ModelChoice(path, name or None, settings.context_length, settings.threads, settings.family)


def default_profile() -> ModelProfile:
    """Qwen2.5-Coder's FIM template and stop strings, for explicit GGUF paths."""
    from codex_ls.models import default_spec

    return profile_for(default_spec())


def profile_for(spec) -> ModelProfile:  # spec: codex_ls.models.ModelSpec
    """The completion profile (FIM template, stop strings) of a registry entry."""
    return ModelProfile(FimTemplate(spec.fim_prefix, spec.fim_suffix, spec.fim_middle), tuple(spec.stop))


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
    return ModelProfile(chosen.fim, chosen.stop)


ProgressCallback = Callable[[str, int | None], None]
"""``progress(message, percentage or None)``."""


class ModelManager:
    """Owns the engine: loads it in a thread, serves it to requests, reloads on change.

    Args:
        loop: the server's event loop (to wake waiters from the load thread).
        engine_factory: ``(model_path, choice) -> Engine``; raises EngineError.
        on_error: called once per failed load with the user-facing message.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, engine_factory: Callable[..., Engine] | None = None, on_error: Callable[[str], None] | None = None):
        self.loop = loop
        self.engine_factory = engine_factory or _llama_factory
        self.on_error = on_error or (lambda message: None)
        self.state: State = "idle"
        self.engine: Engine | None = None
        self.profile: ModelProfile | None = None
        self.error: str | None = None
        self.model_path: str | None = None
        self.load_ms: float | None = None
        self.choice: ModelChoice | None = None
        self._ready = asyncio.Event()
        self._generation = 0

    def start(self, choice: ModelChoice, progress: ProgressCallback | None = None) -> None:
        """Begin loading ``choice`` in a background thread (no-op if it is already loaded or loading)."""
        if choice == self.choice and self.state in ("loading", "ready"):
            return
        old = self.engine
        self.choice = choice
        self.state = "loading"
        self.engine = None
        self.error = None
        self._ready.clear()
        self._generation += 1
        generation = self._generation
        thread = threading.Thread(target=self._load, args=(choice, generation, progress, old), name="codex-ls-model-load", daemon=True)
        thread.start()

    def _load(self, choice: ModelChoice, generation: int, progress: ProgressCallback | None, old: Engine | None) -> None:
        from codex_ls.models import ModelError, resolve_model

        report = progress or (lambda message, pct: None)
        started = time.perf_counter()
        if old is not None:
            old.close()
        try:
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
            profile = profile_for(resolved.spec) if resolved.spec is not None else family_profile(engine, choice.family)
        except (ModelError, EngineError) as exc:
            self._finish(generation, None, None, str(exc), None, started)
            return
        except Exception as exc:  # anything else is a bug, but the server must stay up
            log.exception("model load failed")
            self._finish(generation, None, None, f"codex-ls could not load the model: {exc!r}", None, started)
            return
        self._finish(generation, engine, profile, None, str(resolved.path), started)

    def _finish(self, generation, engine, profile, error, path, started) -> None:
        def apply() -> None:
            if generation != self._generation:  # superseded by a newer load
                if engine is not None:
                    engine.close()
                return
            self.load_ms = (time.perf_counter() - started) * 1000.0
            if error is None:
                self.engine, self.profile, self.model_path, self.state = engine, profile, path, "ready"
                log.info("model ready: %s (%.0f ms)", path, self.load_ms)
            else:
                self.state, self.error = "failed", error
                log.error("model failed to load: %s", error)
                self.on_error(error)
            self._ready.set()

        self.loop.call_soon_threadsafe(apply)

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

    def close(self) -> None:
        """Free the engine."""
        self._generation += 1
        if self.engine is not None:
            self.engine.close()
        self.engine, self.state = None, "idle"


def _llama_factory(path, choice: ModelChoice) -> Engine:
    from codex_ls.engines.llama import LlamaCppEngine

    return LlamaCppEngine(path, context_length=choice.context_length, threads=choice.threads)

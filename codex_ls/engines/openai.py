"""Remote engine: an OpenAI-compatible inference server shared by a team.

Works with llama-server (llama.cpp), vLLM, Ollama, LM Studio and
llama-cpp-python's ``python -m llama_cpp.server``:

- completion: ``POST /v1/completions`` with the rendered FIM prompt, or
  llama-server's ``POST /infill`` when the server has it (it applies the
  model's FIM template itself and keeps its prompt cache server-side);
- chat (code actions): ``POST /v1/chat/completions`` (the server applies the
  model's chat template);
- token counting: the server's tokenizer (llama-server and vLLM ``/tokenize``,
  llama-cpp-python ``/extras/tokenize``) when it has one, else a local
  tokenizer (the registry model's vocabulary, loaded without weights).

Every answer is streamed (server-sent events): stop strings, the stop rule,
the time budget and cancellation are checked per piece, and stopping early
closes the connection, which makes the server stop generating. One pooled
``httpx.Client`` serves all requests. Connection errors are retried with
back-off (nothing was sent, so a retry cannot duplicate work); every other
failure is raised at once.

Sending code anywhere but loopback needs ``engine.allowRemote``; the first
successful connection logs where code goes. The API key comes from the
environment variable named by ``engine.apiKeyEnv``, never from a file.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import threading
import time
from functools import lru_cache
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from codex_ls.engines.base import (
    CancelToken,
    ChatRequest,
    EngineConfigError,
    EngineUnavailableError,
    GenerationError,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
)
from codex_ls.engines.stopping import TextStream

log = logging.getLogger(__name__)

Tokenizer = Callable[[str], list[int]]
"""``tokenize(text) -> token ids`` (special tokens parsed, no BOS)."""


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an IP literal) is this machine: ``localhost`` or a loopback address."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_url(url: str) -> str:
    """The server root of ``url``: scheme, host, port and path without a trailing ``/`` or ``/v1``.

    Raises:
        EngineConfigError: not an ``http``/``https`` URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EngineConfigError(f"engine.url must be an http(s) URL such as http://127.0.0.1:8080, got {url!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[:-3]
    return f"{parts.scheme}://{parts.netloc}{path}"


def _estimate_tokens(text: str) -> list[int]:
    """A stand-in tokenizer (about 3 UTF-8 bytes per token) when none is available."""
    return [0] * ((len(text.encode("utf-8")) + 2) // 3)


class OpenAIEngine:
    """An OpenAI-compatible server as an :class:`~codex_ls.engines.base.Engine`.

    Args:
        url: the server, e.g. ``http://127.0.0.1:8080`` (``/v1`` optional).
        model: the model id to request; ``None``: the first of ``/v1/models``.
        chat_model: the model id for :meth:`chat`; ``None``: ``model``.
        api_key_env: name of the environment variable holding the API key
            (sent as ``Authorization: Bearer``); ``None`` for no key.
        timeout_ms: connect timeout and longest wait for the next streamed
            piece, in milliseconds.
        allow_remote: allow a host that is not loopback.
        context_length: the context size to assume when the server does not
            report one (tokens).
        fim: ``(prefix, suffix, middle)`` marker strings of the model's FIM
            format, used to recognise a FIM prompt and send it to ``/infill``.
        local_tokenizer: called once, when the server has no tokenizer
            endpoint, to get a local tokenizer; ``None`` or a failure: an
            estimate of 3 bytes per token.
        retries: retries after a connection error (so ``retries + 1`` tries).
        backoff_s: the first retry's delay; it doubles each retry.
        env: the environment to read the API key from (default ``os.environ``).
        transport: an ``httpx`` transport (tests); ``None`` for the network.

    Raises:
        EngineConfigError: a malformed URL, a non-loopback host without
            ``allow_remote``, or ``api_key_env`` naming an unset variable.
        ModelLoadError: httpx is not installed.
    """

    name = "openai"
    heals_tokens = False
    ranks_first_token = False

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        chat_model: str | None = None,
        api_key_env: str | None = None,
        timeout_ms: int = 10_000,
        allow_remote: bool = False,
        context_length: int = 4096,
        fim: tuple[str, str, str] | None = None,
        local_tokenizer: Callable[[], Tokenizer] | None = None,
        retries: int = 2,
        backoff_s: float = 0.25,
        env: dict[str, str] | None = None,
        transport: Any = None,
    ):
        import httpx

        if logging.getLogger("httpx").level == logging.NOTSET:
            logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request would flood the editor's log
        self.url = normalize_url(url)
        host = urlsplit(self.url).hostname or ""
        if not is_loopback_host(host) and not allow_remote:
            raise EngineConfigError(
                f"engine.url {self.url} is not on this machine and codex-ls would send your code there; "
                "set codexLs.engine.allowRemote to true to allow it"
            )
        headers = {"Accept": "text/event-stream, application/json"}
        if api_key_env:
            key = (os.environ if env is None else env).get(api_key_env)
            if not key:
                raise EngineConfigError(f"engine.apiKeyEnv names {api_key_env}, but that environment variable is not set")
            headers["Authorization"] = f"Bearer {key}"
        timeout_s = max(0.001, timeout_ms / 1000.0)
        self._client = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=4, keepalive_expiry=60.0),
            transport=transport,
        )
        self._httpx = httpx
        self.model = model
        self.chat_model = chat_model
        self.context_length = context_length
        self.fim = fim
        self.retries = retries
        self.backoff_s = backoff_s
        self._local_tokenizer_factory = local_tokenizer
        self._probe_lock = threading.Lock()
        self._probed = False
        self._announced = False
        self.has_infill = False
        self.tokenizer_kind: str = "unknown"  # "llama-server" | "vllm" | "llama-cpp-python" | "local" | "estimate"
        self._tokenizer: Tokenizer | None = None
        self._bos_prefix: list[int] = []
        self._server_model_name: str | None = None
        self._chat_template: str | None = None
        self._cached_count = lru_cache(maxsize=8192)(self._count)

    # -- connection -------------------------------------------------------------
    def _request(self, method: str, path: str, cancel: CancelToken | None = None, deadline_s: float | None = None, **kwargs):
        """One non-streamed request, retried on connection errors. Returns the ``httpx.Response``."""
        for attempt in self._attempts(cancel, deadline_s):
            try:
                return self._client.request(method, path, **kwargs)
            except self._httpx.ConnectError as exc:  # ConnectTimeout is a TimeoutException, handled below
                attempt.failed(exc)
            except self._httpx.ConnectTimeout as exc:
                attempt.failed(exc)
            except self._httpx.TimeoutException as exc:
                raise EngineUnavailableError(f"the inference server at {self.url} did not answer in time ({exc.__class__.__name__})") from exc
            except self._httpx.TransportError as exc:
                raise EngineUnavailableError(f"lost the connection to the inference server at {self.url}: {exc or exc.__class__.__name__}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempts(self, cancel: CancelToken | None, deadline_s: float | None) -> Iterator["_Attempt"]:
        """Yields one :class:`_Attempt` per try; its ``failed`` sleeps (back-off) or raises after the last."""
        attempt = _Attempt(self, cancel, deadline_s)
        while True:
            yield attempt
            attempt.number += 1

    def _ensure_probed(self) -> None:
        """Ask the server what it is, once (again after a failed probe)."""
        if self._probed:
            return
        with self._probe_lock:
            if self._probed:
                return
            self._probe()
            self._probed = True

    def _probe(self) -> None:
        models = self._get_json("/v1/models")
        ids = [m.get("id") for m in (models or {}).get("data", []) if isinstance(m, dict)]
        if self.model is None and ids:
            self.model = ids[0]
        self._server_model_name = self.model or (ids[0] if ids else None)
        for entry in (models or {}).get("data", []):
            if isinstance(entry, dict) and entry.get("id") == self.model:
                n_ctx = entry.get("max_model_len") or (entry.get("meta") or {}).get("n_ctx_train")
                if isinstance(n_ctx, int) and n_ctx > 0:
                    self.context_length = n_ctx
        props = self._get_json("/props")  # llama-server only
        if isinstance(props, dict) and "default_generation_settings" in props:
            self.has_infill = True
            n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx")
            if isinstance(n_ctx, int) and n_ctx > 0:
                self.context_length = n_ctx
            self._chat_template = props.get("chat_template") or None
        self._tokenizer = self._find_tokenizer()
        if not self._announced:
            self._announced = True
            log.warning(
                "codex-ls sends your code to the inference server at %s (model %s; token counting: %s%s)",
                self.url, self.model or "the server's default", self.tokenizer_kind, "; FIM through /infill" if self.has_infill else "",
            )

    def _get_json(self, path: str) -> Any:
        response = self._request("GET", path)
        if response.status_code in (401, 403):
            raise EngineConfigError(f"the inference server at {self.url} refused the API key (HTTP {response.status_code}); check engine.apiKeyEnv")
        if response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def _find_tokenizer(self) -> Tokenizer:
        """The server's tokenizer endpoint if it has one, else the local tokenizer, else an estimate."""
        candidates: list[tuple[str, str, Callable[[str], dict], Callable[[dict], list[int]]]] = [
            ("llama-server", "/tokenize", lambda t: {"content": t, "add_special": False, "parse_special": True}, lambda r: r["tokens"]),
            ("vllm", "/tokenize", lambda t: {"model": self.model, "prompt": t, "add_special_tokens": False}, lambda r: r["tokens"]),
            ("llama-cpp-python", "/extras/tokenize", lambda t: {"input": t, **({"model": self.model} if self.model else {})}, lambda r: r["tokens"]),
        ]
        for kind, path, body, read in candidates:
            response = self._request("POST", path, json=body("a"))
            if response.status_code != 200:
                continue
            try:
                tokens = read(response.json())
            except (ValueError, KeyError, TypeError):
                continue
            if not isinstance(tokens, list):
                continue

            def server_tokenize(text: str, path=path, body=body, read=read) -> list[int]:
                r = self._request("POST", path, json=body(text))
                if r.status_code != 200:
                    raise GenerationError(f"the inference server's tokenizer failed (HTTP {r.status_code}): {r.text[:200]}")
                return [t if isinstance(t, int) else t.get("id", 0) for t in read(r.json())]

            self.tokenizer_kind = kind
            self._bos_prefix = server_tokenize("")  # a BOS the server adds to every text
            return server_tokenize
        if self._local_tokenizer_factory is not None:
            try:
                local = self._local_tokenizer_factory()
                self.tokenizer_kind = "local"
                return local
            except Exception as exc:  # a missing registry model: fall back to the estimate
                log.warning("no tokenizer on the server and no local tokenizer (%s); estimating 3 bytes per token", exc)
        self.tokenizer_kind = "estimate"
        return _estimate_tokens

    # -- tokens -----------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens parsed, no BOS) from the server or the local tokenizer.

        Raises:
            EngineUnavailableError: the server cannot be reached.
        """
        self._ensure_probed()
        assert self._tokenizer is not None
        tokens = self._tokenizer(text)
        n = len(self._bos_prefix)
        if n and tokens[:n] == self._bos_prefix:
            tokens = tokens[n:]
        return tokens

    def _count(self, text: str) -> int:
        return len(self.tokenize(text))

    def count_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` (memoised per string: one round trip per new line)."""
        return self._cached_count(text)

    # -- generation -------------------------------------------------------------
    def generate(self, request: GenerationRequest, cancel: CancelToken | None = None) -> GenerationResult:
        """Complete ``request.prompt`` on the server, streamed.

        A FIM prompt (``fim`` prefix, then suffix, then middle markers) goes to
        llama-server's ``/infill`` when the server has it, else to
        ``/v1/completions``.

        Raises:
            EngineUnavailableError: the server cannot be reached or went away mid-answer.
            EngineConfigError: the server refused the API key.
            GenerationError: the server answered with an error.
        """
        self._ensure_probed()
        parts = self._split_fim(request.prompt) if self.has_infill else None
        common = {"temperature": request.temperature, "stream": True}
        if request.temperature <= 0:
            common["top_k"] = 1  # greedy, also on servers that sample at temperature 0
        elif request.seed is not None:
            common["seed"] = request.seed
        if parts is not None:
            body = {"input_prefix": parts[0], "input_suffix": parts[1], "prompt": "", "n_predict": request.max_tokens, "cache_prompt": True, **common}
            if request.logprobs:
                body["n_probs"] = 1
            if request.stop:
                body["stop"] = list(request.stop)
            try:
                return self._stream("/infill", body, request, request.stop, cancel, _infill_piece)
            except _NotSupported:
                log.info("the server has no working /infill; using /v1/completions")
                self.has_infill = False
        body = {"prompt": request.prompt, "max_tokens": request.max_tokens, **common}
        if request.logprobs:
            body["logprobs"] = 1
        if self.model:
            body["model"] = self.model
        if request.stop:
            body["stop"] = list(request.stop)
        return self._stream("/v1/completions", body, request, request.stop, cancel, _completion_piece)

    def chat(self, request: ChatRequest, cancel: CancelToken | None = None) -> GenerationResult:
        """Answer ``request.messages`` through ``/v1/chat/completions`` (the server applies the chat template).

        Raises:
            GenerationError: no messages, or as :meth:`generate`.
        """
        if not request.messages:
            raise GenerationError("a chat needs at least one message")
        self._ensure_probed()
        body: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
        }
        if request.temperature <= 0:
            body["top_k"] = 1
        elif request.seed is not None:
            body["seed"] = request.seed
        if request.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = 1  # python -m llama_cpp.server sends none without it
        model = self.chat_model or self.model
        if model:
            body["model"] = model
        if request.stop:
            body["stop"] = list(request.stop)
        return self._stream("/v1/chat/completions", body, request, request.stop, cancel, _chat_piece)

    def model_info(self) -> ModelInfo:
        """The server's model id, context length and (llama-server) chat template; the configured FIM markers."""
        self._ensure_probed()
        return ModelInfo(
            name=self._server_model_name or "remote model",
            context_length=self.context_length,
            fim=self.fim,
            chat_template=self._chat_template,
            location=self.url,
        )

    def _split_fim(self, prompt: str) -> tuple[str, str] | None:
        """``(prefix, suffix)`` of a prompt rendered as ``P{prefix}S{suffix}M``, else ``None``."""
        if self.fim is None:
            return None
        pre, suf, mid = self.fim
        if not (prompt.startswith(pre) and prompt.endswith(mid)):
            return None
        body = prompt[len(pre) : len(prompt) - len(mid)]
        if body.count(suf) != 1:
            return None
        prefix, suffix = body.split(suf)
        return prefix, suffix

    def _stream(self, path: str, body: dict, request, stop: tuple[str, ...], cancel: CancelToken | None, piece: Callable[[dict], tuple[str, str | None]]) -> GenerationResult:
        """POST ``body`` to ``path`` with streaming and run the per-piece stop checks on what arrives.

        When ``request.logprobs`` (a ``GenerationRequest`` that asked for them), the
        log-probabilities the server streams with each piece (:func:`token_logprobs`) go into
        the result's ``mean_logprob``; a server that sends none leaves it ``None``."""
        start = time.perf_counter()
        stream = TextStream(stop, request.should_stop, request.max_tokens, cancel, request.deadline_s)
        server_finish: str | None = None
        usage: dict = {}
        for attempt in self._attempts(cancel, request.deadline_s):
            try:
                with self._client.stream("POST", path, json=body) as response:
                    self._check_status(response, path)
                    for line in response.iter_lines():
                        if not line.startswith("data:"):
                            continue
                        data = line[5:].strip()
                        if data == "[DONE]":
                            break
                        try:
                            event = json.loads(data)
                        except ValueError:
                            continue
                        if isinstance(event, dict) and event.get("error"):
                            raise GenerationError(f"the inference server failed: {_error_text(event['error'])}")
                        text, finish = piece(event)
                        usage = event.get("usage") or usage
                        if request.logprobs and not stream.finish:
                            stream.logprobs.extend(token_logprobs(event))
                        if (stream.push_text(text) if text else stream.poll()) is not None:
                            break  # leaving the block early closes the connection: the server stops
                        server_finish = finish or server_finish  # then read on to [DONE]: the connection is reused
                break
            except (self._httpx.ConnectError, self._httpx.ConnectTimeout) as exc:
                if stream.generated:  # pragma: no cover - a connect error comes before any data
                    raise EngineUnavailableError(f"lost the connection to the inference server at {self.url}") from exc
                attempt.failed(exc)
            except self._httpx.TimeoutException as exc:
                raise EngineUnavailableError(f"the inference server at {self.url} sent nothing for {self._client.timeout.read:.1f} s") from exc
            except self._httpx.TransportError as exc:  # RemoteProtocolError, ReadError: the server went away
                raise EngineUnavailableError(f"lost the connection to the inference server at {self.url} mid-answer ({exc.__class__.__name__})") from exc
        if stream.finish is None:
            stream.end("length" if server_finish == "length" else "stop")
        if not self._announced:  # pragma: no cover - the probe announces first
            self._announced = True
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        return stream.result(prompt_tokens, prompt_tokens, start)

    def _check_status(self, response, path: str) -> None:
        if response.status_code == 200:
            return
        response.read()
        text = response.text[:500]
        if response.status_code in (401, 403):
            raise EngineConfigError(f"the inference server at {self.url} refused the API key (HTTP {response.status_code}); check engine.apiKeyEnv")
        if path == "/infill" and response.status_code in (404, 405, 501):
            raise _NotSupported()
        if path == "/infill" and response.status_code == 400 and "infill" in text.lower():
            raise _NotSupported()  # e.g. the model has no FIM tokens
        if response.status_code in (502, 503, 504):
            raise EngineUnavailableError(f"the inference server at {self.url} is unavailable (HTTP {response.status_code}): {text}")
        raise GenerationError(f"the inference server at {self.url} answered {path} with HTTP {response.status_code}: {text}")

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()


class _NotSupported(Exception):
    """The server has no working ``/infill``."""


class _Attempt:
    """One try of a request; :meth:`failed` sleeps before the next try or raises after the last."""

    def __init__(self, engine: OpenAIEngine, cancel: CancelToken | None, deadline_s: float | None):
        self.engine, self.cancel, self.deadline_s, self.number = engine, cancel, deadline_s, 0

    def failed(self, exc: Exception) -> None:
        engine = self.engine
        delay = engine.backoff_s * (2 ** self.number)
        out_of_time = self.deadline_s is not None and time.monotonic() + delay >= self.deadline_s
        if self.number >= engine.retries or out_of_time or (self.cancel is not None and self.cancel.cancelled):
            raise EngineUnavailableError(f"cannot reach the inference server at {engine.url}: {exc or exc.__class__.__name__}") from exc
        log.info("cannot connect to %s (%s); retrying in %.2f s", engine.url, exc.__class__.__name__, delay)
        if self.cancel is not None:
            self.cancel.event.wait(delay)
        else:
            time.sleep(delay)


def _error_text(error: Any) -> str:
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)


def token_logprobs(event: dict) -> list[float]:
    """The natural-log probabilities of the sampled tokens in one streamed event, ``[]`` if none.

    Three shapes are read:

    * OpenAI's legacy completions format, ``choices[0].logprobs.token_logprobs`` (vLLM,
      ``python -m llama_cpp.server``), asked for with ``"logprobs": 1``;
    * the chat format, ``choices[0].logprobs.content[].logprob`` (llama-server's
      ``/v1/completions`` and ``/v1/chat/completions``);
    * llama-server's native ``/infill`` answer, ``completion_probabilities[].logprob``,
      asked for with ``"n_probs": 1``.

    ``null`` entries (the legacy format's first token of an echoed prompt) are skipped.
    """
    probs = event.get("completion_probabilities")
    if probs is None:
        choice = (event.get("choices") or [{}])[0]
        holder = choice.get("logprobs") if isinstance(choice, dict) else None
        if not isinstance(holder, dict):
            return []
        probs = holder.get("token_logprobs")
        if probs is None:
            probs = holder.get("content")
    if not isinstance(probs, list):
        return []
    values = (p.get("logprob") if isinstance(p, dict) else p for p in probs)
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _completion_piece(event: dict) -> tuple[str, str | None]:
    choice = (event.get("choices") or [{}])[0]
    return choice.get("text") or "", choice.get("finish_reason")


def _chat_piece(event: dict) -> tuple[str, str | None]:
    choice = (event.get("choices") or [{}])[0]
    delta = choice.get("delta") or choice.get("message") or {}
    return delta.get("content") or "", choice.get("finish_reason")


def _infill_piece(event: dict) -> tuple[str, str | None]:
    stopped = event.get("stop")
    reason = None
    if stopped:
        reason = "length" if event.get("stop_type") == "limit" or event.get("stopped_limit") else "stop"
    return event.get("content") or "", reason

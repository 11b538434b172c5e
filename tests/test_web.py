"""``codex-ls web``: the page and its WebSocket bridge, driven in a real headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run``), driven
by Playwright with ``executable_path`` (no browser download). The page is the
committed bundle in ``codex_ls/web_static/`` (built from ``editors/web/``),
served by codex-ls itself; each page gets its own server process with the
real default model.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


CHROMIUM = Path("/usr/bin/chromium")
# Flags for a closed network, as root, without a GPU (see the machine notes).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def real_model_env() -> dict[str, str]:
    """The environment of a user: the default model from the installed parts and the user cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("CODEX_LS_MODEL", "CODEX_LS_CACHE_DIR")}
    return env | {"HF_HUB_OFFLINE": "1"}


@pytest.fixture
def web_server():
    """``codex-ls web --port 0`` in a subprocess; yields its base URL."""
    proc = subprocess.Popen([sys.executable, "-m", "codex_ls", "web", "--port", "0"], env=real_model_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        url = None
        while time.monotonic() < deadline and url is None:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            found = re.search(r"open (http://\S+/) in a browser", line)
            url = found.group(1) if found else None
        assert url, f"codex-ls web did not start (exit {proc.poll()})"
        yield url
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert out == ""  # nothing on stdout


def test_page_and_bundle_are_served(web_server):
    page = urllib.request.urlopen(web_server).read().decode()
    assert '<script type="module" src="editor.js">' in page
    bundle = urllib.request.urlopen(web_server + "editor.js")
    assert bundle.headers["Content-Type"].startswith("text/javascript")
    assert b"textDocument/inlineCompletion" in bundle.read()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(web_server + "..%2Fweb.py")
    assert err.value.code == 404


def test_cross_origin_websocket_is_refused(web_server):
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    ws_url = web_server.replace("http://", "ws://") + "lsp"

    async def attempt(origin):
        async with connect(ws_url, origin=origin) as ws:
            await ws.send('{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}')
            return await asyncio.wait_for(ws.recv(), 60)

    with pytest.raises(InvalidStatus) as err:
        asyncio.run(attempt("http://evil.example"))
    assert err.value.response.status_code == 403
    same = web_server.rstrip("/")
    assert '"id":1' in asyncio.run(attempt(same)).replace(" ", "")  # our own origin gets an LSP answer


def test_non_loopback_web_bind_needs_allow_remote():
    proc = subprocess.run([sys.executable, "-m", "codex_ls", "web", "--host", "0.0.0.0", "--port", "1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--allow-remote" in proc.stderr


@pytest.mark.real_model
def test_type_see_ghost_text_tap_accept(web_server):
    if not CHROMIUM.exists():
        why = "Debian chromium is not installed (.ci/run installs it: apt-get install chromium)"
        if os.environ.get("CODEX_LS_REQUIRE_ALL"):  # set by .ci/run: on CI a missing browser fails
            pytest.fail(why)
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(has_touch=True, viewport={"width": 1024, "height": 768})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(web_server)
            page.wait_for_function("window.codexLs && window.codexLs.client.serverCapabilities", timeout=60_000)
            assert page.evaluate("'inlineCompletionProvider' in window.codexLs.client.serverCapabilities")

            # Paste a function head, then type the start of its body as a user would.
            head = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n    '
            tail = "\n    return total\n\n\nprint(add(1, 2))\n"
            page.evaluate("([head, tail]) => { const v = window.codexLs.view; v.dispatch({changes: {from: 0, to: v.state.doc.length, insert: head + tail}, selection: {anchor: head.length}, userEvent: 'input.paste'}); v.focus() }", [head, tail])
            page.keyboard.type("total = ")
            typed = head + "total = "
            assert page.evaluate("window.codexLs.view.state.doc.toString()") == typed + tail

            ghost = page.locator(".cm-ghost")
            ghost.wait_for(state="visible", timeout=180_000)
            result = page.evaluate("window.codexLs.lastResult")
            item = result["items"][0]
            assert item["range"]["start"] == item["range"]["end"] == {"line": 2, "character": 12}
            assert ghost.inner_text() == item["insertText"] != ""
            assert page.is_enabled("#accept")

            page.tap("#accept")
            page.wait_for_function("window.codexLs.ghost() === null", timeout=10_000)
            text = page.evaluate("window.codexLs.view.state.doc.toString()")
            assert text == typed + item["insertText"] + tail
            assert page.evaluate("window.codexLs.view.state.selection.main.head") == len(typed + item["insertText"])
            assert page.locator(".cm-ghost").count() == 0
            compile(text, "add.py", "exec")  # the accepted code is valid Python
            assert errors == []
        finally:
            browser.close()

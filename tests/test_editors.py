"""The editor packages' static parts: configs parse and start ``codex-ls``, the VS Code settings
mirror the server's, the web bundle ships in the package. (The real-client tests are
``test_nvim.py`` and ``test_web.py``; capability profiles are in ``test_lsp_tiny.py``.)"""

from __future__ import annotations

import json
import re
import runpy
import tomllib

from codex_ls.web import static_file
from conftest import ROOT

EDITORS = ROOT / "editors"


def _json_with_comments(text: str):
    return json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))


def test_helix_config_adds_codex_ls_to_every_language():
    config = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())
    assert config["language-server"]["codex-ls"]["command"] == "codex-ls"
    languages = {lang["name"]: lang["language-servers"] for lang in config["language"]}
    assert {"python", "javascript", "typescript", "go", "rust", "java", "c", "cpp"} <= set(languages)
    assert all("codex-ls" in servers for servers in languages.values())


def test_sublime_and_zed_configs_parse():
    sublime = _json_with_comments((EDITORS / "sublime" / "LSP.sublime-settings").read_text())
    assert sublime["clients"]["codex-ls"]["command"] == ["codex-ls"]
    assert "source.python" in sublime["clients"]["codex-ls"]["selector"]
    zed = tomllib.loads((EDITORS / "zed" / "extension.toml").read_text())
    assert "Python" in zed["language_servers"]["codex-ls"]["languages"]
    assert "codex-ls" in _json_with_comments((EDITORS / "zed" / "settings.json").read_text())["lsp"]


def test_emacs_configs_start_codex_ls():
    for name in ("codex-ls-eglot.el", "codex-ls-lsp-mode.el"):
        text = (EDITORS / "emacs" / name).read_text()
        assert '"codex-ls"' in text and text.count("(") == text.count(")"), name


def test_vscode_settings_mirror_the_server_schema():
    script = runpy.run_path(str(EDITORS / "vscode" / "scripts" / "settings_schema.py"))
    assert script["main"](["--check"]) == 0, "run: .venv/bin/python editors/vscode/scripts/settings_schema.py"
    package = json.loads((EDITORS / "vscode" / "package.json").read_text())
    assert package["contributes"]["configuration"]["properties"]["codexLs.completion.maxTokens"]["default"] == 64


def test_web_bundle_ships_in_the_package():
    page, kind = static_file("/")
    assert kind.startswith("text/html") and b"editor.js" in page
    bundle, kind = static_file("/editor.js")
    assert "javascript" in kind and len(bundle) > 100_000
    assert static_file("/../web.py") is None and static_file("/.hidden") is None

"""The README's settings table is the one generated from the settings dataclasses."""

from conftest import ROOT

from codex_ls.settings import settings_table


def test_readme_has_the_generated_settings_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme, "regenerate it with `codex-ls settings-table`"

"""Settings parsing with cattrs: camelCase, dotted keys, strict types, errors."""

import pytest

from codex_ls.settings import Settings, SettingsError, parse_settings, settings_table, to_wire


def test_none_and_empty_give_defaults():
    assert parse_settings(None) == Settings()
    assert parse_settings({}) == Settings()


def test_nested_camel_case():
    s = parse_settings({"model": {"path": "/m.gguf", "contextLength": 2048}, "completion": {"maxTokens": 16}})
    assert s.model.path == "/m.gguf"
    assert s.model.context_length == 2048
    assert s.completion.max_tokens == 16
    assert s.completion.prefix_tokens == Settings().completion.prefix_tokens


def test_dotted_keys_and_section_wrapper():
    s = parse_settings({"codexLs": {"model.path": "/x.gguf", "completion.timeoutMs": 900}})
    assert s.model.path == "/x.gguf"
    assert s.completion.timeout_ms == 900


def test_null_means_default():
    assert parse_settings({"model": {"path": None}}).model.path is None


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"model": {"pth": "/x"}}, "pth"),
        ({"completion": {"maxTokens": "many"}}, "max_tokens"),
        ({"completion": {"maxTokens": 1.5}}, "max_tokens"),
        ({"completion": {"enabled": "yes"}}, "enabled"),
        ({"logLevel": "loud"}, "log_level"),
        ({"unknownThing": 1}, "unknownThing"),
        ([1, 2], "object"),
    ],
)
def test_invalid_settings_raise_with_details(raw, needle):
    with pytest.raises(SettingsError) as info:
        parse_settings(raw)
    assert any(needle in d for d in info.value.details), info.value.details


def test_frozen():
    s = Settings()
    with pytest.raises(Exception):
        s.model = None  # type: ignore[misc]


def test_round_trip_wire_form():
    s = parse_settings({"model": {"name": "qwen2.5-coder-1.5b-instruct-q4_k_m"}, "completion": {"maxLines": 3}})
    assert parse_settings(to_wire(s)) == s


def test_table_lists_every_leaf_setting():
    table = settings_table()
    for key in to_wire(Settings())["completion"]:
        assert f"`completion.{key}`" in table
    for key in to_wire(Settings())["model"]:
        assert f"`model.{key}`" in table
    assert "`logLevel`" in table


def test_configuration_section_merges_over_initialization_options():
    from codex_ls.features.lifecycle import _merge

    init = {"model": {"path": "/m.gguf"}, "completion": {"maxTokens": 8}}
    merged = _merge(init, {"completion": {"maxLines": 2}})
    s = parse_settings(merged)
    assert (s.model.path, s.completion.max_tokens, s.completion.max_lines) == ("/m.gguf", 8, 2)
    assert parse_settings(_merge(init, {})) == parse_settings(init)
    assert _merge(None, {"logLevel": "debug"}) == {"logLevel": "debug"}

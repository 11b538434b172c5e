"""FIM families from the registry, and detection from a real model's vocabulary."""

import pytest

from codex_ls.engines.llama import LlamaCppEngine
from codex_ls.families import detect_family, load_families
from codex_ls.model_manager import family_profile
from conftest import TINY_MODEL


def test_every_family_is_complete():
    families = load_families()
    assert set(families) == {"qwen2.5-coder", "codegemma", "starcoder", "deepseek-coder", "codellama"}
    for f in families.values():
        assert f.fim.prefix and f.fim.suffix and f.fim.middle and f.stop and f.detect
    assert families["codellama"].fim.render("a", "b") == "<PRE> a <SUF>b <MID>"
    assert families["starcoder"].fim.render("a", "b") == "<fim_prefix>a<fim_suffix>b<fim_middle>"


@pytest.mark.parametrize(
    "vocab, expected",
    [
        ({"<|fim_prefix|>", "<|file_sep|>"}, "qwen2.5-coder"),
        ({"<|fim_prefix|>", "<|file_separator|>"}, "codegemma"),
        ({"<fim_prefix>", "<fim_middle>"}, "starcoder"),
        ({"<｜fim▁begin｜>", "<｜fim▁hole｜>"}, "deepseek-coder"),
        ({"<PRE>", "<MID>"}, "codellama"),
        ({"<s>"}, None),
    ],
)
def test_detect_by_special_tokens(vocab, expected):
    found = detect_family(lambda t: t in vocab)
    assert (found.name if found else None) == expected


def test_tiny_qwen_style_gguf_is_detected_as_qwen():
    engine = LlamaCppEngine(TINY_MODEL, context_length=256)
    try:
        profile = family_profile(engine, None)
        assert profile.fim.prefix == "<|fim_prefix|>" and "<|file_sep|>" in profile.stop
        named = family_profile(engine, "starcoder")
        assert named.fim.prefix == "<fim_prefix>"
        with pytest.raises(Exception, match="unknown model.family"):
            family_profile(engine, "gpt-17")
    finally:
        engine.close()

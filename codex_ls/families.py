"""FIM families: prompt format and stop tokens per model family.

The ``[families.*]`` tables of the model registry (``models/registry.toml``)
describe Qwen2.5-Coder, CodeGemma, StarCoder/StarCoder2, DeepSeek-Coder and
CodeLlama. A registry model carries its own FIM fields; a user's own GGUF
file gets its family from the ``model.family`` setting or from
:func:`detect_family`, which looks for each family's special tokens in the
model's vocabulary.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from typing import Callable

from codex_ls.prompt import FimTemplate


@dataclass(frozen=True)
class FimFamily:
    """One family's FIM strings (pasted exactly as written) and stop tokens."""

    name: str
    fim: FimTemplate
    file_sep: str
    stop: tuple[str, ...]
    detect: tuple[str, ...]


@functools.lru_cache(maxsize=1)
def load_families() -> dict[str, FimFamily]:
    """The families of the bundled registry, in file order (detection order).

    Raises:
        codex_ls.models.ModelError: the registry is missing.
        KeyError / tomllib.TOMLDecodeError: a malformed family table.
    """
    from codex_ls.models import _registry_source

    text, _where = _registry_source()
    tables = tomllib.loads(text).get("families", {})
    return {
        name: FimFamily(
            name,
            FimTemplate(t["fim_prefix"], t["fim_suffix"], t["fim_middle"]),
            t.get("file_sep", ""),
            tuple(t["stop"]),
            tuple(t["detect"]),
        )
        for name, t in tables.items()
    }


def detect_family(is_special_token: Callable[[str], bool], families: dict[str, FimFamily] | None = None) -> FimFamily | None:
    """The first family whose ``detect`` strings are all single special tokens of the model.

    ``is_special_token(text)`` answers whether ``text`` tokenizes (with special
    tokens parsed) into exactly one token. ``None`` when no family matches.
    """
    for family in (families or load_families()).values():
        if all(is_special_token(t) for t in family.detect):
            return family
    return None

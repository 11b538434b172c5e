"""Tree-sitter queries shipped in ``grammars/<language>/<name>.scm``.

The query files live in the repository's ``grammars/`` folder and ship inside
the wheel as ``codex_ls/_data/grammars`` (see the hatch ``force-include`` in
``pyproject.toml``). ``<language>`` is a canonical name from
:data:`codex_ls.languages.LANGUAGE_NAMES` (``python``, ``javascript``,
``typescript``, ``tsx``, ``go``, ``rust``, ...).
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

import tree_sitter

from codex_ls.languages import _GRAMMARS, LanguageInfo

__all__ = ["QueryError", "query_text", "load_query", "grammars_root"]


class QueryError(Exception):
    """A query file does not compile against its grammar (message names the file)."""


def grammars_root() -> Path | None:
    """The folder holding ``<language>/<name>.scm``: the wheel's data, else the checkout's ``grammars/``."""
    try:
        res = importlib.resources.files("codex_ls").joinpath("_data").joinpath("grammars")
        if res.is_dir():
            return Path(str(res))
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    src = Path(__file__).resolve().parents[1] / "grammars"
    return src if src.is_dir() else None


_INHERITS = "; inherits:"


@functools.lru_cache(maxsize=None)
def query_text(language: str, name: str) -> str | None:
    """Text of ``grammars/<language>/<name>.scm``, or ``None`` when the file does not exist.

    A first line ``; inherits: a, b`` (the nvim-treesitter convention) puts the
    texts of ``grammars/a/<name>.scm`` and ``grammars/b/<name>.scm`` (which may
    inherit in turn) before the file's own patterns; ``a`` may be a shared folder
    such as ``ecma`` that is no language of its own.
    """
    root = grammars_root()
    if root is None:
        return None
    path = root / language / f"{name}.scm"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    first = text.split("\n", 1)[0]
    if not first.startswith(_INHERITS):
        return text
    parents = [p.strip() for p in first[len(_INHERITS):].split(",") if p.strip()]
    return "".join((query_text(parent, name) or "") + "\n" for parent in parents) + text


@functools.lru_cache(maxsize=None)
def _compile(language: str, name: str) -> tree_sitter.Query | None:
    text = query_text(language, name)
    if text is None:
        return None
    module, func, _comment = _GRAMMARS[language]
    import importlib as _il

    lang = tree_sitter.Language(getattr(_il.import_module(module), func)())
    try:
        return tree_sitter.Query(lang, text)
    except (tree_sitter.QueryError, SyntaxError, ValueError) as err:  # pragma: no cover - caught by tests
        raise QueryError(f"grammars/{language}/{name}.scm: {err}") from err


def load_query(info: LanguageInfo | str, name: str) -> tree_sitter.Query | None:
    """The compiled query ``grammars/<language>/<name>.scm`` (cached), or ``None`` if absent.

    Run it with ``tree_sitter.QueryCursor(query).captures(node)`` (tree-sitter
    0.25+ API) or ``.matches(node)``.

    Raises:
        QueryError: the file exists but does not compile.
    """
    language = info if isinstance(info, str) else info.name
    return _compile(language, name)

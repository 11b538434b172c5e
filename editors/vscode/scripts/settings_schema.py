"""Mirror the server's settings (``codex_ls.settings``) into the extension's ``package.json``.

``python3 scripts/settings_schema.py`` rewrites ``contributes.configuration.properties``
from the dataclasses the server parses; ``--check`` exits 1 if ``package.json`` is out of
date (CI and ``tests/test_editors.py`` run it). Run it with the project's virtual
environment, or with ``codex_ls`` importable.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE.parent.parent))

from codex_ls.settings import SECTION, Settings, _camel  # noqa: E402

# Settings of the extension itself (how to start the server), not sent to it.
CLIENT_PROPERTIES = {
    f"{SECTION}.server.path": {"type": "string", "default": "codex-ls", "markdownDescription": "The `codex-ls` executable (`pip install codex-ls`), or a full path to it."},
    f"{SECTION}.server.args": {"type": "array", "items": {"type": "string"}, "default": [], "markdownDescription": "Extra command-line arguments for the server, e.g. `[\"--model\", \"/path/to/model.gguf\"]`."},
}

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _schema(tp, default) -> dict:
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return {"type": "string", "enum": list(typing.get_args(tp))}
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _schema(args[0], default)
        inner["type"] = [inner["type"], "null"]
        return inner
    return {"type": _JSON_TYPES[tp]}


def properties(cls: type = Settings, prefix: str = SECTION + ".") -> dict[str, dict]:
    """``contributes.configuration.properties`` entries for every leaf setting of ``cls``."""
    hints = typing.get_type_hints(cls)
    instance = cls()
    out: dict[str, dict] = {}
    for f in dataclasses.fields(cls):
        key = prefix + _camel(f.name)
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.update(properties(tp, key + "."))
            continue
        default = getattr(instance, f.name)
        entry = _schema(tp, default) | {"default": default, "markdownDescription": f.metadata.get("doc", "")}
        out[key] = entry
    return out


def main(argv: list[str]) -> int:
    """Rewrite (or with ``--check``, verify) ``package.json``; returns the exit code."""
    path = HERE / "package.json"
    package = json.loads(path.read_text())
    wanted = CLIENT_PROPERTIES | properties()
    if "--check" in argv:
        current = package["contributes"]["configuration"]["properties"]
        if current != wanted:
            missing = sorted(set(wanted) ^ set(current)) or sorted(k for k in wanted if wanted[k] != current.get(k))
            print(f"package.json settings are out of date ({', '.join(missing)}): run `python3 editors/vscode/scripts/settings_schema.py`", file=sys.stderr)
            return 1
        return 0
    package["contributes"]["configuration"]["properties"] = wanted
    path.write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Settings: one frozen, typed dataclass tree, parsed with cattrs.

Settings arrive from the client as ``initializationOptions`` and as the
``codexLs`` section of ``workspace/configuration``. Keys are camelCase on the
wire (``model.maxTokens``) and snake_case here. Unknown keys and values of the
wrong type are errors: :func:`parse_settings` raises :class:`SettingsError`,
and the server then logs the details, shows one message and keeps the
defaults.

The table in the README is generated from these dataclasses by
:func:`settings_table` (``codex-ls settings-table``), so the field docs below
are the documentation.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import cattrs
from cattrs.gen import make_dict_structure_fn, override

SECTION = "codexLs"
"""The ``workspace/configuration`` section and VS Code settings prefix."""


@dataclass(frozen=True)
class ModelSettings:
    """Which model to load and how."""

    name: str | None = field(default=None, metadata={"doc": "Registry name of the model (`codex-ls models list`). Empty: the default model."})
    path: str | None = field(default=None, metadata={"doc": "Path to a GGUF file; wins over `name`. Also `--model PATH` or env `CODEX_LS_MODEL`."})
    family: str | None = field(default=None, metadata={"doc": "FIM family of a GGUF given by path: `qwen2.5-coder`, `codegemma`, `starcoder`, `deepseek-coder`, `codellama`. Empty: detected from the model's special tokens."})
    context_length: int = field(default=4096, metadata={"doc": "Context window (tokens) the engine allocates: prompt plus generated tokens."})
    threads: int | None = field(default=None, metadata={"doc": "CPU threads for generation. Empty: the number of cores, at most 8."})
    load_timeout_ms: int = field(default=60_000, metadata={"doc": "How long a request waits for the model to finish loading (ms)."})
    kv_cache_reuse: bool = field(default=True, metadata={"doc": "Keep the model's KV cache between requests and evaluate only the prompt tokens after the longest common prefix; `false` starts every request from an empty cache (the benchmarks' `no-reuse` baseline)."})
    kv_shift_min_tokens: int = field(
        default=64,
        metadata={
            "doc": "KV shifting (`llama-cpp` engine, like llama-server's `--cache-reuse`): when the prompt's start moves (the prefix cut again, another scope header pinned above it), runs of at least this many prefix tokens that the KV cache holds at another position are moved into place instead of evaluated. The suffix is never moved: evaluated for another cursor, it misleads the model (`benchmarks/latency.py --scenarios pause --positions 80`: exact lines fell from 81 to 54 of 240 when it was; 80 with the prefix only). 0 turns it off."
        },
    )
    prompt_lookup_tokens: int = field(
        default=-1,
        metadata={
            "doc": "Draft tokens per step of prompt-lookup decoding (`llama-cpp` engine, greedy only): tokens that followed the last ones earlier in the prompt are checked in one batch with the next token, and kept as far as the model agrees. -1 (default): 2 at first, while the steps of the first generations are timed (6 steps with 2 draft tokens, with logits for each, against 6 one-token steps); it stays on where such a step costs at most 1.6x, else goes off. Nothing is evaluated at model load. Where every step streams the weights from memory (phones, laptops, small VMs) drafting wins (`benchmarks/prompt_lookup.py` on the 2-core development VM: 0.64x the generation time with 2 draft tokens); where the vocabulary-wide logits of each draft position bound the step, it loses. 0 turns it off."
        },
    )
    expected_draft_tokens: int = field(
        default=-1,
        metadata={
            "doc": "Most draft tokens per step when the stop rule expects the model to repeat the code below the cursor (`llama-cpp` engine, greedy only): at the start of each line of a block completion after the first, the indentation and first word of the first line below the cursor are checked in one batch with the next token, and once a line has begun like it, the rest of that line; a repeat ends the completion sooner (speculative decoding with the code below as the draft; the text stays the greedy one). -1 (default): 16 while prompt-lookup decoding is on (set, or while the automatic choice keeps it on), else 0. 0 turns it off."
        },
    )


@dataclass(frozen=True)
class CompletionSettings:
    """Inline completion (ghost text) behaviour."""

    enabled: bool = field(default=True, metadata={"doc": "Serve `textDocument/inlineCompletion` and the `textDocument/completion` fallback."})
    max_tokens: int = field(default=64, metadata={"doc": "Most tokens generated for one completion."})
    max_lines: int = field(default=12, metadata={"doc": "Most lines in a multi-line (block) completion; 1 suggests the rest of the line only (as while the user types on a line)."})
    prefix_tokens: int = field(default=1024, metadata={"doc": "Token budget for the text before the cursor (cut at line boundaries)."})
    suffix_tokens: int = field(default=256, metadata={"doc": "Token budget for the text after the cursor (cut at line boundaries)."})
    suffix_scope: bool = field(
        default=True,
        metadata={
            "doc": "End the suffix with the innermost class or function around the cursor, else its top-level statement (tree-sitter; within `suffixTokens`): the code below that is left out. The next definitions mislead the model more than they help, and each cursor move evaluates fewer tokens (`benchmarks/latency.py --scenarios pause --positions 80`: 88 exact lines of 240 against 80 with the whole 256-token suffix, pause medians 19-42% lower; a 64-token suffix: 71)."
        },
    )
    fim_order: Literal["psm", "spm"] = field(default="psm", metadata={"doc": "Fill-in-the-middle prompt order: `psm` (prefix, suffix, middle: what Qwen2.5-Coder was trained on) or `spm` (suffix first)."})
    cursor_line_in_middle: bool = field(
        default=True,
        metadata={
            "doc": "Write the cursor's line up to the cursor after the FIM middle marker (with token healing) rather than at the end of the prefix, so the prompt stays the same while typing on a line and each keystroke evaluates only its new tokens. Engines without token healing (`openai`, `ctransformers`) always use the plain layout."
        },
    )
    prefetch: bool = field(
        default=True,
        metadata={
            "doc": "While the user reads a suggestion, prepare the next one: the suggestion for the line after it, as if the user accepted it and pressed Enter (the new line indented like the last one, one level more after a line that opens a block). The request made there is then answered without the model. Costs one completion per suggestion the user pauses on, wasted when they do something else; the KV cache keeps the last real request's prompt. In-process `llama-cpp` engine with `model.kvCacheReuse` only; `false` turns it off (to save battery)."
        },
    )
    prefetch_delay_ms: int = field(default=150, metadata={"doc": "How long after an answer no new request must come before the prefetch starts (ms): while the user types, a keystroke comes every 100 ms or so and no prefetch starts."})
    context_tokens: int = field(default=512, metadata={"doc": "Token budget for definitions from other open documents that the code near the cursor uses (signatures and docstrings, in the model's repository format); 0 turns it off."})
    temperature: float = field(default=0.0, metadata={"doc": "Sampling temperature; 0 is greedy (deterministic)."})
    timeout_ms: int = field(default=5000, metadata={"doc": "Time budget for generating one completion (ms), after the prompt is evaluated (a cancelled request stops evaluating it); what was generated by then is used."})
    strategy: Literal["syntax", "raw", "first-line"] = field(
        default="syntax",
        metadata={"doc": "How completions end: `syntax` (stop rules and tree-sitter checks); `raw` and `first-line` are the benchmark baselines (the model until its end token, or its first line)."},
    )


@dataclass(frozen=True)
class CodeActionSettings:
    """Code actions that write code from words (Generate code from comment, Implement function, Edit selection)."""

    enabled: bool = field(default=True, metadata={"doc": "Offer the code actions `Generate code from comment`, `Implement function` and `Edit selection`."})
    max_tokens: int = field(default=512, metadata={"doc": "Most tokens the model writes for one code action."})
    timeout_ms: int = field(default=120_000, metadata={"doc": "Time budget for writing one code action's code (ms); an answer cut by it is checked like any other."})
    temperature: float = field(default=0.0, metadata={"doc": "Sampling temperature of code actions; 0 is greedy (deterministic)."})


@dataclass(frozen=True)
class EngineSettings:
    """Which inference engine runs the model: in-process, or a shared server."""

    name: Literal["llama-cpp", "openai", "ctransformers"] = field(
        default="llama-cpp",
        metadata={"doc": "`llama-cpp`: the GGUF model in-process (default). `openai`: an OpenAI-compatible server at `engine.url` (llama-server, vLLM, Ollama, LM Studio, `python -m llama_cpp.server`). `ctransformers`: GGML-era models in-process (extra `codex-ls[ctransformers]`). Shorthand: `\"engine\": \"openai\"`; also `--engine`."},
    )
    url: str | None = field(default=None, metadata={"doc": "Base URL of the `openai` engine's server, e.g. `http://127.0.0.1:8080` (a trailing `/v1` is fine). Also `--url`."})
    api_key_env: str | None = field(default=None, metadata={"doc": "Name of the environment variable that holds the server's API key (sent as a bearer token); the key itself is never read from a file."})
    timeout_ms: int = field(default=10_000, metadata={"doc": "Remote engine: longest wait for the server to connect or to send the next piece of an answer (ms)."})
    allow_remote: bool = field(default=False, metadata={"doc": "Allow `engine.url` to name a non-loopback host: your code is sent there."})
    model: str | None = field(default=None, metadata={"doc": "Remote engine: the model id to request. Empty: the server's first model."})
    chat_model: str | None = field(default=None, metadata={"doc": "Model for code actions (chat), e.g. a bigger one than for completion: a model id (`openai`), or a registry name or GGUF path (in-process engines). Empty: the completion model."})
    model_type: str | None = field(default=None, metadata={"doc": "ctransformers `model_type` (`llama`, `gpt_bigcode`, `starcoder`, `gpt2`, `gptj`, `mpt`, `replit`, …). Empty: from the GGUF metadata."})


@dataclass(frozen=True)
class Settings:
    """All codex-ls settings (section `codexLs`)."""

    model: ModelSettings = field(default_factory=ModelSettings, metadata={"doc": "Model selection."})
    completion: CompletionSettings = field(default_factory=CompletionSettings, metadata={"doc": "Inline completion."})
    engine: EngineSettings = field(default_factory=EngineSettings, metadata={"doc": "Inference engine."})
    code_actions: CodeActionSettings = field(default_factory=CodeActionSettings, metadata={"doc": "Code actions."})
    log_level: Literal["error", "warning", "info", "debug"] = field(default="info", metadata={"doc": "Server log level (stderr and `window/logMessage`)."})


class SettingsError(ValueError):
    """Settings that could not be parsed; ``details`` lists every problem."""

    def __init__(self, details: list[str]):
        self.details = details
        super().__init__("invalid codexLs settings: " + "; ".join(details))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)

    def strict_int(value: Any, _type: type) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise TypeError(f"expected an integer, got {value!r}")
        return int(value)

    def strict_float(value: Any, _type: type) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {value!r}")
        return float(value)

    def strict_bool(value: Any, _type: type) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value

    def strict_str(value: Any, _type: type) -> str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {value!r}")
        return value

    converter.register_structure_hook(int, strict_int)
    converter.register_structure_hook(float, strict_float)
    converter.register_structure_hook(bool, strict_bool)
    converter.register_structure_hook(str, strict_str)
    for cls in (ModelSettings, CompletionSettings, EngineSettings, CodeActionSettings, Settings):
        overrides = {f.name: override(rename=_camel(f.name)) for f in dataclasses.fields(cls)}
        converter.register_structure_hook(
            cls, make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True, **overrides)
        )
    return converter


_CONVERTER = _make_converter()


def _flatten_dotted(raw: dict[str, Any]) -> dict[str, Any]:
    """Accept VS Code style dotted keys (``{"model.path": ...}``) as nested ones."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            value = _flatten_dotted(value)
        parts = key.split(".")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise SettingsError([f"{key}: conflicts with a non-object value"])
        if isinstance(value, dict) and isinstance(target.get(parts[-1]), dict):
            target[parts[-1]].update(value)
        else:
            target[parts[-1]] = value
    return out


def parse_settings(raw: Any) -> Settings:
    """Parse client settings into :class:`Settings`.

    ``raw`` is the JSON value of ``initializationOptions`` or of the
    ``codexLs`` configuration section: ``None`` or a mapping with camelCase
    keys, nested (``{"model": {"path": ...}}``) or dotted
    (``{"model.path": ...}``); a mapping with a single ``codexLs`` key is
    unwrapped. ``null`` values mean "use the default".

    Raises:
        SettingsError: unknown keys or values of the wrong type; ``details``
            names every offending key.
    """
    if raw is None:
        return Settings()
    if not isinstance(raw, dict):
        raise SettingsError([f"expected an object, got {type(raw).__name__}"])
    if set(raw) == {SECTION}:
        return parse_settings(raw[SECTION])
    if isinstance(raw.get("engine"), str):  # shorthand: "engine": "openai"
        raw = {**raw, "engine": {"name": raw["engine"]}}
    data = _drop_nulls(_flatten_dotted(raw))
    try:
        return _CONVERTER.structure(data, Settings)
    except Exception as exc:  # cattrs raises ClassValidationError / ForbiddenExtraKeysError
        raise SettingsError(_describe(exc)) from exc


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    return value


def _describe(exc: BaseException) -> list[str]:
    """Human-readable problems with their JSON paths, e.g. ``invalid value for type, expected int @ $.completion.maxTokens``."""
    return list(cattrs.transform_error(exc, path="codexLs"))


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " \\| ".join(f'`"{a}"`' for a in typing.get_args(tp))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " \\| ".join(_type_name(a) for a in args) + " or null"
    return getattr(tp, "__name__", str(tp))


def iter_settings(cls: type = Settings, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Every leaf setting as ``(dotted camelCase key, type, default, doc)``."""
    hints = typing.get_type_hints(cls, include_extras=False)
    rows: list[tuple[str, str, str, str]] = []
    instance = cls()
    for f in dataclasses.fields(cls):
        key = prefix + _camel(f.name)
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            rows.extend(iter_settings(tp, key + "."))
            continue
        default = getattr(instance, f.name)
        default_text = "null" if default is None else (str(default).lower() if isinstance(default, bool) else repr(default) if isinstance(default, str) else str(default))
        rows.append((key, _type_name(tp), default_text, f.metadata.get("doc", "")))
    return rows


def settings_table() -> str:
    """The Markdown table of every setting, generated from the dataclasses above."""
    lines = ["| setting (`codexLs.`…) | type | default | meaning |", "|---|---|---|---|"]
    for key, tp, default, doc in iter_settings():
        lines.append(f"| `{key}` | {tp} | `{default}` | {doc} |")
    return "\n".join(lines)


def to_wire(settings: Settings) -> dict[str, Any]:
    """The camelCase JSON form of ``settings`` (what a client would send)."""

    def convert(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            return {_camel(f.name): convert(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return obj

    return convert(settings)


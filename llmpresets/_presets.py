"""Presets and the configuration file: schema, loading, layering and error messages.

Layers, lowest to highest, each a plain dict merged deeply in this order:

1. the packaged ``presets.yaml`` (shipped inside the wheel);
2. the user's file(s): an explicit ``path``, else ``$LLMPRESETS_CONFIG``, else ``./presets.yaml``;
3. per-call overrides (applied later, by :func:`llmpresets.resolve_params`).

Mappings merge key by key (a user file may change one field of one preset); anything else,
lists included, is replaced. Each file is validated on its own first, so an error names the file
and line that caused it; then the merged result is validated again.
"""

from __future__ import annotations

import difflib
import math
import os
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._corpus_file import corpus_problem
from ._errors import ConfigError, UnknownModelError, UnknownPresetError, describe_pydantic_error
from ._models import MODEL_NAME, Effort, ModelFields, ModelSpec, family_for, lookup_model
from ._params import PARAMETERS, PRESET_FIELDS, SAMPLING_FIELDS
from ._regex import bounded_search, regex_problem
from ._yaml import LineMap, load_yaml_file

__all__ = [
    "SAMPLING_FIELDS",
    "ConfigFile",
    "FaultRule",
    "OfflineSettings",
    "Preset",
    "PresetBook",
    "ScriptedCompletion",
    "ScriptedRule",
    "Settings",
    "check_sampling_values",
    "config_json_schema",
    "default_book",
    "load_presets",
    "packaged_presets_path",
    "user_config_paths",
]


class _Strict(BaseModel):
    # strict: YAML's "0.5" (a string) is not silently taken as a number, nor true as 1.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _from_table(name: str) -> Any:
    """A pydantic Field with the parameter table's range and description for ``name``."""
    entry = PARAMETERS[name]
    bounds: dict[str, float] = {}
    if entry.low is not None:
        bounds["gt" if entry.low_open else "ge"] = entry.low
    if entry.high is not None:
        bounds["le"] = entry.high
    return Field(default=None, description=entry.description, **bounds)  # type: ignore[call-overload]


class PresetFields(_Strict):
    """The settings of one use case, as written under ``presets:``.

    Ranges and descriptions come from the parameter table (``_params.py``).
    """

    description: str | None = Field(default=None, description="What the preset is for.")
    temperature: float | None = _from_table("temperature")
    top_p: float | None = _from_table("top_p")
    top_k: int | None = _from_table("top_k")
    min_p: float | None = _from_table("min_p")
    frequency_penalty: float | None = _from_table("frequency_penalty")
    presence_penalty: float | None = _from_table("presence_penalty")
    max_output_tokens: int | None = _from_table("max_output_tokens")
    reasoning_effort: Effort | None = _from_table("reasoning_effort")
    verbosity: Literal["low", "medium", "high"] | None = _from_table("verbosity")
    recommended: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Recommended [low, high] range per sampling field, shown by `explain`.",
    )

    @field_validator("recommended")
    @classmethod
    def _ranges_are_pairs(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, bounds in value.items():
            if name not in SAMPLING_FIELDS:
                raise ValueError(
                    f"recommended.{name}: unknown field; allowed: {', '.join(SAMPLING_FIELDS)}"
                )
            if len(bounds) != 2 or not all(math.isfinite(bound) for bound in bounds):
                raise ValueError(
                    f"recommended.{name}: expected [low, high], two finite numbers, got {bounds}"
                )
            if bounds[0] > bounds[1]:
                raise ValueError(
                    f"recommended.{name}: expected [low, high] with low <= high, got {bounds}"
                )
            outside = [bound for bound in bounds if not _within_field(cls, name, bound)]
            if outside:
                raise ValueError(
                    f"recommended.{name}: {outside[0]:g} is outside the field's own range; "
                    f"allowed: {_allowed_range(('presets', '_', name))}"
                )
        return value


class Preset(PresetFields):
    """A named preset: the sampling settings for one use case.

    >>> from llmpresets import load_presets
    >>> load_presets()["code"].temperature
    0.2
    """

    name: str

    def sampling(self) -> dict[str, float | int]:
        """The sampling fields (sampling, penalties, output limit) that are set, by name."""
        return {
            name: getattr(self, name) for name in SAMPLING_FIELDS if getattr(self, name) is not None
        }

    def settings(self) -> dict[str, Any]:
        """Every request setting the preset sets (sampling, reasoning effort, verbosity)."""
        return {
            name: getattr(self, name) for name in PRESET_FIELDS if getattr(self, name) is not None
        }


class Settings(_Strict):
    """The ``settings:`` section."""

    unsupported_params: Literal["warn", "error", "silent"] = Field(
        default="warn", description="Policy for a parameter the model does not accept."
    )
    provider: Literal["auto", "openai", "openai-compatible"] = Field(
        default="auto",
        description="openai-compatible servers (vLLM) take top_k / min_p in the request body; "
        "auto picks it when base_url is not OpenAI's.",
    )
    default_model: str = Field(
        default="gpt-4o", min_length=1, description="Model used when none given."
    )

    @field_validator("default_model")
    @classmethod
    def _model_is_a_name(cls, value: str) -> str:
        if not MODEL_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a model name: use letters, digits and . _ - : / only, "
                "starting with a letter or digit (e.g. gpt-4o)"
            )
        return value


class ScriptedToolCall(_Strict):
    """A scripted reply that calls a tool: its ``name`` and JSON ``arguments``."""

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$", description="The tool's name.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="The call's arguments.")


class ScriptedCompletion(_Strict):
    """One whole completion of a scripted rule and its probability.

    Exactly one of ``text`` (a text reply), ``json`` (a JSON value, written compactly: a
    structured-output answer) or ``tool_call`` (a call to a tool the request offers).
    """

    model_config = ConfigDict(populate_by_name=True)

    text: str | None = None
    json_value: Any = Field(default=None, alias="json", description="A JSON answer.")
    tool_call: ScriptedToolCall | None = None
    probability: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _one_answer(self) -> ScriptedCompletion:
        given = [
            name
            for name, value in (
                ("text", self.text),
                ("json", self.json_value),
                ("tool_call", self.tool_call),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of text, json or tool_call"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class ScriptedRule(_Strict):
    """For a request whose last user message matches, sample one of ``completions``."""

    match: str = Field(min_length=1, description="Substring (case-insensitive) or regex.")
    regex: bool = False
    completions: list[ScriptedCompletion] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ScriptedRule:
        if self.regex:
            problem = regex_problem(self.match)
            if problem is not None:
                raise ValueError(f"match: {problem}")
        total = sum(c.probability for c in self.completions)
        if total > 1 + 1e-6:
            raise ValueError(f"completions: probabilities sum to {total:g}; allowed: at most 1")
        return self

    def matches(self, text: str) -> bool:
        """Whether ``text`` (the last user message) matches; a regex search is time-bounded."""
        if self.regex:
            return bounded_search(self.match, text)
        return self.match.casefold() in text.casefold()


class FaultRule(_Strict):
    """Answer matching requests with a fault, ``times`` times (``llmpresets.offline._faults``)."""

    fault: Literal["rate_limit", "server_error", "unavailable", "stall", "reset", "cut_stream"]
    match: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Substring (case-insensitive) or regex of any text in the request body; "
        "none: every request.",
    )
    regex: bool = False
    endpoint: str | None = Field(
        default=None, min_length=1, description="Path tail, e.g. chat/completions or embeddings."
    )
    times: int | None = Field(default=1, ge=1, description="How many requests; null: all.")
    retry_after: float | None = Field(
        default=None, ge=0, le=3600, description="rate_limit / unavailable: Retry-After, seconds."
    )
    after_events: int = Field(default=0, ge=0, description="cut_stream: events sent first.")
    stall_seconds: float = Field(
        default=600, gt=0, le=3600, description="stall: how long the answer is held back."
    )

    @model_validator(mode="after")
    def _check(self) -> FaultRule:
        if self.regex:
            if self.match is None:
                raise ValueError("regex: true needs a match")
            problem = regex_problem(self.match)
            if problem is not None:
                raise ValueError(f"match: {problem}")
        return self


class OfflineSettings(_Strict):
    """The ``offline:`` section: the backend used with no API key."""

    strict_models: bool = Field(
        default=False, description="Answer 404 model_not_found for models not in the registry."
    )
    scripted: list[ScriptedRule] = Field(default_factory=list)
    faults: list[FaultRule] = Field(default_factory=list, max_length=1000)
    corpus: str | None = Field(
        default=None,
        description="Text corpus (or a saved model, .npz/.json) for the offline language "
        "model; a relative path is relative to the file that sets it.",
    )


class ConfigFile(_Strict):
    """The whole file. Every section is optional in a user file."""

    settings: Settings = Field(default_factory=lambda: Settings())
    presets: dict[str, PresetFields] = Field(default_factory=dict)
    models: dict[str, ModelFields] = Field(default_factory=dict)
    families: dict[str, str] = Field(
        default_factory=dict,
        description="fnmatch pattern -> registry model: a model the registry lacks takes the "
        "rules (not the limits) of the model its longest matching pattern names.",
    )
    offline: OfflineSettings = Field(default_factory=lambda: OfflineSettings())
    out_of_scope: list[str] = Field(
        default_factory=list,
        description="Name patterns of models deliberately outside the registry (audio, search, "
        "realtime); the registry-coverage test skips them.",
    )

    @field_validator("presets", "models")
    @classmethod
    def _names_are_plain(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not MODEL_NAME.fullmatch(name):
                raise ValueError(f"invalid name {name!r}: use letters, digits and . _ - : / only")
        return value


def check_sampling_values(values: Mapping[str, Any], source: str = "per-call override") -> None:
    """Validate sampling values given in code with the same ranges as the file.

    Raises ConfigError naming the parameter, the value and the allowed range, so a request the
    library knows to be invalid is never sent.
    """
    fields = {name: value for name, value in values.items() if name in PRESET_FIELDS}
    _validate([_Layer(source, {"presets": {"call": fields}}, {})], {"presets": {"call": fields}})


def config_json_schema() -> dict[str, Any]:
    """A JSON Schema of ``presets.yaml`` for editors (``llmpresets schema`` prints it)."""
    schema = ConfigFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "llmpresets configuration (presets.yaml)"
    return schema


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class _Layer:
    source: str
    data: dict[str, Any]
    lines: LineMap


def packaged_presets_path() -> Path:
    """The packaged defaults: inside the installed package, or the repository's top level."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "presets.yaml", here.parent / "presets.yaml"):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"the packaged presets.yaml is missing (looked in {here} and {here.parent}); "
        "reinstall llmpresets"
    )


def user_config_paths(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
) -> list[Path]:
    """User files to layer, in order: ``path``, else ``$LLMPRESETS_CONFIG``, else ./presets.yaml."""
    if path is not None:
        items = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        return [Path(item) for item in items]
    env = os.environ.get("LLMPRESETS_CONFIG")
    if env:
        return [Path(item) for item in env.split(os.pathsep) if item]
    local = Path("presets.yaml")
    return [local] if local.is_file() else []


def _read_layer(path: Path, *, packaged: bool = False) -> _Layer:
    data, lines = load_yaml_file(path, packaged=packaged)
    source = str(path)
    if data is None:
        raise ConfigError(
            f"{source}: the file is empty; expected a mapping with any of: "
            f"{', '.join(ConfigFile.model_fields)}",
            file=source,
        )
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}:1: expected a mapping with any of: {', '.join(ConfigFile.model_fields)}; "
            f"got {type(data).__name__}",
            file=source,
            line=1,
        )
    layer = _Layer(source, data, lines)
    _validate([layer], data)
    return layer


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(layers: list[_Layer], data: dict[str, Any]) -> ConfigFile:
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        messages = sorted(
            (_describe(error, layers) for error in exc.errors()),
            key=lambda described: (described[1] or "", described[2] or 0),
        )
        first = messages[0]
        if len(messages) == 1:
            text = first[0]
        else:
            text = f"{len(messages)} problems:\n" + "\n".join(f"  {m[0]}" for m in messages)
        raise ConfigError(text, file=first[1], line=first[2], field=first[3]) from None


@dataclass
class PresetBook:
    """The resolved configuration: presets by use case, the model registry, settings.

    >>> book = load_presets()
    >>> book.names()
    ['brainstorm', 'chat', 'code', 'creative', 'factual']
    >>> book["creative"].top_p
    0.95
    """

    presets: dict[str, Preset]
    models: dict[str, ModelSpec]
    settings: Settings = field(default_factory=lambda: Settings())
    offline: OfflineSettings = field(default_factory=lambda: OfflineSettings())
    sources: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Preset:
        try:
            return self.presets[name]
        except KeyError:
            raise UnknownPresetError(name, self.names()) from None

    def __contains__(self, name: object) -> bool:
        return name in self.presets

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.presets)

    def names(self) -> list[str]:
        """The use-case names, sorted."""
        return sorted(self.presets)

    aliases: dict[str, str] = field(default_factory=dict)
    families: dict[str, str] = field(default_factory=dict)
    # use case -> the fields a user file (not the packaged defaults) sets: a value the model
    # rejects warns only when the user asked for it.
    user_fields: dict[str, frozenset[str]] = field(default_factory=dict)
    out_of_scope: tuple[str, ...] = ()
    # Resolved specs by requested name (snapshots, aliases and unknown names included).
    _specs: dict[str, ModelSpec] = field(default_factory=dict, repr=False, compare=False)

    def model(self, name: str, *, strict: bool = False) -> ModelSpec:
        """The spec for ``name``: snapshots and aliases resolve to their model.

        A name the registry lacks gets a spec with unknown limits, or, with ``strict=True``,
        raises UnknownModelError listing the known models.
        """
        cached = self._specs.get(name)
        if cached is not None and (cached.known or not strict):
            return cached
        spec = lookup_model(self.models, name, self.aliases)
        if spec is None:
            if strict:
                raise UnknownModelError(name, sorted(self.models))
            family = family_for(self.models, self.families, name, self.out_of_scope)
            spec = ModelSpec.unknown(name, family)
        if len(self._specs) >= 512:  # bounded: any string can be a model name
            self._specs.clear()
        self._specs[name] = spec
        return spec


def load_presets(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
) -> PresetBook:
    """Load the packaged defaults and layer the user's file(s) over them, validated.

    ``path`` may be one file or a list (later files win); without it ``$LLMPRESETS_CONFIG``
    (``os.pathsep``-separated) or ``./presets.yaml`` is used when present. Raises
    :class:`ConfigError` naming the file, line, field, bad value and what is allowed.

    >>> book = load_presets()
    >>> book["code"].temperature, book.model("gpt-4o-2024-08-06").context_window
    (0.2, 128000)
    """
    packaged = packaged_presets_path().resolve()
    layers = [_read_layer(packaged, packaged=True)]
    for user_path in user_config_paths(path):
        if "\x00" in str(user_path):
            raise ConfigError(f"{str(user_path)!r}: not a valid file name", file=str(user_path))
        if user_path.resolve() == packaged:
            continue
        layers.append(_read_layer(user_path))
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _merge(merged, layer.data)
    config = _validate(layers, merged)
    config = _resolve_corpus(config, layers)
    presets = {
        name: Preset(name=name, **fields.model_dump(exclude_unset=False))
        for name, fields in config.presets.items()
    }
    models = {name: ModelSpec.from_fields(name, spec) for name, spec in config.models.items()}
    return PresetBook(
        presets=presets,
        models=models,
        aliases=_alias_index(config, layers),
        families=_checked_families(config, layers),
        user_fields=_user_fields(layers),
        out_of_scope=tuple(config.out_of_scope),
        settings=config.settings,
        offline=config.offline,
        sources=tuple(layer.source for layer in layers),
    )


def _resolve_corpus(config: ConfigFile, layers: list[_Layer]) -> ConfigFile:
    """Make ``offline.corpus`` absolute (relative to its file) and check that it exists."""
    corpus = config.offline.corpus
    if corpus is None:
        return config
    loc = ("offline", "corpus")
    source, line = _line_for(loc, layers)
    path = Path(corpus).expanduser()
    if not path.is_absolute() and source is not None:
        path = Path(source).resolve().parent / path
    if not path.is_file():
        where = f"{source}:{line}" if line is not None else str(source)
        reason = "is a directory" if path.is_dir() else "no such file"
        raise ConfigError(
            f"{where}: offline.corpus: {corpus!r} {reason} (looked for {path}); give a UTF-8 "
            "text corpus or a model saved by `llmpresets train --output`",
            file=source,
            line=line,
            field="offline.corpus",
        )
    problem = corpus_problem(path)
    if problem is not None:
        where = f"{source}:{line}" if line is not None else str(source)
        raise ConfigError(
            f"{path}: {problem} (offline.corpus, {where}); give a UTF-8 text corpus or a "
            "model saved by `llmpresets train --output`",
            file=source,
            line=line,
            field="offline.corpus",
        )
    offline = config.offline.model_copy(update={"corpus": str(path)})
    return config.model_copy(update={"offline": offline})


def _user_fields(layers: list[_Layer]) -> dict[str, frozenset[str]]:
    """use case -> the fields a user file sets to something other than the packaged default.

    A value equal to the default counts as the default: a user who copied the whole packaged
    file (or runs from a checkout of this repository, whose ./presets.yaml *is* it) gets the
    quiet default behaviour, not a warning per packaged value the model does not take.
    """
    packaged = layers[0].data.get("presets") if layers else None
    packaged = packaged if isinstance(packaged, dict) else {}
    found: dict[str, set[str]] = {}
    for layer in layers[1:]:
        presets = layer.data.get("presets")
        for name, fields in (presets or {}).items() if isinstance(presets, dict) else ():
            if not isinstance(fields, dict):
                continue
            entry = packaged.get(name)
            defaults: dict[str, Any] = entry if isinstance(entry, dict) else {}
            changed = {
                str(key)
                for key, value in fields.items()
                if key not in defaults or defaults[key] != value
            }
            found.setdefault(name, set()).update(changed)
    return {name: frozenset(fields) for name, fields in found.items() if fields}


def _checked_families(config: ConfigFile, layers: list[_Layer]) -> dict[str, str]:
    """``families:`` with every target a registry model (else a ConfigError at its line)."""
    for pattern, like in config.families.items():
        if like not in config.models:
            source, line = _line_for(("families", pattern), layers)
            where = f"{source}:{line}" if line is not None else str(source)
            close = difflib.get_close_matches(like, list(config.models), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{where}: families.{pattern}: {like!r} is not a model in the registry; "
                f"{hint}give the name of a model under models:",
                file=source,
                line=line,
                field=f"families.{pattern}",
            )
    return dict(config.families)


def _alias_index(config: ConfigFile, layers: list[_Layer]) -> dict[str, str]:
    """alias -> model name; an alias may not be a model's name or another model's alias."""
    index: dict[str, str] = {}
    for name, fields in config.models.items():
        for alias in fields.aliases or ():
            clash = alias if alias in config.models else index.get(alias)
            if clash is not None and clash != name:
                loc = ("models", name, "aliases")
                source, line = _line_for(loc, layers)
                where = f"{source}:{line}" if line is not None else str(source)
                owner = "a model's name" if alias in config.models else f"an alias of {clash!r}"
                raise ConfigError(
                    f"{where}: models.{name}.aliases: {alias!r} is already {owner}; "
                    "each name may point at one model",
                    file=source,
                    line=line,
                    field=f"models.{name}.aliases",
                )
            index[alias] = name
    return index


_default_cache: dict[tuple[Any, ...], PresetBook] = {}


def default_book() -> PresetBook:
    """``load_presets()`` cached until a user file changes (path, size or mtime)."""
    paths = user_config_paths()
    key_parts: list[Any] = [str(Path.cwd())]
    for item in paths:
        try:
            stat = item.stat()
            key_parts.append((str(item.resolve()), stat.st_mtime_ns, stat.st_size))
        except OSError:
            key_parts.append((str(item), None, None))
    key = tuple(key_parts)
    book = _default_cache.get(key)
    if book is None:
        book = load_presets()
        _default_cache.clear()
        _default_cache[key] = book
    return book


# --------------------------------------------------------------------------- error messages


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The pydantic model whose fields sit at ``loc`` in ConfigFile (for 'did you mean')."""
    annotation: Any = ConfigFile
    for part in loc:
        annotation = _unwrap_optional(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if not isinstance(part, str) or part not in annotation.model_fields:
                return None
            annotation = annotation.model_fields[part].annotation
        elif typing.get_origin(annotation) in (dict, list):
            annotation = typing.get_args(annotation)[-1]
        else:
            return None
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _within_field(model: type[BaseModel], name: str, value: float) -> bool:
    """Whether ``value`` passes the numeric constraints of ``model``'s field ``name``."""
    for constraint in model.model_fields[name].metadata:
        ge, gt = getattr(constraint, "ge", None), getattr(constraint, "gt", None)
        le, lt = getattr(constraint, "le", None), getattr(constraint, "lt", None)
        if (
            (ge is not None and value < ge)
            or (gt is not None and value <= gt)
            or (le is not None and value > le)
            or (lt is not None and value >= lt)
        ):
            return False
    return True


def _allowed_range(loc: tuple[str | int, ...]) -> str | None:
    parent = _model_at(loc[:-1])
    name = loc[-1]
    if parent is None or not isinstance(name, str) or name not in parent.model_fields:
        return None
    low = high = ""
    for constraint in parent.model_fields[name].metadata:
        for attribute, template in (("ge", "{} ≤ "), ("gt", "{} < ")):
            if getattr(constraint, attribute, None) is not None:
                low = template.format(_number(getattr(constraint, attribute)))
        for attribute, template in ((("le", " ≤ {}")), ("lt", " < {}")):
            if getattr(constraint, attribute, None) is not None:
                high = template.format(_number(getattr(constraint, attribute)))
    if not low and not high:
        return None
    if low and not high:  # "top_k ≥ 1" reads better than "1 ≤ top_k"
        op = "≥" if "≤" in low else ">"
        rendered = f"{name} {op} {low.split()[0]}"
    else:
        rendered = f"{low}{name}{high}"
    nullable = type(None) in typing.get_args(parent.model_fields[name].annotation)
    return rendered + (" (or null)" if nullable else "")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _decimal(text: str) -> str:
    """1e-5 -> 1.0e-5, the spelling YAML 1.1 reads as a number."""
    mantissa, _, exponent = text.lower().partition("e")
    if exponent and "." not in mantissa:
        return f"{mantissa}.0e{exponent}"
    return text


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _line_for(loc: tuple[str | int, ...], layers: list[_Layer]) -> tuple[str | None, int | None]:
    """The file and line of the highest layer that sets ``loc`` (or its nearest parent)."""
    for depth in range(len(loc), -1, -1):
        prefix = loc[:depth]
        for layer in reversed(layers):
            if prefix in layer.lines and _sets(layer.data, prefix):
                return layer.source, layer.lines[prefix]
    return (layers[-1].source, None) if layers else (None, None)


def _sets(data: Any, loc: tuple[str | int, ...]) -> bool:
    for part in loc:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return False
    return True


# Error kinds whose message needs no YAML-quoting hint.
_PLAIN_KINDS = frozenset(
    {
        "extra_forbidden",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "literal_error",
        "value_error",
        "missing",
    }
)


def _describe(error: Any, layers: list[_Layer]) -> tuple[str, str | None, int | None, str]:
    """Render one pydantic error as ``file:line: field.path: what is wrong; what is allowed``."""
    loc: tuple[str | int, ...] = tuple(
        part for part in error["loc"] if not (isinstance(part, str) and "[" in part)
    )
    field_path = ".".join(str(part) for part in loc) or "(top level)"
    if loc[:2] == ("presets", "call") and layers and not layers[0].lines:
        field_path = ".".join(str(part) for part in loc[2:])  # a per-call override
    kind = error["type"]
    value = error.get("input")
    parent = _model_at(loc[:-1]) if kind == "extra_forbidden" else None
    allowed = _allowed_range(loc) if loc else None
    what = describe_pydantic_error(
        error, valid_fields=list(parent.model_fields) if parent is not None else [], allowed=allowed
    )
    if kind not in _PLAIN_KINDS and isinstance(value, str) and _looks_numeric(value):
        decimal = _decimal(value)
        if decimal != value:
            what += f" (YAML reads {value} as text; write {decimal})"
        else:
            what += " (quoted, so YAML reads it as text; remove the quotes)"
    source, line = _line_for(loc, layers)
    where = f"{source}:{line}" if line is not None else (source or "<config>")
    return f"{where}: {field_path}: {what}", source, line, field_path

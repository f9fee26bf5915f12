"""The configuration file's schema: pydantic models of everything a user writes in presets.yaml.

``ConfigFile`` is the whole file; ``PresetFields`` one use case (ranges and descriptions read
from the parameter table, :mod:`llmpresets.config.params`), ``ModelFields`` one model
(:mod:`llmpresets.config.models`), ``OfflineSettings`` the offline backend's section with its
scripted answers and faults. Every model forbids unknown keys and is strict (YAML's "0.5" is
text, not a number). Loading and layering live in :mod:`llmpresets.config.presets`, error
messages in :mod:`llmpresets.config.validation`, which reads the schema through
:func:`schema_model_at` and :func:`describe_range_at`.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .bounded_regex import bounded_search, regex_problem
from .models import MODEL_NAME, Effort, ModelFields
from .params import PARAMETERS, PRESET_FIELDS, SAMPLING_FIELDS
from .providers import ProviderName

__all__ = [
    "ConfigFile",
    "FaultRule",
    "OfflineSettings",
    "Preset",
    "PresetFields",
    "ProviderPreset",
    "ScriptedCompletion",
    "ScriptedReply",
    "ScriptedRule",
    "ScriptedToolCall",
    "Settings",
    "config_json_schema",
    "describe_range_at",
    "schema_model_at",
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


class ProviderPreset(_Strict):
    """A preset's values for one provider (``presets.NAME.providers.anthropic``): they replace
    the preset's own values when a request goes to that provider."""

    temperature: float | None = _from_table("temperature")
    top_p: float | None = _from_table("top_p")
    top_k: int | None = _from_table("top_k")
    min_p: float | None = _from_table("min_p")
    frequency_penalty: float | None = _from_table("frequency_penalty")
    presence_penalty: float | None = _from_table("presence_penalty")
    max_output_tokens: int | None = _from_table("max_output_tokens")
    reasoning_effort: Effort | None = _from_table("reasoning_effort")
    verbosity: Literal["low", "medium", "high"] | None = _from_table("verbosity")

    def values(self) -> dict[str, Any]:
        """The fields this override sets, by name."""
        return {
            name: getattr(self, name) for name in PRESET_FIELDS if getattr(self, name) is not None
        }


class _Described(_Strict):
    description: str | None = Field(default=None, description="What the preset is for.")


class PresetFields(ProviderPreset, _Described):
    """The settings of one use case, as written under ``presets:``.

    Ranges and descriptions come from the parameter table (:mod:`llmpresets.config.params`).
    """

    recommended: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Recommended [low, high] range per sampling field, shown by `explain`.",
    )
    providers: dict[ProviderName, ProviderPreset] = Field(
        default_factory=dict,
        description="Per-provider values (e.g. {anthropic: {temperature: 0.5}}), used instead "
        "of the preset's own when the request goes to that provider.",
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
                    f"allowed: {describe_range_at(('presets', '_', name))}"
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
    anthropic_version: Literal["2026-10-21", "2023-06-01"] = Field(
        default="2026-10-21",
        description="The anthropic-version api='anthropic' compiles for: 2026-10-21 (the current "
        "SDKs' default) removes temperature, top_p and top_k; 2023-06-01 still takes them.",
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
        _exactly_one(("text", self.text), ("json", self.json_value), ("tool_call", self.tool_call))
        return self


def _check_match(match: str | None, regex: bool) -> None:
    """A rule's ``match``, when ``regex: true``: present, and a pattern the bounded regex
    engine takes."""
    if not regex:
        return
    if match is None:
        raise ValueError("regex: true needs a match")
    problem = regex_problem(match)
    if problem is not None:
        raise ValueError(f"match: {problem}")


def _exactly_one(*fields: tuple[str, Any]) -> None:
    """Refuse an answer that gives none or several of ``fields`` (name, value)."""
    given = [name for name, value in fields if value is not None]
    if len(given) != 1:
        names = [name for name, _ in fields]
        raise ValueError(
            f"give exactly one of {', '.join(names[:-1])} or {names[-1]}"
            + (f" (got {', '.join(given)})" if given else "")
        )


class ScriptedReply(_Strict):
    """One reply of a rule's ``replies`` sequence: exactly one of ``text``, ``json`` (a JSON
    answer, written compactly), ``tool_call`` or ``tool_calls`` (parallel calls)."""

    model_config = ConfigDict(populate_by_name=True)

    text: str | None = None
    json_value: Any = Field(default=None, alias="json", description="A JSON answer.")
    tool_call: ScriptedToolCall | None = None
    tool_calls: list[ScriptedToolCall] | None = Field(default=None, min_length=1, max_length=16)

    @model_validator(mode="after")
    def _one_answer(self) -> ScriptedReply:
        _exactly_one(
            ("text", self.text),
            ("json", self.json_value),
            ("tool_call", self.tool_call),
            ("tool_calls", self.tool_calls),
        )
        return self


class ScriptedRule(_Strict):
    """For a request whose conversation matches, sample one of ``completions`` or give the
    turn's reply of ``replies`` (see :mod:`llmpresets.offline.backend.scripted_rules`)."""

    match: str | None = Field(
        default=None,
        min_length=1,
        description="Substring (case-insensitive) or regex of the last user message; "
        "none: any conversation.",
    )
    regex: bool = False
    completions: list[ScriptedCompletion] = Field(
        default_factory=list, description="Whole completions with probabilities, sampled."
    )
    replies: list[ScriptedReply] = Field(
        default_factory=list,
        max_length=1000,
        description="Replies used in order, one per turn the rule answers; then it falls through.",
    )
    times: int | None = Field(
        default=None,
        ge=1,
        description="How many turns of an exchange the rule answers (default: as many as "
        "replies, or every turn for completions); replies repeat their last one up to it.",
    )
    after_tool: bool | str | None = Field(
        default=None,
        description="true: only right after a tool result; false: never then; a tool's name: "
        "only right after that tool's result.",
    )
    tools_offered: list[str] | None = Field(
        default=None, description="Only when the request offers all of these tools."
    )
    model: str | None = Field(
        default=None, min_length=1, description="Only for models matching this fnmatch pattern."
    )
    turn: int | None = Field(
        default=None,
        ge=0,
        description="Only at this turn: assistant replies since the last user message.",
    )

    @model_validator(mode="after")
    def _check(self) -> ScriptedRule:
        _check_match(self.match, self.regex)
        if bool(self.completions) == bool(self.replies):
            raise ValueError("give one of completions (sampled) or replies (in order)")
        total = sum(c.probability for c in self.completions)
        if total > 1 + 1e-6:
            raise ValueError(f"completions: probabilities sum to {total:g}; allowed: at most 1")
        return self

    def matches(self, text: str) -> bool:
        """Whether ``text`` (the last user message) matches; a regex search is time-bounded.

        A rule without ``match`` matches any text."""
        if self.match is None:
            return True
        if self.regex:
            return bounded_search(self.match, text)
        return self.match.casefold() in text.casefold()

    @property
    def label(self) -> str:
        """How errors name the rule: its match, or its position-free conditions."""
        return repr(self.match) if self.match is not None else "(no match)"


class FaultRule(_Strict):
    """Answer matching requests with a fault, ``times`` times (``llmpresets.offline.faults``)."""

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
        _check_match(self.match, self.regex)
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
    read_prompt: bool = Field(
        default=True,
        description="Read the output contract a conversation states (a JSON schema, keys, "
        "labels, a number, dspy's markers...) when a request fixes no format itself.",
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


def config_json_schema() -> dict[str, Any]:
    """A JSON Schema of ``presets.yaml`` for editors (``llmpresets schema`` prints it)."""
    schema = ConfigFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "llmpresets configuration (presets.yaml)"
    return schema


# ------------------------------------------------- schema introspection (for error messages)


def schema_model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
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


def describe_range_at(loc: tuple[str | int, ...]) -> str | None:
    """The allowed range of the field at ``loc`` in ConfigFile, as error messages show it
    (``0 ≤ temperature ≤ 2``, ``top_k ≥ 1 (or null)``); None for a field without bounds.

    >>> describe_range_at(("presets", "code", "top_p"))
    '0 < top_p ≤ 1 (or null)'
    """
    parent = schema_model_at(loc[:-1])
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


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)

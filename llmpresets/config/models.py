"""Model limits and capabilities: what each model accepts and how much it can hold.

A :class:`ModelSpec` is built from one entry of the ``models:`` section of the layered
configuration (:class:`ModelFields`). It says, per model: the limits (context window, input
cap, output cap), the tokenizer (and whether OpenAI publishes it or it is presumed), the
reasoning efforts it accepts per endpoint and its default, when it takes sampling parameters
(``always``, only at effort ``none``, ``never``), the parameters it rejects outright, whether
function tools may be combined with a reasoning effort on ``/chat/completions``, whether it
takes ``verbosity``, its prices per 1M tokens, and where these facts come from.

Lookup resolves dated snapshots and fine-tunes to their family. A model the registry lacks
takes the *rules* of the first family pattern its name matches (``families:``; ``gpt-6*`` is
GPT-6, not gpt-4o), with unknown limits, so the context check is skipped with one warning.
"""

from __future__ import annotations

import datetime
import fnmatch
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .params import (
    API_NAMES,
    EFFORTS,
    PARAMETERS,
    SAMPLING_RULE_PARAMETERS,
    Api,
    effort_rank,
)
from .providers import ProviderName

__all__ = [
    "DEFAULT_ENCODING",
    "MODEL_NAME",
    "Conflict",
    "EncodingName",
    "LongContextPricing",
    "ModelFields",
    "ModelSpec",
    "Prices",
    "SamplingRule",
    "SamplingWithThinking",
    "Thinking",
    "encoding_name_for_model",
    "family_for",
    "lookup_model",
]

# What a model name (or alias) may look like: no blanks, no control characters.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*")

EncodingName = Literal["o200k_base", "cl100k_base"]
# The encoding of a model that neither the registry nor tiktoken's model map names.
DEFAULT_ENCODING = "o200k_base"
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
SamplingRule = Literal["always", "effort_none", "never"]
# Whether a model's thinking can be switched off (``always``: no effort ``none``).
Thinking = Literal["none", "optional", "always"]
# What sampling knobs meet while the model thinks: the API refuses them (Claude), accepts and
# ignores them (DeepSeek's thinking mode), or the provider advises leaving them at their
# defaults (Gemini 3: "keep temperature at 1.0").
SamplingWithThinking = Literal["refused", "ignored", "discouraged"]

# Names a model may reject besides the table's own: the SDK's spellings of limits and others.
_REJECTABLE = (*PARAMETERS, "max_tokens", "max_completion_tokens", "logit_bias", "tools")

# Legacy `reasoning: true` entries (o-series style) with no efforts declared.
_LEGACY_EFFORTS: tuple[str, ...] = ("low", "medium", "high")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LongContextPricing(_Strict):
    """Prices above a prompt size: multipliers for the whole request (as OpenAI bills it)."""

    above_input_tokens: int = Field(ge=1, description="Prompt tokens above which it applies.")
    input_multiplier: float = Field(ge=1, le=100, description="e.g. 2 for 2x input.")
    output_multiplier: float = Field(ge=1, le=100, description="e.g. 1.5 for 1.5x output.")


class Prices(_Strict):
    """USD per 1M tokens. Cached input defaults to input; reasoning tokens bill as output."""

    input: float = Field(ge=0, le=10_000, description="USD per 1M input tokens.")
    cached_input: float | None = Field(
        default=None, ge=0, le=10_000, description="USD per 1M cached input tokens."
    )
    output: float = Field(ge=0, le=10_000, description="USD per 1M output tokens.")
    long_context: LongContextPricing | None = None

    def cost(self, input_tokens: int, cached_tokens: int, output_tokens: int) -> float:
        """USD for one request: cached input at its price, reasoning tokens as output."""
        input_price, output_price = self.input, self.output
        cached_price = self.cached_input if self.cached_input is not None else self.input
        long = self.long_context
        if long is not None and input_tokens > long.above_input_tokens:
            input_price *= long.input_multiplier
            cached_price *= long.input_multiplier
            output_price *= long.output_multiplier
        cached = min(cached_tokens, input_tokens)
        return (
            (input_tokens - cached) * input_price
            + cached * cached_price
            + output_tokens * output_price
        ) / 1_000_000


class Conflict(_Strict):
    """Two parameters a model refuses together, with the API's own words.

    ``when: both`` refuses any request that sets both; ``when: greedy`` only one with
    temperature 0 and the other not at its default (Mistral: "top_p must be 1 when using
    greedy sampling.").
    """

    params: list[str] = Field(min_length=2, max_length=2, description="The two parameters.")
    when: Literal["both", "greedy"] = Field(default="both", description="both or greedy.")
    message: str = Field(min_length=1, description="The API's error message, quoted.")
    source: str | None = Field(default=None, description="Where the wording was seen.")

    @field_validator("params")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in PARAMETERS:
                raise ValueError(f"unknown parameter {name!r}; allowed: {', '.join(PARAMETERS)}")
        return value


class ModelFields(_Strict):
    """One entry under ``models:`` as a user writes it (every field optional)."""

    context_window: int | None = Field(
        default=None, ge=1, description="Total tokens the model holds: prompt plus output."
    )
    max_input_tokens: int | None = Field(
        default=None, ge=1, description="Cap on prompt tokens, when lower than the context window."
    )
    max_output_tokens: int | None = Field(
        default=None, ge=1, description="Most tokens one reply may have (reasoning included)."
    )
    encoding: EncodingName | None = Field(
        default=None, description="tiktoken encoding of the model."
    )
    encoding_published: bool | None = Field(
        default=None,
        description="true when OpenAI publishes the tokenizer; false when it is presumed.",
    )
    reasoning: bool | None = Field(
        default=None,
        description="A reasoning model (implied by reasoning_efforts). With no efforts given: "
        "o-series rules (low/medium/high, no sampling parameters).",
    )
    reasoning_efforts: list[Effort] | dict[Api, list[Effort]] | None = Field(
        default=None,
        description="Efforts the model accepts: a list for every endpoint, or per endpoint "
        "{chat: [...], responses: [...]}.",
    )
    default_effort: Effort | None = Field(
        default=None, description="The effort the API uses when none is sent."
    )
    sampling: SamplingRule | None = Field(
        default=None,
        description=f"When {', '.join(SAMPLING_RULE_PARAMETERS)} are accepted: always, "
        "effort_none (only at reasoning effort none), never (only the default temperature 1).",
    )
    rejects: list[str] | None = Field(
        default=None,
        description="Parameters the model refuses outright (e.g. max_tokens, stop, "
        "frequency_penalty).",
    )
    tools_with_effort: bool | None = Field(
        default=None,
        description="false when /chat/completions refuses function tools together with a "
        "reasoning effort other than none (use /responses).",
    )
    verbosity: bool | None = Field(default=None, description="Takes the verbosity parameter.")
    endpoints: list[Api] | None = Field(default=None, description="chat and/or responses.")
    prices: Prices | None = Field(default=None, description="USD per 1M tokens.")
    source: str | None = Field(default=None, description="URL these facts come from.")
    checked: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="Date they were checked."
    )
    aliases: list[str] | None = Field(
        default=None,
        description="Other names of this model (e.g. preview snapshots a date would misfile).",
    )
    provider: ProviderName | None = Field(
        default=None,
        description="Who serves it: openai (default), anthropic, google, xai, deepseek, "
        "mistral, openai-compatible.",
    )
    ranges: dict[str, list[float]] | None = Field(
        default=None,
        description="Per-parameter [low, high] where the model's range is narrower than the "
        "parameter table's (Claude: temperature [0, 1]).",
    )
    conflicts: list[Conflict] | None = Field(
        default=None, description="Pairs of parameters refused together, with the API's words."
    )
    errors: dict[str, str] | None = Field(
        default=None,
        description="The API's own refusal of a rejected parameter, quoted (offline uses it).",
    )
    thinking: Thinking | None = Field(
        default=None,
        description="none (no thinking), optional (can be switched off), always (cannot).",
    )
    sampling_with_thinking: SamplingWithThinking | None = Field(
        default=None,
        description="What sampling knobs meet while it thinks: refused, ignored, discouraged.",
    )
    thinking_budgets: dict[Effort, int] | None = Field(
        default=None,
        description="Thinking tokens per effort where the native API takes a budget "
        "(Gemini 2.5's thinking_budget).",
    )
    tokenizer_public: bool | None = Field(
        default=None,
        description="Whether counts are exact (the model's own public tokenizer); false: a "
        "documented estimate with a safety margin.",
    )
    notes: str | None = Field(
        default=None, description="Where sources disagree, and the rule chosen."
    )

    @field_validator("ranges")
    @classmethod
    def _ranges_are_pairs(cls, value: dict[str, list[float]] | None) -> Any:
        for name, bounds in (value or {}).items():
            if name not in PARAMETERS:
                raise ValueError(
                    f"ranges.{name}: unknown parameter; allowed: {', '.join(PARAMETERS)}"
                )
            if len(bounds) != 2 or bounds[0] > bounds[1]:
                raise ValueError(f"ranges.{name}: expected [low, high] with low <= high")
        return value

    @field_validator("errors")
    @classmethod
    def _errors_name_parameters(cls, value: dict[str, str] | None) -> Any:
        for name in value or {}:
            if name not in _REJECTABLE:
                raise ValueError(
                    f"errors.{name}: unknown parameter; allowed: {', '.join(sorted(_REJECTABLE))}"
                )
        return value

    @field_validator("checked", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        # YAML reads an unquoted 2026-12-02 as a date.
        return value.isoformat() if isinstance(value, datetime.date) else value

    @field_validator("rejects")
    @classmethod
    def _known_parameters(cls, value: list[str] | None) -> list[str] | None:
        for name in value or ():
            if name not in _REJECTABLE:
                raise ValueError(
                    f"unknown parameter {name!r}; allowed: {', '.join(sorted(_REJECTABLE))}"
                )
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases_are_names(cls, value: list[str] | None) -> list[str] | None:
        for alias in value or ():
            if not MODEL_NAME.fullmatch(alias):
                raise ValueError(
                    f"alias {alias!r} is not a model name: use letters, digits and . _ - : / "
                    "only, starting with a letter or digit"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelFields:
        window = self.context_window
        if window is not None:
            for field in ("max_input_tokens", "max_output_tokens"):
                value = getattr(self, field)
                if value is not None and value > window:
                    raise ValueError(
                        f"{field} ({value}) is larger than context_window ({window}); "
                        f"allowed: {field} <= context_window (a value your file does not set "
                        "comes from the packaged defaults: set both)"
                    )
        if self.reasoning is False and self.reasoning_efforts:
            raise ValueError("reasoning: false contradicts reasoning_efforts; remove one")
        efforts = self.reasoning_efforts
        if isinstance(efforts, dict):
            for api in efforts:
                if api not in API_NAMES:
                    raise ValueError(f"reasoning_efforts: unknown endpoint {api!r}")
        listed = _all_efforts(efforts)
        if self.default_effort is not None and listed and self.default_effort not in listed:
            raise ValueError(
                f"default_effort {self.default_effort!r} is not one of reasoning_efforts "
                f"({', '.join(listed)}); set default_effort too (the packaged defaults may "
                "set it)"
            )
        return self


def _all_efforts(efforts: Sequence[str] | Mapping[Any, Sequence[str]] | None) -> list[str]:
    if not efforts:
        return []
    if isinstance(efforts, Mapping):
        found = {effort for listed in efforts.values() for effort in listed}
        return [effort for effort in EFFORTS if effort in found]
    return [effort for effort in EFFORTS if effort in efforts]


class ModelSpec(BaseModel):
    """Resolved limits and capabilities of one model.

    ``context_window`` is ``None`` for a model the registry does not know; the context check
    is then skipped (with a warning that says how to declare it).

    >>> from llmpresets import get_model
    >>> spec = get_model("gpt-5")
    >>> spec.max_input_tokens, spec.efforts("chat")
    (272000, ('minimal', 'low', 'medium', 'high'))
    """

    model_config = ConfigDict(frozen=True)

    name: str
    context_window: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    encoding: str = DEFAULT_ENCODING
    encoding_published: bool = False
    reasoning: bool = False
    reasoning_efforts: Mapping[str, tuple[str, ...]] = Field(default_factory=dict)
    default_effort: str | None = None
    sampling: SamplingRule = "always"
    rejects: frozenset[str] = frozenset()
    tools_with_effort: bool = True
    verbosity: bool = False
    endpoints: tuple[str, ...] = API_NAMES
    prices: Prices | None = None
    source: str | None = None
    checked: str | None = None
    known: bool = True
    family: str | None = None  # for an unknown model: the registry model whose rules it took
    provider: ProviderName = "openai"
    ranges: Mapping[str, tuple[float, float]] = Field(default_factory=dict)
    conflicts: tuple[Conflict, ...] = ()
    errors: Mapping[str, str] = Field(default_factory=dict)
    thinking: Thinking = "none"
    sampling_with_thinking: SamplingWithThinking = "refused"
    thinking_budgets: Mapping[str, int] = Field(default_factory=dict)
    tokenizer_public: bool = True
    notes: str | None = None

    # ------------------------------------------------------------------ capability questions

    def efforts(self, api: Api = "chat") -> tuple[str, ...]:
        """The reasoning efforts the model accepts on ``api`` (empty: not a reasoning model)."""
        return self.reasoning_efforts.get(api, ())

    def nearest_effort(self, effort: str, api: Api = "chat") -> str | None:
        """``effort`` if accepted, else the closest accepted effort (the next higher first)."""
        accepted = self.efforts(api)
        if not accepted or effort in accepted:
            return effort if accepted else None
        wanted = effort_rank(effort)
        higher = [e for e in accepted if effort_rank(e) > wanted]
        return higher[0] if higher else accepted[-1]

    def sampling_allowed(self, effort: str | None) -> bool:
        """Whether temperature / top_p / (top_)logprobs may be sent at ``effort``.

        ``effort`` is what the request sends (``None``: the model's default).
        """
        if self.sampling == "always":
            return True
        if self.sampling == "never":
            return False
        return (effort or self.default_effort) == "none"

    def accepts(self, name: str, *, api: Api = "chat", effort: str | None = None) -> bool:
        """Whether the model takes parameter ``name`` (our name) on ``api`` at ``effort``."""
        if name in self.rejects:
            return False
        if name in SAMPLING_RULE_PARAMETERS:
            return self.sampling_allowed(effort)
        if name == "reasoning_effort":
            return bool(self.efforts(api))
        if api not in self.endpoints:
            return False
        if name == "verbosity":
            return self.verbosity
        return True

    @property
    def output_parameter(self) -> str:
        """How ``/chat/completions`` spells the output limit for this model."""
        if self.provider != "openai" and "max_tokens" not in self.rejects:
            return "max_tokens"  # what every other provider's compatible endpoint takes
        if self.reasoning or "max_tokens" in self.rejects:
            return "max_completion_tokens"
        return "max_tokens"

    @property
    def capabilities(self) -> dict[str, Any]:
        """The capability facts as plain data (what ``llmpresets models --json`` prints)."""
        return {
            "efforts": {api: list(self.efforts(api)) for api in API_NAMES if self.efforts(api)},
            "default_effort": self.default_effort,
            "sampling": self.sampling,
            "rejects": sorted(self.rejects),
            "tools_with_effort": self.tools_with_effort,
            "verbosity": self.verbosity,
            "endpoints": list(self.endpoints),
        }

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float | None:
        """USD for a request's usage; ``None`` when the model's prices are unknown.

        >>> from llmpresets import get_model
        >>> round(get_model("gpt-4o").cost(1_000_000, 0), 2)
        2.5
        """
        if self.prices is None:
            return None
        return self.prices.cost(input_tokens, cached_tokens, output_tokens)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_fields(cls, name: str, fields: ModelFields) -> ModelSpec:
        efforts = _efforts_per_api(fields)
        reasoning = bool(fields.reasoning) or bool(efforts)
        sampling: SamplingRule
        if fields.sampling is not None:
            sampling = fields.sampling
        elif not reasoning:
            sampling = "always"
        else:
            sampling = "never"
        default_effort: str | None = fields.default_effort
        listed = efforts.get("chat") or efforts.get("responses") or ()
        if default_effort is None and listed:
            default_effort = "medium" if "medium" in listed else listed[0]
        window = fields.context_window
        max_input = fields.max_input_tokens if fields.max_input_tokens is not None else window
        rejects = set(fields.rejects or ())
        provider = fields.provider or "openai"
        if reasoning and provider == "openai":
            rejects.add("max_tokens")  # every reasoning model wants max_completion_tokens
        return cls(
            name=name,
            context_window=window,
            max_input_tokens=max_input,
            max_output_tokens=fields.max_output_tokens,
            encoding=fields.encoding or encoding_name_for_model(name),
            encoding_published=bool(fields.encoding_published),
            reasoning=reasoning,
            reasoning_efforts=efforts,
            default_effort=default_effort,
            sampling=sampling,
            rejects=frozenset(rejects),
            tools_with_effort=True
            if fields.tools_with_effort is None
            else fields.tools_with_effort,
            verbosity=bool(fields.verbosity),
            endpoints=tuple(fields.endpoints) if fields.endpoints else API_NAMES,
            prices=fields.prices,
            source=fields.source,
            checked=fields.checked,
            provider=provider,
            ranges={k: (v[0], v[1]) for k, v in (fields.ranges or {}).items()},
            conflicts=tuple(fields.conflicts or ()),
            errors=dict(fields.errors or {}),
            thinking=fields.thinking or ("optional" if reasoning else "none"),
            sampling_with_thinking=fields.sampling_with_thinking or "refused",
            thinking_budgets={str(k): v for k, v in (fields.thinking_budgets or {}).items()},
            tokenizer_public=provider in ("openai", "openai-compatible")
            if fields.tokenizer_public is None
            else fields.tokenizer_public,
            notes=fields.notes,
        )

    @property
    def estimate_factor(self) -> float | None:
        """``None`` when counts are exact; else the factor an o200k count is scaled by."""
        if self.tokenizer_public:
            return None
        from .providers import PROVIDERS

        return PROVIDERS[self.provider].estimate_factor or 1.2

    @classmethod
    def unknown(cls, name: str, family: ModelSpec | None = None) -> ModelSpec:
        """A model the registry lacks: its family's rules (if any), unknown limits and prices."""
        encoding = encoding_name_for_model(name)
        if family is None:
            return cls(name=name, encoding=encoding, known=False)
        return family.model_copy(
            update={
                "name": name,
                "context_window": None,
                "max_input_tokens": None,
                "max_output_tokens": None,
                "encoding": family.encoding,
                "encoding_published": False,
                "prices": None,
                "source": None,
                "checked": None,
                "known": False,
                "family": family.name,
            }
        )


def _efforts_per_api(fields: ModelFields) -> dict[str, tuple[str, ...]]:
    efforts = fields.reasoning_efforts
    if efforts is None:
        listed: Sequence[str] = _LEGACY_EFFORTS if fields.reasoning else ()
        return {api: tuple(listed) for api in API_NAMES} if listed else {}
    if isinstance(efforts, dict):
        ordered = {api: _all_efforts(values) for api, values in efforts.items()}
        # An endpoint not named takes the chat list (or the other one).
        fallback = ordered.get("chat") or next(iter(ordered.values()), [])
        return {api: tuple(ordered.get(api, fallback)) for api in API_NAMES}
    return {api: tuple(_all_efforts(efforts)) for api in API_NAMES}


# gpt-4o-2024-08-06, gpt-4-0613, gpt-4-1106-preview, gpt-4-turbo-preview
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})(?:-preview)?$|-preview$")


def _family_candidates(name: str) -> list[str]:
    candidates = [name]
    if name.startswith("ft:"):  # ft:gpt-4o-mini-2024-07-18:org::id
        base = name.split(":")[1]
        candidates.append(base)
        name = base
    stripped = _SNAPSHOT.sub("", name)
    if stripped != name:
        candidates.append(stripped)
    return candidates


def lookup_model(
    registry: Mapping[str, ModelSpec], name: str, aliases: Mapping[str, str] | None = None
) -> ModelSpec | None:
    """The registry's spec for ``name`` or its family, keeping the requested name.

    An exact name or alias wins; then dated-snapshot and fine-tune suffixes are stripped.
    """
    aliases = aliases or {}
    for candidate in _family_candidates(name):
        spec = registry.get(candidate) or registry.get(aliases.get(candidate, ""))
        if spec is not None:
            return spec if candidate == name else spec.model_copy(update={"name": name})
    return None


def family_for(
    registry: Mapping[str, ModelSpec],
    families: Mapping[str, str],
    name: str,
    out_of_scope: Sequence[str] = (),
) -> ModelSpec | None:
    """The registry model whose rules an unknown ``name`` takes: the longest matching pattern.

    Names matching ``out_of_scope`` (audio, search, realtime models) take no family's rules:
    ``gpt-4o-search-preview`` is not gpt-4o.
    """
    candidates = _family_candidates(name)
    if any(fnmatch.fnmatchcase(c, p) for c in candidates for p in out_of_scope):
        return None
    base = candidates[-1]
    for pattern in sorted(families, key=len, reverse=True):
        if fnmatch.fnmatchcase(base, pattern):
            return registry.get(families[pattern])
    return None


def encoding_name_for_model(model: str) -> str:
    """tiktoken's encoding for ``model`` by its own model map, else ``o200k_base``.

    Only the map is read (tiktoken is imported on first use; no encoding is loaded).

    >>> encoding_name_for_model("gpt-4"), encoding_name_for_model("my-own-model")
    ('cl100k_base', 'o200k_base')
    """
    import tiktoken.model

    try:
        return tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        return DEFAULT_ENCODING

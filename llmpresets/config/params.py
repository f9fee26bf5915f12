"""The parameter table: every request parameter the library governs, stated once, as data.

Each :class:`Parameter` says what the value may be (type, range, choices), how each endpoint
spells it (``max_output_tokens`` is ``max_tokens`` / ``max_completion_tokens`` on
``/chat/completions`` and ``max_output_tokens`` on ``/responses``; ``reasoning_effort`` is
``reasoning.effort`` there), and which providers take it (``top_k`` and ``min_p`` only reach
OpenAI-compatible servers such as vLLM, through ``extra_body``). The preset schema, parameter
resolution, the clients' per-call checks, the offline backend's validation, the CLI's flags and
``explain`` all read this table; none restates it.

Which parameters a *model* accepts is the model registry's business
(:mod:`llmpresets.config.models`): its sampling rule, its reasoning efforts and the parameters
it rejects.

One setting travels beside the parameters, as a header: :data:`USE_CASE_HEADER` names the use
case of an offline request.

>>> PARAMETERS["reasoning_effort"].spelling("responses")
'reasoning.effort'
>>> PARAMETERS["temperature"].describe_range()
'0 ≤ temperature ≤ 2'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "API_NAMES",
    "EFFORTS",
    "PARAMETERS",
    "PRESET_FIELDS",
    "SAMPLING_FIELDS",
    "SAMPLING_RULE_PARAMETERS",
    "USE_CASE_HEADER",
    "VERBOSITIES",
    "Api",
    "Parameter",
    "effort_rank",
    "has_function_tools",
    "parameter",
]

Api = Literal["chat", "responses"]
API_NAMES: tuple[Api, ...] = ("chat", "responses")
ENDPOINTS: Mapping[Api, str] = {"chat": "/v1/chat/completions", "responses": "/v1/responses"}

# The Client tells the offline backend which use case a request is for, so the local model
# writes in that style; the header is sent only offline, and real APIs never see it.
USE_CASE_HEADER = "x-llmpresets-use-case"

# Reasoning efforts in increasing order of effort (the SDK's ReasoningEffort literal).
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
VERBOSITIES = ("low", "medium", "high")


def effort_rank(effort: str) -> int:
    """Position of ``effort`` in :data:`EFFORTS` (``none`` is 0)."""
    return EFFORTS.index(effort)


Kind = Literal["float", "int", "bool", "choice", "strings"]
Group = Literal["sampling", "penalty", "output", "reasoning", "logprobs", "request"]


@dataclass(frozen=True)
class Parameter:
    """One request parameter: its values, its spelling per endpoint, who takes it."""

    name: str
    kind: Kind
    group: Group
    description: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # (low, high] rather than [low, high]
    choices: tuple[str, ...] = ()
    # Endpoint -> dotted path in the request body; a missing endpoint has no such parameter.
    # "chat" may be overridden per model (reasoning models want max_completion_tokens).
    spellings: Mapping[str, str] | None = None  # keys: "chat", "chat_reasoning", "responses"
    # Only OpenAI-compatible servers (vLLM, SGLang...) take it, through extra_body.
    compatible_only: bool = False
    # In presets.yaml (a preset may set it) and on the CLI (``--name-with-dashes``).
    in_preset: bool = False
    cli_flag: str | None = None
    # The value the API treats as "not set" (temperature 1): sending it is never a conflict.
    default: Any = None

    def __post_init__(self) -> None:
        if self.spellings is None:  # the same name on every endpoint
            object.__setattr__(self, "spellings", dict.fromkeys(API_NAMES, self.name))

    def spelling(self, api: Api, *, reasoning: bool = False) -> str | None:
        """The body field (dotted for nested) on ``api``; ``None`` when the endpoint lacks it."""
        spellings = self.spellings or {}
        if reasoning and api == "chat" and "chat_reasoning" in spellings:
            return spellings["chat_reasoning"]
        return spellings.get(api)

    def describe_range(self) -> str:
        """The allowed values, as error messages show them: ``0 ≤ temperature ≤ 2``."""
        if self.kind == "choice":
            return ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "strings":
            return "a string or a list of at most 4 strings"
        low = "" if self.low is None else f"{_number(self.low)} {'<' if self.low_open else '≤'} "
        high = "" if self.high is None else f" ≤ {_number(self.high)}"
        if low and not high:  # "top_k ≥ 1" reads better than "1 ≤ top_k"
            return f"{self.name} {'>' if self.low_open else '≥'} {low.split()[0]}"
        return f"{low}{self.name}{high}"

    def check(self, value: Any) -> str | None:
        """``None`` when ``value`` is allowed, else what is wrong with it (for an error)."""
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return None
            return f"{value!r} is not allowed; allowed values: {self.describe_range()}"
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"{value!r} is not true or false"
        if self.kind == "strings":
            items = [value] if isinstance(value, str) else value
            if (
                isinstance(items, list)
                and len(items) <= 4
                and all(isinstance(i, str) for i in items)
            ):
                return None
            return f"{value!r} is not a string or a list of at most 4 strings"
        integer = self.kind == "int"
        ok_type = (
            isinstance(value, numbers.Integral) if integer else isinstance(value, numbers.Real)
        )
        if isinstance(value, bool) or not ok_type:
            expected = "an integer" if integer else "a number"
            return f"{value!r} is not {expected}; allowed: {self.describe_range()}"
        number = float(value)
        if math.isnan(number):
            return f"{value!r} is not a number; allowed: {self.describe_range()}"
        too_low = self.low is not None and (
            number <= self.low if self.low_open else number < self.low
        )
        too_high = self.high is not None and number > self.high
        if too_low or too_high:
            return f"{value!r} is out of range; allowed: {self.describe_range()}"
        return None


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)  # exact, however large (seed's int64 bounds)
    return f"{value:g}"


_OUTPUT_SPELLINGS = {
    "chat": "max_tokens",
    "chat_reasoning": "max_completion_tokens",
    "responses": "max_output_tokens",
}

PARAMETERS: Mapping[str, Parameter] = {
    p.name: p
    for p in (
        Parameter(
            "temperature",
            "float",
            "sampling",
            "Softmax temperature; below 1e-5 is greedy.",
            low=0,
            high=2,
            in_preset=True,
            cli_flag="--temperature",
            default=1,
        ),
        Parameter(
            "top_p",
            "float",
            "sampling",
            "Nucleus: keep the smallest set of tokens with this mass.",
            low=0,
            high=1,
            low_open=True,
            in_preset=True,
            cli_flag="--top-p",
            default=1,
        ),
        Parameter(
            "top_k",
            "int",
            "sampling",
            "Keep the k most likely tokens (OpenAI-compatible servers only).",
            low=1,
            compatible_only=True,
            in_preset=True,
            cli_flag="--top-k",
        ),
        Parameter(
            "min_p",
            "float",
            "sampling",
            "Keep tokens with p >= min_p * p_max (OpenAI-compatible servers only).",
            low=0,
            high=1,
            compatible_only=True,
            in_preset=True,
            cli_flag="--min-p",
        ),
        Parameter(
            "repetition_penalty",
            "float",
            "penalty",
            "Divide (or multiply) the logits of tokens seen so far; 1 is off "
            "(OpenAI-compatible servers only).",
            low=0,
            high=2,
            low_open=True,
            compatible_only=True,
        ),
        Parameter(
            "frequency_penalty",
            "float",
            "penalty",
            "Penalise tokens by how often they appeared (chat completions only).",
            low=-2,
            high=2,
            spellings={"chat": "frequency_penalty"},
            in_preset=True,
            cli_flag="--frequency-penalty",
            default=0,
        ),
        Parameter(
            "presence_penalty",
            "float",
            "penalty",
            "Penalise tokens that appeared at all (chat completions only).",
            low=-2,
            high=2,
            spellings={"chat": "presence_penalty"},
            in_preset=True,
            cli_flag="--presence-penalty",
            default=0,
        ),
        Parameter(
            "max_output_tokens",
            "int",
            "output",
            "Cap on the reply's tokens (reasoning tokens included on reasoning models).",
            low=1,
            spellings=_OUTPUT_SPELLINGS,
            in_preset=True,
            cli_flag="--max-tokens",
        ),
        Parameter(
            "reasoning_effort",
            "choice",
            "reasoning",
            "How hard a reasoning model thinks before it answers.",
            choices=EFFORTS,
            spellings={"chat": "reasoning_effort", "responses": "reasoning.effort"},
            in_preset=True,
            cli_flag="--reasoning-effort",
        ),
        Parameter(
            "verbosity",
            "choice",
            "reasoning",
            "How much a GPT-5-or-later model says in its answer.",
            choices=VERBOSITIES,
            spellings={"chat": "verbosity", "responses": "text.verbosity"},
            in_preset=True,
            cli_flag="--verbosity",
        ),
        Parameter(
            "logprobs",
            "bool",
            "logprobs",
            "Return each output token's log probability.",
            spellings={"chat": "logprobs"},
        ),
        Parameter(
            "top_logprobs",
            "int",
            "logprobs",
            "How many alternatives to report per token, with their log probabilities.",
            low=0,
            high=20,
        ),
        Parameter(
            "n",
            "int",
            "request",
            "Number of choices.",
            low=1,
            high=128,
            spellings={"chat": "n"},
        ),
        Parameter(
            "seed",
            "int",
            "request",
            "Best-effort determinism on the API (exact offline).",
            low=-(2**63),
            high=2**63 - 1,
            spellings={"chat": "seed"},
        ),
        Parameter(
            "stop",
            "strings",
            "request",
            "Up to 4 sequences where the reply stops.",
            spellings={"chat": "stop"},
        ),
    )
}

# The preset fields, in the order files and tables show them.
PRESET_FIELDS: tuple[str, ...] = tuple(name for name, p in PARAMETERS.items() if p.in_preset)
SAMPLING_FIELDS: tuple[str, ...] = tuple(
    name for name in PRESET_FIELDS if PARAMETERS[name].group in ("sampling", "penalty", "output")
)
# Parameters a model's sampling rule governs ("only at effort none", "never"). OpenAI's guide:
# "When reasoning effort is not none, remove temperature, top_p, and top_logprobs; also remove
# logprobs". Reasoning models refuse the penalties too (o-series, gpt-5, and GPT-6 at an
# effort), so the library never sends them where sampling is off.
SAMPLING_RULE_PARAMETERS: tuple[str, ...] = (
    "temperature",
    "top_p",
    "logprobs",
    "top_logprobs",
    "frequency_penalty",
    "presence_penalty",
)


def has_function_tools(tools: Any) -> bool:
    """Whether a request's ``tools`` include a function tool (what some models refuse beside
    a reasoning effort on /chat/completions)."""
    return isinstance(tools, list) and any(
        isinstance(tool, Mapping) and tool.get("type") == "function" for tool in tools
    )


def parameter(name: str) -> Parameter:
    """The table's entry for ``name`` (KeyError for a name the library does not govern)."""
    return PARAMETERS[name]

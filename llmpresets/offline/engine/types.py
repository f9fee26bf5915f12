"""What the engine is asked and what it answers, apart from how a request was parsed.

- :class:`SamplingSettings`: what shapes one generated choice (the sampler's temperature /
  top-k / top-p / min-p, penalties, length cap, stop sequences, logprob reporting). The
  decoding loops read only this; :meth:`SamplingSettings.from_api` maps the API's values
  (``None`` meaning the API default) onto it, for every endpoint.
- :class:`OutputFormat`, :class:`Tool`, :class:`ToolChoice`: what the reply must be (plain
  text, a JSON object, JSON for a schema), the tools it may call and how it must choose.
- :class:`ChatRequest`: a validated chat request (the api layer builds it from a
  ``/chat/completions`` or ``/responses`` body).
- :class:`Generation`, :class:`ToolCall`, :class:`TokenLogprob`: a finished choice.
- :class:`SchemaError`: a request's schema or grammar the engine cannot compile (the api layer
  answers it with a 400).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...sampling import sample

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "ChatRequest",
    "Generation",
    "OutputFormat",
    "SamplingSettings",
    "SchemaError",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolChoice",
]

# The API takes top_p=0 (only the most likely token); the sampler wants top_p > 0, and this
# smallest positive float keeps the same set: the top token (and any tied with it).
_LEAST_TOP_P = 5e-324


@dataclass(frozen=True)
class SamplingSettings:
    """What shapes one choice: the sampling maths, penalties, limits and reporting."""

    temperature: float = 1.0
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0
    ignore_eos: bool = False
    logit_bias: tuple[tuple[int, float], ...] = ()

    def draw(self, logits: NDArray[np.float64], rng: np.random.Generator) -> int:
        """One index of ``logits`` drawn with these settings' temperature and filters
        (:func:`llmpresets.sampling.sample`): a scripted candidate or a value from the
        conversation is picked by the same maths as a token."""
        return int(
            sample(
                logits,
                temperature=self.temperature,
                top_k=self.top_k,
                top_p=self.top_p,
                min_p=self.min_p,
                rng=rng,
            )
        )

    @classmethod
    def from_api(
        cls,
        *,
        max_tokens: int,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        min_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        stop: tuple[str, ...] = (),
        logprobs: bool = False,
        top_logprobs: int | None = None,
        ignore_eos: bool = False,
        logit_bias: tuple[tuple[int, float], ...] = (),
    ) -> SamplingSettings:
        """The sampler's settings for validated API values (``None``: the API's default).

        ``temperature`` defaults to 1; ``top_p=0`` keeps only the top token (and ties);
        ``top_k`` of 0 or -1 (vLLM's "off") is off.

        >>> SamplingSettings.from_api(max_tokens=16, top_p=0.5, top_k=-1).top_k is None
        True
        """
        return cls(
            temperature=1.0 if temperature is None else temperature,
            top_p=top_p if top_p != 0 else _LEAST_TOP_P,
            top_k=top_k if top_k is not None and top_k > 0 else None,
            min_p=min_p,
            frequency_penalty=frequency_penalty or 0.0,
            presence_penalty=presence_penalty or 0.0,
            max_tokens=max_tokens,
            stop=stop,
            logprobs=logprobs,
            top_logprobs=top_logprobs or 0,
            ignore_eos=ignore_eos,
            logit_bias=logit_bias,
        )


@dataclass(frozen=True)
class OutputFormat:
    """The reply's text: ``kind`` ``text``, ``json_object`` or ``json_schema`` (then ``name``,
    ``schema`` and ``strict``, as the request's ``response_format.json_schema`` gives them)."""

    kind: str = "text"
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool = False

    @property
    def is_json(self) -> bool:
        """Whether the reply is constrained to JSON."""
        return self.kind in ("json_object", "json_schema")


@dataclass(frozen=True)
class Tool:
    """One tool the model may call: a ``function`` (JSON ``parameters``) or a ``custom`` tool
    (free text, or text of a ``grammar`` in ``syntax`` ``lark`` or ``regex``)."""

    name: str
    kind: str = "function"
    description: str = ""
    parameters: dict[str, Any] | None = None
    strict: bool = False
    grammar: str | None = None
    syntax: str | None = None


@dataclass(frozen=True)
class ToolChoice:
    """``mode`` ``auto`` / ``none`` / ``required``; ``names``: the tools it may choose from
    (``None``: all; a named function: ``required`` with that one name; ``allowed_tools``:
    its mode and list)."""

    mode: str = "auto"
    names: tuple[str, ...] | None = None


@dataclass
class ChatRequest:
    """A validated ``POST /chat/completions`` body.

    Sampling fields hold the API's values (``None``: not given); ``max_tokens`` is the
    effective cap (the request's ``max_completion_tokens`` / ``max_tokens``, else the backend's
    default) and ``explicit_max_tokens`` what the request said. ``tools`` is the raw list (for
    token counting), ``tool_list`` the parsed one. ``body`` is the raw JSON.
    """

    model: str
    messages: list[dict[str, Any]]
    max_tokens: int
    explicit_max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int | None = None
    ignore_eos: bool = False
    logit_bias: tuple[tuple[int, float], ...] = ()
    n: int = 1
    stream: bool = False
    include_usage: bool = False
    seed: int | None = None
    tools: list[Any] | None = None
    output: OutputFormat = field(default_factory=OutputFormat)
    tool_list: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    parallel_tool_calls: bool = True
    body: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def settings(self) -> SamplingSettings:
        """The sampler's settings for each choice of this request."""
        return SamplingSettings.from_api(
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            min_p=self.min_p,
            frequency_penalty=self.frequency_penalty,
            presence_penalty=self.presence_penalty,
            stop=self.stop,
            logprobs=self.logprobs,
            top_logprobs=self.top_logprobs,
            ignore_eos=self.ignore_eos,
            logit_bias=self.logit_bias,
        )


@dataclass
class TokenLogprob:
    """One generated token's log-probability and the most likely alternatives."""

    token: str
    bytes: list[int]
    logprob: float
    top: list[tuple[str, list[int], float]]


@dataclass
class ToolCall:
    """One tool call of a reply: ``pieces`` are the arguments' per-token texts (the stream's
    fragments); ``kind`` is ``function`` (JSON arguments) or ``custom`` (free input)."""

    id: str
    name: str
    kind: str = "function"
    pieces: list[str] = field(default_factory=list)

    @property
    def arguments(self) -> str:
        return "".join(self.pieces)


@dataclass
class Generation:
    """A finished choice. ``pieces`` are the stream's per-token texts; they join to ``text``.

    A choice that calls tools has ``tool_calls`` (and no text).
    """

    pieces: list[str] = field(default_factory=list)
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str = "stop"
    completion_tokens: int = 0
    tool_calls: list[ToolCall] | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)


class SchemaError(ValueError):
    """A schema or grammar of the request that the engine cannot compile.

    ``tool`` is the index of the tool whose parameters (a function's JSON schema) or format (a
    custom tool's grammar) failed, with ``tool_kind`` ``function`` or ``custom``; ``None`` for
    the reply's own JSON format. ``name`` is the schema's or the tool's name and ``problem``
    what the grammar compiler said. The engine raises it before generating anything; the api
    layer words it as each endpoint names its fields.
    """

    def __init__(
        self, name: str, problem: str, *, tool: int | None = None, tool_kind: str = "function"
    ) -> None:
        super().__init__(f"invalid schema {name!r}: {problem}")
        self.name = name
        self.problem = problem
        self.tool = tool
        self.tool_kind = tool_kind

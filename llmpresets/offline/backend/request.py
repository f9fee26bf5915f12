"""What a validated request asks for, apart from how it was parsed or will be answered.

- :class:`SamplingSettings`: what shapes one generated choice (the sampler's temperature /
  top-k / top-p / min-p, penalties, length cap, stop sequences, logprob reporting). The
  generator (``_generate``) reads only this; :meth:`SamplingSettings.from_api` maps the API's
  values (``None`` meaning the API default) onto it, for every endpoint.
- :class:`OutputFormat`, :class:`Tool`, :class:`ToolChoice`: what the reply must be (plain
  text, a JSON object, JSON for a schema), the tools it may call and how it must choose.
- :class:`ChatRequest`: a validated ``POST /chat/completions`` body (``_wire`` builds it).
- :func:`request_digest`: the hash of what shapes the sampled tokens, for seeded determinism.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "NOT_SHAPING",
    "ChatRequest",
    "OutputFormat",
    "SamplingSettings",
    "Tool",
    "ToolChoice",
    "request_digest",
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


# Fields that only cut, count or report a reply, or only route, cache or tag a request: they do
# not enter the request's hash, so a reply with a lower max_tokens or a stop sequence is a prefix
# of the full one, choice 0 of n is the n=1 reply, streaming changes nothing, and a framework
# that sends a fresh prompt_cache_key per run (openai-agents) still gets the seeded reply.
NOT_SHAPING = frozenset(
    {
        "stream",
        "stream_options",
        "stop",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "logprobs",
        "top_logprobs",
        "prompt_cache_key",
        "safety_identifier",
        "user",
        "metadata",
        "store",
        "service_tier",
    }
)


def request_digest(body: Mapping[str, Any], ignore: frozenset[str] = NOT_SHAPING) -> bytes:
    """A hash of what shapes the sampled tokens: ``body`` without the fields in ``ignore``.

    >>> request_digest({"model": "m", "stream": True}) == request_digest({"model": "m"})
    True
    """
    shaping = {key: value for key, value in body.items() if key not in ignore}
    return hashlib.sha256(_CANONICAL.encode(shaping).encode("utf-8")).digest()


# What json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False) makes, with
# the encoder built once rather than per request.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

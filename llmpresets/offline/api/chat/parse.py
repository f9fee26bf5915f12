"""A chat completion body validated with the API's status, messages and codes.

Errors have the API's status and body shape, ``{"error": {"message", "type", "param",
"code"}}``, with the API's messages and codes for the cases an application can hit: an
unrecognized body field, missing or mistyped parameters, values out of range
(``decimal_above_max_value``..., checked without converting a value first, so
``seed=10**400`` or ``1e400`` is a 400 and never an overflow), ``top_logprobs`` without
``logprobs``, tool messages that answer no ``tool_calls``, ``tool_choice`` without ``tools``,
a model that rejects a parameter (reasoning models), ``max_tokens`` above the model's limit,
and, with strict models, an unknown model (404 ``model_not_found``). :mod:`.endpoint` reads
the JSON first (:func:`~llmpresets.offline.api.errors.parse_body`: malformed JSON, lone
surrogate escapes and ``NaN`` included) and adds the prompt checks after
(:mod:`~llmpresets.offline.api.prompt_checks`: ``context_length_exceeded``, ``logit_bias``
against the tokenizer).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ....config.params import PARAMETERS
from ...engine.types import ChatRequest
from ..errors import (
    WireError,
    bad_type,
    boolean,
    check_number,
    empty_array,
    invalid_value,
    missing,
    number,
    quoted_list,
    required,
    unrecognized,
)
from ..limits import check_item_counts, choice_token_limit
from ..model_rules import check_model_rules, check_output_limit
from ..sdk_types import check_chat_body
from .formats import parse_response_format, parse_tool_choice, parse_tools

if TYPE_CHECKING:
    from ....config.models import ModelSpec

__all__ = ["accepted_fields", "parse_request"]

# The real API lets a reply run to the model's limit; a test double stops sooner.
DEFAULT_MAX_TOKENS = 256
_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_MAX_STOP = 4
_INT32_MAX = 2**31 - 1


def _messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "messages" not in body:
        raise missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise bad_type("messages", "an array of objects", messages)
    if not messages:
        raise empty_array("messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise bad_type(where, "an object", message)
        if "role" not in message:
            raise missing(f"{where}.role")
        if message["role"] not in _ROLES:
            raise invalid_value(f"{where}.role", message["role"], quoted_list(_ROLES))
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise bad_type(f"{where}.content", "one of a string or array of objects", content)
        if content is None and message["role"] in ("user", "system", "developer"):
            raise missing(f"{where}.content")
    _check_tool_turns(messages)
    return messages


def _stop(body: Mapping[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,) if stop else ()
    if not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
        raise bad_type("stop", "one of a string or array of strings", stop)
    if len(stop) > _MAX_STOP:
        raise WireError(
            400,
            f"Invalid 'stop': array too long. Expected an array with maximum length {_MAX_STOP}, "
            f"but got an array with length {len(stop)} instead.",
            param="stop",
            code="array_above_max_length",
        )
    return tuple(item for item in stop if item)


# vLLM-style body fields this backend honours besides the SDK's (through ``extra_body``).
BODY_EXTRAS = ("top_k", "min_p", "ignore_eos")
# Numeric fields parse_request checks against the parameter table's ranges (see _RANGES).
_RANGED = (
    "temperature",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "n",
    "seed",
    "top_logprobs",
    "min_p",
)
# Fields parse_request checks itself, with the API's own ranges and messages (numbers written
# as 100.0 are integers there, as the API reads them): .sdk_types checks the rest.
_CHECKED_HERE = frozenset(
    {
        *BODY_EXTRAS,
        *_RANGED,
        "model",
        "max_tokens",
        "max_completion_tokens",
        "logprobs",
        "stream",
        "stop",
        "logit_bias",
        # .formats: with the API's own messages (the json word, strict schemas, named tools).
        "response_format",
        "tool_choice",
        "parallel_tool_calls",
    }
)


@functools.cache
def accepted_fields() -> frozenset[str]:
    """The body fields answered: the SDK's chat completion create params, plus ``BODY_EXTRAS``."""
    from openai.types.chat.completion_create_params import CompletionCreateParamsBase

    return frozenset(CompletionCreateParamsBase.__annotations__) | {"stream", *BODY_EXTRAS}


def _check_known_fields(body: Mapping[str, Any]) -> None:
    known = accepted_fields()
    unknown = [key for key in body if key not in known]
    if unknown:
        raise unrecognized(unknown)


def _logit_bias(body: Mapping[str, Any]) -> tuple[tuple[int, float], ...]:
    """``{"token id": bias}`` as (id, bias) pairs; ids are decimal strings, biases in ±100."""
    bias = body.get("logit_bias")
    if bias is None:
        return ()
    if not isinstance(bias, dict):
        raise bad_type("logit_bias", "an object", bias)
    pairs = []
    for key, value in bias.items():
        if not (key.isascii() and key.isdigit() and len(key) <= 10):
            raise WireError(
                400,
                f"Invalid key in 'logit_bias': {key}.",
                param="logit_bias",
                code="invalid_value",
            )
        pairs.append((int(key), check_number("logit_bias", value, -100, 100, integer=False)))
    return tuple(pairs)


def _check_tool_turns(messages: list[dict[str, Any]]) -> None:
    """Tool messages answer the ``tool_calls`` of the assistant message just before them.

    As the API: a ``tool`` message needs ``tool_call_id``, must follow (after other tool
    messages) an assistant message with ``tool_calls``, and must name one of its ids; and
    every id of such an assistant message needs its answer before the next other message.
    """
    calls: set[str] | None = None  # ids of the assistant message the tool run answers
    waiting: dict[str, None] = {}
    owner = 0
    for index, message in enumerate(messages):
        if message["role"] == "tool":
            call_id = required(message, f"messages[{index}].tool_call_id")
            if not isinstance(call_id, str):
                raise bad_type(f"messages[{index}].tool_call_id", "a string", call_id)
            if calls is None:
                raise WireError(
                    400,
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    param=f"messages.[{index}].role",
                )
            if call_id not in calls:
                raise WireError(
                    400,
                    f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in "
                    "'tool_calls' of previous message.",
                    param=f"messages.[{index}].tool_call_id",
                )
            waiting.pop(call_id, None)
            continue
        _check_answered(waiting, owner)
        calls = None
        tool_calls = message.get("tool_calls") if message["role"] == "assistant" else None
        if tool_calls:
            ids = _call_ids(tool_calls, index)
            calls, waiting, owner = set(ids), dict.fromkeys(ids), index
    _check_answered(waiting, owner)


def _call_ids(tool_calls: Any, index: int) -> list[str]:
    where = f"messages[{index}].tool_calls"
    if not isinstance(tool_calls, list):
        raise bad_type(where, "an array of objects", tool_calls)
    ids = []
    for position, call in enumerate(tool_calls):
        if not isinstance(call, dict):
            raise bad_type(f"{where}[{position}]", "an object", call)
        call_id = required(call, f"{where}[{position}].id")
        if not isinstance(call_id, str):
            raise bad_type(f"{where}[{position}].id", "a string", call_id)
        ids.append(call_id)
    return ids


def _check_answered(waiting: dict[str, None], owner: int) -> None:
    if waiting:
        raise WireError(
            400,
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {', '.join(waiting)}",
            param=f"messages.[{owner}].role",
        )


def _ranged(body: Mapping[str, Any], name: str) -> Any:
    """``body[name]`` checked against the parameter table's range (inclusive at both ends: the
    API takes ``top_p=0``, which the sampler reads as "only the most likely token")."""
    value = body.get(name)
    if value is None:
        return None
    low, high, integer = _RANGES[name]
    return check_number(name, value, low, high, integer=integer)


def _bounds(name: str) -> tuple[float, float, bool]:
    entry = PARAMETERS[name]
    low = -math.inf if entry.low is None else entry.low
    high = math.inf if entry.high is None else entry.high
    return low, high, entry.kind == "int"


# (low, high, integer) of each parameter parse_request checks by the table, read once.
_RANGES = {name: _bounds(name) for name in _RANGED}


def parse_request(body: dict[str, Any], spec_for: Any) -> ChatRequest:
    """Validate a chat completion body (``spec_for(model) -> ModelSpec``); raise WireError."""
    _check_known_fields(body)
    check_item_counts(body)  # before any per-message work (limits.py)
    model = body.get("model")
    if model is None or model == "":
        raise WireError(400, "you must provide a model parameter")
    if not isinstance(model, str):
        raise bad_type("model", "a string", model)
    messages = _messages(body)
    temperature = _ranged(body, "temperature")
    top_p = _ranged(body, "top_p")
    frequency = _ranged(body, "frequency_penalty")
    presence = _ranged(body, "presence_penalty")
    n = _ranged(body, "n")
    seed = _ranged(body, "seed")
    max_tokens = number(body, "max_tokens", 1, _INT32_MAX, integer=True)
    max_completion = number(body, "max_completion_tokens", 1, _INT32_MAX, integer=True)
    top_logprobs = _ranged(body, "top_logprobs")
    top_k = number(body, "top_k", -1, _INT32_MAX, integer=True)  # vLLM: -1 (or 0) is off
    min_p = _ranged(body, "min_p")
    logprobs = boolean(body, "logprobs")
    stream = boolean(body, "stream")
    ignore_eos = boolean(body, "ignore_eos")
    if top_logprobs is not None and not logprobs:
        raise WireError(
            400,
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
            "'top_logprobs' is used.",
            param="top_logprobs",
            code="invalid_value",
        )
    stream_options = body.get("stream_options")
    include_usage = False
    if stream_options is not None:
        if not stream:
            raise WireError(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
                code="invalid_value",
            )
        if not isinstance(stream_options, dict):
            raise bad_type("stream_options", "an object", stream_options)
        include_usage = boolean(stream_options, "include_usage")
    stop = _stop(body)
    logit_bias = _logit_bias(body)
    tools = parse_tools(body)
    output = parse_response_format(body, messages)
    tool_choice, parallel = parse_tool_choice(body, tools)
    # Every other field (and the messages' and tools' inner shapes) against the SDK's types.
    check_chat_body(body, skip=_CHECKED_HERE)

    spec = spec_for(model)
    check_model_rules(body, spec, "chat")
    limit = max_completion if max_completion is not None else max_tokens
    name = "max_completion_tokens" if max_completion is not None else "max_tokens"
    check_output_limit(limit, name, spec, "chat")
    return ChatRequest(
        model=model,
        messages=messages,
        max_tokens=choice_token_limit(
            limit if limit is not None else _default_limit(spec),
            n or 1,
            top_logprobs=(top_logprobs or 0) if logprobs else None,
        ),
        explicit_max_tokens=limit,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        min_p=min_p,
        frequency_penalty=frequency,
        presence_penalty=presence,
        stop=stop,
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        ignore_eos=ignore_eos,
        logit_bias=logit_bias,
        n=n or 1,
        stream=stream,
        include_usage=include_usage,
        seed=seed,
        tools=[tool.raw for tool in tools] if tools is not None else None,
        output=output,
        tool_list=tuple(tool.tool for tool in tools or ()),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        body=body,
    )


def _default_limit(spec: ModelSpec) -> int:
    """With no max_tokens, a reply stops at end-of-text or after this many tokens."""
    if spec.max_output_tokens is not None:
        return min(DEFAULT_MAX_TOKENS, spec.max_output_tokens)
    return DEFAULT_MAX_TOKENS

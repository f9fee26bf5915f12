"""OpenAI's wire format for requests: validation with the API's status, messages and codes.

Errors have the API's status and body shape, ``{"error": {"message", "type", "param",
"code"}}``, with the API's messages and codes for the cases an application can hit: malformed
JSON (lone surrogate escapes and ``NaN`` included), an unrecognized body field, missing or
mistyped parameters, values out of range (``decimal_above_max_value``..., checked without
converting a value first, so ``seed=10**400`` or ``1e400`` is a 400 and never an overflow),
``top_logprobs`` without ``logprobs``, tool messages that answer no ``tool_calls``,
``tool_choice`` without ``tools``, a model that rejects a parameter (reasoning models),
``max_tokens`` above the model's limit, and, with strict models, an unknown model (404
``model_not_found``). The transport adds the prompt checks (``context_length_exceeded``).
"""

from __future__ import annotations

import functools
import json
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._models import SamplingParameter
from ._generate import SamplingSettings

if TYPE_CHECKING:
    from .._models import ModelSpec

__all__ = ["ChatRequest", "WireError", "accepted_fields", "parse_body", "parse_request"]

# The real API lets a reply run to the model's limit; a test double stops sooner.
DEFAULT_MAX_TOKENS = 256
_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_MAX_STOP = 4
_INT64 = 2**63
_INT32_MAX = 2**31 - 1
# The API takes top_p=0 (only the most likely token); the sampler wants top_p > 0, and this
# smallest positive float keeps the same set: the top token (and any tied with it).
_LEAST_TOP_P = 5e-324
_PARSE_ERROR = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)"
)
# Parameters a model's ``accepts`` list governs on OpenAI's API (top_k / min_p are always
# accepted here: the offline backend answers for vLLM-style servers too).
_GOVERNED = tuple(
    name for name in typing.get_args(SamplingParameter) if name not in ("top_k", "min_p")
)


class WireError(Exception):
    """An API error answer: the HTTP status, and the body's message, type, param and code."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass
class ChatRequest:
    """A validated ``POST /chat/completions`` body."""

    model: str
    messages: list[dict[str, Any]]
    settings: SamplingSettings
    n: int = 1
    stream: bool = False
    include_usage: bool = False
    seed: int | None = None
    tools: list[Any] | None = None
    explicit_max_tokens: int | None = None
    body: dict[str, Any] = field(default_factory=dict)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _bad_type(name: str, expected: str, value: Any) -> WireError:
    got = _type_name(value)
    return WireError(
        400,
        f"Invalid type for '{name}': expected {expected}, but got {got} instead.",
        param=name,
        code="invalid_type",
    )


def _empty_array(name: str) -> WireError:
    return WireError(
        400,
        f"Invalid '{name}': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
        param=name,
        code="empty_array",
    )


def _number(
    body: Mapping[str, Any],
    name: str,
    low: float,
    high: float,
    *,
    integer: bool = False,
) -> Any:
    value = body.get(name)
    return None if value is None else _check_number(name, value, low, high, integer=integer)


def _check_number(name: str, value: Any, low: float, high: float, *, integer: bool) -> Any:
    """``value`` as an int or float in ``[low, high]``, or the API's 400 for it.

    Comparisons of Python ints (of any size) and floats (``inf`` from ``1e400`` in the JSON
    included) are exact and never overflow; nothing converts a value before it is in range.
    """
    kind = "integer" if integer else "decimal"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad_type(name, "an integer" if integer else "a decimal", value)
    if isinstance(value, float) and (
        math.isnan(value) or (integer and math.isfinite(value) and not value.is_integer())
    ):
        raise _bad_type(name, "an integer" if integer else "a decimal", value)
    if value > high:
        raise WireError(
            400,
            f"Invalid '{name}': {kind} above maximum value. Expected a value <= {_show(high)}, "
            f"but got {_show(value)} instead.",
            param=name,
            code=f"{kind}_above_max_value",
        )
    if value < low:
        raise WireError(
            400,
            f"Invalid '{name}': {kind} below minimum value. Expected a value >= {_show(low)}, "
            f"but got {_show(value)} instead.",
            param=name,
            code=f"{kind}_below_min_value",
        )
    return int(value) if integer else float(value)


def _show(value: float) -> str:
    """A number as an error message shows it: huge ones in e-notation, never an overflow."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value) if math.isfinite(value) else ("-" if value < 0 else "") + "Infinity"
    try:
        digits = str(abs(value))
    except ValueError:  # beyond int's string conversion limit
        return "a very large integer"
    if len(digits) <= 21:
        return str(value)
    sign = "-" if value < 0 else ""
    fraction = digits[1:16].rstrip("0")
    return f"{sign}{digits[0]}{'.' if fraction else ''}{fraction}e+{len(digits) - 1}"


def _boolean(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad_type(name, "a boolean", value)
    return value


def _messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "messages" not in body:
        raise WireError(
            400,
            "Missing required parameter: 'messages'.",
            param="messages",
            code="missing_required_parameter",
        )
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _bad_type("messages", "an array of objects", messages)
    if not messages:
        raise _empty_array("messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _bad_type(where, "an object", message)
        if "role" not in message:
            raise WireError(
                400,
                f"Missing required parameter: '{where}.role'.",
                param=f"{where}.role",
                code="missing_required_parameter",
            )
        if message["role"] not in _ROLES:
            supported = ", ".join(f"'{role}'" for role in _ROLES[:-1]) + f", and '{_ROLES[-1]}'"
            raise WireError(
                400,
                f"Invalid value: '{message['role']}'. Supported values are: {supported}.",
                param=f"{where}.role",
                code="invalid_value",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise _bad_type(f"{where}.content", "one of a string or array of objects", content)
        if content is None and message["role"] in ("user", "system", "developer"):
            raise WireError(
                400,
                f"Missing required parameter: '{where}.content'.",
                param=f"{where}.content",
                code="missing_required_parameter",
            )
    _check_tool_turns(messages)
    return messages


def _stop(body: Mapping[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,) if stop else ()
    if not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
        raise _bad_type("stop", "one of a string or array of strings", stop)
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


@functools.cache
def accepted_fields() -> frozenset[str]:
    """The body fields answered: the SDK's chat completion create params, plus ``BODY_EXTRAS``."""
    from openai.types.chat.completion_create_params import CompletionCreateParamsBase

    return frozenset(CompletionCreateParamsBase.__annotations__) | {"stream", *BODY_EXTRAS}


def _check_known_fields(body: Mapping[str, Any]) -> None:
    known = accepted_fields()
    unknown = [key for key in body if key not in known]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise WireError(
            400, f"Unrecognized request argument{plural} supplied: {', '.join(unknown)}"
        )


def _logit_bias(body: Mapping[str, Any]) -> tuple[tuple[int, float], ...]:
    """``{"token id": bias}`` as (id, bias) pairs; ids are decimal strings, biases in ±100."""
    bias = body.get("logit_bias")
    if bias is None:
        return ()
    if not isinstance(bias, dict):
        raise _bad_type("logit_bias", "an object", bias)
    pairs = []
    for key, value in bias.items():
        if not (key.isascii() and key.isdigit() and len(key) <= 10):
            raise WireError(
                400,
                f"Invalid key in 'logit_bias': {key}.",
                param="logit_bias",
                code="invalid_value",
            )
        pairs.append((int(key), _check_number("logit_bias", value, -100, 100, integer=False)))
    return tuple(pairs)


_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_MAX_TOOL_NAME = 64


def _tools(body: Mapping[str, Any]) -> list[Any] | None:
    """``tools`` checked as the API checks it; ``tool_choice`` needs tools."""
    tools = body.get("tools")
    if tools is None:
        for name in ("tool_choice", "parallel_tool_calls"):
            if body.get(name) is not None:
                raise WireError(
                    400,
                    f"Invalid value for '{name}': '{name}' is only allowed when 'tools' are "
                    "specified.",
                    param=name,
                )
        return None
    if not isinstance(tools, list):
        raise _bad_type("tools", "an array of objects", tools)
    if not tools:
        raise _empty_array("tools")
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise _bad_type(where, "an object", tool)
        kind = _required(tool, f"{where}.type")
        if kind not in ("function", "custom"):
            raise WireError(
                400,
                f"Invalid value: '{kind}'. Supported values are: 'function' and 'custom'.",
                param=f"{where}.type",
                code="invalid_value",
            )
        definition = _required(tool, f"{where}.{kind}")
        if not isinstance(definition, dict):
            raise _bad_type(f"{where}.{kind}", "an object", definition)
        name = _required(definition, f"{where}.{kind}.name")
        if not isinstance(name, str):
            raise _bad_type(f"{where}.{kind}.name", "a string", name)
        if not _TOOL_NAME.fullmatch(name):
            raise WireError(
                400,
                f"Invalid '{where}.{kind}.name': string does not match pattern. Expected a "
                "string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param=f"{where}.{kind}.name",
                code="invalid_value",
            )
        if len(name) > _MAX_TOOL_NAME:
            raise WireError(
                400,
                f"Invalid '{where}.{kind}.name': string too long. Expected a string with "
                f"maximum length {_MAX_TOOL_NAME}, but got a string with length {len(name)} "
                "instead.",
                param=f"{where}.{kind}.name",
                code="string_above_max_length",
            )
    return tools


def _required(mapping: Mapping[str, Any], where: str) -> Any:
    """``mapping[last part of where]``, or the API's missing_required_parameter."""
    value = mapping.get(where.rsplit(".", 1)[-1])
    if value is None:
        raise WireError(
            400,
            f"Missing required parameter: '{where}'.",
            param=where,
            code="missing_required_parameter",
        )
    return value


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
            call_id = _required(message, f"messages[{index}].tool_call_id")
            if not isinstance(call_id, str):
                raise _bad_type(f"messages[{index}].tool_call_id", "a string", call_id)
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
        raise _bad_type(where, "an array of objects", tool_calls)
    ids = []
    for number, call in enumerate(tool_calls):
        if not isinstance(call, dict):
            raise _bad_type(f"{where}[{number}]", "an object", call)
        call_id = _required(call, f"{where}[{number}].id")
        if not isinstance(call_id, str):
            raise _bad_type(f"{where}[{number}].id", "a string", call_id)
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


def _check_model_accepts(body: Mapping[str, Any], spec: ModelSpec) -> None:
    if not spec.known:
        return
    for name in _GOVERNED:
        value = body.get(name)
        if value is None or name in spec.accepts:
            continue
        if name == "temperature" and value == 1:
            continue  # the default is always allowed
        if name == "temperature":
            raise WireError(
                400,
                f"Unsupported value: 'temperature' does not support {value} with this model. "
                "Only the default (1) value is supported.",
                param="temperature",
                code="unsupported_value",
            )
        raise WireError(
            400,
            f"Unsupported parameter: '{name}' is not supported with this model.",
            param=name,
            code="unsupported_parameter",
        )
    if spec.reasoning and body.get("max_tokens") is not None:
        raise WireError(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
        )


def parse_body(content: bytes) -> dict[str, Any]:
    """The JSON object of a request body, or the API's 400 for a body that is not one.

    Not JSON: bytes that are not UTF-8, ``NaN`` / ``Infinity`` (not JSON, though Python reads
    them), nesting too deep to read, and escapes of lone surrogates (``"\\ud800"``: text
    no UTF-8 can carry, which would fail the tokenizer and the request hash).
    """
    try:
        body = json.loads(content, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise WireError(400, _PARSE_ERROR) from None
    if not isinstance(body, dict):
        raise WireError(400, _PARSE_ERROR)
    if _SURROGATE_ESCAPE.search(content) and _has_lone_surrogate(body):
        raise WireError(400, _PARSE_ERROR)
    return body


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_request(body: dict[str, Any], spec_for: Any) -> ChatRequest:
    """Validate a chat completion body (``spec_for(model) -> ModelSpec``); raise WireError."""
    _check_known_fields(body)
    model = body.get("model")
    if model is None or model == "":
        raise WireError(400, "you must provide a model parameter")
    if not isinstance(model, str):
        raise _bad_type("model", "a string", model)
    messages = _messages(body)
    temperature = _number(body, "temperature", 0, 2)
    top_p = _number(body, "top_p", 0, 1)
    frequency = _number(body, "frequency_penalty", -2, 2)
    presence = _number(body, "presence_penalty", -2, 2)
    n = _number(body, "n", 1, 128, integer=True)
    seed = _number(body, "seed", -_INT64, _INT64 - 1, integer=True)
    max_tokens = _number(body, "max_tokens", 1, _INT32_MAX, integer=True)
    max_completion = _number(body, "max_completion_tokens", 1, _INT32_MAX, integer=True)
    top_logprobs = _number(body, "top_logprobs", 0, 20, integer=True)
    top_k = _number(body, "top_k", -1, _INT32_MAX, integer=True)
    min_p = _number(body, "min_p", 0, 1)
    logprobs = _boolean(body, "logprobs")
    stream = _boolean(body, "stream")
    ignore_eos = _boolean(body, "ignore_eos")
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
            raise _bad_type("stream_options", "an object", stream_options)
        include_usage = _boolean(stream_options, "include_usage")
    stop = _stop(body)
    logit_bias = _logit_bias(body)
    tools = _tools(body)

    spec = spec_for(model)
    _check_model_accepts(body, spec)
    limit = max_completion if max_completion is not None else max_tokens
    if limit is not None and spec.max_output_tokens is not None and limit > spec.max_output_tokens:
        name = "max_completion_tokens" if max_completion is not None else "max_tokens"
        raise WireError(
            400,
            f"{name} is too large: {limit}. This model supports at most "
            f"{spec.max_output_tokens} completion tokens, whereas you provided {limit}.",
            param=name,
            code="invalid_value",
        )
    settings = SamplingSettings(
        temperature=1.0 if temperature is None else temperature,
        top_p=top_p if top_p != 0 else _LEAST_TOP_P,
        top_k=top_k if top_k is not None and top_k > 0 else None,
        min_p=min_p,
        frequency_penalty=frequency or 0.0,
        presence_penalty=presence or 0.0,
        max_tokens=limit if limit is not None else _default_limit(spec),
        stop=stop,
        logprobs=logprobs,
        top_logprobs=top_logprobs or 0,
        ignore_eos=ignore_eos,
        logit_bias=logit_bias,
    )
    return ChatRequest(
        model=model,
        messages=messages,
        settings=settings,
        n=n or 1,
        stream=stream,
        include_usage=include_usage,
        seed=seed,
        tools=tools,
        explicit_max_tokens=limit,
        body=body,
    )


def _default_limit(spec: ModelSpec) -> int:
    """With no max_tokens, a reply stops at end-of-text or after this many tokens."""
    if spec.max_output_tokens is not None:
        return min(DEFAULT_MAX_TOKENS, spec.max_output_tokens)
    return DEFAULT_MAX_TOKENS

"""OpenAI's wire format: request validation with the API's errors, and response payloads.

Errors have the API's status and body shape, ``{"error": {"message", "type", "param",
"code"}}``, with the API's messages and codes for the cases an application can hit: malformed
JSON, missing or mistyped parameters, values out of range (``decimal_above_max_value``...),
``top_logprobs`` without ``logprobs``, a model that rejects a parameter (reasoning models),
``max_tokens`` above the model's limit, a prompt over the context window
(``context_length_exceeded``), and, with strict models, an unknown model (404
``model_not_found``). Payloads are built from the SDK's own types, so they cannot drift from
what the SDK parses.
"""

from __future__ import annotations

import hashlib
import json
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._models import SamplingParameter
from ._generate import Generation, SamplingSettings

if TYPE_CHECKING:
    from .._models import ModelSpec

__all__ = ["ChatRequest", "WireError", "chunk_payloads", "completion_payload", "parse_request"]

# The real API lets a reply run to the model's limit; a test double stops sooner.
DEFAULT_MAX_TOKENS = 256
_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_MAX_STOP = 4
_INT64 = 2**63
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
    digest: bytes = b""
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


def _number(
    body: Mapping[str, Any],
    name: str,
    low: float | None,
    high: float | None,
    *,
    integer: bool = False,
) -> Any:
    value = body.get(name)
    if value is None:
        return None
    kind = "integer" if integer else "decimal"
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (integer and not (isinstance(value, int) or float(value).is_integer()))
    ):
        raise _bad_type(name, "an integer" if integer else "a decimal", value)
    if not math.isfinite(value):
        raise _bad_type(name, "a decimal", value)
    shown = _show(value)
    if high is not None and value > high:
        raise WireError(
            400,
            f"Invalid '{name}': {kind} above maximum value. Expected a value <= {_show(high)}, "
            f"but got {shown} instead.",
            param=name,
            code=f"{kind}_above_max_value",
        )
    if low is not None and value < low:
        raise WireError(
            400,
            f"Invalid '{name}': {kind} below minimum value. Expected a value >= {_show(low)}, "
            f"but got {shown} instead.",
            param=name,
            code=f"{kind}_below_min_value",
        )
    return int(value) if integer else float(value)


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


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
        raise WireError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.",
            param="messages",
            code="empty_array",
        )
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
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise WireError(400, _PARSE_ERROR) from None
    if not isinstance(body, dict):
        raise WireError(400, _PARSE_ERROR)
    return body


def parse_request(body: dict[str, Any], spec_for: Any) -> ChatRequest:
    """Validate a chat completion body (``spec_for(model) -> ModelSpec``); raise WireError."""
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
    max_tokens = _number(body, "max_tokens", 1, None, integer=True)
    max_completion = _number(body, "max_completion_tokens", 1, None, integer=True)
    top_logprobs = _number(body, "top_logprobs", 0, 20, integer=True)
    top_k = _number(body, "top_k", -1, None, integer=True)
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
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise _bad_type("tools", "an array of objects", tools)

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
        top_p=top_p,
        top_k=top_k if top_k is not None and top_k > 0 else None,
        min_p=min_p,
        frequency_penalty=frequency or 0.0,
        presence_penalty=presence or 0.0,
        max_tokens=limit if limit is not None else _default_limit(spec),
        stop=stop,
        logprobs=logprobs,
        top_logprobs=top_logprobs or 0,
        ignore_eos=ignore_eos,
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
        digest=request_digest(body),
        body=body,
    )


# Fields that only cut, count or report a reply: they do not enter the request's hash, so a
# reply with a lower max_tokens or a stop sequence is a prefix of the full one, choice 0 of n is
# the n=1 reply, and streaming changes nothing.
_NOT_SHAPING = frozenset(
    {
        "stream",
        "stream_options",
        "stop",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "logprobs",
        "top_logprobs",
        "user",
        "metadata",
        "store",
        "service_tier",
    }
)


def _default_limit(spec: ModelSpec) -> int:
    """With no max_tokens, a reply stops at end-of-text or after this many tokens."""
    if spec.max_output_tokens is not None:
        return min(DEFAULT_MAX_TOKENS, spec.max_output_tokens)
    return DEFAULT_MAX_TOKENS


def request_digest(body: Mapping[str, Any]) -> bytes:
    """A hash of what shapes the sampled tokens (not the fields in ``_NOT_SHAPING``)."""
    shaping = {key: value for key, value in body.items() if key not in _NOT_SHAPING}
    canonical = json.dumps(shaping, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).digest()


# --------------------------------------------------------------------------- payloads


@dataclass(frozen=True)
class Identity:
    """What names one response: id, creation time and fingerprint."""

    id: str
    created: int
    system_fingerprint: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


def _logprob_entries(generation: Generation, start: int, stop: int) -> list[dict[str, Any]]:
    assert generation.logprobs is not None
    return [
        {
            "token": entry.token,
            "bytes": entry.bytes,
            "logprob": entry.logprob,
            "top_logprobs": [
                {"token": token, "bytes": data, "logprob": value}
                for token, data, value in entry.top
            ],
        }
        for entry in generation.logprobs[start:stop]
    ]


def completion_payload(
    request: ChatRequest, generations: Sequence[Generation], usage: Usage, identity: Identity
) -> bytes:
    """The ``chat.completion`` JSON body, validated by the SDK's ``ChatCompletion`` type."""
    from openai.types.chat import ChatCompletion

    choices = []
    for index, generation in enumerate(generations):
        logprobs = (
            {"content": _logprob_entries(generation, 0, len(generation.logprobs)), "refusal": None}
            if generation.logprobs is not None
            else None
        )
        choices.append(
            {
                "index": index,
                "message": {
                    "role": "assistant",
                    "content": generation.text,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": logprobs,
                "finish_reason": generation.finish_reason,
            }
        )
    completion = ChatCompletion.model_validate(
        {
            "id": identity.id,
            "object": "chat.completion",
            "created": identity.created,
            "model": request.model,
            "choices": choices,
            "usage": usage.as_dict(),
            "service_tier": "default",
            "system_fingerprint": identity.system_fingerprint,
        }
    )
    return json.dumps(completion.model_dump(mode="json", exclude_unset=True)).encode("utf-8")


def chunk_payloads(
    request: ChatRequest, generations: Sequence[Generation], usage: Usage, identity: Identity
) -> list[bytes]:
    """The SSE byte lines of a stream: role, one chunk per token, finish, usage, ``[DONE]``."""
    from openai.types.chat import ChatCompletionChunk

    head = {
        "id": identity.id,
        "object": "chat.completion.chunk",
        "created": identity.created,
        "model": request.model,
        "service_tier": "default",
        "system_fingerprint": identity.system_fingerprint,
    }
    events: list[bytes] = []

    def emit(choices: list[dict[str, Any]], **extra: Any) -> None:
        data = {**head, "choices": choices, **extra}
        if request.include_usage and "usage" not in extra:
            data["usage"] = None
        chunk = ChatCompletionChunk.model_validate(data)
        text = json.dumps(chunk.model_dump(mode="json", exclude_unset=True))
        events.append(f"data: {text}\n\n".encode())

    for index, generation in enumerate(generations):
        empty_logprobs: dict[str, Any] | None = (
            {"content": [], "refusal": None} if generation.logprobs is not None else None
        )
        emit(
            [
                {
                    "index": index,
                    "delta": {"role": "assistant", "content": "", "refusal": None},
                    "logprobs": empty_logprobs,
                    "finish_reason": None,
                }
            ]
        )
        for position, piece in enumerate(generation.pieces):
            logprobs = (
                {"content": _logprob_entries(generation, position, position + 1), "refusal": None}
                if generation.logprobs is not None
                else None
            )
            emit(
                [
                    {
                        "index": index,
                        "delta": {"content": piece},
                        "logprobs": logprobs,
                        "finish_reason": None,
                    }
                ]
            )
        emit(
            [
                {
                    "index": index,
                    "delta": {},
                    "logprobs": None,
                    "finish_reason": generation.finish_reason,
                }
            ]
        )
    if request.include_usage:
        emit([], usage=usage.as_dict())
    events.append(b"data: [DONE]\n\n")
    return events

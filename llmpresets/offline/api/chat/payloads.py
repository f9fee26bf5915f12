"""Chat completion response bodies, built from the SDK's own types so they cannot drift.

- :func:`completion_payload`: the ``chat.completion`` JSON body of finished generations.
- :func:`chunk_payloads`: the SSE events of the same generations streamed.
- :class:`Usage`: token counts.

Nothing here parses requests or samples tokens; the endpoint passes finished
:class:`~llmpresets.offline.engine.types.Generation` objects in, named by an
:class:`~llmpresets.offline.backend.randomness.Identity`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import PydanticSerializationError

from ...backend.randomness import Identity
from ...engine.types import ChatRequest, Generation, ToolCall

__all__ = [
    "Usage",
    "chunk_payloads",
    "completion_payload",
]


@functools.cache
def _sdk_types() -> Any:
    """The SDK's response types module, imported on first use (not at import)."""
    import openai.types.chat

    return openai.types.chat


@dataclass(frozen=True)
class Usage:
    """Token counts of one response (all its choices)."""

    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int = 0  # part of completion_tokens, as the API counts them

    def as_dict(self) -> dict[str, Any]:
        """The ``usage`` object of a chat completion."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
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


def _tool_call(call: ToolCall) -> dict[str, Any]:
    if call.kind == "custom":
        return {
            "id": call.id,
            "type": "custom",
            "custom": {"name": call.name, "input": call.arguments},
        }
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _tool_call_deltas(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """Streamed tool calls as the API chunks them: per call, a first delta with its index, id,
    type and name (the first also carries the role), then one delta per argument fragment."""
    deltas: list[dict[str, Any]] = []
    for number, call in enumerate(calls):
        field = "custom" if call.kind == "custom" else "function"
        argument = "input" if call.kind == "custom" else "arguments"
        head: dict[str, Any] = {
            "tool_calls": [
                {
                    "index": number,
                    "id": call.id,
                    "type": call.kind,
                    field: {"name": call.name, argument: ""},
                }
            ]
        }
        if number == 0:
            head = {"role": "assistant", "content": None, "refusal": None, **head}
        deltas.append(head)
        deltas.extend(
            {"tool_calls": [{"index": number, field: {argument: piece}}]}
            for piece in call.pieces
            if piece
        )
    return deltas


def _custom_tool_calls(
    choices: list[dict[str, Any]],
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """A chunk's delta without its custom tool calls, and those calls; ``None`` when it has
    none (the chunk of a function call, a token or a finish)."""
    if len(choices) != 1:
        return None
    delta = choices[0].get("delta") or {}
    calls = delta.get("tool_calls")
    if not calls or not any("custom" in call for call in calls):
        return None
    return {key: value for key, value in delta.items() if key != "tool_calls"}, calls


def completion_payload(
    request: ChatRequest,
    generations: Sequence[Generation],
    usage: Usage,
    identity: Identity,
    *,
    fast: bool = True,
) -> bytes:
    """The ``chat.completion`` JSON body, validated by the SDK's ``ChatCompletion`` type.

    ``fast=False`` takes the plain path: every logprob entry validated, and the body written
    by ``json.dumps`` of the SDK type's dump (the fast path gives the same values, and the
    tests compare the two through this switch)."""
    ChatCompletion = _sdk_types().ChatCompletion
    choices = []
    for index, generation in enumerate(generations):
        logprobs = (
            {"content": _logprob_entries(generation, 0, len(generation.logprobs)), "refusal": None}
            if generation.logprobs is not None
            else None
        )
        message: dict[str, Any] = {
            "role": "assistant",
            "content": generation.text,
            "refusal": None,
            "annotations": [],
        }
        if generation.tool_calls is not None:
            message["content"] = None
            message["tool_calls"] = [_tool_call(call) for call in generation.tool_calls]
            logprobs = None
        choices.append(
            {
                "index": index,
                "message": message,
                "logprobs": logprobs,
                "finish_reason": generation.finish_reason,
            }
        )
    # The SDK's type checks the first logprob entry of each choice; the others have the same
    # shape (one builder, _logprob_entries) and are put back after, since validating thousands
    # of alternatives (top_logprobs=20) cost more than generating them.
    entries: list[list[dict[str, Any]] | None] = []
    for choice in choices:
        given: Any = choice["logprobs"]
        if fast and given is not None and len(given["content"]) > 1:
            entries.append(given["content"])
            choice["logprobs"] = {**given, "content": given["content"][:1]}
        else:
            entries.append(None)
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
    if fast and all(choice["logprobs"] is None for choice in choices):
        # No logprobs (so no floats, and nothing to put back): the SDK's type writes its own
        # JSON, the same values json.dumps would write, in one step. A string no UTF-8 can
        # carry (a lone surrogate) is left to json.dumps, which escapes it.
        try:
            written: str = completion.model_dump_json(by_alias=True, exclude_unset=True)
            return written.encode("utf-8")
        except PydanticSerializationError:
            pass
    data = completion.model_dump(mode="json", by_alias=True, exclude_unset=True)
    for dumped, content in zip(data["choices"], entries, strict=True):
        if content is not None:
            dumped["logprobs"]["content"] = content
    return json.dumps(data).encode("utf-8")


def chunk_payloads(
    request: ChatRequest,
    generations: Sequence[Generation],
    usage: Usage,
    identity: Identity,
    *,
    fast: bool = True,
) -> list[bytes]:
    """The SSE byte lines of a stream: role, one chunk per token, finish, usage, ``[DONE]``.

    ``fast=False`` validates and writes every chunk in full, without the per-choice template
    of :func:`_piece_writer` (the same bytes)."""
    ChatCompletionChunk = _sdk_types().ChatCompletionChunk
    head = {
        "id": identity.id,
        "object": "chat.completion.chunk",
        "created": identity.created,
        "model": request.model,
        "service_tier": "default",
        "system_fingerprint": identity.system_fingerprint,
    }
    events: list[bytes] = []

    def write(choices: list[dict[str, Any]], **extra: Any) -> str:
        data = {**head, "choices": choices, **extra}
        if request.include_usage and "usage" not in extra:
            data["usage"] = None
        custom = _custom_tool_calls(choices)
        if custom is not None:
            # The SDK's chunk type knows only function tool calls (the API streams custom ones
            # as {"type": "custom", "custom": {...}}): the rest of the chunk is validated and
            # the custom calls put back as written by _tool_call_deltas.
            data = {**data, "choices": [{**choices[0], "delta": custom[0]}]}
        chunk = ChatCompletionChunk.model_validate(data)
        dumped = chunk.model_dump(mode="json", by_alias=True, exclude_unset=True)
        if custom is not None:
            dumped["choices"][0]["delta"]["tool_calls"] = custom[1]
        return json.dumps(dumped)

    def emit(choices: list[dict[str, Any]], **extra: Any) -> None:
        events.append(f"data: {write(choices, **extra)}\n\n".encode())

    for index, generation in enumerate(generations):
        if generation.tool_calls is not None:
            for delta in _tool_call_deltas(generation.tool_calls):
                emit([{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}])
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
            continue
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
        pieces = _piece_writer(write, index) if fast and generation.logprobs is None else None
        for position, piece in enumerate(generation.pieces):
            if pieces is not None and type(piece) is str:
                events.append(pieces(piece))
                continue
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


# A text no reply holds, standing for a token's text in a chunk written once per choice.
_PIECE = "\x00llmpresets: one token's text\x00"
_PIECE_JSON = json.dumps(_PIECE)


def _piece_writer(
    write: Callable[[list[dict[str, Any]]], str], index: int
) -> Callable[[str], bytes] | None:
    """The SSE event of one text token of choice ``index``, without validating each chunk.

    The token chunks of a choice differ only in ``delta.content``, a string the SDK's type
    takes as it is: one chunk is validated and written with a stand-in text, and each token's
    event is that JSON with the token's own JSON string in its place, byte for byte what
    validating and writing the whole chunk gives. ``None`` when the stand-in is not found
    exactly once (then each chunk is written in full).
    """
    text = write(
        [{"index": index, "delta": {"content": _PIECE}, "logprobs": None, "finish_reason": None}]
    )
    before, found, after = text.partition(_PIECE_JSON)
    if not found or _PIECE_JSON in before or _PIECE_JSON in after:
        return None
    head, tail = f"data: {before}", f"{after}\n\n"
    return lambda piece: f"{head}{json.dumps(piece)}{tail}".encode()

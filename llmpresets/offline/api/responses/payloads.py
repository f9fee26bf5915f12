"""Responses API bodies and the event stream, built from the SDK's own types so they cannot drift.

- :func:`response_object`: the ``response`` object of a finished :class:`Outcome` (the body of
  ``POST /responses`` and ``GET /responses/{id}``), validated by the SDK's ``Response``.
- :func:`response_events`: the same outcome as the API streams it, every event validated by
  its member of the SDK's ``ResponseStreamEvent`` union and numbered by ``sequence_number``::

      response.created, response.in_progress,
      [reasoning item]  response.output_item.added,
                        (with a summary: response.reasoning_summary_part.added,
                         response.reasoning_summary_text.delta, ...text.done, ...part.done)
                        response.output_item.done,
      [message]         response.output_item.added, response.content_part.added,
                        response.output_text.delta (one per token) ..., response.output_text.done,
                        response.content_part.done, response.output_item.done,
      [function call]   response.output_item.added, response.function_call_arguments.delta ...,
                        response.function_call_arguments.done, response.output_item.done,
      response.completed | response.incomplete

A server error while generating (a user's next-token source failing) fails the response:
streamed, ``response.created``, ``response.in_progress``, ``response.failed`` (its ``error``
says why); plain, the HTTP 500 the API gives.

The deltas join to the final text, and the final event carries exactly the object
:func:`response_object` returns, so streamed and non-streamed answers agree.
"""

from __future__ import annotations

import functools
import hashlib
import json
import typing
from dataclasses import dataclass, field
from typing import Any

from .parse import ResponsesRequest

__all__ = ["FunctionCall", "Outcome", "item_id", "response_events", "response_object"]


@dataclass(frozen=True)
class FunctionCall:
    """One function call the model makes: its name, its JSON arguments (as streamed pieces)."""

    name: str
    arguments_pieces: list[str]
    call_id: str

    @property
    def arguments(self) -> str:
        return "".join(self.arguments_pieces)


@dataclass
class Outcome:
    """Everything a finished response says, before it is shaped as JSON or events."""

    request: ResponsesRequest
    response_id: str
    created_at: int
    input_tokens: int
    effort: str | None
    reasoning_tokens: int
    summary_text: str | None = None
    text_pieces: list[str] | None = None  # None: no message item (reasoning ran out or a call)
    text_finished: bool = True
    text_tokens: int = 0
    calls: list[FunctionCall] = field(default_factory=list)
    call_tokens: int = 0
    failure: str | None = None  # the server error's message: the response failed

    @property
    def incomplete(self) -> bool:
        """Cut by ``max_output_tokens`` (in the reasoning or in the text)."""
        return not self.text_finished and self.failure is None

    @property
    def output_tokens(self) -> int:
        return self.reasoning_tokens + self.text_tokens + self.call_tokens


def item_id(prefix: str, response_id: str, index: int) -> str:
    """A reproducible item id (``msg_``, ``rs_``, ``fc_``...) derived from its response's id."""
    digest = hashlib.sha256(f"{response_id}/{prefix}/{index}".encode()).hexdigest()[:40]
    return f"{prefix}_{digest}"


def _echo_tools(request: ResponsesRequest) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": tool["name"],
            "description": tool.get("description"),
            "parameters": tool.get("parameters"),
            "strict": tool.get("strict", True),
        }
        for tool in request.tools
    ]


def _reasoning_item(outcome: Outcome, *, done: bool) -> dict[str, Any]:
    summary = []
    if done and outcome.summary_text is not None:
        summary = [{"type": "summary_text", "text": outcome.summary_text}]
    return {"id": item_id("rs", outcome.response_id, 0), "type": "reasoning", "summary": summary}


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(outcome: Outcome, index: int, *, done: bool) -> dict[str, Any]:
    assert outcome.text_pieces is not None
    status = "in_progress"
    if done:
        status = "completed" if outcome.text_finished else "incomplete"
    content = [_text_part("".join(outcome.text_pieces))] if done else []
    return {
        "id": item_id("msg", outcome.response_id, index),
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def _call_item(outcome: Outcome, call: FunctionCall, index: int, *, done: bool) -> dict[str, Any]:
    return {
        "id": item_id("fc", outcome.response_id, index),
        "type": "function_call",
        "call_id": call.call_id,
        "name": call.name,
        "arguments": call.arguments if done else "",
        "status": "completed" if done else "in_progress",
    }


def _output(outcome: Outcome) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if outcome.failure is not None:
        return items
    if outcome.effort not in (None, "none"):
        items.append(_reasoning_item(outcome, done=True))
    if outcome.text_pieces is not None:
        items.append(_message_item(outcome, len(items), done=True))
    for call in outcome.calls:
        items.append(_call_item(outcome, call, len(items), done=True))
    return items


def _status(outcome: Outcome) -> str:
    if outcome.failure is not None:
        return "failed"
    return "incomplete" if outcome.incomplete else "completed"


def _body(outcome: Outcome, *, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    request = outcome.request
    finished = status in ("completed", "incomplete", "failed")
    text: dict[str, Any] = {"format": request.text_format}
    if request.verbosity is not None:
        text["verbosity"] = request.verbosity
    usage = None
    if finished:
        usage = {
            "input_tokens": outcome.input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": outcome.output_tokens,
            "output_tokens_details": {"reasoning_tokens": outcome.reasoning_tokens},
            "total_tokens": outcome.input_tokens + outcome.output_tokens,
        }
    return {
        "id": outcome.response_id,
        "object": "response",
        "created_at": outcome.created_at,
        "completed_at": outcome.created_at if status == "completed" else None,
        "status": status,
        "error": (
            {"code": "server_error", "message": outcome.failure} if status == "failed" else None
        ),
        "incomplete_details": ({"reason": "max_output_tokens"} if status == "incomplete" else None),
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "model": request.model,
        "output": output,
        "parallel_tool_calls": request.parallel_tool_calls,
        "previous_response_id": request.previous_response_id,
        "reasoning": {"effort": outcome.effort, "summary": request.summary},
        "store": request.store,
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "text": text,
        "tool_choice": request.tool_choice,
        "tools": _echo_tools(request),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": request.metadata or {},
        "service_tier": "default",
    }


def _validated_response(body: dict[str, Any]) -> dict[str, Any]:
    from openai.types.responses import Response

    return Response.model_validate(body).model_dump(mode="json", by_alias=True, exclude_unset=True)


def response_object(outcome: Outcome) -> dict[str, Any]:
    """The finished ``response`` object, as ``POST /responses`` returns it."""
    return _validated_response(_body(outcome, status=_status(outcome), output=_output(outcome)))


def response_events(outcome: Outcome, final: dict[str, Any]) -> list[bytes]:
    """The SSE events of ``outcome`` streamed; ``final`` is its :func:`response_object`."""
    classes = _event_classes()
    events: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        data = {"type": kind, "sequence_number": len(events), **fields}
        event = classes[kind].model_validate(data)
        text = json.dumps(event.model_dump(mode="json", by_alias=True, exclude_unset=True))
        events.append(f"event: {kind}\ndata: {text}\n\n".encode())

    started = _validated_response(_body(outcome, status="in_progress", output=[]))
    emit("response.created", response=started)
    emit("response.in_progress", response=started)
    if outcome.failure is not None:
        emit("response.failed", response=final)
        return events
    index = 0
    if outcome.effort not in (None, "none"):
        _emit_reasoning(emit, outcome, index)
        index += 1
    if outcome.text_pieces is not None:
        _emit_message(emit, outcome, index)
        index += 1
    for call in outcome.calls:
        _emit_call(emit, outcome, call, index)
        index += 1
    final_kind = "response.incomplete" if outcome.incomplete else "response.completed"
    emit(final_kind, response=final)
    return events


@functools.cache
def _event_classes() -> dict[str, Any]:
    """Each member of the SDK's ``ResponseStreamEvent`` union by its ``type`` (built once).

    Validating with the event's own class costs ~9 us; the undiscriminated union ~140 us.
    """
    from openai.types.responses import ResponseStreamEvent

    (union, *_) = typing.get_args(ResponseStreamEvent)
    return {
        typing.get_args(member.model_fields["type"].annotation)[0]: member
        for member in typing.get_args(union)
    }


def _emit_reasoning(emit: Any, outcome: Outcome, index: int) -> None:
    item = _reasoning_item(outcome, done=False)
    emit("response.output_item.added", output_index=index, item=item)
    if outcome.summary_text is not None:
        where = {"item_id": item["id"], "output_index": index, "summary_index": 0}
        emit(
            "response.reasoning_summary_part.added",
            part={"type": "summary_text", "text": ""},
            **where,
        )
        emit("response.reasoning_summary_text.delta", delta=outcome.summary_text, **where)
        emit("response.reasoning_summary_text.done", text=outcome.summary_text, **where)
        done_part = {"type": "summary_text", "text": outcome.summary_text}
        emit("response.reasoning_summary_part.done", part=done_part, **where)
    emit("response.output_item.done", output_index=index, item=_reasoning_item(outcome, done=True))


def _emit_message(emit: Any, outcome: Outcome, index: int) -> None:
    assert outcome.text_pieces is not None
    item = _message_item(outcome, index, done=False)
    where = {"item_id": item["id"], "output_index": index, "content_index": 0}
    emit("response.output_item.added", output_index=index, item=item)
    emit("response.content_part.added", part=_text_part(""), **where)
    for piece in outcome.text_pieces:
        emit("response.output_text.delta", delta=piece, logprobs=[], **where)
    text = "".join(outcome.text_pieces)
    emit("response.output_text.done", text=text, logprobs=[], **where)
    emit("response.content_part.done", part=_text_part(text), **where)
    emit(
        "response.output_item.done",
        output_index=index,
        item=_message_item(outcome, index, done=True),
    )


def _emit_call(emit: Any, outcome: Outcome, call: FunctionCall, index: int) -> None:
    item = _call_item(outcome, call, index, done=False)
    where = {"item_id": item["id"], "output_index": index}
    emit("response.output_item.added", output_index=index, item=item)
    for piece in call.arguments_pieces:
        emit("response.function_call_arguments.delta", delta=piece, **where)
    emit("response.function_call_arguments.done", arguments=call.arguments, name=call.name, **where)
    emit(
        "response.output_item.done",
        output_index=index,
        item=_call_item(outcome, call, index, done=True),
    )

"""Responders: a user's function that decides a reply, turned into one like any other.

``OfflineTransport(responder=fn)``: ``fn`` (sync or ``async``) gets an :class:`OfflineRequest`
for each ``/chat/completions`` and ``/responses`` request and returns

- a ``str``: the reply's text;
- a ``dict`` or ``list`` (or another JSON number or boolean): a JSON answer, written as
  compact JSON; under a ``response_format`` schema it must be valid for it;
- a :class:`ToolCall`, or a list of them: tool calls (each tool offered by the request and
  allowed by ``tool_choice``, its arguments valid for the tool's parameters; several need
  ``parallel_tool_calls`` left on);
- ``None``: no opinion, scripted rules and then the sampler answer as usual.

To answer with an API error, raise :class:`ResponderError` (``status``, ``message``, and
optionally the body's ``type``, ``code`` and ``param``). A reply the request cannot take
(an unknown tool, arguments or JSON its schema refuses, text where a call is required), a
value of another type, or an exception the responder raises is the server's 500 whose
message names the problem; the SDK does not retry it.

The answer becomes a reply at this level (:func:`reply_from_answer`, then checked by the
backend against the request), and goes through the same writers as a sampled one: the
request's length cap and stop sequences, usage counted with the model's tokenizer, streamed
and non-streamed alike, chat and ``/responses`` alike.
A seeded request stays a pure function of (seed, request) when the responder is a pure
function of the :class:`OfflineRequest` (tool-call ids come from the request's seed).

The conversation a responder sees is the chat form for both endpoints: ``/responses`` input
(``instructions``, messages, ``function_call`` and ``function_call_output`` items, and the
stored chain of ``previous_response_id``) becomes system, user, assistant and tool messages.
``turn`` is how many assistant replies follow the last user message (0 on a fresh question;
1 after one tool round trip), so an agent's steps are told apart by the conversation alone.

An ``async`` responder needs the async path (``openai.AsyncOpenAI``): the request then runs
on a worker thread and the coroutine on the client's event loop. A sync client calling an
async responder runs it to completion on a private event loop in a helper thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import inspect
import json
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ...tokens.messages import content_text

if TYPE_CHECKING:
    from ..engine.scripted import FixedReply
    from ..engine.types import ChatRequest

__all__ = [
    "OfflineRequest",
    "Responder",
    "ResponderError",
    "ResponderFailed",
    "ToolCall",
    "call_responder",
    "conversation_turn",
    "is_async_responder",
    "last_tool_result",
    "make_offline_request",
    "on_worker_thread",
    "reply_from_answer",
]

Responder = Callable[["OfflineRequest"], Any]
"""``(request) -> str | dict | list | ToolCall | list[ToolCall] | None``, or a coroutine of it."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class ToolCall:
    """A tool call a responder (or a test) answers with: the tool's ``name`` and ``arguments``.

    >>> ToolCall("get_weather", {"city": "Paris"})
    ToolCall(name='get_weather', arguments={'city': 'Paris'})
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"ToolCall name must be a non-empty str, got {self.name!r}")
        if not isinstance(self.arguments, dict):
            raise TypeError(
                f"ToolCall arguments must be a dict (the call's JSON arguments), got "
                f"{type(self.arguments).__name__}"
            )

    def arguments_json(self) -> str:
        """The arguments as the API sends them: compact JSON text."""
        return _compact(self.arguments, f"the arguments of {self.name!r}")


class ResponderError(Exception):
    """Raise it in a responder to answer with an API error: ``status`` (400-599) and the error
    body's ``message``, ``type`` (default from the status), ``code`` and ``param``.

    >>> ResponderError(429, "Rate limit reached", code="rate_limit_exceeded").type
    'requests'
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(
                f"ResponderError status must be an int from 400 to 599, got {status!r}"
            )
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or _default_type(status)
        self.code = code
        self.param = param


class ResponderFailed(ResponderError):
    """A responder (or a scripted rule's reply) gave what the request cannot take: a 500."""

    def __init__(self, message: str) -> None:
        super().__init__(500, message, type="server_error")


def _default_type(status: int) -> str:
    # The types the API's error bodies carry for these statuses.
    if status == 429:
        return "requests"
    if status == 401:
        return "authentication_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


@dataclass(frozen=True)
class OfflineRequest:
    """What a responder is asked: one request, in the chat form for every endpoint.

    ``endpoint``: ``"chat/completions"`` or ``"responses"``; ``model``: as requested;
    ``messages``: the conversation (``/responses`` input normalized to chat messages, a copy
    the responder may keep); ``tools``: the tools offered, as chat ``tools`` entries;
    ``response_format``: the chat form of the requested format (``{"type": "json_schema",
    "json_schema": {...}}`` / ``{"type": "json_object"}``), None for text; ``turn``:
    assistant replies since the last user message (0 for a fresh question).

    >>> request = OfflineRequest("chat/completions", "gpt-4o",
    ...     [{"role": "user", "content": "Weather in Paris?"}])
    >>> request.last_user_text, request.turn, request.tool_names
    ('Weather in Paris?', 0, ())
    """

    endpoint: str
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    response_format: dict[str, Any] | None = None
    turn: int = 0

    @property
    def tool_names(self) -> tuple[str, ...]:
        """The names of the tools offered, in order."""
        return tuple(_tool_name(tool) for tool in self.tools)

    @property
    def last_user_text(self) -> str | None:
        """The text of the last user message (None: there is none)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return content_text(message.get("content"))
        return None

    @property
    def after_tool(self) -> str | None:
        """The tool whose result ends the conversation (its name, or ``""`` when it cannot be
        told), None when the last message is not a tool result."""
        return last_tool_result(self.messages)

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """The tool results since the last user message, oldest first."""
        return [m for m in self.messages[_last_user(self.messages) + 1 :] if _is_tool(m)]

    @property
    def schema(self) -> dict[str, Any] | None:
        """The JSON schema of ``response_format`` (None: no schema)."""
        if self.response_format is None or self.response_format.get("type") != "json_schema":
            return None
        schema = self.response_format.get("json_schema", {}).get("schema")
        return schema if isinstance(schema, dict) else None


def _tool_name(tool: dict[str, Any]) -> str:
    function = tool.get("function")
    if isinstance(function, dict):
        return str(function.get("name", ""))
    return str(tool.get("name", ""))


def _is_tool(message: dict[str, Any]) -> bool:
    return message.get("role") in ("tool", "function")


def _last_user(messages: Sequence[dict[str, Any]]) -> int:
    """The index of the last user message (-1: none)."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            return index
    return -1


def conversation_turn(messages: Sequence[dict[str, Any]]) -> int:
    """Assistant replies since the last user message: the turn the next reply is."""
    return sum(1 for m in messages[_last_user(messages) + 1 :] if m.get("role") == "assistant")


def last_tool_result(messages: Sequence[dict[str, Any]]) -> str | None:
    """The name of the tool whose result is the last message (``""`` when its call is not in
    the conversation); None when the last message is not a tool result."""
    if not messages or not _is_tool(messages[-1]):
        return None
    last = messages[-1]
    if last.get("role") == "function":
        return str(last.get("name", ""))
    wanted = last.get("tool_call_id")
    for message in reversed(messages):
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict) and call.get("id") == wanted:
                function = call.get("function") or call.get("custom") or {}
                return str(function.get("name", "")) if isinstance(function, dict) else ""
    return ""


def make_offline_request(chat: ChatRequest, endpoint: str) -> OfflineRequest:
    """The :class:`OfflineRequest` of a validated request (its own copy of the conversation)."""
    output = chat.output
    response_format: dict[str, Any] | None = None
    if output.kind == "json_object":
        response_format = {"type": "json_object"}
    elif output.kind == "json_schema":
        json_schema: dict[str, Any] = {"name": output.name, "strict": output.strict}
        if output.schema is not None:
            json_schema["schema"] = output.schema
        response_format = {"type": "json_schema", "json_schema": json_schema}
    return OfflineRequest(
        endpoint=endpoint,
        model=chat.model,
        messages=copy.deepcopy(chat.messages),
        tools=copy.deepcopy(list(chat.tools or [])),
        response_format=copy.deepcopy(response_format),
        turn=conversation_turn(chat.messages),
    )


# --------------------------------------------------------------------------- calling it

_worker = threading.local()


def is_async_responder(responder: Responder | None) -> bool:
    """Whether ``responder`` is an ``async`` function (or an object with an async ``__call__``)."""
    if responder is None:
        return False
    return inspect.iscoroutinefunction(responder) or inspect.iscoroutinefunction(
        getattr(responder, "__call__", None)  # noqa: B004 (an object's async __call__)
    )


@contextmanager
def on_worker_thread() -> Iterator[None]:
    """Mark this thread as an anyio worker of the async path: a coroutine the responder
    returns is run on the client's event loop (``anyio.from_thread.run``)."""
    _worker.active = True
    try:
        yield
    finally:
        _worker.active = False


def call_responder(responder: Responder, request: OfflineRequest) -> Any:
    """The responder's answer to ``request``; a coroutine it returns is awaited (module
    docstring); :class:`ResponderError` passes through, any other exception is a
    :class:`ResponderFailed` naming it."""
    try:
        answer = responder(request)
        if inspect.isawaitable(answer):
            answer = _settle(answer)
    except ResponderError:
        raise
    except Exception as exc:
        raise ResponderFailed(f"the offline responder raised {type(exc).__name__}: {exc}") from exc
    return answer


def _settle(awaitable: Awaitable[_T]) -> _T:
    async def wait() -> _T:
        return await awaitable

    if getattr(_worker, "active", False):
        import anyio.from_thread

        return anyio.from_thread.run(wait)
    # No event loop of the client to run it on: a private one, on a helper thread (so this
    # works whether or not a loop runs in this thread).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, wait()).result()


def reply_from_answer(answer: Any, who: str) -> FixedReply | None:
    """A responder's (or a rule's) answer as a :class:`~..engine.scripted.FixedReply`;
    None for None. ``who`` names the answerer in errors."""
    from ..engine.scripted import FixedReply

    if answer is None:
        return None
    if isinstance(answer, str):
        return FixedReply(text=answer)
    if isinstance(answer, ToolCall):
        return FixedReply(calls=((answer.name, answer.arguments_json()),))
    if (
        isinstance(answer, (list, tuple))
        and answer
        and all(isinstance(a, ToolCall) for a in answer)
    ):
        return FixedReply(calls=tuple((call.name, call.arguments_json()) for call in answer))
    if isinstance(answer, (list, tuple)) and any(isinstance(a, ToolCall) for a in answer):
        raise ResponderFailed(f"{who} returned a list mixing ToolCalls with other values")
    if isinstance(answer, (dict, list, int, float)):  # bool is an int: true / false
        return FixedReply(text=_compact(answer, f"the JSON answer of {who}"))
    raise ResponderFailed(
        f"{who} returned {type(answer).__name__}; allowed: str (text), dict or list (a JSON "
        "answer), ToolCall or a list of ToolCall, or None (let the sampler answer)"
    )


def _compact(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ResponderFailed(f"{what} is not JSON: {exc}") from None

"""Assembling streamed replies into the result a whole reply gives: chunks (chat completions)
into a ChatResult, Responses API events into a ResponseResult.

The wrappers (:class:`ChatStream`, :class:`AsyncChatStream`) yield what the caller reads and
keep the assembled result; reading the SDK stream runs inside the one error boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.completion_usage import CompletionUsage

from .._errors import APIError, IncompleteResponseError
from ..tokens.fit import Budget
from .results import ChatResult, ResponseResult, chat_result, response_result
from .sdk_errors import sdk_errors

if TYPE_CHECKING:
    from ..config.models import ModelSpec
    from .request import PreparedResponse

__all__ = [
    "AsyncChatStream",
    "AsyncResponseStream",
    "ChatStream",
    "ResponseAssembler",
    "ResponseStream",
    "StreamAssembler",
]


@dataclass
class _ChoiceParts:
    """What the chunks of one choice have said so far."""

    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    function_call: dict[str, str] | None = None
    logprobs: dict[str, list[Any]] | None = None
    finish_reason: str | None = None

    def add(self, choice: Any) -> str:
        delta = choice.delta
        text: str = delta.content or ""
        self.content.append(text)
        if delta.refusal:
            self.refusal.append(delta.refusal)
        for call in delta.tool_calls or ():
            entry = self.tool_calls.setdefault(
                call.index, {"id": None, "type": "function", "name": "", "arguments": ""}
            )
            entry["id"] = call.id or entry["id"]
            if call.function is not None:
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
        if delta.function_call is not None:
            current = self.function_call or {"name": "", "arguments": ""}
            current["name"] += delta.function_call.name or ""
            current["arguments"] += delta.function_call.arguments or ""
            self.function_call = current
        if choice.logprobs is not None:
            logprobs = self.logprobs or {"content": [], "refusal": []}
            logprobs["content"].extend(choice.logprobs.content or ())
            logprobs["refusal"].extend(choice.logprobs.refusal or ())
            self.logprobs = logprobs
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        return text

    def logprobs_payload(self) -> dict[str, Any] | None:
        if self.logprobs is None:
            return None
        return {
            "content": self.logprobs["content"],
            "refusal": self.logprobs["refusal"] or None,  # as a whole response reports it
        }

    def message(self) -> dict[str, Any]:
        # Shaped as a whole (non-streamed) response's message is.
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.content),
            "annotations": [],
        }
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call["id"] or f"call_{index}",
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
                for index, call in sorted(self.tool_calls.items())
            ]
            message["content"] = message["content"] or None
        if self.function_call is not None:
            message["function_call"] = self.function_call
        return message


class StreamAssembler:
    """Builds a ChatResult from chunks (text, tool calls, logprobs, usage) and notices a
    stream that ended too soon."""

    def __init__(
        self,
        params: dict[str, Any],
        budget: Budget,
        *,
        dropped: dict[str, str] | None = None,
        spec: ModelSpec | None = None,
    ) -> None:
        self.params = params
        self.budget = budget
        self.dropped = dropped
        self.spec = spec
        self.choices: dict[int, _ChoiceParts] = {}
        self.usage: CompletionUsage | None = None
        self.last: ChatCompletionChunk | None = None

    def feed(self, chunk: ChatCompletionChunk) -> str:
        """Take one chunk; return the text it adds to choice 0.

        A chunk of the wrong shape (the SDK does not validate them) is an
        :class:`IncompleteResponseError`, not an ``AttributeError``.
        """
        try:
            self.last = chunk
            if chunk.usage is not None:
                self.usage = chunk.usage
            first_delta = ""
            for choice in chunk.choices:
                text = self.choices.setdefault(choice.index, _ChoiceParts()).add(choice)
                if choice.index == 0:
                    first_delta += text
            return first_delta
        except (AttributeError, TypeError) as exc:
            raise IncompleteResponseError(
                f"a streamed chunk is not a chat.completion.chunk ({exc})"
            ) from exc

    def result(self) -> ChatResult:
        unfinished = [index for index, parts in self.choices.items() if parts.finish_reason is None]
        if self.last is None or not self.choices or unfinished:
            received = sum(len("".join(parts.content)) for parts in self.choices.values())
            raise IncompleteResponseError(
                f"the stream ended before its final chunk ({received} characters received, "
                f"choice(s) {unfinished or [0]} without a finish_reason); the text is incomplete"
            )
        response = ChatCompletion.model_validate(
            {
                "id": self.last.id,
                "created": self.last.created,
                "model": self.last.model,
                "object": "chat.completion",
                "system_fingerprint": self.last.system_fingerprint,
                "usage": self.usage.model_dump() if self.usage is not None else None,
                "choices": [
                    {
                        "index": index,
                        "finish_reason": parts.finish_reason,
                        "message": parts.message(),
                        "logprobs": parts.logprobs_payload(),
                    }
                    for index, parts in sorted(self.choices.items())
                ],
            }
        )
        return chat_result(response, self.params, self.budget, dropped=self.dropped, spec=self.spec)


class ChatStream:
    """Iterate for text deltas; ``result`` holds the assembled ChatResult afterwards."""

    def __init__(self, sdk_stream: Any, assembler: StreamAssembler, secret: str | None) -> None:
        self._sdk_stream = sdk_stream
        self._assembler = assembler
        self._secret = secret
        self._result: ChatResult | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            with sdk_errors(self._secret):
                for chunk in self._sdk_stream:
                    delta = self._assembler.feed(chunk)
                    if delta:
                        yield delta
        finally:
            self._sdk_stream.close()
        self._result = self._assembler.result()

    @property
    def result(self) -> ChatResult:
        """The whole reply, once the stream has been read to the end."""
        if self._result is None:
            for _ in self:
                pass
        assert self._result is not None
        return self._result

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sdk_stream.close()


class AsyncChatStream:
    """``async for`` text deltas; ``await stream.get_result()`` for the ChatResult."""

    def __init__(self, sdk_stream: Any, assembler: StreamAssembler, secret: str | None) -> None:
        self._sdk_stream = sdk_stream
        self._assembler = assembler
        self._secret = secret
        self._result: ChatResult | None = None

    async def __aiter__(self) -> AsyncIterator[str]:
        try:
            with sdk_errors(self._secret):
                async for chunk in self._sdk_stream:
                    delta = self._assembler.feed(chunk)
                    if delta:
                        yield delta
        finally:
            await self._sdk_stream.close()
        self._result = self._assembler.result()

    async def get_result(self) -> ChatResult:
        """The whole reply (reads the rest of the stream if needed)."""
        if self._result is None:
            async for _ in self:
                pass
        assert self._result is not None
        return self._result


# Events that end a Responses stream and carry the whole response.
_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


class ResponseAssembler:
    """Watches Responses events for the terminal one; builds the ResponseResult from it."""

    def __init__(self, prepared: PreparedResponse, spec: ModelSpec) -> None:
        self.prepared = prepared
        self.spec = spec
        self.final: Any = None
        self.text_parts: list[str] = []

    def feed(self, event: Any) -> None:
        kind = event.type
        if kind == "response.output_text.delta":
            self.text_parts.append(event.delta)
        elif kind in _TERMINAL:
            self.final = event.response

    def result(self) -> ResponseResult:
        final = self.final
        if final is None:
            raise IncompleteResponseError(
                f"the stream ended before its final event ({len(''.join(self.text_parts))} "
                "characters received, no response.completed); the text is incomplete"
            )
        if final.status == "failed":
            error = final.error
            detail = f"{error.code}: {error.message}" if error is not None else "no detail"
            raise APIError(f"the response failed ({detail})")
        prepared = self.prepared
        return response_result(
            final,
            prepared.params,
            prepared.dropped,
            prepared.budget,
            self.spec,
            prepared.text_format,
        )


class ResponseStream:
    """Iterate for the SDK's Responses events (``ResponseStreamEvent``); then ``.result``.

    A stream that stops before ``response.completed`` / ``.incomplete`` raises
    IncompleteResponseError; ``response.failed`` raises APIError.
    """

    def __init__(self, sdk_stream: Any, assembler: ResponseAssembler, secret: str | None) -> None:
        self._sdk_stream = sdk_stream
        self._assembler = assembler
        self._secret = secret
        self._result: ResponseResult | None = None

    def __iter__(self) -> Iterator[Any]:
        try:
            with sdk_errors(self._secret):
                for event in self._sdk_stream:
                    self._assembler.feed(event)
                    yield event
        finally:
            self._sdk_stream.close()
        self._result = self._assembler.result()

    @property
    def result(self) -> ResponseResult:
        """The whole response, once the stream has been read to the end."""
        if self._result is None:
            for _ in self:
                pass
        assert self._result is not None
        return self._result

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sdk_stream.close()


class AsyncResponseStream:
    """``async for`` the SDK's Responses events; ``await stream.get_result()`` afterwards."""

    def __init__(self, sdk_stream: Any, assembler: ResponseAssembler, secret: str | None) -> None:
        self._sdk_stream = sdk_stream
        self._assembler = assembler
        self._secret = secret
        self._result: ResponseResult | None = None

    async def __aiter__(self) -> AsyncIterator[Any]:
        try:
            with sdk_errors(self._secret):
                async for event in self._sdk_stream:
                    self._assembler.feed(event)
                    yield event
        finally:
            await self._sdk_stream.close()
        self._result = self._assembler.result()

    async def get_result(self) -> ResponseResult:
        """The whole response (reads the rest of the stream if needed)."""
        if self._result is None:
            async for _ in self:
                pass
        assert self._result is not None
        return self._result

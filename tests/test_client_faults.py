"""Faults on the wire path, injected with an httpx2 transport under the real openai SDK."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import openai
import pytest

import llmpresets
from llmpresets import Client

KEY = "sk-test-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "Say hello"}]


def completion_body(text: str = "Hello!") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    }


def chunk(content: str | None, finish: str | None = None) -> bytes:
    data = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "delta": {"content": content} if content is not None else {},
                "finish_reason": finish,
            }
        ],
    }
    return f"data: {json.dumps(data)}\n\n".encode()


def ok(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=completion_body())


def status(
    code: int, headers: dict[str, str] | None = None, message: str = "boom"
) -> Callable[[httpx2.Request], httpx2.Response]:
    def respond(request: httpx2.Request) -> httpx2.Response:
        body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
        return httpx2.Response(code, json=body, headers=headers or {})

    return respond


def fail(exc: Exception) -> Callable[[httpx2.Request], httpx2.Response]:
    def respond(request: httpx2.Request) -> httpx2.Response:
        raise exc

    return respond


class FaultTransport(httpx2.BaseTransport):
    """Answers each request with the next scripted behaviour (the last one repeats)."""

    def __init__(self, *script: Callable[[httpx2.Request], httpx2.Response]) -> None:
        self.script = list(script)
        self.requests: list[httpx2.Request] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return step(request)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the SDK's retry back-off instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr("openai._base_client.time.sleep", recorded.append)
    return recorded


def client(transport: httpx2.BaseTransport, **kwargs: Any) -> Client:
    return Client("gpt-4o", api_key=KEY, transport=transport, unsupported_params="silent", **kwargs)


def test_429_with_retry_after_is_retried_after_the_given_delay(sleeps: list[float]) -> None:
    """A 429 with Retry-After: 2 is retried after 2 s, then succeeds."""
    transport = FaultTransport(status(429, {"retry-after": "2"}), ok)
    result = client(transport).chat(MESSAGES)
    assert result.text == "Hello!"
    assert len(transport.requests) == 2 and sleeps == [2.0]


def test_429_after_all_retries_is_a_rate_limit_error_with_status(sleeps: list[float]) -> None:
    """When retries run out the final error keeps the status and chains the SDK error."""
    transport = FaultTransport(status(429, {"retry-after": "1"}, "Rate limit reached"))
    with pytest.raises(llmpresets.RateLimitError) as info:
        client(transport, max_retries=3).chat(MESSAGES)
    assert info.value.status_code == 429
    assert isinstance(info.value.__cause__, openai.RateLimitError)
    assert "Rate limit reached" in str(info.value)
    assert len(transport.requests) == 4


@pytest.mark.parametrize("code", [500, 503])
def test_server_errors_are_retried_then_reported(code: int, sleeps: list[float]) -> None:
    """500 and 503 are retried max_retries times; the error keeps the status."""
    transport = FaultTransport(status(code))
    with pytest.raises(llmpresets.APIStatusError) as info:
        client(transport, max_retries=2).chat(MESSAGES)
    assert info.value.status_code == code
    assert isinstance(info.value.__cause__, openai.InternalServerError)
    assert len(transport.requests) == 3 and len(sleeps) == 2


def test_503_then_success_returns_the_result(sleeps: list[float]) -> None:
    """A transient 503 is invisible to the caller."""
    transport = FaultTransport(status(503), ok)
    assert client(transport).chat(MESSAGES).finish_reason == "stop"


def test_max_retries_zero_sends_once(sleeps: list[float]) -> None:
    """max_retries is the SDK's and configurable: 0 means a single attempt."""
    transport = FaultTransport(status(500))
    with pytest.raises(llmpresets.APIStatusError):
        client(transport, max_retries=0).chat(MESSAGES)
    assert len(transport.requests) == 1 and sleeps == []


def test_400_is_not_retried(sleeps: list[float]) -> None:
    """A client error is final at once."""
    transport = FaultTransport(status(400, message="bad"))
    with pytest.raises(llmpresets.APIStatusError) as info:
        client(transport).chat(MESSAGES)
    assert info.value.status_code == 400 and len(transport.requests) == 1


def test_timeout_becomes_api_timeout_error(sleeps: list[float]) -> None:
    """A read timeout, after retries, is an APITimeoutError with the cause chained."""
    transport = FaultTransport(fail(httpx2.ReadTimeout("read timed out")))
    with pytest.raises(llmpresets.APITimeoutError) as info:
        client(transport, max_retries=1).chat(MESSAGES)
    assert isinstance(info.value.__cause__, openai.APITimeoutError)
    assert info.value.status_code is None and len(transport.requests) == 2


def test_connection_reset_becomes_api_connection_error(sleeps: list[float]) -> None:
    """A reset connection is an APIConnectionError naming the cause."""
    transport = FaultTransport(fail(httpx2.ReadError("Connection reset by peer")))
    with pytest.raises(llmpresets.APIConnectionError) as info:
        client(transport, max_retries=1).chat(MESSAGES)
    assert not isinstance(info.value, llmpresets.APITimeoutError)
    assert "Connection reset by peer" in str(info.value)


def test_malformed_json_body_is_an_incomplete_response_error(sleeps: list[float]) -> None:
    """A 200 whose body is not JSON is an error, not an empty result."""
    transport = FaultTransport(
        lambda request: httpx2.Response(
            200, content=b'{"id": "chatcmpl-1", "choi', headers={"content-type": "application/json"}
        )
    )
    with pytest.raises(llmpresets.IncompleteResponseError) as info:
        client(transport).chat(MESSAGES)
    assert info.value.__cause__ is not None


def sse(*events: bytes) -> Callable[[httpx2.Request], httpx2.Response]:
    def respond(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, content=b"".join(events), headers={"content-type": "text/event-stream"}
        )

    return respond


def test_complete_stream_yields_deltas_and_a_result(sleeps: list[float]) -> None:
    """A whole stream gives its deltas, then a result with the joined text."""
    transport = FaultTransport(
        sse(chunk("Hel"), chunk("lo"), chunk(None, "stop"), b"data: [DONE]\n\n")
    )
    stream = client(transport).stream(MESSAGES)
    assert list(stream) == ["Hel", "lo"]
    assert stream.result.text == "Hello" and stream.result.finish_reason == "stop"


def test_stream_cut_before_its_final_chunk_raises(sleeps: list[float]) -> None:
    """A stream that ends with no finish_reason raises instead of returning partial text."""
    transport = FaultTransport(sse(chunk("Hel"), chunk("lo")))
    stream = client(transport).stream(MESSAGES)
    received: list[str] = []
    with pytest.raises(llmpresets.IncompleteResponseError, match="stream ended before its final"):
        received.extend(stream)
    assert received == ["Hel", "lo"]


class _CutStream(httpx2.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield chunk("Hel")
        raise httpx2.ReadError("Connection reset by peer")


def test_stream_reset_mid_way_raises_a_connection_error(sleeps: list[float]) -> None:
    """A connection reset in the middle of a stream surfaces as APIConnectionError."""
    transport = FaultTransport(
        lambda request: httpx2.Response(
            200, stream=_CutStream(), headers={"content-type": "text/event-stream"}
        )
    )
    with pytest.raises(llmpresets.APIConnectionError):
        list(client(transport).stream(MESSAGES))


def test_api_key_never_appears_in_errors_or_repr(sleeps: list[float]) -> None:
    """A 401 body that echoes the key is redacted; repr shows no key."""
    transport = FaultTransport(status(401, message=f"Incorrect API key provided: {KEY}"))
    c = client(transport)
    with pytest.raises(llmpresets.APIStatusError) as info:
        c.chat(MESSAGES)
    assert KEY not in str(info.value) and "[redacted]" in str(info.value)
    assert KEY not in repr(c) and KEY not in repr(info.value)


def test_streamed_tool_calls_reach_the_result(sleeps: list[float]) -> None:
    """A streamed reply made of tool-call deltas is assembled into message.tool_calls."""

    def tool_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(data)}\n\n".encode()

    first = {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"ci'},
            }
        ]
    }
    second = {"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]}
    transport = FaultTransport(
        sse(
            tool_chunk({"role": "assistant"}),
            tool_chunk(first),
            tool_chunk(second),
            tool_chunk({}, "tool_calls"),
            b"data: [DONE]\n\n",
        )
    )
    stream = client(transport).stream(MESSAGES)
    assert list(stream) == []
    message = stream.result.choices[0].message
    assert stream.result.finish_reason == "tool_calls"
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call.id == "call_1" and call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]


def test_key_is_scrubbed_from_the_chained_sdk_error(sleeps: list[float]) -> None:
    """Even the SDK exception kept on __cause__ no longer carries an echoed key."""
    transport = FaultTransport(status(401, message=f"Incorrect API key provided: {KEY}"))
    with pytest.raises(llmpresets.APIStatusError) as info:
        client(transport).chat(MESSAGES)
    cause = info.value.__cause__
    assert cause is not None and KEY not in str(cause) and KEY not in repr(cause.args)
    assert KEY not in json.dumps(getattr(cause, "body", None))


def test_status_error_shows_the_apis_own_message(sleeps: list[float]) -> None:
    """The message is the API's error text, not the SDK's 'Error code: ...' wrapper."""
    transport = FaultTransport(status(400, message="Invalid 'temperature'"))
    with pytest.raises(llmpresets.APIStatusError, match=r"^HTTP 400: Invalid 'temperature'"):
        client(transport).chat(MESSAGES)

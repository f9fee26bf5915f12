"""The Client: wiring, keys, pre-flight refusal and results, over recording transports."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx2
import pytest

import llmpresets
from llmpresets import AsyncClient, Client, ContextWindowExceeded, offline_mode

KEY = "sk-live-abcdefghijklmnop"


class Recorder(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Answers every request with a fixed completion and keeps the request bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(json.loads(request.content))
        return httpx2.Response(
            200,
            json={
                "id": "chatcmpl-x",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o",
                "choices": [
                    {
                        "index": i,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": f"answer {i}"},
                    }
                    for i in range(self.bodies[-1].get("n", 1))
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            },
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return self._answer(request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return self._answer(request)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ambient key or offline switch leaks into these tests."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("LLMPRESETS_OFFLINE", raising=False)


def test_chat_sends_the_resolved_parameters_and_returns_a_result() -> None:
    """The body on the wire is exactly resolve_params + messages; the result carries it all."""
    transport = Recorder()
    client = Client("gpt-4o", api_key=KEY, transport=transport, unsupported_params="silent")
    result = client.chat([{"role": "user", "content": "hi"}], use_case="factual", n=2)
    body = transport.bodies[0]
    assert body == {"messages": [{"role": "user", "content": "hi"}], **result.params}
    assert result.params == llmpresets.resolve_params("factual", "gpt-4o", policy="silent", n=2)
    assert result.texts == ["answer 0", "answer 1"] and result.text == "answer 0"
    assert result.finish_reason == "stop" and result.usage is not None
    assert result.usage.total_tokens == 7 and result.model == "gpt-4o"
    assert result.budget.prompt_tokens > 0


def test_complete_sends_one_user_message() -> None:
    """complete(prompt) is chat with a single user message."""
    transport = Recorder()
    Client(api_key=KEY, transport=transport, unsupported_params="silent").complete("hello")
    assert transport.bodies[0]["messages"] == [{"role": "user", "content": "hello"}]


def test_prompt_that_cannot_fit_is_never_sent() -> None:
    """The pre-flight refuses an over-long prompt: zero requests reach the transport."""
    transport = Recorder()
    client = Client("gpt-4", api_key=KEY, transport=transport, unsupported_params="silent")
    with pytest.raises(ContextWindowExceeded) as info:
        client.complete("word " * 9000, use_case="chat")
    assert transport.bodies == []
    assert info.value.model == "gpt-4" and info.value.context_window == 8192


def test_reserved_output_counts_against_the_window() -> None:
    """A prompt that fits alone but not with max_tokens is refused before sending."""
    transport = Recorder()
    client = Client("gpt-4", api_key=KEY, transport=transport, unsupported_params="silent")
    with pytest.raises(ContextWindowExceeded):
        client.complete("word " * 6000, max_tokens=4000)
    assert transport.bodies == []


def test_missing_key_error_says_how_to_run_offline() -> None:
    """No key and no offline choice: a clear error pointing at the offline options."""
    with pytest.raises(llmpresets.MissingAPIKeyError, match="offline=True"):
        Client()


def test_key_from_environment_is_used_like_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """OPENAI_API_KEY is picked up and sent as the bearer token, never shown in repr."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.headers["authorization"])
        return Recorder()._answer(request)

    client = Client(transport=httpx2.MockTransport(handler), unsupported_params="silent")
    client.complete("hi")
    assert seen == [f"Bearer {KEY}"]
    assert KEY not in repr(client)


def test_key_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Debug logging of a request (ours and the SDK's) does not contain the key."""
    caplog.set_level(logging.DEBUG)
    Client(api_key=KEY, transport=Recorder(), unsupported_params="silent").complete("hi")
    assert caplog.records and KEY not in caplog.text


def test_env_switch_runs_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """LLMPRESETS_OFFLINE=1 makes a Client offline with no key."""
    monkeypatch.setenv("LLMPRESETS_OFFLINE", "1")
    assert Client().offline


def test_bad_env_switch_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable LLMPRESETS_OFFLINE value is named with the allowed values."""
    monkeypatch.setenv("LLMPRESETS_OFFLINE", "maybe")
    with pytest.raises(llmpresets.ConfigError, match="LLMPRESETS_OFFLINE='maybe'"):
        Client()


def test_offline_mode_is_scoped_and_restored() -> None:
    """offline_mode() turns offline on inside the block only, even when the block raises."""
    with offline_mode(seed=3):
        inner = Client()
        assert inner.offline and inner.seed == 3
    with pytest.raises(RuntimeError), offline_mode():
        raise RuntimeError
    with pytest.raises(llmpresets.MissingAPIKeyError):
        Client()


def test_async_client_sends_the_same_request() -> None:
    """AsyncClient resolves and sends the same body as Client."""
    sync_transport, async_transport = Recorder(), Recorder()
    Client(api_key=KEY, transport=sync_transport, unsupported_params="silent").complete(
        "hi", use_case="code"
    )

    async def run() -> llmpresets.ChatResult:
        async with AsyncClient(
            api_key=KEY, transport=async_transport, unsupported_params="silent"
        ) as client:
            return await client.complete("hi", use_case="code")

    result = asyncio.run(run())
    assert async_transport.bodies == sync_transport.bodies and result.text == "answer 0"


def test_messages_must_be_a_list() -> None:
    """A bare string is a TypeError that points at complete()."""
    client = Client(api_key=KEY, transport=Recorder(), unsupported_params="silent")
    with pytest.raises(TypeError, match="complete"):
        client.chat("hello")


def test_warnings_name_the_callers_line() -> None:
    """Dropped-parameter and unknown-model warnings point at the user's code, not ours."""
    client = Client("my-unlisted-model", offline=True, seed=1, unsupported_params="warn")
    with pytest.warns(UserWarning, match="my-unlisted-model") as record:
        client.complete("hi", use_case="code")
    assert record and all(w.filename == __file__ for w in record)


def test_use_case_header_is_sent_offline_only() -> None:
    """Online requests carry no llmpresets header; offline ones name the use case."""
    seen: list[str | None] = []

    class HeaderRecorder(Recorder):
        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            seen.append(request.headers.get("x-llmpresets-use-case"))
            return super().handle_request(request)

    Client(api_key=KEY, transport=HeaderRecorder(), unsupported_params="silent").complete(
        "hi", use_case="code"
    )
    offline = Client(offline=True, transport=HeaderRecorder(), unsupported_params="silent")
    offline.complete("hi", use_case="code")
    assert seen == [None, "code"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stream": True}, "use client.stream"),
        ({"temprature": 0.3}, "did you mean 'temperature'"),
        ({"model": 5}, "expected a non-empty model name"),
        ({"max_tokens": 100000}, "maximum output of 16,384"),
    ],
)
def test_bad_call_arguments_are_refused_before_sending(
    overrides: dict[str, Any], message: str
) -> None:
    """Arguments the SDK or the API would reject are a ConfigError, and nothing is sent."""
    transport = Recorder()
    client = Client("gpt-4o", api_key=KEY, transport=transport, unsupported_params="silent")
    with pytest.raises(llmpresets.ConfigError, match=message):
        client.chat([{"role": "user", "content": "hi"}], **overrides)
    assert transport.bodies == []


def test_numpy_numbers_are_sent_as_json_numbers() -> None:
    """np.float32 / np.int64 overrides reach the wire as plain numbers."""
    import numpy as np

    transport = Recorder()
    client = Client(api_key=KEY, transport=transport, unsupported_params="silent")
    client.complete("hi", temperature=np.float32(0.5), max_tokens=np.int64(7))
    assert transport.bodies[0]["temperature"] == 0.5 and transport.bodies[0]["max_tokens"] == 7


def test_unencodable_text_is_a_message_format_error() -> None:
    """A lone surrogate is reported as bad message text, not as a broken response."""
    client = Client(api_key=KEY, transport=Recorder(), unsupported_params="silent")
    with pytest.raises(llmpresets.MessageFormatError, match="surrogates"):
        client.complete("bad \ud800 text")


def test_our_own_errors_pass_through_the_sdk_call_unchanged(tmp_path: Any) -> None:
    """A configuration problem found during a request stays a ConfigError (exit 2 in the CLI)."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("### notes\nhello there\n", encoding="utf-8")
    config = tmp_path / "presets.yaml"
    config.write_text(f"offline:\n  corpus: {corpus.name}\n", encoding="utf-8")
    client = Client(offline=True, config=config, unsupported_params="silent")
    corpus.unlink()  # gone after the configuration was loaded
    with pytest.raises(llmpresets.ConfigError, match=r"offline\.corpus"):
        client.complete("hi")


def test_stream_result_equals_chat_result_with_logprobs_and_n() -> None:
    """Streaming keeps every choice, logprobs and usage: the same result as chat()."""
    client = Client(offline=True, unsupported_params="silent")
    args: dict[str, Any] = {
        "logprobs": True,
        "top_logprobs": 2,
        "n": 2,
        "max_tokens": 6,
        "seed": 11,
    }
    streamed = client.stream([{"role": "user", "content": "hi"}], **args).result
    whole = client.chat([{"role": "user", "content": "hi"}], **args)
    assert streamed.choices == whole.choices and streamed.usage == whole.usage
    assert whole.choices[0].logprobs is not None

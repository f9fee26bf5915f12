"""Client.respond / respond_stream: the preset through the Responses API, online and offline."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import pytest
from pydantic import BaseModel

from llmpresets import (
    APIStatusError,
    AsyncClient,
    Client,
    ConfigError,
    ContextWindowExceeded,
    IncompleteResponseError,
    get_model,
)

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


class Refuser(httpx2.BaseTransport):
    """Fails the test if anything is sent."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        raise AssertionError(f"sent {request.url}")


class Recorder(httpx2.BaseTransport):
    """Keeps the request body and answers with a minimal completed response."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        return httpx2.Response(
            200,
            json={
                "id": "resp_1",
                "object": "response",
                "created_at": 1,
                "model": body["model"],
                "status": "completed",
                "output": [
                    {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": "hi", "annotations": []}],
                    }
                ],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "usage": {
                    "input_tokens": 10,
                    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                    "output_tokens": 5,
                    "output_tokens_details": {"reasoning_tokens": 2},
                    "total_tokens": 15,
                },
            },
        )


def offline(seed: int = 1) -> Client:
    return Client(offline=True, seed=seed)


def test_respond_sends_the_preset_resolved_for_responses() -> None:
    """code on gpt-5.1: reasoning.effort and text.verbosity, no sampling, over the wire."""
    recorder = Recorder()
    client = Client(model="gpt-5.1", api_key="sk-test", transport=recorder)
    result = client.respond("Write a sort function", use_case="code")
    sent = recorder.bodies[0]
    assert sent["input"] == "Write a sort function"
    assert sent["reasoning"] == {"effort": "medium"}
    assert sent["text"] == {"verbosity": "low"}
    assert "temperature" not in sent and "top_p" not in sent
    assert result.params == {k: v for k, v in sent.items() if k != "input"}
    assert "temperature" in result.dropped
    assert result.text == "hi" and result.id == "resp_1"


def test_respond_result_has_usage_cost_and_reasoning_priced_as_output() -> None:
    """cost = input at the input price + output (reasoning included) at the output price."""
    result = offline().respond("Hello", model="gpt-5", reasoning_effort="low")
    prices = get_model("gpt-5").prices
    assert result.usage is not None and prices is not None
    assert result.reasoning_tokens == 64
    assert result.usage.output_tokens >= 64
    expected = (
        result.usage.input_tokens * prices.input + result.usage.output_tokens * prices.output
    ) / 1e6
    assert result.cost == pytest.approx(expected)


def test_respond_stream_yields_events_then_the_result() -> None:
    """The deltas join to the result's text; streamed equals plain for a seed."""
    stream = offline(9).respond_stream("Tell me a story", use_case="creative")
    events = list(stream)
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert deltas == stream.result.text
    plain = offline(9).respond("Tell me a story", use_case="creative")
    assert plain.text == stream.result.text and plain.usage == stream.result.usage


class Weather(BaseModel):
    city: str
    temperature_c: float


def test_text_format_model_is_parsed() -> None:
    """text_format=Model sends the strict json_schema and returns the parsed instance."""
    result = offline().respond("Weather in Oslo?", text_format=Weather)
    assert isinstance(result.parsed, Weather)
    assert result.params["text"]["format"]["type"] == "json_schema"


def test_function_call_round_trip_through_the_client() -> None:
    """A call, its output sent back by previous_response_id, then a text answer."""
    client = offline()
    first = client.respond("What's the weather in Paris?", tools=[WEATHER_TOOL])
    (call,) = first.function_calls
    assert call.name == "get_weather"
    assert set(json.loads(call.arguments)) == {"city"}  # valid for the strict schema
    second = client.respond(
        [{"type": "function_call_output", "call_id": call.call_id, "output": "21C, sunny"}],
        tools=[WEATHER_TOOL],
        previous_response_id=first.id,
    )
    assert second.function_calls == [] and second.text


def test_small_budget_ends_incomplete() -> None:
    """max_output_tokens below the effort's reasoning: incomplete, no text."""
    result = offline().respond("Hi", model="gpt-5", reasoning_effort="high", max_output_tokens=100)
    assert result.status == "incomplete"
    assert result.incomplete_reason == "max_output_tokens"
    assert result.text == "" and result.parsed is None


def test_preflight_refuses_input_over_the_context_window() -> None:
    """Input items, instructions and tools are counted before sending; too many never leave."""
    client = Client(model="gpt-4o", api_key="sk-test", transport=Refuser())
    with pytest.raises(ContextWindowExceeded):
        client.respond(
            [{"role": "user", "content": "word " * 130_000}],
            instructions="Be brief.",
            tools=[WEATHER_TOOL],
        )


def test_unknown_argument_is_refused_before_sending() -> None:
    """A typo is a ConfigError naming the closest argument of responses.create."""
    client = Client(model="gpt-4o", api_key="sk-test", transport=Refuser())
    with pytest.raises(ConfigError, match="max_output_tokens"):
        client.respond("Hi", max_output_token=10)
    with pytest.raises(ConfigError, match="respond_stream"):
        client.respond("Hi", stream=True)


def test_api_error_is_translated() -> None:
    """An unknown previous_response_id is the API's 400, as llmpresets' APIStatusError."""
    with pytest.raises(APIStatusError) as caught:
        offline().respond("Hi", previous_response_id="resp_missing")
    assert caught.value.status_code == 400
    assert "resp_missing" in str(caught.value)


def test_async_client_mirrors_respond_and_respond_stream() -> None:
    """AsyncClient.respond and respond_stream give what the sync client gives."""

    async def run() -> tuple[str, str]:
        client = AsyncClient(offline=True, seed=5)
        plain = await client.respond("Hello there")
        stream = await AsyncClient(offline=True, seed=5).respond_stream("Hello there")
        texts = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        assert "".join(texts) == (await stream.get_result()).text
        return plain.text, "".join(texts)

    plain, streamed = asyncio.run(run())
    assert plain == streamed == offline(5).respond("Hello there").text


class Malformed(httpx2.BaseTransport):
    """Answers 200 with a body that is not a response."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"id": "resp_1", "output": "nope"})


def test_malformed_response_body_is_incomplete_response_error() -> None:
    """A 200 body of the wrong shape is IncompleteResponseError, not an AttributeError."""
    client = Client(model="gpt-4o", api_key="sk-test", transport=Malformed())
    with pytest.raises(IncompleteResponseError):
        client.respond("Hi")

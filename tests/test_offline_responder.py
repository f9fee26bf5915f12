"""Responders: a user's function decides the reply, written like a sampled one, on both APIs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from offline_sdk import async_sdk, sdk

from llmpresets.offline import OfflineRequest, OfflineTransport, ResponderError, ToolCall

HELLO: Any = [{"role": "user", "content": "Weather in Paris?"}]
PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city"],
}
TOOLS: Any = [
    {"type": "function", "function": {"name": "get_weather", "parameters": PARAMETERS}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
]
RESPONSES_TOOLS: Any = [
    {"type": "function", "name": "get_weather", "parameters": PARAMETERS, "strict": False}
]
WEATHER_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {
        "name": "Weather",
        "schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
            "required": ["city", "celsius"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


def client_answering(answer: Any) -> openai.OpenAI:
    return sdk(OfflineTransport(seed=0, responder=lambda request: answer))


def test_text_is_the_reply_with_usage_counted() -> None:
    """A str is the reply's text; usage counts its tokens with the model's tokenizer."""
    reply = client_answering("Sunny in Paris.").chat.completions.create(
        model="gpt-4o", messages=HELLO
    )
    assert reply.choices[0].message.content == "Sunny in Paris."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 4  # "Sunny", " in", " Paris", "."


def test_streamed_reply_equals_the_plain_one() -> None:
    """Streamed and non-streamed: the same text, tool calls and usage for the same seed."""
    client = client_answering(ToolCall("get_weather", {"city": "Paris"}))
    plain = client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=TOOLS, seed=3)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o",
            messages=HELLO,
            tools=TOOLS,
            seed=3,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta]
    streamed = "".join(
        call.function.arguments or "" for group in calls if group for call in group if call.function
    )
    first: Any = plain.choices[0].message.tool_calls
    assert first is not None
    assert first[0].function.arguments == streamed == '{"city":"Paris"}'
    assert chunks[-1].usage == plain.usage
    ids = [call.id for group in calls if group for call in group if call.id]
    assert ids == [first[0].id]


def test_text_reply_stops_at_the_length_cap() -> None:
    """The request's max_tokens cuts a responder's text as it cuts sampled text."""
    reply = client_answering("one two three four five six").chat.completions.create(
        model="gpt-4o", messages=HELLO, max_tokens=2
    )
    assert reply.choices[0].message.content == "one two"
    assert reply.choices[0].finish_reason == "length"


def test_json_value_under_a_schema() -> None:
    """A dict is the JSON answer; under a json_schema format it must be valid for it."""
    reply = client_answering({"city": "Paris", "celsius": 21}).chat.completions.create(
        model="gpt-4o", messages=HELLO, response_format=WEATHER_FORMAT
    )
    assert json.loads(reply.choices[0].message.content or "") == {"city": "Paris", "celsius": 21}


def test_json_value_the_schema_refuses_is_a_clear_500() -> None:
    """A JSON answer the schema refuses: a 500 naming the format, never a broken reply."""
    with pytest.raises(openai.InternalServerError, match="not valid for the response format"):
        client_answering({"city": "Paris"}).chat.completions.create(
            model="gpt-4o", messages=HELLO, response_format=WEATHER_FORMAT
        )


def test_json_value_without_a_format_is_its_json_text() -> None:
    """With no response_format, a dict or list is written as compact JSON text."""
    reply = client_answering([1, 2]).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert reply.choices[0].message.content == "[1,2]"


def test_tool_calls_in_order() -> None:
    """A list of ToolCalls: parallel calls, each with its arguments, finish tool_calls."""
    answer = [ToolCall("get_weather", {"city": "Paris", "days": 2}), ToolCall("get_time")]
    reply = client_answering(answer).chat.completions.create(
        model="gpt-4o", messages=HELLO, tools=TOOLS
    )
    calls = reply.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [  # type: ignore[union-attr]
        ("get_weather", {"city": "Paris", "days": 2}),
        ("get_time", {}),
    ]
    assert reply.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("answer", "kwargs", "message"),
    [
        (ToolCall("get_wether", {"city": "Paris"}), {"tools": TOOLS}, "get_wether', which the"),
        (ToolCall("get_weather", {"city": 3}), {"tools": TOOLS}, "are not valid for its"),
        (ToolCall("get_weather", {"city": "P"}), {}, "offered: none"),
        (
            [ToolCall("get_weather", {"city": "P"}), ToolCall("get_time")],
            {"tools": TOOLS, "parallel_tool_calls": False},
            "parallel_tool_calls false",
        ),
        ("Sunny.", {"tools": TOOLS, "tool_choice": "required"}, "requires a tool call"),
        (
            ToolCall("get_weather", {"city": "P"}),
            {"tools": TOOLS, "tool_choice": "none"},
            "tool_choice does not allow",
        ),
        (b"bytes", {}, "returned bytes; allowed: str"),
        ({"x": float("nan")}, {}, "is not JSON"),
    ],
)
def test_a_reply_the_request_cannot_take_is_a_500_naming_it(
    answer: Any, kwargs: dict[str, Any], message: str
) -> None:
    """Unknown tools, bad arguments, text where a call is required, wrong types: a 500 whose
    message says what was wrong (the SDK does not retry it)."""
    with pytest.raises(openai.InternalServerError, match=message):
        client_answering(answer).chat.completions.create(model="gpt-4o", messages=HELLO, **kwargs)


def test_none_lets_the_sampler_answer() -> None:
    """None: the reply is exactly the one the sampler gives without a responder."""
    with_none = client_answering(None).chat.completions.create(
        model="gpt-4o", messages=HELLO, seed=9, max_tokens=12
    )
    plain = sdk(OfflineTransport(seed=0)).chat.completions.create(
        model="gpt-4o", messages=HELLO, seed=9, max_tokens=12
    )
    assert with_none.choices[0].message.content == plain.choices[0].message.content


def test_responder_error_is_the_api_error() -> None:
    """ResponderError(status, message, code=...) is that error answer, typed by status."""

    def refuse(request: OfflineRequest) -> Any:
        raise ResponderError(429, "Slow down.", code="rate_limit_exceeded")

    client = sdk(OfflineTransport(responder=refuse))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.body == {
        "message": "Slow down.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }


def test_responder_error_status_is_checked() -> None:
    """A status outside 400-599 is a ValueError when the error is made."""
    with pytest.raises(ValueError, match="from 400 to 599"):
        ResponderError(200, "fine")


def test_an_exception_in_the_responder_is_a_500_naming_it() -> None:
    """An assertion failing inside a responder shows in the error the test sees."""

    def strict(request: OfflineRequest) -> Any:
        raise AssertionError("expected a tool result")

    with pytest.raises(openai.InternalServerError, match="AssertionError: expected a tool"):
        sdk(OfflineTransport(responder=strict)).chat.completions.create(
            model="gpt-4o", messages=HELLO
        )


def test_responder_must_be_callable() -> None:
    """A responder that is not a function is refused when set."""
    with pytest.raises(TypeError, match="responder must be a function"):
        OfflineTransport(responder="hello")  # type: ignore[arg-type]


def test_responses_input_is_normalized_to_chat_messages() -> None:
    """/responses: instructions, function calls and their outputs arrive as chat messages;
    turn counts the assistant replies since the last user message."""
    seen: list[OfflineRequest] = []

    def respond(request: OfflineRequest) -> Any:
        seen.append(request)
        return "Done."

    client = sdk(OfflineTransport(responder=respond))
    reply = client.responses.create(
        model="gpt-4o",
        instructions="Be brief.",
        tools=RESPONSES_TOOLS,
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
        ],
    )
    assert reply.output_text == "Done."
    request = seen[0]
    assert request.endpoint == "responses"
    assert [m["role"] for m in request.messages] == ["developer", "user", "assistant", "tool"]
    assert (request.turn, request.after_tool, request.tool_names) == (
        1,
        "get_weather",
        ("get_weather",),
    )
    assert request.tool_results[0]["content"] == "Sunny"


def test_responses_tool_call_streamed_equals_plain() -> None:
    """/responses: a responder's call is the same function_call item streamed or not."""
    # /responses has no seed: two transports of one seed give their first requests alike.
    answer = ToolCall("get_weather", {"city": "Oslo"})
    plain = client_answering(answer).responses.create(
        model="gpt-4o", input="Weather?", tools=RESPONSES_TOOLS
    )
    events = list(
        client_answering(answer).responses.create(
            model="gpt-4o", input="Weather?", tools=RESPONSES_TOOLS, stream=True
        )
    )
    final = events[-1].response  # type: ignore[union-attr]
    assert [item.model_dump() for item in final.output] == [
        item.model_dump() for item in plain.output
    ]
    assert plain.output[0].arguments == '{"city":"Oslo"}'  # type: ignore[union-attr]
    assert final.usage == plain.usage


def test_response_format_is_given_in_chat_form_for_both_endpoints() -> None:
    """The schema a responder sees is the same for chat's response_format and /responses'
    text.format."""
    schemas: list[Any] = []

    def respond(request: OfflineRequest) -> Any:
        schemas.append(request.schema)
        return {"city": "Paris", "celsius": 20}

    client = sdk(OfflineTransport(responder=respond))
    client.chat.completions.create(model="gpt-4o", messages=HELLO, response_format=WEATHER_FORMAT)
    spec = WEATHER_FORMAT["json_schema"]
    text_format: Any = {"format": {"type": "json_schema", **spec}}
    client.responses.create(model="gpt-4o", input="Weather in Paris?", text=text_format)
    assert schemas[0] == schemas[1] == spec["schema"]


def test_async_responder_with_async_client() -> None:
    """An async responder runs on the client's event loop (AsyncOpenAI)."""
    loops: list[asyncio.AbstractEventLoop] = []

    async def respond(request: OfflineRequest) -> Any:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return "async hello"

    async def main() -> tuple[str | None, asyncio.AbstractEventLoop]:
        client = async_sdk(OfflineTransport(responder=respond))
        reply = await client.chat.completions.create(model="gpt-4o", messages=HELLO)
        return reply.choices[0].message.content, asyncio.get_running_loop()

    text, loop = asyncio.run(main())
    assert text == "async hello"
    assert loops == [loop]


def test_async_responder_with_a_sync_client() -> None:
    """A sync client runs an async responder to completion on a private loop."""

    async def respond(request: OfflineRequest) -> Any:
        return "from a coroutine"

    reply = sdk(OfflineTransport(responder=respond)).chat.completions.create(
        model="gpt-4o", messages=HELLO
    )
    assert reply.choices[0].message.content == "from a coroutine"


def test_sync_responder_with_an_async_client() -> None:
    """A sync responder answers the async path too."""

    async def main() -> str | None:
        client = async_sdk(OfflineTransport(responder=lambda request: "sync"))
        reply = await client.chat.completions.create(model="gpt-4o", messages=HELLO)
        return reply.choices[0].message.content

    assert asyncio.run(main()) == "sync"


def test_seeded_replies_repeat_with_their_call_ids() -> None:
    """A seeded request with a pure responder is a pure function of (seed, request)."""

    def ids() -> list[str]:
        client = client_answering(ToolCall("get_weather", {"city": "Paris"}))
        reply = client.chat.completions.create(model="gpt-4o", messages=HELLO, tools=TOOLS, seed=4)
        return [call.id for call in reply.choices[0].message.tool_calls or []]

    assert ids() == ids()

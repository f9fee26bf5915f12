"""Tool calls offline: the tool_choice policy, arguments by constrained decoding, streaming."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import openai
import pytest
from offline_sdk import sdk
from openai.types.chat import ChatCompletionMessageParam

from llmpresets.offline import OfflineTransport, load_scripted, make_rule

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": WEATHER_PARAMETERS,
        "strict": True,
    },
}
TIME: Any = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The local time in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
STOCK: Any = {
    "type": "function",
    "function": {"name": "stock_price", "description": "Latest price of a stock ticker"},
}
ASK_WEATHER: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What's the weather in Paris?"}
]
CALL_ID = re.compile(r"call_[A-Za-z0-9]{24}")


def create(messages: Any, **params: Any) -> Any:
    return sdk(OfflineTransport()).chat.completions.create(
        model="gpt-4o", messages=messages, seed=params.pop("seed", 1), **params
    )


def test_auto_calls_the_tool_the_prompt_points_at() -> None:
    """auto: a fresh user turn sharing words with a tool's name or description gets a call,
    with finish_reason tool_calls, no content, an API-shaped id and valid arguments."""
    reply = create(ASK_WEATHER, tools=[WEATHER, STOCK])
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert CALL_ID.fullmatch(call.id)
    jsonschema.validate(json.loads(call.function.arguments), WEATHER_PARAMETERS)


def test_auto_answers_in_text_when_no_tool_fits() -> None:
    """auto: a prompt that shares no word with any tool gets a text answer."""
    reply = create(
        [{"role": "user", "content": "Tell me a story about a dragon."}], tools=[WEATHER]
    )
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.choices[0].message.tool_calls is None and reply.choices[0].message.content


def test_after_tool_results_the_model_answers_in_text() -> None:
    """An agent loop ends: after the tool's result the model answers in text."""
    first = create(ASK_WEATHER, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    messages: list[Any] = [
        *ASK_WEATHER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"},
    ]
    second = create(messages, tools=[WEATHER])
    assert second.choices[0].message.tool_calls is None
    assert second.choices[0].message.content


def test_required_always_calls_and_none_never_does() -> None:
    """required calls a tool even for an unrelated prompt; none never calls."""
    unrelated: list[Any] = [{"role": "user", "content": "Hello there"}]
    required = create(unrelated, tools=[WEATHER], tool_choice="required")
    assert required.choices[0].finish_reason == "tool_calls"
    none = create(ASK_WEATHER, tools=[WEATHER], tool_choice="none")
    assert none.choices[0].message.tool_calls is None


def test_required_prefers_a_tool_not_yet_called_in_the_turn() -> None:
    """After a call's result, required moves on to another tool (an output tool, say)."""
    final = {
        "type": "function",
        "function": {
            "name": "final_result",
            "parameters": {
                "type": "object",
                "properties": {"summary": {"type": "string"}},
                "required": ["summary"],
            },
        },
    }
    messages: list[Any] = [
        *ASK_WEATHER,
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
    ]
    reply = create(messages, tools=[WEATHER, final], tool_choice="required")
    assert reply.choices[0].message.tool_calls[0].function.name == "final_result"


def test_named_tool_choice_calls_that_tool() -> None:
    """A named function is called whatever the prompt says."""
    reply = create(
        ASK_WEATHER,
        tools=[WEATHER, STOCK],
        tool_choice={"type": "function", "function": {"name": "stock_price"}},
    )
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "stock_price" and json.loads(call.function.arguments) == {}


def test_allowed_tools_limits_the_choice() -> None:
    """allowed_tools in mode required calls one of the listed tools only."""
    reply = create(
        ASK_WEATHER,
        tools=[WEATHER, TIME],
        tool_choice={
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": "required",
                "tools": [{"type": "function", "function": {"name": "get_time"}}],
            },
        },
    )
    assert [c.function.name for c in reply.choices[0].message.tool_calls] == ["get_time"]


def test_parallel_calls_for_every_tool_the_prompt_points_at() -> None:
    """Two tools the prompt points at equally: two calls, or one with parallel_tool_calls=false."""
    both: list[Any] = [{"role": "user", "content": "What's the weather and the time in Paris?"}]
    parallel = create(both, tools=[WEATHER, TIME])
    names = [c.function.name for c in parallel.choices[0].message.tool_calls]
    assert names == ["get_weather", "get_time"]
    assert len({c.id for c in parallel.choices[0].message.tool_calls}) == 2
    single = create(both, tools=[WEATHER, TIME], parallel_tool_calls=False)
    assert len(single.choices[0].message.tool_calls) == 1


def test_streamed_tool_calls_are_chunked_as_the_api_chunks_them() -> None:
    """Streamed: per call a first delta with index, id, type and name, then argument pieces;
    they join to the plain reply's calls; usage is the same."""
    params: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "What's the weather and the time in Paris?"}],
        "tools": [WEATHER, TIME],
        "seed": 4,
    }
    client = sdk(OfflineTransport())
    plain = client.chat.completions.create(**params)
    chunks = list(
        client.chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True}
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert deltas[0].role == "assistant"
    calls: dict[int, dict[str, str]] = {}
    for delta in deltas:
        for piece in delta.tool_calls or ():
            if piece.id is not None:
                assert piece.function is not None and piece.function.name
                assert piece.function.arguments == ""
                calls[piece.index] = {"id": piece.id, "name": piece.function.name, "args": ""}
            else:
                assert piece.function is not None and piece.function.name is None
                calls[piece.index]["args"] += piece.function.arguments or ""
    expected = [
        {"id": c.id, "name": c.function.name, "args": c.function.arguments}
        for c in plain.choices[0].message.tool_calls
    ]
    assert [calls[i] for i in sorted(calls)] == expected
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["tool_calls"]
    assert next(c.usage for c in chunks if c.usage is not None) == plain.usage


def test_same_seed_same_calls() -> None:
    """A seeded request repeats its calls exactly, ids included."""
    first = create(ASK_WEATHER, tools=[WEATHER], seed=9, temperature=1.3)
    again = create(ASK_WEATHER, tools=[WEATHER], seed=9, temperature=1.3)
    assert first.model_dump() == again.model_dump()


def test_custom_tool_input_follows_its_grammar() -> None:
    """A custom tool with a regex grammar gets input that matches it."""
    tool = {
        "type": "custom",
        "custom": {
            "name": "set_code",
            "description": "Set the code",
            "format": {
                "type": "grammar",
                "grammar": {"syntax": "regex", "definition": "[A-Z]{2}-[0-9]{3}"},
            },
        },
    }
    reply = create([{"role": "user", "content": "Set the code please"}], tools=[tool])
    (call,) = reply.choices[0].message.tool_calls
    assert call.type == "custom" and re.fullmatch(r"[A-Z]{2}-[0-9]{3}", call.custom.input)


@pytest.mark.parametrize(
    ("params", "message", "param"),
    [
        (
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "Tool choice 'nope' not found in 'tools' parameter.",
            "tool_choice",
        ),
        (
            {"tool_choice": "sometimes"},
            "Invalid value: 'sometimes'. Supported values are: 'none', 'auto', and 'required'.",
            "tool_choice",
        ),
    ],
)
def test_bad_tool_choice_is_a_400(params: dict[str, Any], message: str, param: str) -> None:
    """A tool_choice naming no tool in tools, or an unknown mode, is the API's 400."""
    with pytest.raises(openai.BadRequestError) as caught:
        create(ASK_WEATHER, tools=[WEATHER], **params)
    body: Any = caught.value.body
    assert body["message"] == message and body["param"] == param


def test_strict_function_parameters_follow_the_strict_rules() -> None:
    """A strict function whose parameters leave additionalProperties open is refused."""
    loose = {
        "type": "function",
        "function": {
            "name": "f",
            "strict": True,
            "parameters": {"type": "object", "properties": {}, "required": []},
        },
    }
    with pytest.raises(openai.BadRequestError) as caught:
        create(ASK_WEATHER, tools=[loose])
    body: Any = caught.value.body
    assert body["message"] == (
        "Invalid schema for function 'f': In context=(), 'additionalProperties' is required to "
        "be supplied and to be false."
    )
    assert body["param"] == "tools[0].function.parameters"


# --------------------------------------------------------------------------- scripted


def test_scripted_rule_answers_with_a_tool_call(tmp_path: Any) -> None:
    """A YAML rule can answer a matching prompt with a given tool call."""
    path = tmp_path / "scripted.yaml"
    path.write_text(
        "scripted:\n"
        "  - match: weather\n"
        "    completions:\n"
        "      - tool_call: {name: get_weather, arguments: {city: Lyon, unit: celsius}}\n"
        "        probability: 1.0\n"
    )
    transport = OfflineTransport(scripted=load_scripted(path))
    reply: Any = sdk(transport).chat.completions.create(
        model="gpt-4o", messages=ASK_WEATHER, tools=[WEATHER]
    )
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Lyon", "unit": "celsius"}
    assert reply.choices[0].finish_reason == "tool_calls"


def test_scripted_tool_call_is_masked_when_the_request_offers_no_such_tool() -> None:
    """A scripted call to a tool the request lacks is masked out; the JSON answer is left."""
    rule = make_rule(
        "weather",
        [
            ({"tool_call": {"name": "get_weather", "arguments": {"city": "Lyon"}}}, 0.9),
            ({"json": {"forecast": "sunny"}}, 0.1),
        ],
    )
    reply = sdk(OfflineTransport(scripted=[rule])).chat.completions.create(
        model="gpt-4o", messages=ASK_WEATHER, seed=1
    )
    assert reply.choices[0].message.content == '{"forecast":"sunny"}'

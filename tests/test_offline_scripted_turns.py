"""Turn-aware scripted rules: replies in order, times, and conditions read from the conversation."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openai
import pytest
from offline_sdk import sdk

from llmpresets import ConfigError
from llmpresets.offline import OfflineTransport, ToolCall, load_scripted, make_rule

PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS: Any = [
    {"type": "function", "function": {"name": "get_weather", "parameters": PARAMETERS}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
]
QUESTION: Any = {"role": "user", "content": "What is the weather in Paris?"}


def call_message(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        ],
    }


def tool_result(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def run_agent(client: openai.OpenAI, limit: int = 6, **kwargs: Any) -> list[Any]:
    """A minimal agent loop: call the model, run each tool call, stop at a text answer."""
    messages: list[Any] = [QUESTION]
    replies = []
    for _ in range(limit):
        reply: Any = client.chat.completions.create(
            model="gpt-4o", messages=messages, tools=TOOLS, seed=1, max_tokens=20, **kwargs
        )
        message = reply.choices[0].message
        replies.append(message)
        if not message.tool_calls:
            return replies
        messages.append(message.model_dump(exclude_none=True, exclude={"annotations"}))
        for call in message.tool_calls:
            messages.append(tool_result(call.id, f"result of {call.function.name}"))
    return replies


def test_replies_are_used_in_order_and_the_agent_ends() -> None:
    """replies: a call at turn 0, the answer at turn 1; the loop ends in two requests."""
    rule = make_rule(
        "weather", replies=[ToolCall("get_weather", {"city": "Paris"}), "Sunny in Paris."]
    )
    replies = run_agent(sdk(OfflineTransport(seed=0, scripted=[rule])))
    assert len(replies) == 2
    call = replies[0].tool_calls[0].function
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert replies[1].content == "Sunny in Paris."


def test_an_exhausted_sequence_falls_through_to_the_sampler() -> None:
    """Past its replies, the rule answers no more: the next request is the sampler's."""
    rule = make_rule("weather", replies=[ToolCall("get_weather", {"city": "Paris"})])
    client = sdk(OfflineTransport(seed=0, scripted=[rule]))
    messages: Any = [QUESTION, call_message("call_1", "get_weather", '{"city":"Paris"}')]
    messages.append(tool_result("call_1", "Sunny"))
    scripted = client.chat.completions.create(model="gpt-4o", messages=messages, seed=2)
    unscripted = sdk(OfflineTransport(seed=0)).chat.completions.create(
        model="gpt-4o", messages=messages, seed=2
    )
    assert scripted.choices[0].message.content == unscripted.choices[0].message.content


def test_an_exhausted_rule_gives_way_to_the_next_rule() -> None:
    """The next matching rule answers once the first has given all its replies."""
    rules = [
        make_rule("weather", replies=[ToolCall("get_weather", {"city": "Paris"})]),
        make_rule("weather", {"It is sunny.": 1.0}),
    ]
    replies = run_agent(sdk(OfflineTransport(seed=0, scripted=rules)))
    assert [bool(r.tool_calls) for r in replies] == [True, False]
    assert replies[1].content == "It is sunny."


def test_times_repeats_the_last_reply() -> None:
    """times: 3 with one reply: three calls in a row, then the rule falls through."""
    rules = [
        make_rule("weather", replies=[ToolCall("get_time")], times=3),
        make_rule("weather", {"Done.": 1.0}),
    ]
    replies = run_agent(sdk(OfflineTransport(seed=0, scripted=rules)))
    assert [r.tool_calls[0].function.name if r.tool_calls else r.content for r in replies] == [
        "get_time",
        "get_time",
        "get_time",
        "Done.",
    ]


def test_after_tool_conditions() -> None:
    """after_tool: false before any result, a tool's name right after its result."""
    rules = [
        make_rule("weather", replies=[ToolCall("get_time")], after_tool=False),
        make_rule(
            None, replies=[ToolCall("get_weather", {"city": "Paris"})], after_tool="get_time"
        ),
        make_rule(None, replies=["Sunny at noon."], after_tool=True),
    ]
    replies = run_agent(sdk(OfflineTransport(seed=0, scripted=rules)))
    assert [r.tool_calls[0].function.name if r.tool_calls else r.content for r in replies] == [
        "get_time",
        "get_weather",
        "Sunny at noon.",
    ]


@pytest.mark.parametrize(
    ("conditions", "applies"),
    [
        ({"tools_offered": ["get_weather"]}, True),
        ({"tools_offered": ["get_weather", "book_flight"]}, False),
        ({"model": "gpt-4o*"}, True),
        ({"model": "gpt-5*"}, False),
        ({"turn": 0}, True),
        ({"turn": 1}, False),
    ],
)
def test_static_and_turn_conditions(conditions: dict[str, Any], applies: bool) -> None:
    """A rule answers only when its conditions hold; else the sampler does."""
    rule = make_rule("weather", {"Scripted.": 1.0}, **conditions)
    reply = sdk(OfflineTransport(seed=0, scripted=[rule])).chat.completions.create(
        model="gpt-4o", messages=[QUESTION], tools=TOOLS, tool_choice="none", max_tokens=8
    )
    assert (reply.choices[0].message.content == "Scripted.") is applies


def test_position_comes_from_the_conversation_not_from_state() -> None:
    """A replayed conversation gets the same reply, on a fresh transport or the same one."""
    rule = make_rule("weather", replies=[ToolCall("get_weather", {"city": "Paris"}), "Sunny."])
    messages: Any = [
        QUESTION,
        call_message("call_1", "get_weather", '{"city":"Paris"}'),
        tool_result("call_1", "Sunny"),
    ]
    transport = OfflineTransport(seed=0, scripted=[rule])
    answers = {
        sdk(t)
        .chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS)
        .choices[0]
        .message.content
        for t in (transport, transport, OfflineTransport(scripted=[rule]))
    }
    assert answers == {"Sunny."}


def test_a_new_question_starts_the_sequence_again() -> None:
    """The turn counts from the last user message: a follow-up question is turn 0 again."""
    rule = make_rule("weather", replies=[ToolCall("get_weather", {"city": "Paris"}), "Sunny."])
    messages: Any = [
        QUESTION,
        call_message("call_1", "get_weather", '{"city":"Paris"}'),
        tool_result("call_1", "Sunny"),
        {"role": "assistant", "content": "Sunny."},
        {"role": "user", "content": "And the weather tomorrow?"},
    ]
    reply = sdk(OfflineTransport(scripted=[rule])).chat.completions.create(
        model="gpt-4o", messages=messages, tools=TOOLS
    )
    assert reply.choices[0].message.tool_calls is not None


def test_a_reply_calling_a_tool_not_offered_is_a_500_naming_the_rule() -> None:
    """A scripted call to a tool the request lacks is an error naming the rule, not a loop."""
    rule = make_rule("weather", replies=[ToolCall("book_flight", {"to": "Paris"})])
    with pytest.raises(openai.InternalServerError, match="scripted rule 'weather' \\(reply 1\\)"):
        sdk(OfflineTransport(scripted=[rule])).chat.completions.create(
            model="gpt-4o", messages=[QUESTION], tools=TOOLS
        )


def test_json_and_parallel_replies_from_yaml(tmp_path: Path) -> None:
    """YAML: replies with tool_calls (parallel) and json, and conditions, as in presets.yaml."""
    path = tmp_path / "scripted.yaml"
    path.write_text(
        "scripted:\n"
        "  - match: weather\n"
        "    tools_offered: [get_weather, get_time]\n"
        "    replies:\n"
        "      - tool_calls:\n"
        "          - {name: get_weather, arguments: {city: Paris}}\n"
        "          - {name: get_time}\n"
        "      - json: {city: Paris, sunny: true}\n"
    )
    rules = load_scripted(path)
    assert rules[0].tools_offered == ["get_weather", "get_time"]
    replies = run_agent(sdk(OfflineTransport(seed=0, scripted=rules)))
    assert [c.function.name for c in replies[0].tool_calls] == ["get_weather", "get_time"]
    assert json.loads(replies[1].content) == {"city": "Paris", "sunny": True}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "  - match: weather\n    completions: [{text: a, probability: 1.0}]\n"
            "    replies: [{text: b}]\n",
            "give one of completions (sampled) or replies (in order)",
        ),
        ("  - match: weather\n    replies: [{text: a, json: 1}]\n", "exactly one of text, json"),
        ("  - match: weather\n    replies: [{text: a}]\n    times: 0\n", "times"),
        ("  - match: weather\n    replies: [{text: a}]\n    after_tool: 3\n", "after_tool"),
        ("  - match: weather\n    replies: [{text: a}]\n    turns: 1\n", "turns"),
    ],
)
def test_bad_rules_are_config_errors_with_file_and_line(
    tmp_path: Path, rule: str, message: str
) -> None:
    """A bad turn-aware rule is a ConfigError naming the file, the line and the field."""
    path = tmp_path / "scripted.yaml"
    path.write_text("scripted:\n" + rule)
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_scripted(path)
    assert f"{path}:" in str(caught.value)
    assert caught.value.line is not None


def test_make_rule_errors_name_the_rule() -> None:
    """make_rule refuses a rule with neither completions nor replies."""
    with pytest.raises(ConfigError, match="invalid scripted rule for 'weather'"):
        make_rule("weather")

"""Values from the conversation: JSON fields and tool arguments repeat what the prompt says,
drawn with the preset's sampling; tool choice by relevance (issue 20, part B)."""

from __future__ import annotations

import json
import time
from typing import Any

import jsonschema
import numpy as np
import pytest
from offline_sdk import sdk

from llmpresets.offline import OfflineTransport
from llmpresets.offline.engine.constrained.decoder import generate_constrained
from llmpresets.offline.engine.constrained.grammar import lark_grammar
from llmpresets.offline.engine.structured import make_plan
from llmpresets.offline.engine.tool_choice import choose_tools, is_output_tool
from llmpresets.offline.engine.types import ChatRequest, SamplingSettings, Tool, ToolChoice
from llmpresets.offline.engine.values import rank_labels, read_conversation
from llmpresets.offline.engine.values.matching import candidates, describe
from llmpresets.offline.engine.values.spans import SPAN_LIMIT, conversation_spans
from llmpresets.tokens.encodings import get_encoding

CHAT = {"temperature": 0.8, "top_p": 0.9}


def function(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }


WEATHER = function("get_weather", "Current weather in a city", {"city": {"type": "string"}})
LOOKUP = function("lookup_order", "Look up an order's status", {"order_id": {"type": "string"}})
ESCALATE = function(
    "escalate_to_human", "Hand the conversation to a human", {"reason": {"type": "string"}}
)
FINAL = function(
    "final_result",
    "The final response which ends this conversation",
    {"order_id": {"type": "string"}, "status": {"type": "string"}},
)
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "email": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age", "email", "tags"],
    "additionalProperties": False,
}


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def create(messages: Any, **params: Any) -> Any:
    return sdk(OfflineTransport()).chat.completions.create(
        model="gpt-4o", messages=messages, **params
    )


def calls_of(reply: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (call.function.name, json.loads(call.function.arguments))
        for call in reply.choices[0].message.tool_calls or []
    ]


def json_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}


# --------------------------------------------------------------------------- spans


def test_spans_are_typed_identifiers_emails_urls_dates_names_places_numbers() -> None:
    """Each kind of value a reply may repeat is read with its kind and JSON value."""
    spans = conversation_spans(
        user(
            "John Smith (john@example.com) ordered A-10293 on March 5, 2026 in Paris: 3 items, "
            'see https://shop.example.com/a?id=1 and call it "Blue Box".'
        )
    )
    found = {(span.kind, span.value) for span in spans}
    assert {
        ("person", "John Smith"),
        ("email", "john@example.com"),
        ("identifier", "A-10293"),
        ("date", "2026-03-05"),
        ("place", "Paris"),
        ("number", 3),
        ("url", "https://shop.example.com/a?id=1"),
        ("quoted", "Blue Box"),
    } <= found


def test_a_tool_results_json_gives_labelled_values() -> None:
    """A tool result's JSON scalars are values labelled with their keys."""
    spans = conversation_spans(
        [
            *user("Where is my order A-1?"),
            {"role": "tool", "tool_call_id": "c", "content": '{"status": "shipped", "days": 2}'},
        ]
    )
    labelled = {(span.label, span.value) for span in spans if span.kind == "labeled"}
    assert {("status", "shipped"), ("days", 2)} <= labelled


def test_reading_a_huge_prompt_is_bounded() -> None:
    """A prompt of a megabyte is read in bounded time and gives at most SPAN_LIMIT spans."""
    text = "Order A-10293 for Paris, email x@example.com. " * 25_000
    started = time.perf_counter()
    spans = conversation_spans(user(text))
    assert len(spans) <= SPAN_LIMIT
    assert time.perf_counter() - started < 30  # a hang guard, not a speed assertion


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("name", "schema", "prompt", "value"),
    [
        ("city", {"type": "string"}, "What's the weather in Paris right now?", "Paris"),
        ("order_id", {"type": "string"}, "Where is my order A-10293?", "A-10293"),
        ("age", {"type": "integer"}, "Born in 1990, Ann is 34 years old and has 2 cats.", 34),
        ("email", {"type": "string", "format": "email"}, "Mail ann@example.org now", None),
        ("first_name", {"type": "string"}, "John Smith called.", "John"),
    ],
)
def test_a_field_takes_the_span_its_name_type_and_format_fit(
    name: str, schema: dict[str, Any], prompt: str, value: Any
) -> None:
    """The best candidate for a field is the span its name, type and format point at."""
    field = describe(schema, name, {})
    found = candidates(field, conversation_spans(user(prompt)), latest_text=prompt)
    expected = "ann@example.org" if value is None else value
    assert found[0].value == expected


def test_a_format_admits_only_its_own_kind() -> None:
    """A date-formatted field takes no name, number or identifier, only dates."""
    field = describe({"type": "string", "format": "date"}, "when", {})
    spans = conversation_spans(user("Ann, order A-1, 42, on 2026-01-02"))
    assert [candidate.value for candidate in candidates(field, spans)] == ["2026-01-02"]


def test_labels_the_conversation_names_or_points_at_rank_first() -> None:
    """A label named in the text, or pointed at by its words, ranks first."""
    labels = ["billing", "bug", "feature", "other"]
    assert rank_labels(labels, "Found a bug in export")[0].value == "bug"
    assert rank_labels(labels, "The app crashes on start")[0].value == "bug"
    assert rank_labels(labels, "Hello") == []


def test_routing_labels_are_pointed_at_by_their_words() -> None:
    """A support desk's routing labels (sales, support, hr) follow what the ticket is about."""
    labels = ["sales", "support", "hr"]
    assert rank_labels(labels, "I need help resetting my password.")[0].value == "support"
    assert rank_labels(labels, "Can I get a quote for 40 seats?")[0].value == "sales"
    assert rank_labels(labels, "When is payroll this month?")[0].value == "hr"


# --------------------------------------------------------------------------- replies


def test_weather_in_paris_at_temperature_zero_and_at_the_chat_preset() -> None:
    """get_weather(city) for "What's the weather in Paris right now?" says Paris at
    temperature 0, and at the chat preset for most seeds."""
    prompt = user("What's the weather in Paris right now?")
    greedy = create(prompt, tools=[WEATHER], temperature=0, seed=0)
    assert calls_of(greedy) == [("get_weather", {"city": "Paris"})]
    paris = sum(
        calls_of(create(prompt, tools=[WEATHER], seed=seed, **CHAT))
        == [("get_weather", {"city": "Paris"})]
        for seed in range(6)
    )
    assert paris >= 5


def test_an_extraction_schema_takes_the_values_the_prompt_states() -> None:
    """{name, age, email, tags} for "John Smith is 42 years old, email john@example.com"."""
    reply = create(
        user("John Smith is 42 years old, email john@example.com"),
        response_format=json_format(PERSON),
        temperature=0,
        seed=0,
    )
    value = json.loads(reply.choices[0].message.content)
    jsonschema.validate(value, PERSON)
    assert (value["name"], value["age"], value["email"]) == ("John Smith", 42, "john@example.com")


def test_the_order_id_reaches_the_lookup_tool_not_the_escalation() -> None:
    """lookup_order(order_id) gets A-10293; the unrelated tool is not called."""
    for mode in ("auto", "required"):
        reply = create(
            user("Where is my order A-10293?"),
            tools=[ESCALATE, LOOKUP],
            tool_choice=mode,
            seed=3,
            **CHAT,
        )
        assert calls_of(reply) == [("lookup_order", {"order_id": "A-10293"})]


def test_several_items_get_one_call_each_when_parallel_calls_are_allowed() -> None:
    """ "Weather in Paris and London": a call per city; one call when parallel calls are off."""
    prompt = user("What is the weather in Paris and in London?")
    both = create(prompt, tools=[WEATHER], temperature=0, seed=0)
    assert calls_of(both) == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "London"}),
    ]
    one = create(prompt, tools=[WEATHER], temperature=0, seed=0, parallel_tool_calls=False)
    assert calls_of(one) == [("get_weather", {"city": "Paris"})]


def test_formatted_values_are_valid_for_their_format() -> None:
    """Email, date and uri fields hold valid values copied from the prompt."""
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "day": {"type": "string", "format": "date"},
            "site": {"type": "string", "format": "uri"},
        },
        "required": ["email", "day", "site"],
        "additionalProperties": False,
    }
    reply = create(
        user("Write to ops@example.net before 14 July 2026; docs at https://example.net/docs"),
        response_format=json_format(schema),
        seed=2,
        **CHAT,
    )
    value = json.loads(reply.choices[0].message.content)
    assert value == {
        "email": "ops@example.net",
        "day": "2026-07-14",
        "site": "https://example.net/docs",
    }


def test_a_value_the_schema_refuses_is_not_forced() -> None:
    """A pattern the prompt's identifier does not match: the reply stays valid for it."""
    schema = {
        "type": "object",
        "properties": {"order_id": {"type": "string", "pattern": "^[0-9]{4}$"}},
        "required": ["order_id"],
        "additionalProperties": False,
    }
    for seed in range(3):
        reply = create(
            user("Where is my order A-10293?"), response_format=json_format(schema), seed=seed
        )
        jsonschema.validate(json.loads(reply.choices[0].message.content), schema)


def test_streamed_and_plain_replies_hold_the_same_values() -> None:
    """Streaming does not change what is read: the same arguments, chunk by chunk."""
    params: dict[str, Any] = {"tools": [WEATHER, LOOKUP], "seed": 4, **CHAT}
    messages = user("Where is my order A-10293?")
    plain = create(messages, **params)
    stream = create(messages, stream=True, **params)
    arguments = "".join(
        call.function.arguments or ""
        for chunk in stream
        for call in (chunk.choices[0].delta.tool_calls if chunk.choices else None) or []
    )
    assert arguments == plain.choices[0].message.tool_calls[0].function.arguments


def test_higher_temperatures_vary_between_values_alike() -> None:
    """Two names alike: temperature 0 takes the first; a high temperature takes either."""
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": False,
    }
    messages = user("Alice Brown and Bob Stone both called.")
    greedy = {
        json.loads(
            create(messages, response_format=json_format(schema), temperature=0, seed=seed)
            .choices[0]
            .message.content
        )["name"]
        for seed in range(3)
    }
    assert greedy == {"Alice Brown"}
    hot = {
        json.loads(
            create(messages, response_format=json_format(schema), temperature=1.5, seed=seed)
            .choices[0]
            .message.content
        )["name"]
        for seed in range(12)
    }
    assert {"Alice Brown", "Bob Stone"} <= hot


# --------------------------------------------------------------------------- tool choice


def after_lookup(result: str = '{"status": "shipped"}') -> list[dict[str, Any]]:
    return [
        *user("Where is my order A-10293?"),
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"order_id":"A-10293"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": result},
    ]


def test_after_a_tool_result_required_calls_the_output_tool_with_the_values() -> None:
    """required after a result: the output tool (not the unrelated tool), filled from the
    prompt and the tool's result."""
    reply = create(
        after_lookup(), tools=[LOOKUP, ESCALATE, FINAL], tool_choice="required", seed=1, **CHAT
    )
    assert calls_of(reply) == [("final_result", {"order_id": "A-10293", "status": "shipped"})]


def test_after_a_tool_result_auto_answers() -> None:
    """auto after a result: text, or the output tool when the request offers one."""
    text = create(after_lookup(), tools=[LOOKUP, ESCALATE], seed=1)
    assert text.choices[0].message.tool_calls is None
    final = create(after_lookup(), tools=[LOOKUP, FINAL], seed=1)
    assert [name for name, _ in calls_of(final)] == ["final_result"]


def test_required_without_an_output_tool_never_repeats_the_same_call() -> None:
    """required after a result with no output tool: a call, not the one already made."""
    for seed in range(4):
        reply = create(after_lookup(), tools=[LOOKUP, ESCALATE], tool_choice="required", seed=seed)
        assert calls_of(reply) != [("lookup_order", {"order_id": "A-10293"})]


def test_output_tools_are_recognised_by_name_or_description() -> None:
    """final_result (pydantic-ai) and a tool saying it gives the final response are output
    tools; a lookup is not."""
    assert is_output_tool(Tool("final_result_Weather"))
    assert is_output_tool(Tool("emit", description="Gives the final answer to the user."))
    assert not is_output_tool(Tool("lookup_order", description="Look up an order"))


# --------------------------------------------------------------------------- switch, labels


def test_read_values_false_reads_nothing() -> None:
    """make_plan(..., read_values=False): no values are read (the offline.read_prompt
    switch's hook); tool choice still works by words."""
    request = ChatRequest(
        model="gpt-4o",
        messages=user("Where is my order A-10293?"),
        max_tokens=64,
        tool_list=(Tool("lookup_order", parameters=LOOKUP["function"]["parameters"]),),
        tool_choice=ToolChoice("auto"),
    )
    encoding = get_encoding("o200k_base")
    off = make_plan(request, encoding, read_values=False)
    on = make_plan(request, encoding)
    assert off is not None and off.values is None
    assert on is not None and on.values is not None
    assert [tool.name for tool in choose_tools(request, off.values)] == ["lookup_order"]


def test_a_label_grammar_takes_the_label_the_turn_points_at() -> None:
    """A closed set of labels (any grammar) answers with the label the user's words point at,
    at temperature 0 and at the chat preset."""
    encoding = get_encoding("o200k_base")
    grammar = lark_grammar(encoding, 'start: "billing" | "bug" | "feature" | "other"\n')
    values = read_conversation(user("I was charged twice this month"))
    assert values is not None
    for settings in (SamplingSettings(temperature=0), SamplingSettings(0.8, top_p=0.9)):
        for seed in range(3):
            reply = generate_constrained(
                lambda ids: np.zeros(encoding.n_vocab),
                None,
                encoding,
                grammar,
                settings,
                np.random.default_rng(seed),
                json_shape=False,
                values=values.labels(("billing", "bug", "feature", "other"), encoding, settings),
            )
            assert reply.text == "billing"


@pytest.mark.ecosystem
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_pydantic_ai_agent_looks_the_order_up_and_never_escalates(seed: int) -> None:
    """pydantic-ai with two tools and a structured output: the lookup tool gets the order id
    from the prompt, the unrelated tool is never called, and the output repeats the result."""
    pytest.importorskip("pydantic_ai")
    import asyncio

    from offline_sdk import async_sdk
    from pydantic import BaseModel
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    class Status(BaseModel):
        order_id: str
        status: str

    client = async_sdk(OfflineTransport(seed=seed))
    model = OpenAIChatModel("gpt-4o", provider=OpenAIProvider(openai_client=client))
    agent = Agent(model, output_type=Status)
    calls: list[tuple[str, str]] = []

    @agent.tool_plain
    def lookup_order(order_id: str) -> dict[str, str]:
        """Look up an order's status by its id."""
        calls.append(("lookup_order", order_id))
        return {"order_id": order_id, "status": "shipped"}

    @agent.tool_plain
    def escalate_to_human(reason: str) -> str:
        """Hand the conversation to a human agent."""
        calls.append(("escalate_to_human", reason))
        return "escalated"

    result = asyncio.run(agent.run("Where is my order A-10293?"))
    assert calls == [("lookup_order", "A-10293")]
    assert result.output == Status(order_id="A-10293", status="shipped")


def test_yes_no_fields_follow_what_the_turn_says_and_its_negations() -> None:
    """A boolean field the turn speaks of is true, false after a negation."""
    schema = {
        "type": "object",
        "properties": {"is_member": {"type": "boolean"}, "vegetarian": {"type": "boolean"}},
        "required": ["is_member", "vegetarian"],
        "additionalProperties": False,
    }
    reply = create(
        user("Ben is vegetarian but he never became a member."),
        response_format=json_format(schema),
        seed=1,
        **CHAT,
    )
    assert json.loads(reply.choices[0].message.content) == {
        "is_member": False,
        "vegetarian": True,
    }


def test_an_enum_takes_the_value_the_turn_points_at() -> None:
    """unit enum ["c", "f"] after "in fahrenheit": "f"."""
    tool = function(
        "get_weather", "Current weather", {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}
    )
    reply = create(user("Weather in Boston in fahrenheit please"), tools=[tool], temperature=0)
    assert calls_of(reply) == [("get_weather", {"city": "Boston", "unit": "f"})]


def test_an_array_of_records_gets_one_coherent_item_per_record() -> None:
    """An optional array of objects (instructor's create_iterable) holds one item per
    person the prompt names, each with its own age and email."""
    person = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "email": {"type": "string"},
        },
        "required": ["name", "age", "email"],
    }
    tool = {
        "type": "function",
        "function": {
            "name": "IterablePerson",
            "parameters": {
                "type": "object",
                "properties": {"tasks": {"type": "array", "items": person}},
                "required": [],
            },
        },
    }
    prompt = user(
        "Extract every person: John Smith is 42 years old, email john@example.com; "
        "Mary Jones is 31 years old, email mary@example.com."
    )
    for seed in range(3):
        reply = create(
            prompt,
            tools=[tool],
            tool_choice={"type": "function", "function": {"name": "IterablePerson"}},
            seed=seed,
            **CHAT,
        )
        assert calls_of(reply)[0][1] == {
            "tasks": [
                {"name": "John Smith", "age": 42, "email": "john@example.com"},
                {"name": "Mary Jones", "age": 31, "email": "mary@example.com"},
            ]
        }

"""The offline /v1/responses endpoints through the real openai SDK, checked by the SDK's types."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import openai
import pytest
from offline_sdk import BASE_URL, async_sdk, sdk
from openai.types.responses import FunctionToolParam, Response, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from llmpresets.offline import OfflineTransport
from llmpresets.offline.api.responses.store import ResponseStore
from llmpresets.offline.backend.reasoning import REASONING_TOKENS

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
WEATHER_TOOL: FunctionToolParam = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}


def client(seed: int = 3) -> openai.OpenAI:
    return sdk(OfflineTransport(seed=seed))


def streamed_events(openai_client: openai.OpenAI, **request: Any) -> list[Any]:
    """Every event of a streamed create, each validated by the SDK's ResponseStreamEvent."""
    stream = openai_client.responses.create(stream=True, **request)
    return [EVENTS.validate_python(event.to_dict()) for event in stream]


def test_create_returns_a_valid_response_with_text_and_usage() -> None:
    """A plain create is a completed ``response`` the SDK's own type validates."""
    response = client().responses.create(model="gpt-4o", input="Tell me about the sea.")
    Response.model_validate(response.to_dict())
    assert response.object == "response" and response.status == "completed"
    assert response.output_text
    assert response.usage is not None and response.usage.output_tokens > 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_text_stream_has_the_api_event_sequence() -> None:
    """Text streams as created, in_progress, item/part added, deltas, done events, completed."""
    events = streamed_events(client(), model="gpt-4o", input="Tell me about the sea.")
    kinds = [event.type for event in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))


def test_deltas_join_to_the_final_text() -> None:
    """The text of the deltas is the text of output_text.done and of the final response."""
    events = streamed_events(client(), model="gpt-4o", input="Say something.")
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    done = next(e for e in events if e.type == "response.output_text.done")
    assert deltas == done.text == events[-1].response.output_text


def test_streamed_equals_plain_for_a_seed() -> None:
    """Same transport seed, same request: streaming changes nothing, usage included."""
    plain = client(11).responses.create(model="gpt-4o", input="Hello", temperature=0.9)
    events = streamed_events(client(11), model="gpt-4o", input="Hello", temperature=0.9)
    final = events[-1].response
    assert final.output_text == plain.output_text
    assert final.usage == plain.usage
    assert final.id == plain.id


def test_reasoning_summary_stream_events_are_valid() -> None:
    """A reasoning model asked for a summary streams the reasoning item and its summary events."""
    events = streamed_events(
        client(),
        model="gpt-5",
        input="Plan a picnic.",
        reasoning={"effort": "low", "summary": "auto"},
    )
    kinds = [event.type for event in events]
    for kind in (
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ):
        assert kind in kinds
    final = events[-1].response
    assert final.output[0].type == "reasoning"
    assert final.output[0].summary[0].text
    assert final.usage.output_tokens_details.reasoning_tokens == REASONING_TOKENS["low"]


def test_function_call_stream_events_are_valid() -> None:
    """A function call streams added, argument deltas, arguments.done and item done."""
    events = streamed_events(
        client(), model="gpt-4o", input="What's the weather in Paris?", tools=[WEATHER_TOOL]
    )
    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" in kinds
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert deltas == done.arguments
    call = events[-1].response.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert isinstance(json.loads(call.arguments)["city"], str)


def test_incomplete_stream_ends_with_response_incomplete() -> None:
    """A budget the reasoning exhausts ends the stream with response.incomplete."""
    events = streamed_events(
        client(), model="gpt-5", input="Hi", reasoning={"effort": "medium"}, max_output_tokens=16
    )
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


def test_sdk_stream_helper_reads_the_events() -> None:
    """``responses.stream`` (the SDK's accumulating helper) assembles the same final response."""
    with client(5).responses.stream(model="gpt-4o", input="Hello") as stream:
        deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas == final.output_text


def test_stored_conversation_continues_by_id() -> None:
    """previous_response_id puts the stored turns (inputs and outputs) into the context."""
    openai_client = client()
    first = openai_client.responses.create(model="gpt-4o", input="My name is Ada.")
    second = openai_client.responses.create(
        model="gpt-4o", input="What is my name?", previous_response_id=first.id
    )
    alone = openai_client.responses.input_tokens.count(model="gpt-4o", input="What is my name?")
    assert second.previous_response_id == first.id
    assert second.usage is not None and second.usage.input_tokens > alone.input_tokens


def test_unknown_previous_response_id_is_the_api_error() -> None:
    """An id never stored is a 400 previous_response_not_found."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(model="gpt-4o", input="Hi", previous_response_id="resp_nope")
    assert caught.value.code == "previous_response_not_found"
    assert "resp_nope" in caught.value.message


def test_store_false_is_not_retrievable() -> None:
    """store=false: the response is not kept, so retrieving it is a 404."""
    openai_client = client()
    response = openai_client.responses.create(model="gpt-4o", input="Hi", store=False)
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.retrieve(response.id)


def test_retrieve_and_delete() -> None:
    """GET returns the stored response; DELETE removes it (then GET is a 404)."""
    openai_client = client()
    response = openai_client.responses.create(model="gpt-4o", input="Hi")
    assert openai_client.responses.retrieve(response.id) == response
    openai_client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.retrieve(response.id)


def test_input_items_lists_the_request_items() -> None:
    """input_items lists what the response was given, newest first by default."""
    openai_client = client()
    response = openai_client.responses.create(
        model="gpt-4o",
        input=[
            {"role": "user", "content": "first"},
            {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
        ],
    )
    listed = openai_client.responses.input_items.list(response.id)
    texts = [item.content[0].text for item in listed.data]  # type: ignore[index,union-attr]
    assert texts == ["second", "first"]
    ascending = openai_client.responses.input_items.list(response.id, order="asc", limit=1)
    assert ascending.data[0].content[0].text == "first"  # type: ignore[index,union-attr]
    assert ascending.has_more


def test_input_tokens_equals_usage_input_tokens() -> None:
    """POST /responses/input_tokens gives the count a create reports as usage.input_tokens."""
    openai_client = client()
    request: dict[str, Any] = {
        "model": "gpt-4o",
        "instructions": "Answer briefly.",
        "input": "What's the weather in Paris?",
        "tools": [WEATHER_TOOL],
    }
    counted = openai_client.responses.input_tokens.count(**request)
    response = openai_client.responses.create(**request)
    assert response.usage is not None
    assert counted.input_tokens == response.usage.input_tokens
    assert counted.object == "response.input_tokens"


def test_function_call_round_trip() -> None:
    """call -> function_call_output -> a text answer, through previous_response_id."""
    openai_client = client()
    first = openai_client.responses.create(
        model="gpt-4o", input="What's the weather in Paris?", tools=[WEATHER_TOOL]
    )
    call = first.output[0]
    assert call.type == "function_call"
    arguments = json.loads(call.arguments)
    assert set(arguments) == {"city", "unit"} and arguments["unit"] in ("c", "f")
    second = openai_client.responses.create(
        model="gpt-4o",
        previous_response_id=first.id,
        tools=[WEATHER_TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "21C"}],
    )
    assert second.output[-1].type == "message" and second.output_text


def test_tool_choice_forces_a_named_function() -> None:
    """tool_choice naming a function makes that call even when the prompt does not ask."""
    response = client().responses.create(
        model="gpt-4o",
        input="Hello",
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    assert response.output[0].type == "function_call"


def test_tool_choice_none_answers_in_text() -> None:
    """tool_choice="none" never calls."""
    response = client().responses.create(
        model="gpt-4o", input="Weather in Paris?", tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert [item.type for item in response.output] == ["message"]


class Weather(BaseModel):
    city: str
    temperature_c: float


def test_parse_with_text_format_gives_the_model() -> None:
    """responses.parse(text_format=Model) returns a valid instance of the model."""
    parsed = client().responses.parse(model="gpt-4o", input="Weather in Rome?", text_format=Weather)
    assert isinstance(parsed.output_parsed, Weather)


def test_json_object_format_is_json() -> None:
    """text.format json_object answers with a JSON object."""
    response = client().responses.create(
        model="gpt-4o", input="Give JSON.", text={"format": {"type": "json_object"}}
    )
    assert isinstance(json.loads(response.output_text), dict)


@pytest.mark.parametrize("effort", ["minimal", "low", "medium", "high"])
def test_reasoning_tokens_follow_the_effort(effort: str) -> None:
    """usage reports the effort's reasoning tokens, inside output_tokens."""
    reasoning: Any = {"effort": effort}
    response = client().responses.create(model="gpt-5", input="Hi", reasoning=reasoning)
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == REASONING_TOKENS[effort]
    assert response.usage.output_tokens >= REASONING_TOKENS[effort]


def test_effort_none_reasons_zero_tokens() -> None:
    """At effort none there is no reasoning item and no reasoning token."""
    response = client().responses.create(model="gpt-5.1", input="Hi", reasoning={"effort": "none"})
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert all(item.type != "reasoning" for item in response.output)


def test_small_budget_ends_incomplete_before_any_text() -> None:
    """Reasoning counts against max_output_tokens: a small budget leaves no message item."""
    response = client().responses.create(
        model="gpt-5", input="Hi", reasoning={"effort": "medium"}, max_output_tokens=100
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == ""
    assert response.usage is not None and response.usage.output_tokens == 100


def test_budget_left_after_reasoning_caps_the_text() -> None:
    """What reasoning leaves of max_output_tokens caps the text."""
    response = client().responses.create(
        model="gpt-5", input="Tell a long story", reasoning={"effort": "low"}, max_output_tokens=70
    )
    assert response.usage is not None and response.usage.output_tokens <= 70


def test_max_output_tokens_below_16_is_refused() -> None:
    """The API's floor: max_output_tokens >= 16."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(model="gpt-4o", input="Hi", max_output_tokens=5)
    assert caught.value.param == "max_output_tokens"


def test_unknown_parameter_is_refused() -> None:
    """A field the API does not know is a 400 naming it."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(model="gpt-4o", input="Hi", extra_body={"colour": 1})
    assert caught.value.param == "colour"


def test_effort_on_a_non_reasoning_model_is_refused() -> None:
    """gpt-4o takes no reasoning effort."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(model="gpt-4o", input="Hi", reasoning={"effort": "low"})
    assert caught.value.param == "reasoning.effort"


def test_missing_input_is_refused() -> None:
    """No input and no previous response: missing required parameter."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(model="gpt-4o")
    assert caught.value.param == "input"


def test_unknown_subpath_is_404() -> None:
    """A path under /responses that the API lacks is a 404 in the API's shape."""
    transport = OfflineTransport(seed=0)
    with httpx2.Client(transport=transport, base_url=BASE_URL) as raw:
        answer = raw.get("/responses/resp_x/nothing")
    assert answer.status_code == 404
    assert "Invalid URL" in answer.json()["error"]["message"]


def test_store_is_bounded() -> None:
    """The store keeps the most recent responses its byte budget holds; older ones are 404."""
    transport = OfflineTransport(seed=0)
    openai_client = sdk(transport)
    openai_client.responses.create(model="gpt-4o", input="Hi 0", max_output_tokens=16)
    one = transport.responses.store.used  # what one such response costs
    transport.responses.store = ResponseStore(budget=int(2.5 * one))
    ids = [
        openai_client.responses.create(model="gpt-4o", input=f"Hi {i}", max_output_tokens=16).id
        for i in range(3)
    ]
    assert len(transport.responses.store) == 2
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.retrieve(ids[0])
    assert openai_client.responses.retrieve(ids[2]).id == ids[2]


def test_async_client_streams_too() -> None:
    """The async SDK reads the same stream."""

    async def run() -> str:
        async_client = async_sdk(OfflineTransport(seed=4))
        stream = await async_client.responses.create(model="gpt-4o", input="Hi", stream=True)
        return "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])

    text = asyncio.run(run())
    assert text == client(4).responses.create(model="gpt-4o", input="Hi").output_text


def test_model_rules_refuse_an_effort_the_model_lacks() -> None:
    """gpt-5.1 has no 'minimal' on /responses: the API's unsupported_value."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(model="gpt-5.1", input="Hi", reasoning={"effort": "minimal"})
    assert caught.value.code == "unsupported_value"


def test_model_rules_allow_sampling_only_at_effort_none() -> None:
    """From gpt-5.1 on, temperature is accepted at effort none and refused above it."""
    openai_client = client()
    accepted = openai_client.responses.create(
        model="gpt-5.1", input="Hi", reasoning={"effort": "none"}, temperature=0.7
    )
    assert accepted.temperature == 0.7
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.responses.create(
            model="gpt-5.1", input="Hi", reasoning={"effort": "low"}, temperature=0.7
        )
    assert caught.value.param == "temperature"


EVERY_EVENT_TYPE = {
    "response.failed",
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.completed",
    "response.incomplete",
}


def test_every_event_type_the_backend_emits_is_validated_by_the_sdk() -> None:
    """Across text, reasoning with a summary, a call and an incomplete reply, every event
    type the offline backend can emit appears, each validated by ResponseStreamEvent."""
    openai_client = client()
    seen: set[str] = set()
    for request in (
        {"model": "gpt-5", "input": "Hi", "reasoning": {"effort": "low", "summary": "auto"}},
        {"model": "gpt-4o", "input": "Weather in Paris?", "tools": [WEATHER_TOOL]},
        {"model": "gpt-5", "input": "Hi", "max_output_tokens": 16},
    ):
        seen |= {event.type for event in streamed_events(openai_client, **request)}
    failing = sdk(OfflineTransport(seed=0, source=broken_source))
    seen |= {event.type for event in streamed_events(failing, model="gpt-4o", input="Hi")}
    assert seen == EVERY_EVENT_TYPE


def test_responses_api_over_llmpresets_serve() -> None:
    """The same endpoints behind the local HTTP server: a stored, streamed conversation."""
    from llmpresets.offline import OfflineApp, ServerThread

    with ServerThread(OfflineApp(OfflineTransport(seed=2))) as base_url:
        over_http = openai.OpenAI(api_key="anything", base_url=base_url, max_retries=0)
        first = over_http.responses.create(model="gpt-4o", input="My name is Ada.")
        events = streamed_events(
            over_http, model="gpt-4o", input="And yours?", previous_response_id=first.id
        )
        assert events[-1].type == "response.completed"
        assert over_http.responses.retrieve(events[-1].response.id).id == events[-1].response.id


def test_json_object_needs_the_word_json_in_the_input() -> None:
    """As the API: json_object with no mention of JSON in the input is a 400."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(
            model="gpt-4o", input="Give me data.", text={"format": {"type": "json_object"}}
        )
    assert caught.value.param == "input"


def test_strict_schema_breaking_the_rules_is_refused() -> None:
    """A strict json_schema without additionalProperties: false is the API's 400."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(
            model="gpt-4o",
            input="Hi",
            text={
                "format": {
                    "type": "json_schema",
                    "name": "thing",
                    "strict": True,
                    "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                }
            },
        )
    assert caught.value.param == "text.format.schema"
    assert "additionalProperties" in caught.value.message


def test_strict_function_parameters_breaking_the_rules_are_refused() -> None:
    """A strict function whose parameters break the structured-outputs rules is a 400."""
    loose: Any = {**WEATHER_TOOL, "parameters": {"type": "object", "properties": {}}}
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(model="gpt-4o", input="Weather?", tools=[loose])
    assert caught.value.code == "invalid_function_parameters"


def test_json_schema_answer_is_valid_for_its_schema() -> None:
    """The constrained decoder's JSON satisfies the schema (enum, required, types)."""
    schema = {
        "type": "object",
        "properties": {
            "mood": {"type": "string", "enum": ["happy", "sad"]},
            "score": {"type": "integer"},
        },
        "required": ["mood", "score"],
        "additionalProperties": False,
    }
    for seed in range(3):
        response = client(seed).responses.create(
            model="gpt-4o",
            input="Rate the mood.",
            text={"format": {"type": "json_schema", "name": "m", "strict": True, "schema": schema}},
        )
        value = json.loads(response.output_text)
        assert value["mood"] in ("happy", "sad") and isinstance(value["score"], int)


def broken_source(context_ids: Any) -> Any:
    raise ValueError("the source is broken")


def test_server_error_mid_stream_is_response_failed() -> None:
    """A failing source: streamed, the stream ends with response.failed and its error;
    plain, the API's HTTP 500."""
    openai_client = sdk(OfflineTransport(seed=0, source=broken_source))
    events = streamed_events(openai_client, model="gpt-4o", input="Hi")
    assert [event.type for event in events] == [
        "response.created",
        "response.in_progress",
        "response.failed",
    ]
    assert events[-1].response.status == "failed"
    assert events[-1].response.error.code == "server_error"
    with pytest.raises(openai.InternalServerError):
        openai_client.responses.create(model="gpt-4o", input="Hi")


def test_client_respond_stream_raises_on_a_failed_response() -> None:
    """Client.respond_stream turns response.failed into llmpresets' APIError."""
    from llmpresets import APIError, Client

    client = Client(offline=True, transport=OfflineTransport(seed=0, source=broken_source))
    with pytest.raises(APIError, match="failed"):
        list(client.respond_stream("Hi"))


def test_max_output_tokens_above_the_model_limit_is_refused() -> None:
    """gpt-4o writes at most 16,384 tokens: asking for more is a 400, not a long generation."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(model="gpt-4o", input="Hi", max_output_tokens=100_000)
    assert caught.value.param == "max_output_tokens"


def test_responses_fields_are_checked_against_the_sdks_request_types() -> None:
    """Junk the API refuses on /responses is a 400 naming the parameter, as on chat."""
    import httpx2

    from llmpresets.offline import OfflineTransport

    client = httpx2.Client(transport=OfflineTransport(seed=0), base_url="http://offline.test/v1")
    for field, value in (("store", "x"), ("metadata", 5), ("parallel_tool_calls", "yes")):
        body = {"model": "gpt-4o", "input": "hi", field: value}
        reply = client.post("/responses", json=body)
        assert reply.status_code == 400, (field, reply.text)
        assert reply.json()["error"]["param"] == field

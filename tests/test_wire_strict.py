"""Every body the offline backend writes, read back with the SDK's strictest validation.

Each raw body (or streamed event) is validated by its SDK type in pydantic's strict mode, and
the validated object must hold no key its type does not declare: a body dumped by Python
names instead of wire names (``schema_`` for ``schema``, ``async_`` for ``async``) fails both
ways. The SDK's own ``_strict_response_validation`` client is exercised too, the way an
application that turns it on meets the backend.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx2
import openai
import pytest
from openai.types import Completion, CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import (
    InputTokenCountResponse,
    Response,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseItemList,
    ResponseStreamEvent,
)
from openai.types.shared import ErrorObject
from pydantic import BaseModel, TypeAdapter

from llmpresets.offline import OfflineTransport

BASE = "http://offline.test/v1"
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature_c": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["city", "temperature_c", "tags"],
    "additionalProperties": False,
}
PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
CHAT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather",
            "parameters": PARAMETERS,
            "strict": True,
        },
    },
    {
        "type": "function",
        "function": {"name": "get_time", "description": "Time", "parameters": PARAMETERS},
    },
]
RESPONSES_TOOLS = [
    {"type": "function", "name": "get_weather", "parameters": PARAMETERS, "strict": True},
    {"type": "function", "name": "get_time", "description": "Time", "parameters": PARAMETERS},
]
FORMATS: dict[str, dict[str, Any]] = {
    "text": {"type": "text"},
    "json_object": {"type": "json_object"},
    "json_schema": {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True},
    },
}
TEXT_FORMATS: dict[str, dict[str, Any]] = {
    "text": {"type": "text"},
    "json_object": {"type": "json_object"},
    "json_schema": {"type": "json_schema", "name": "weather", "schema": SCHEMA, "strict": True},
}
USER = [{"role": "user", "content": "Weather in Oslo as json, please."}]


def http(seed: int = 5, **options: Any) -> httpx2.Client:
    return httpx2.Client(transport=OfflineTransport(seed=seed, **options), base_url=BASE)


# Keys the API reference puts in a body that the installed SDK's types do not declare: a
# Response's ``store``; the ``name`` of response.function_call_arguments.done (required there).
SENT_BUT_UNDECLARED = {(Response, "store"), (ResponseFunctionCallArgumentsDoneEvent, "name")}


def undeclared_keys(value: Any, path: str = "$") -> Iterator[str]:
    """Where a validated SDK object holds keys its type does not declare (``model_extra``)."""
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            if (type(value), key) not in SENT_BUT_UNDECLARED:
                yield f"{path}.{key}"
        for name in type(value).model_fields:
            yield from undeclared_keys(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from undeclared_keys(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from undeclared_keys(item, f"{path}.{key}")


def strictly(validate: Callable[[str], Any], text: str) -> Any:
    """``text`` validated strictly; no undeclared key anywhere in the result."""
    value = validate(text)
    extra = list(undeclared_keys(value))
    assert not extra, f"keys the SDK's type does not declare: {extra} in {text[:300]}"
    return value


def model(kind: type[BaseModel]) -> Callable[[str], Any]:
    return lambda text: kind.model_validate_json(text, strict=True)


def events(response: httpx2.Response) -> list[str]:
    """The ``data:`` payloads of an SSE body, without the final ``[DONE]``."""
    assert response.status_code == 200, response.text
    lines = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    return [line for line in lines if line != "[DONE]"]


def check_chat(body: dict[str, Any], seed: int = 5) -> None:
    with http(seed) as client:
        plain = client.post("/chat/completions", json=body)
        assert plain.status_code == 200, plain.text
        strictly(model(ChatCompletion), plain.text)
        chunks = events(client.post("/chat/completions", json={**body, "stream": True}))
        assert chunks
        for chunk in chunks:
            strictly(model(ChatCompletionChunk), chunk)


def check_responses(body: dict[str, Any], seed: int = 5) -> Response:
    with http(seed) as client:
        plain = client.post("/responses", json=body)
        assert plain.status_code == 200, plain.text
        response: Response = strictly(model(Response), plain.text)
        streamed = events(client.post("/responses", json={**body, "stream": True}))
        for event in streamed:
            strictly(lambda text: EVENTS.validate_json(text, strict=True), event)
        got = client.get(f"/responses/{response.id}")
        if body.get("store") is not False:
            assert got.status_code == 200, got.text
            strictly(model(Response), got.text)
            items = client.get(f"/responses/{response.id}/input_items")
            strictly(model(ResponseItemList), items.text)
        return response


@pytest.mark.parametrize("kind", sorted(FORMATS))
@pytest.mark.parametrize("extra", [{}, {"n": 2}, {"logprobs": True, "top_logprobs": 3}])
def test_chat_bodies_validate_strictly(kind: str, extra: dict[str, Any]) -> None:
    """Chat completions and every stream chunk, per response format, n and logprobs."""
    check_chat(
        {
            "model": "gpt-4o",
            "messages": USER,
            "response_format": FORMATS[kind],
            "max_tokens": 40,
            "stream_options": None,
            **extra,
        }
    )


def test_chat_stream_with_usage_validates_strictly() -> None:
    """The usage chunk of ``stream_options.include_usage`` and the chunks before it."""
    with http() as client:
        body = {
            "model": "gpt-4o",
            "messages": USER,
            "max_tokens": 20,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for chunk in events(client.post("/chat/completions", json=body)):
            strictly(model(ChatCompletionChunk), chunk)


@pytest.mark.parametrize("parallel", [True, False])
def test_chat_tool_calls_validate_strictly(parallel: bool) -> None:
    """Function tool calls (strict and not, parallel or not), plain and streamed."""
    check_chat(
        {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Weather and time in Oslo?"}],
            "tools": CHAT_TOOLS,
            "tool_choice": "required",
            "parallel_tool_calls": parallel,
        }
    )


def test_chat_custom_tool_call_validates_strictly() -> None:
    """A custom (free-form) tool's call: the completion strictly; streamed, the chunks
    strictly but for the custom call deltas, a shape the SDK's chunk type does not declare
    (it knows function calls only), checked by hand."""
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Run the query."}],
        "tools": [{"type": "custom", "custom": {"name": "sql", "description": "SQL"}}],
        "tool_choice": "required",
        "seed": 7,
    }
    with http() as client:
        plain = client.post("/chat/completions", json=body)
        completion = strictly(model(ChatCompletion), plain.text)
        chunks = events(client.post("/chat/completions", json={**body, "stream": True}))
    call = completion.choices[0].message.tool_calls[0]
    assert call.type == "custom" and call.custom.name == "sql"
    written = ""
    for text in chunks:
        data = json.loads(text)
        delta = data["choices"][0]["delta"] if data["choices"] else {}
        for piece in delta.pop("tool_calls", []):
            assert set(piece) <= {"index", "id", "type", "custom"}
            assert set(piece["custom"]) <= {"name", "input"}
            written += piece["custom"].get("input", "")
        strictly(model(ChatCompletionChunk), json.dumps(data))
    assert written == call.custom.input


def test_chat_reasoning_model_validates_strictly() -> None:
    """A reasoning model's reply (reasoning tokens in usage), plain and streamed."""
    check_chat(
        {
            "model": "gpt-5",
            "messages": USER,
            "reasoning_effort": "low",
            "max_completion_tokens": 300,
            "response_format": FORMATS["json_schema"],
        }
    )


@pytest.mark.parametrize("kind", sorted(TEXT_FORMATS))
def test_responses_bodies_validate_strictly(kind: str) -> None:
    """Responses objects and every event, per text format; the stored copy and its items."""
    response = check_responses(
        {"model": "gpt-4o", "input": USER, "text": {"format": TEXT_FORMATS[kind]}}
    )
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == kind


def test_responses_json_schema_echoes_the_schema_by_its_wire_name() -> None:
    """``text.format.schema`` is echoed as ``schema`` (the SDK reads it as ``schema_``)."""
    with http() as client:
        body = {"model": "gpt-4o", "input": USER, "text": {"format": TEXT_FORMATS["json_schema"]}}
        echoed = client.post("/responses", json=body).json()["text"]["format"]
    assert echoed["schema"] == SCHEMA and "schema_" not in echoed


@pytest.mark.parametrize("parallel", [True, False])
def test_responses_tool_calls_validate_strictly(parallel: bool) -> None:
    """Function calls (strict, and strict left to its default), parallel or not."""
    response = check_responses(
        {
            "model": "gpt-4o",
            "input": "Weather and time in Oslo?",
            "tools": RESPONSES_TOOLS,
            "tool_choice": "required",
            "parallel_tool_calls": parallel,
        }
    )
    assert any(item.type == "function_call" for item in response.output)


@pytest.mark.parametrize("summary", [None, "auto"])
def test_responses_reasoning_validates_strictly(summary: str | None) -> None:
    """A reasoning item (with and without a summary), finished and cut short."""
    reasoning = {"effort": "low", **({"summary": summary} if summary else {})}
    check_responses({"model": "gpt-5", "input": USER, "reasoning": reasoning})
    cut = check_responses(
        {"model": "gpt-5", "input": USER, "reasoning": reasoning, "max_output_tokens": 16}
    )
    assert cut.status == "incomplete"


def test_responses_failed_stream_validates_strictly() -> None:
    """``response.failed`` (a broken next-token source) and the events before it."""

    def broken(context: Sequence[int]) -> Any:
        raise ValueError("broken")

    with http(source=broken) as client:
        body = {"model": "gpt-4o", "input": "Hi", "stream": True}
        streamed = events(client.post("/responses", json=body))
    assert json.loads(streamed[-1])["type"] == "response.failed"
    for event in streamed:
        strictly(lambda text: EVENTS.validate_json(text, strict=True), event)


def test_input_tokens_validate_strictly() -> None:
    """``POST /responses/input_tokens``."""
    with http() as client:
        reply = client.post("/responses/input_tokens", json={"model": "gpt-4o", "input": USER})
    assert reply.status_code == 200, reply.text
    strictly(model(InputTokenCountResponse), reply.text)


def test_completions_validate_strictly() -> None:
    """Legacy completions, plain (with logprobs) and streamed."""
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "Once", "max_tokens": 8, "logprobs": 2}
    with http() as client:
        plain = client.post("/completions", json=body)
        assert plain.status_code == 200, plain.text
        strictly(model(Completion), plain.text)
        chunks = events(client.post("/completions", json={**body, "stream": True}))
    for chunk in chunks:
        # The API streams finish_reason null before the last chunk, a value the SDK's type
        # does not declare (it is one type for both): the rest is checked strictly.
        data = json.loads(chunk)
        for choice in data["choices"]:
            assert choice["finish_reason"] in (None, "stop", "length")
            choice["finish_reason"] = choice["finish_reason"] or "stop"
        strictly(model(Completion), json.dumps(data))


@pytest.mark.parametrize("encoding_format", ["float", "base64"])
def test_embeddings_validate_strictly(encoding_format: str) -> None:
    """Embeddings (a float body; base64 is a string the SDK's type still declares)."""
    body = {"model": "text-embedding-3-small", "input": ["a", "b"]}
    with http() as client:
        reply = client.post("/embeddings", json={**body, "encoding_format": encoding_format})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    if encoding_format == "base64":
        # The SDK's type declares the floats it decodes the base64 string into, client-side.
        for entry in data["data"]:
            assert isinstance(entry["embedding"], str)
            entry["embedding"] = [0.0]
    strictly(model(CreateEmbeddingResponse), json.dumps(data))


def test_models_validate_strictly() -> None:
    """``GET /models`` entries and ``GET /models/{id}``."""
    with http() as client:
        listing = client.get("/models").json()
        one = client.get("/models/gpt-4o")
    for entry in listing["data"]:
        strictly(model(Model), json.dumps(entry))
    strictly(model(Model), one.text)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/chat/completions", {"model": "gpt-4o"}),
        ("POST", "/responses", {"model": "gpt-4o", "input": "x", "temperature": 9}),
        ("GET", "/responses/resp_missing", None),
        ("POST", "/embeddings", {"model": "text-embedding-3-small"}),
        ("POST", "/completions", {"model": "gpt-3.5-turbo-instruct"}),
        ("GET", "/nowhere", None),
    ],
)
def test_error_bodies_validate_strictly(method: str, path: str, body: Any) -> None:
    """Each endpoint's error body is ``{"error": ErrorObject}``."""
    with http() as client:
        reply = client.request(method, path, json=body)
    assert reply.status_code >= 400
    strictly(model(ErrorObject), json.dumps(reply.json()["error"]))


def test_sdk_strict_response_validation_accepts_every_shape() -> None:
    """The SDK with ``_strict_response_validation=True`` reads what the backend writes."""
    client: Any = openai.OpenAI(
        api_key="offline",
        base_url=BASE,
        max_retries=0,
        http_client=httpx2.Client(transport=OfflineTransport(seed=2)),
        _strict_response_validation=True,
    )
    for kind, fmt in TEXT_FORMATS.items():
        response = client.responses.create(model="gpt-4o", input=USER, text={"format": fmt})
        assert response.text is not None and response.text.format is not None
        assert response.text.format.type == kind
    tools = client.responses.create(
        model="gpt-4o",
        input="Weather in Oslo?",
        tools=RESPONSES_TOOLS,
        tool_choice="required",
    )
    assert tools.output
    for kind, fmt in FORMATS.items():
        chat = client.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            response_format=fmt,
            max_tokens=30,
        )
        assert chat.choices[0].message.content is not None, kind
    # The SDK asks for base64 by default and decodes it after validating, so its strict
    # mode cannot read base64 embeddings from any server: floats are asked for here.
    embedded = client.embeddings.create(
        model="text-embedding-3-small", input="a", encoding_format="float"
    )
    assert embedded.data
    assert client.completions.create(model="gpt-3.5-turbo-instruct", prompt="a", max_tokens=3)
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "unavailable"])
def test_scripted_fault_bodies_validate_strictly(fault: Any) -> None:
    """A scripted fault's error body is ``{"error": ErrorObject}`` too."""
    transport = OfflineTransport(seed=1)
    transport.faults.add(fault)
    with httpx2.Client(transport=transport, base_url=BASE) as client:
        reply = client.post("/chat/completions", json={"model": "gpt-4o", "messages": USER})
    assert reply.status_code >= 400
    strictly(model(ErrorObject), json.dumps(reply.json()["error"]))

"""Misuse of the client's arguments is a library error that names the argument (issue 23).

A fuzzer's second round found raw ``TypeError`` / ``AttributeError`` / ``ValueError`` from deep
inside the SDK for ``chat(None)``, ``use_case=None``, NaN in ``logit_bias``, a model name with a
line break; and ``tools=[SomePydanticModel]`` failed although the SDK's own helper accepts it.
Each case runs through every method of ``Client`` and ``AsyncClient``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

import llmpresets
from llmpresets import AsyncClient, Client

MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


class GetWeather(pydantic.BaseModel):
    """Get the current weather for a city."""

    city: str


def _call(client: Any, method: str, first: Any, **kwargs: Any) -> Any:
    """Call ``method`` of a sync or async client and drain a stream."""

    async def run_async() -> Any:
        result = await getattr(client, method)(first, **kwargs)
        if method.endswith("stream"):
            return [item async for item in result]
        return result

    if isinstance(client, AsyncClient):
        return asyncio.run(run_async())
    result = getattr(client, method)(first, **kwargs)
    return list(result) if method.endswith("stream") else result


def _first(method: str) -> Any:
    """A valid first argument for ``method``."""
    if method == "complete":
        return "What is the weather in Paris?"
    if method.startswith("respond"):
        return "What is the weather in Paris?"
    return MESSAGES


CLIENTS: list[Callable[[], Any]] = [
    lambda: Client(offline=True, seed=1),
    lambda: AsyncClient(offline=True, seed=1),
]
METHODS = ["chat", "complete", "stream", "respond", "respond_stream"]


@pytest.mark.parametrize("make", CLIENTS, ids=["sync", "async"])
@pytest.mark.parametrize("method", METHODS)
def test_none_as_the_conversation_names_the_argument(make: Callable[[], Any], method: str) -> None:
    """chat(None), complete(None), respond(None): a MessageFormatError naming the argument."""
    name = {"complete": "prompt", "respond": "input", "respond_stream": "input"}.get(
        method, "messages"
    )
    with pytest.raises(llmpresets.MessageFormatError, match=rf"^{name}: expected"):
        _call(make(), method, None)


@pytest.mark.parametrize("make", CLIENTS, ids=["sync", "async"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("use_case", [None, 3, ""])
def test_a_use_case_that_is_not_a_name_is_a_config_error(
    make: Callable[[], Any], method: str, use_case: Any
) -> None:
    """use_case=None was a raw TypeError from the header code; now it names use_case."""
    with pytest.raises(llmpresets.ConfigError, match=r"^use_case: ") as caught:
        _call(make(), method, _first(method), use_case=use_case)
    assert caught.value.field == "use_case"


@pytest.mark.parametrize("make", CLIENTS, ids=["sync", "async"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"logit_bias": {"15": float("nan")}}, r"logit_bias\['15'\]"),
        ({"extra_body": {"scores": [1.0, float("inf")]}}, r"extra_body\.scores\[1\]"),
        ({"temperature": float("nan")}, "temperature"),
    ],
)
def test_a_number_json_cannot_carry_names_its_path(
    make: Callable[[], Any], method: str, overrides: dict[str, Any], path: str
) -> None:
    """NaN / inf anywhere in the overrides: a ConfigError naming the value's path."""
    if method.startswith("respond") and "logit_bias" in overrides:
        overrides = {"extra_body": overrides}
        path = "extra_body." + path
    with pytest.raises(llmpresets.ConfigError, match=rf"^{path}: .* not a number JSON can carry"):
        _call(make(), method, _first(method), **overrides)


@pytest.mark.parametrize("make", CLIENTS, ids=["sync", "async"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model", ["gpt-4o\nHost: evil", "gpt-4o\x00", " gpt-4o", "", "a" * 300])
def test_a_model_name_that_is_not_one_word_is_refused(
    make: Callable[[], Any], method: str, model: str
) -> None:
    """A line break or control character in a model name never reaches a header or a log."""
    with pytest.raises(llmpresets.ConfigError, match=r"^model: ") as caught:
        _call(make(), method, _first(method), model=model)
    assert caught.value.field == "model"


def test_a_client_made_with_a_bad_model_name_refuses_at_the_first_call() -> None:
    """The client's own model is checked as a per-call one is."""
    client = Client("gpt-4o\r\nX", offline=True)
    with pytest.raises(llmpresets.ConfigError, match=r"^model: "):
        client.chat(MESSAGES)


@pytest.mark.parametrize("make", CLIENTS, ids=["sync", "async"])
@pytest.mark.parametrize("method", METHODS)
def test_a_pydantic_class_as_a_tool_becomes_a_strict_function_tool(
    make: Callable[[], Any], method: str
) -> None:
    """tools=[Model] is taken as openai.pydantic_function_tool(Model), on both endpoints."""
    result = _call(make(), method, _first(method), tools=[GetWeather], tool_choice="required")
    if method.endswith("stream"):
        return  # drained without error: the request was accepted
    if method.startswith("respond"):
        calls = [item for item in result.output if item.type == "function_call"]
        assert calls[0].name == "GetWeather"
        assert set(pydantic.TypeAdapter(dict[str, Any]).validate_json(calls[0].arguments)) == {
            "city"
        }
    else:
        call = result.choices[0].message.tool_calls[0]
        assert call.function.name == "GetWeather"
        GetWeather.model_validate_json(call.function.arguments)


@pytest.mark.parametrize("method", ["chat", "respond"])
@pytest.mark.parametrize("tools", [[GetWeather(city="Paris")], ["GetWeather"], "GetWeather", 3])
def test_a_tool_that_is_neither_a_dict_nor_a_model_class_is_named(method: str, tools: Any) -> None:
    """A tool of another kind is a ConfigError naming tools (and its index)."""
    with pytest.raises(llmpresets.ConfigError, match=r"^tools(\[0\])?: expected"):
        _call(Client(offline=True), method, _first(method), tools=tools)

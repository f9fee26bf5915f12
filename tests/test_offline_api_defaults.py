"""What the API accepts the offline backend accepts: fields the API reference makes optional
though the SDK's TypedDicts mark them ``Required``, and refusals named as each endpoint names
its fields."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from offline_sdk import sdk

from llmpresets.offline import OfflineTransport

LOOSE: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
}


def client() -> openai.OpenAI:
    return sdk(OfflineTransport(seed=4))


def respond(**request: Any) -> Any:
    """``responses.create`` typed loosely (the point is what the SDK's types call wrong)."""
    return client().responses.create(**request)


def message(error: openai.APIStatusError) -> str:
    """The error body's own message (the SDK's adds the status in front)."""
    body: Any = error.body
    return str(body["message"])


@pytest.mark.parametrize("strict", ["absent", None])
def test_responses_function_tool_without_strict_is_strict_by_default(strict: Any) -> None:
    """No ``strict`` (or ``null``): accepted, and strict as the API's default, the schema
    normalized into strict mode (closed, every property required) and echoed so."""
    tool: dict[str, Any] = {"type": "function", "name": "forecast", "parameters": LOOSE}
    if strict is None:
        tool["strict"] = None
    response = respond(
        model="gpt-4o",
        input="Forecast for Oslo?",
        tools=[tool],
        tool_choice="required",
    )
    echoed = response.tools[0]
    assert echoed.type == "function" and echoed.strict is True
    assert echoed.parameters is not None
    assert echoed.parameters["additionalProperties"] is False
    assert echoed.parameters["required"] == ["city", "days"]
    call = next(item for item in response.output if item.type == "function_call")
    assert set(json.loads(call.arguments)) == {"city", "days"}


def test_responses_function_tool_whose_schema_cannot_be_strict_stays_best_effort() -> None:
    """No ``strict`` and a schema strict mode cannot hold (``minLength``): not refused, the
    tool runs non-strict, as the API does where normalization is not possible."""
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {"city": {"type": "string", "minLength": 2}},
        "required": ["city"],
    }
    response = respond(
        model="gpt-4o",
        input="Forecast for Oslo?",
        tools=[{"type": "function", "name": "forecast", "parameters": parameters}],
        tool_choice="required",
    )
    assert response.tools[0].strict is False
    assert any(item.type == "function_call" for item in response.output)


def test_responses_function_tool_with_strict_false_is_not_normalized() -> None:
    """``strict: false`` is the caller's opt-out: the schema is kept as sent."""
    response = respond(
        model="gpt-4o",
        input="Forecast for Oslo?",
        tools=[{"type": "function", "name": "forecast", "parameters": LOOSE, "strict": False}],
    )
    assert response.tools[0].strict is False
    assert response.tools[0].parameters == LOOSE


def test_responses_function_tool_still_needs_parameters() -> None:
    """``parameters`` is required (nullable) in the reference: its absence stays the 400."""
    with pytest.raises(openai.BadRequestError) as caught:
        respond(
            model="gpt-4o",
            input="Hi",
            tools=[{"type": "function", "name": "forecast"}],
        )
    assert caught.value.param == "tools[0].parameters"


def test_responses_strict_schema_refusal_names_text_format() -> None:
    """A strict ``text.format`` schema breaking the rules: the refusal names ``text.format``."""
    with pytest.raises(openai.BadRequestError) as caught:
        respond(
            model="gpt-4o",
            input="Hi",
            text={
                "format": {
                    "type": "json_schema",
                    "name": "thing",
                    "strict": True,
                    "schema": LOOSE,
                }
            },
        )
    assert message(caught.value).startswith("Invalid schema for text.format 'thing': ")
    assert "response_format" not in message(caught.value)
    assert caught.value.param == "text.format.schema"


def test_chat_strict_schema_refusal_still_names_response_format() -> None:
    """Chat completions keeps its own field's name, ``response_format``."""
    chat: Any = client().chat.completions
    with pytest.raises(openai.BadRequestError) as caught:
        chat.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Hi"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "thing", "strict": True, "schema": LOOSE},
            },
        )
    assert message(caught.value).startswith("Invalid schema for response_format 'thing': ")
    assert caught.value.param == "response_format"

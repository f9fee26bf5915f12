"""The offline backend refuses what the API refuses, by the SDK's own request types, and
bounds the work of what it accepts."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from llmpresets.offline import OfflineTransport
from llmpresets.offline.api.limits import MAX_TOKENS_PER_REQUEST, UNKNOWN_MODEL_MAX_OUTPUT

MESSAGES = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def client() -> httpx2.Client:
    return httpx2.Client(transport=OfflineTransport(seed=1), base_url="http://offline.test/v1")


def post(client: httpx2.Client, body: Any, raw: bytes | None = None) -> httpx2.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    return client.post("/chat/completions", content=content)


# Each: extra body fields, the param the 400 names, and its code.
JUNK = [
    ({"response_format": "junk"}, "response_format", "invalid_type"),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema", None),
    ({"response_format": {"type": "xml"}}, "response_format.type", "invalid_value"),
    ({"metadata": 5}, "metadata", "invalid_type"),
    ({"metadata": {"k": 1}}, "metadata.k", "invalid_type"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", None),
    ({"store": "x"}, "store", "invalid_type"),
    ({"service_tier": "zzz"}, "service_tier", "invalid_value"),
    ({"reasoning_effort": 7}, "reasoning_effort", "invalid_type"),
    ({"verbosity": "loud"}, "verbosity", None),
    ({"tools": TOOLS, "tool_choice": 5}, "tool_choice", "invalid_type"),
    ({"tools": TOOLS, "tool_choice": "sometimes"}, "tool_choice", None),
    ({"tools": TOOLS, "parallel_tool_calls": "yes"}, "parallel_tool_calls", "invalid_type"),
    ({"stream": True, "stream_options": {"include_usage": True, "x": 1}}, "stream_options.x", None),
    ({"user": 5}, "user", "invalid_type"),
    ({"prompt_cache_key": ["a"]}, "prompt_cache_key", "invalid_type"),
    ({"safety_identifier": 3}, "safety_identifier", "invalid_type"),
    ({"modalities": "text"}, "modalities", "invalid_type"),
    ({"modalities": ["smell"]}, "modalities[0]", "invalid_value"),
    ({"prediction": {"type": "content"}}, "prediction.content", None),
    ({"web_search_options": {"size": 1}}, "web_search_options.size", "unknown_parameter"),
    ({"messages": [{"role": "assistant"}]}, "messages[0].content", None),
    ({"messages": [{"role": "user", "content": []}]}, "messages[0].content", "empty_array"),
    ({"messages": [{"role": "user", "content": "x", "x": 1}]}, "messages[0].x", None),
    ({"messages": [{"role": "user", "name": 5, "content": "x"}]}, "messages[0].name", None),
    (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]},
        "messages[0].content[0].text",
        "invalid_type",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        "messages[0].content[0].image_url",
        "missing_required_parameter",
    ),
    ({"tools": [{"type": "function", "function": {"name": "f", "strict": "y"}}]}, None, None),
    ({"tools": [{"type": "function", "function": {"name": "f"}, "x": 1}]}, "tools[0].x", None),
    ({"function_call": 3}, "function_call", "invalid_type"),
    ({"audio": {"voice": "alloy"}}, "audio.format", "missing_required_parameter"),
    ({"prompt_cache_retention": "forever"}, "prompt_cache_retention", "invalid_value"),
]


@pytest.mark.parametrize(("extra", "param", "code"), JUNK, ids=[str(j[0])[:40] for j in JUNK])
def test_junk_the_api_refuses_is_a_400_naming_the_param(
    client: httpx2.Client, extra: dict[str, Any], param: str | None, code: str | None
) -> None:
    """Each wrongly typed or invalid value the fuzzer got a 200 for is now the API's 400."""
    response = post(client, {"model": "gpt-4o", "messages": MESSAGES, **extra})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error


def test_valid_requests_of_every_shape_still_pass(client: httpx2.Client) -> None:
    """Content parts, tools with a choice, json_schema, metadata: all accepted as before."""
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "http://x/a.png", "detail": "low"}},
                ],
            },
        ],
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "metadata": {"k": "v"},
        "store": False,
        "service_tier": "auto",
        "max_tokens": 5,
    }
    assert post(client, body).status_code == 200
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    body = {"model": "gpt-4o", "messages": MESSAGES, "response_format": schema, "max_tokens": 20}
    assert post(client, body).status_code == 200


def test_raw_surrogate_bytes_are_a_400(client: httpx2.Client) -> None:
    """UTF-8-encoded surrogates in the body are the API's parse error, not UnicodeEncodeError."""
    raw = b'{"model":"gpt-4o","messages":[{"role":"user","content":"\xed\xa0\x80"}]}'
    response = post(client, None, raw=raw)
    assert response.status_code == 400
    assert "could not parse the JSON body" in response.json()["error"]["message"]


def test_an_unknown_model_has_an_output_limit(client: httpx2.Client) -> None:
    """max_tokens=2**31-1 for a model the registry lacks is the API's 'too large' 400."""
    body = {"model": "my-own-model", "messages": MESSAGES, "max_tokens": 2**31 - 1}
    response = post(client, body)
    assert response.status_code == 400
    assert f"at most {UNKNOWN_MODEL_MAX_OUTPUT}" in response.json()["error"]["message"]


def test_generated_tokens_per_request_are_capped_with_n_included(client: httpx2.Client) -> None:
    """n=128 choices share MAX_TOKENS_PER_REQUEST: each stops at its share with 'length'."""
    body = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "n": 128,
        "max_tokens": 16_000,
        "ignore_eos": True,
    }
    reply = post(client, body).json()
    share = MAX_TOKENS_PER_REQUEST // 128
    assert len(reply["choices"]) == 128
    assert all(choice["finish_reason"] == "length" for choice in reply["choices"])
    assert reply["usage"]["completion_tokens"] <= MAX_TOKENS_PER_REQUEST
    assert reply["usage"]["completion_tokens"] == 128 * share


def test_logprob_entries_keep_the_sdk_shape(client: httpx2.Client) -> None:
    """Entries put back after validating the first one are exactly what the SDK would dump."""
    from openai.types.chat import ChatCompletion

    body = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "max_tokens": 30,
        "ignore_eos": True,
        "n": 2,
        "logprobs": True,
        "top_logprobs": 20,
    }
    reply = post(client, body).json()
    again = ChatCompletion.model_validate(reply).model_dump(mode="json", exclude_unset=True)
    assert again == reply
    assert all(len(choice["logprobs"]["content"]) == 30 for choice in reply["choices"])

"""Item counts are capped before any per-item work, with the API's 400 (issue 23).

A fuzzer sent 100,000 tiny messages and waited 20 s (about 240 us an item) for an answer. The
API caps tools and tool calls at 128 (its errors say so); it states no cap for messages or
Responses input items, so the offline backend takes a conservative 10,000 (docs/limits.md).
``benchmarks/bench_shapes.py`` measures the time per item.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from llmpresets import OfflineTransport
from llmpresets.offline.api.limits import MAX_INPUT_ITEMS, MAX_TOOL_CALLS, MAX_TOOLS

TINY = {"role": "user", "content": "hi"}
TOOL = {
    "type": "function",
    "function": {"name": "f", "parameters": {"type": "object", "properties": {}}},
}
RESPONSES_TOOL = {"type": "function", "name": "f", "parameters": {"type": "object"}}


@pytest.fixture(scope="module")
def http() -> httpx2.Client:
    return httpx2.Client(transport=OfflineTransport(seed=0), base_url="http://offline.test/v1")


def refused(http: httpx2.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(path, json=body)
    assert answer.status_code == 400, answer.text[:300]
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == "array_above_max_length"
    return error


def test_too_many_chat_messages_is_the_apis_400(http: httpx2.Client) -> None:
    """10,001 messages: 'array too long', param messages, before any message is read."""
    body = {"model": "gpt-4.1", "messages": [TINY] * (MAX_INPUT_ITEMS + 1), "max_tokens": 2}
    error = refused(http, "/chat/completions", body)
    assert error["param"] == "messages"
    assert error["message"] == (
        "Invalid 'messages': array too long. Expected an array with maximum length 10000, "
        "but got an array with length 10001 instead."
    )


def test_the_cap_itself_is_accepted(http: httpx2.Client) -> None:
    """Exactly MAX_INPUT_ITEMS messages are answered."""
    body = {"model": "gpt-4.1", "messages": [TINY] * MAX_INPUT_ITEMS, "max_tokens": 2}
    assert http.post("/chat/completions", json=body).status_code == 200


def test_too_many_responses_input_items_is_the_apis_400(http: httpx2.Client) -> None:
    """The same cap on /responses input, param input (and on /responses/input_tokens)."""
    body = {"model": "gpt-4.1", "input": [TINY] * (MAX_INPUT_ITEMS + 1)}
    assert refused(http, "/responses", body)["param"] == "input"
    assert refused(http, "/responses/input_tokens", body)["param"] == "input"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/completions", {"model": "gpt-4o", "messages": [TINY], "tools": [TOOL] * 129}),
        ("/responses", {"model": "gpt-4o", "input": "hi", "tools": [RESPONSES_TOOL] * 129}),
    ],
)
def test_more_than_128_tools_is_the_apis_400(
    http: httpx2.Client, path: str, body: dict[str, Any]
) -> None:
    """The API's documented cap on tools, with its wording."""
    assert MAX_TOOLS == 128
    error = refused(http, path, body)
    assert error["param"] == "tools"
    assert "maximum length 128, but got an array with length 129" in error["message"]


def test_more_than_128_tool_calls_in_a_message_is_the_apis_400(http: httpx2.Client) -> None:
    """messages[i].tool_calls past 128: the API's error names the message."""
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assistant = {"role": "assistant", "tool_calls": [call] * (MAX_TOOL_CALLS + 1)}
    body = {"model": "gpt-4o", "messages": [TINY, assistant], "max_tokens": 2}
    assert refused(http, "/chat/completions", body)["param"] == "messages[1].tool_calls"


def test_top_logprobs_shrink_the_per_request_token_cap() -> None:
    """k alternatives per token: at most 131,072 // (1 + k) tokens a request, n included."""
    from llmpresets import get_model
    from llmpresets.offline.api.chat.parse import parse_request

    body = {
        "model": "gpt-4o",
        "messages": [TINY],
        "max_tokens": 16_000,
        "n": 2,
        "logprobs": True,
        "top_logprobs": 20,
    }
    assert parse_request(body, get_model).max_tokens == 131_072 // 21 // 2
    plain = {key: value for key, value in body.items() if "logprobs" not in key}
    assert parse_request(plain, get_model).max_tokens == 16_000

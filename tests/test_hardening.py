"""What a fuzzer found, pinned: malformed replies, bounds and foreign exceptions."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

import llmpresets
from llmpresets import Client

MESSAGES = [{"role": "user", "content": "Say hello"}]


class Fixed(httpx2.BaseTransport):
    """Answers every request with the same 200 body."""

    def __init__(self, body: Any, *, stream: bool = False) -> None:
        self.body = body
        self.stream = stream

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.stream:
            data = f"data: {httpx2.Response(200, json=self.body).text}\n\ndata: [DONE]\n\n"
            return httpx2.Response(
                200, content=data.encode(), headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(200, json=self.body)


@pytest.mark.parametrize(
    "body",
    [
        {"choices": "nope"},
        [],
        "text",
        {"choices": [{"message": 5}]},
        {"choices": [None]},
        {"choices": [{"index": 0}], "usage": 3},
    ],
)
def test_a_200_of_the_wrong_shape_is_an_incomplete_response(body: Any) -> None:
    """chat() turns a malformed 200 body into IncompleteResponseError, never AttributeError."""
    client = Client("gpt-4o", api_key="sk-test", transport=Fixed(body), max_retries=0)
    with pytest.raises(llmpresets.IncompleteResponseError):
        client.chat(MESSAGES)


@pytest.mark.parametrize(
    "body",
    [{"choices": "nope"}, {"choices": [{"delta": 5, "index": 0}]}, {"choices": [3]}],
)
def test_a_streamed_chunk_of_the_wrong_shape_is_an_incomplete_response(body: Any) -> None:
    """stream() turns a malformed chunk into IncompleteResponseError, never AttributeError."""
    client = Client("gpt-4o", api_key="sk-test", transport=Fixed(body, stream=True), max_retries=0)
    with pytest.raises(llmpresets.IncompleteResponseError):
        list(client.stream(MESSAGES))

"""Reasoning models on /chat/completions offline: reasoning tokens counted as the API counts
them (in completion_tokens and completion_tokens_details, against max_completion_tokens)."""

from __future__ import annotations

from typing import Any

from offline_sdk import sdk

from llmpresets.offline import OfflineTransport

USER: list[Any] = [{"role": "user", "content": "Write a sort function"}]


def test_reasoning_tokens_grow_with_the_effort_and_are_zero_at_none() -> None:
    """The documented rule: none 0 < low < medium (the default) < high."""
    client = sdk(OfflineTransport(seed=0))
    spent: dict[str, int] = {}
    for effort in ("none", "low", "medium", "high"):
        reply = client.chat.completions.create(
            model="gpt-6-sol", messages=USER, reasoning_effort=effort, seed=1
        )
        assert reply.usage is not None and reply.usage.completion_tokens_details is not None
        spent[effort] = reply.usage.completion_tokens_details.reasoning_tokens or 0
        assert reply.usage.completion_tokens > spent[effort]  # the text comes after
    assert spent["none"] == 0 < spent["low"] < spent["medium"] < spent["high"]
    default = client.chat.completions.create(model="gpt-6-sol", messages=USER, seed=1)
    assert default.usage is not None and default.usage.completion_tokens_details is not None
    assert default.usage.completion_tokens_details.reasoning_tokens == spent["medium"]


def test_a_small_budget_ends_in_length_before_any_text() -> None:
    """Reasoning counts against max_completion_tokens: 100 tokens at medium leave no text."""
    client = sdk(OfflineTransport(seed=0))
    reply = client.chat.completions.create(
        model="gpt-6-sol", messages=USER, max_completion_tokens=100, seed=1
    )
    assert reply.choices[0].finish_reason == "length"
    assert not reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens == 100


def test_streamed_equals_plain_with_reasoning() -> None:
    """Same seed and request: the streamed text and usage equal the plain reply's."""
    client = sdk(OfflineTransport(seed=0))
    request: dict[str, Any] = {
        "model": "gpt-5.1",
        "messages": USER,
        "reasoning_effort": "high",
        "max_completion_tokens": 600,
        "seed": 4,
    }
    plain = client.chat.completions.create(**request)
    chunks = list(
        client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].usage == plain.usage


SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "summary": {"type": "string"}},
    "required": ["title", "summary"],
    "additionalProperties": False,
}
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    },
}


def test_structured_replies_keep_to_what_reasoning_leaves_of_the_cap() -> None:
    """JSON and tool-call replies of a reasoning model spend at most the explicit cap, its
    reasoning tokens included, as free text does (192 reasoning tokens at effort medium leave
    6 of 198)."""
    client = sdk(OfflineTransport(seed=0))
    formats: list[dict[str, Any]] = [
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "n", "schema": SCHEMA},
            }
        },
        {"tools": [TOOL], "tool_choice": "required"},
    ]
    for extra in formats:
        for seed in range(4):
            reply = client.chat.completions.create(
                model="gpt-5",
                messages=[{"role": "user", "content": "Write a note in JSON"}],
                reasoning_effort="medium",
                max_completion_tokens=198,
                seed=seed,
                **extra,
            )
            assert reply.usage is not None
            assert reply.usage.completion_tokens_details is not None
            assert reply.usage.completion_tokens_details.reasoning_tokens == 192
            assert reply.usage.completion_tokens <= 198, (extra, seed)
            assert reply.choices[0].finish_reason == "length"

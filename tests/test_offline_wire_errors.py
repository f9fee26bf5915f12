"""OfflineTransport's answers to invalid requests, through the real openai SDK.

Huge numbers, unknown body fields, tool turns that answer nothing, tools errors and text no
UTF-8 can carry: each is a 400 in the API's shape, never an exception out of the transport.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import openai
import pytest
from offline_sdk import sdk as offline_sdk
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from llmpresets.offline import OfflineTransport
from llmpresets.offline.api.chat.parse import accepted_fields
from llmpresets.tokens.encodings import get_encoding

HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Tell me about dragons."}]
TOOL: Any = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}
CALL: Any = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
PARSE_ERROR = "We could not parse the JSON body of your request."


def sdk(transport: OfflineTransport | None = None) -> openai.OpenAI:
    return offline_sdk(transport or OfflineTransport())


def error_of(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    body = caught.value.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
    assert body["type"] == "invalid_request_error"
    return caught.value.status_code, body


def create_error(**params: Any) -> tuple[int, dict[str, Any]]:
    client = sdk()
    params = {"model": "gpt-4o", "messages": HI, "max_tokens": 5, **params}
    return error_of(lambda: client.chat.completions.create(**params))


def post_error(content: bytes) -> tuple[int, dict[str, Any]]:
    """Send raw bytes as the body, through the SDK's own request path."""
    client = sdk()
    return error_of(
        lambda: client.post("/chat/completions", cast_to=ChatCompletion, content=content)
    )


# --------------------------------------------------------------------------- numbers

HUGE = 10**400


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        ({"seed": HUGE}, "seed", "integer_above_max_value"),
        ({"seed": -HUGE}, "seed", "integer_below_min_value"),
        ({"seed": 2**63}, "seed", "integer_above_max_value"),
        ({"temperature": HUGE}, "temperature", "decimal_above_max_value"),
        ({"top_p": HUGE}, "top_p", "decimal_above_max_value"),
        ({"top_p": -HUGE}, "top_p", "decimal_below_min_value"),
        ({"n": HUGE}, "n", "integer_above_max_value"),
        ({"max_tokens": HUGE}, "max_tokens", "integer_above_max_value"),
        ({"max_completion_tokens": HUGE}, "max_completion_tokens", "integer_above_max_value"),
        ({"frequency_penalty": HUGE}, "frequency_penalty", "decimal_above_max_value"),
        ({"presence_penalty": -HUGE}, "presence_penalty", "decimal_below_min_value"),
        ({"logprobs": True, "top_logprobs": HUGE}, "top_logprobs", "integer_above_max_value"),
        ({"logit_bias": {"12": HUGE}}, "logit_bias", "decimal_above_max_value"),
        ({"extra_body": {"top_k": HUGE}}, "top_k", "integer_above_max_value"),
        ({"extra_body": {"min_p": HUGE}}, "min_p", "decimal_above_max_value"),
    ],
)
def test_huge_number_is_a_400_naming_the_parameter(
    extra: dict[str, Any], param: str, code: str
) -> None:
    """A number of any size is range-checked exactly: 400 with its param and code, no overflow."""
    status, body = create_error(**extra)
    assert (status, body["param"], body["code"]) == (400, param, code)


def test_huge_number_is_shown_in_e_notation() -> None:
    """The message gives the bound and the value as the API words it, 10**400 as 1e+400."""
    _, body = create_error(temperature=HUGE)
    assert body["message"] == (
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got "
        "1e+400 instead."
    )


def test_largest_int64_seed_is_accepted() -> None:
    """seed fits a signed 64-bit integer: both ends of that range are answered."""
    client = sdk()
    for seed in (2**63 - 1, -(2**63)):
        reply = client.chat.completions.create(model="gpt-4o", messages=HI, seed=seed, max_tokens=3)
        assert reply.choices[0].message.content is not None


@pytest.mark.parametrize("field", ["seed", "temperature", "max_tokens", "n"])
def test_infinite_float_in_raw_json_is_a_400(field: str) -> None:
    """``1e400`` in the JSON text (read as infinity) is out of range, not a crash."""
    content = (
        b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"'
        + field.encode()
        + b'":1e400}'
    )
    status, body = post_error(content)
    assert (status, body["param"]) == (400, field)
    assert body["code"].endswith("_above_max_value")


def test_nan_literal_is_not_json() -> None:
    """``NaN`` (which Python's json reads) is not JSON: the API's parse error."""
    status, body = post_error(b'{"model":"gpt-4o","messages":[],"temperature":NaN}')
    assert status == 400 and body["message"].startswith(PARSE_ERROR)


# --------------------------------------------------------------------------- unknown fields


def test_unknown_body_field_is_unrecognized_argument() -> None:
    """A field the API does not define gets the API's exact 400 body."""
    status, body = create_error(extra_body={"frobnicate": 1})
    assert status == 400
    assert body == {
        "message": "Unrecognized request argument supplied: frobnicate",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_several_unknown_fields_are_listed_together() -> None:
    """Two unknown fields: the plural message names both, in the body's order."""
    _, body = create_error(extra_body={"frobnicate": 1, "zap": True})
    assert body["message"] == "Unrecognized request arguments supplied: frobnicate, zap"


def test_accepted_fields_are_the_sdks_params_and_the_vllm_extras() -> None:
    """The accepted set is derived from the SDK's create params, plus stream and the extras."""
    from openai.types.chat.completion_create_params import CompletionCreateParamsBase

    expected = set(CompletionCreateParamsBase.__annotations__) | {
        "stream",
        "top_k",
        "min_p",
        "ignore_eos",
    }
    assert accepted_fields() == expected


def test_sdk_fields_and_vllm_extras_are_answered() -> None:
    """Fields of the SDK's params and the vLLM-style extras this backend honours pass."""
    reply = sdk().chat.completions.create(
        model="gpt-4o",
        messages=HI,
        max_tokens=3,
        user="someone",
        store=False,
        metadata={"k": "v"},
        extra_body={"top_k": 5, "min_p": 0.01, "ignore_eos": False},
    )
    assert reply.choices[0].message.content is not None


# --------------------------------------------------------------------------- tool turns


def test_tool_message_without_tool_calls_before_it_is_a_400() -> None:
    """A tool message must answer a preceding assistant message's tool_calls (API wording)."""
    messages = [*HI, {"role": "tool", "tool_call_id": "call_1", "content": "42"}]
    status, body = create_error(messages=messages)
    assert (status, body["param"], body["code"]) == (400, "messages.[1].role", None)
    assert body["message"] == (
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
        "message with 'tool_calls'."
    )


def test_tool_message_needs_tool_call_id() -> None:
    """A tool message without tool_call_id is missing_required_parameter."""
    messages = [*HI, {"role": "assistant", "tool_calls": [CALL]}, {"role": "tool", "content": "x"}]
    status, body = create_error(messages=messages, tools=[TOOL])
    assert (status, body["param"], body["code"]) == (
        400,
        "messages[2].tool_call_id",
        "missing_required_parameter",
    )


def test_tool_call_id_must_name_a_call_of_the_previous_message() -> None:
    """A tool_call_id the assistant message did not make is a 400 naming that message's id."""
    messages = [
        *HI,
        {"role": "assistant", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_9", "content": "x"},
    ]
    status, body = create_error(messages=messages, tools=[TOOL])
    assert (status, body["param"]) == (400, "messages.[2].tool_call_id")
    assert "'call_9' not found" in body["message"]


def test_unanswered_tool_calls_are_a_400() -> None:
    """Every tool call needs a tool message before the next other message."""
    messages = [*HI, {"role": "assistant", "tool_calls": [CALL]}, *HI]
    status, body = create_error(messages=messages, tools=[TOOL])
    assert (status, body["param"]) == (400, "messages.[1].role")
    assert body["message"].endswith("did not have response messages: call_1")


def test_answered_tool_calls_are_accepted() -> None:
    """An assistant's tool calls, each answered by a tool message, make a valid conversation."""
    second = {**CALL, "id": "call_2"}
    messages: list[Any] = [
        *HI,
        {"role": "assistant", "content": None, "tool_calls": [CALL, second]},
        {"role": "tool", "tool_call_id": "call_2", "content": "b"},
        {"role": "tool", "tool_call_id": "call_1", "content": "a"},
    ]
    reply = sdk().chat.completions.create(
        model="gpt-4o", messages=messages, tools=[TOOL], tool_choice="auto", max_tokens=3
    )
    assert reply.choices[0].message.content is not None


def test_tool_choice_without_tools_is_a_400() -> None:
    """tool_choice is only allowed with tools (the API's message, param tool_choice)."""
    status, body = create_error(tool_choice="auto")
    assert (status, body["param"]) == (400, "tool_choice")
    assert body["message"] == (
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
    )


@pytest.mark.parametrize(
    ("tools", "param", "code"),
    [
        ([], "tools", "empty_array"),
        ([{"type": "function"}], "tools[0].function", "missing_required_parameter"),
        ([{"function": {"name": "f"}}], "tools[0].type", "missing_required_parameter"),
        ([{"type": "retrieval"}], "tools[0].type", "invalid_value"),
        (
            [{"type": "function", "function": {"name": "f" * 65}}],
            "tools[0].function.name",
            "string_above_max_length",
        ),
        (
            [TOOL, {"type": "function", "function": {"name": "a b"}}],
            "tools[1].function.name",
            "invalid_value",
        ),
        (
            [
                {
                    "type": "function",
                    "function": {"name": "f", "parameters": {"properties": {"x": 1}}},
                }
            ],
            "tools[0]",
            None,
        ),
    ],
)
def test_tools_errors_name_the_tools_parameter(
    tools: list[Any], param: str, code: str | None
) -> None:
    """An invalid tool definition is a 400 whose param points into tools, not messages."""
    status, body = create_error(tools=tools)
    assert (status, body["param"], body["code"]) == (400, param, code)


# --------------------------------------------------------------------------- unencodable text


def test_lone_surrogate_escape_is_a_parse_error() -> None:
    """``"\\ud800"`` (text no UTF-8 can carry) is the API's 400 parse error, not a crash."""
    status, body = post_error(
        b'{"model":"gpt-4o","messages":[{"role":"user","content":"a\\ud800b"}]}'
    )
    assert (status, body["param"]) == (400, None)
    assert body["message"].startswith(PARSE_ERROR)


def test_escaped_surrogate_pair_is_ordinary_text() -> None:
    """A surrogate pair escape is one character (an emoji) and is answered."""
    reply = sdk().post(
        "/chat/completions",
        cast_to=ChatCompletion,
        content=b'{"model":"gpt-4o","max_tokens":2,'
        b'"messages":[{"role":"user","content":"\\ud83d\\ude00 hi"}]}',
    )
    assert reply.choices[0].message.content is not None


def test_nesting_too_deep_to_read_is_a_parse_error() -> None:
    """JSON nested past the parser's depth is a 400 parse error, not a RecursionError."""
    status, body = post_error(b"[" * 100_000)
    assert status == 400 and body["message"].startswith(PARSE_ERROR)


# --------------------------------------------------------------------------- logit_bias


def test_logit_bias_of_minus_100_bans_a_token() -> None:
    """The greedy reply's first token, biased by -100, is never the first token again."""
    client = sdk()
    params: dict[str, Any] = {
        "model": "gpt-4o",
        "messages": HI,
        "temperature": 0,
        "max_tokens": 1,
        "logprobs": True,
    }
    first = client.chat.completions.create(**params)
    assert first.choices[0].logprobs is not None
    entries = first.choices[0].logprobs.content
    assert entries
    token = get_encoding("o200k_base").encode_single_token(bytes(entries[0].bytes or []))
    banned = client.chat.completions.create(**params, logit_bias={str(token): -100})
    assert banned.choices[0].message.content != first.choices[0].message.content


def test_logit_bias_of_plus_100_forces_a_token() -> None:
    """A +100 bias makes an unlikely token the only one sampled."""
    encoding = get_encoding("o200k_base")
    likely, forced = encoding.encode(" no")[0], encoding.encode(" yes")[0]

    def source(context: Sequence[int]) -> np.ndarray:
        logits = np.full(encoding.n_vocab, -50.0)
        logits[likely] = 0.0
        return logits

    reply = sdk(OfflineTransport(source=source)).chat.completions.create(
        model="gpt-4o", messages=HI, seed=0, max_tokens=3, logit_bias={str(forced): 100}
    )
    assert reply.choices[0].message.content == " yes yes yes"


@pytest.mark.parametrize("key", ["abc", "-1", "99999999"])
def test_logit_bias_key_must_be_a_token_id(key: str) -> None:
    """A key that is not a token id of the model's tokenizer is 400 naming logit_bias."""
    status, body = create_error(logit_bias={key: 1})
    assert (status, body["param"], body["code"]) == (400, "logit_bias", "invalid_value")
    assert body["message"].startswith(f"Invalid key in 'logit_bias': {key}.")


def test_top_p_zero_is_accepted_and_greedy() -> None:
    """top_p=0 is in the API's range: it keeps only the most likely token, like temperature 0."""
    client = sdk()
    params: dict[str, Any] = {"model": "gpt-4o", "messages": HI, "max_tokens": 20}
    greedy = client.chat.completions.create(**params, seed=1, temperature=0)
    nucleus = client.chat.completions.create(**params, seed=2, top_p=0)
    assert nucleus.choices[0].message.content == greedy.choices[0].message.content

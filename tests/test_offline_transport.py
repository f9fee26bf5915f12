"""OfflineTransport through the real openai SDK: wire format, streaming, determinism, errors."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx2
import numpy as np
import openai
import pytest
from offline_sdk import BASE_URL, async_sdk, sdk
from openai.types.chat import ChatCompletionMessageParam

from llmpresets import count_message_tokens, load_presets
from llmpresets.offline import OfflineTransport


def user(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


STORY = user("Tell me a story about a dragon.")
CODE = user("Write a Python function that returns the largest item.")


def raw(transport: OfflineTransport) -> httpx2.Client:
    return httpx2.Client(transport=transport, base_url=BASE_URL)


def collect(stream: Any) -> tuple[str, str | None, Any, list[Any]]:
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = next(
        (c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason),
        None,
    )
    usage = next((c.usage for c in chunks if c.usage is not None), None)
    return text, finish, usage, chunks


# --------------------------------------------------------------------------- wire format


def test_sdk_parses_a_plain_completion_with_every_field() -> None:
    """A non-streamed reply parses into the SDK's ChatCompletion with id, usage and choices."""
    reply = sdk(OfflineTransport(seed=0)).chat.completions.create(
        model="gpt-4o", messages=STORY, max_tokens=20
    )
    assert reply.id.startswith("chatcmpl-")
    assert reply.object == "chat.completion"
    assert reply.model == "gpt-4o"
    assert reply.system_fingerprint and reply.system_fingerprint.startswith("fp_")
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage is not None
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_any_base_url_prefix_is_served() -> None:
    """Routing is on the path's tail, so a gateway-style base URL works too."""
    client = sdk(OfflineTransport(seed=0), base_url="http://gateway.local/openai/deployments/v1")
    reply = client.chat.completions.create(model="gpt-4o", messages=STORY, max_tokens=3)
    assert reply.choices[0].message.content


def test_usage_counts_prompt_with_the_models_tokenizer() -> None:
    """prompt_tokens is count_message_tokens of the request; completion_tokens the ids made."""
    for model in ("gpt-4o", "gpt-4"):
        reply = sdk(OfflineTransport(seed=1)).chat.completions.create(
            model=model, messages=STORY, max_tokens=7
        )
        assert reply.usage is not None
        assert reply.usage.prompt_tokens == count_message_tokens(STORY, model)
        assert reply.usage.completion_tokens <= 7


def test_stream_joins_to_the_plain_reply_with_the_same_usage() -> None:
    """Streamed and plain outputs for one seed and request are identical, usage included."""
    client = sdk(OfflineTransport())
    params: dict[str, Any] = {"model": "gpt-4o", "messages": STORY, "seed": 11, "max_tokens": 60}
    plain = client.chat.completions.create(**params)
    text, finish, usage, _ = collect(
        client.chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True}
        )
    )
    assert text == plain.choices[0].message.content
    assert finish == plain.choices[0].finish_reason
    assert usage == plain.usage


def test_stream_events_follow_the_sse_protocol() -> None:
    """SSE lines end in [DONE]; with include_usage every chunk has usage null but the last."""
    body = {
        "model": "gpt-4o",
        "messages": STORY,
        "seed": 1,
        "max_tokens": 5,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = raw(OfflineTransport()).post("/chat/completions", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.text.split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)


def test_stream_without_include_usage_has_no_usage_field() -> None:
    """Without stream_options.include_usage no chunk carries a usage key."""
    body = {"model": "gpt-4o", "messages": STORY, "seed": 1, "max_tokens": 5, "stream": True}
    response = raw(OfflineTransport()).post("/chat/completions", json=body)
    chunks = [
        json.loads(e.removeprefix("data: "))
        for e in response.text.split("\n\n")
        if e and e != "data: [DONE]"
    ]
    assert all("usage" not in chunk for chunk in chunks)


def test_async_client_gets_the_sync_reply() -> None:
    """The async SDK, plain and streamed, gets exactly what the sync SDK gets."""
    params: dict[str, Any] = {"model": "gpt-4o", "messages": STORY, "seed": 5, "max_tokens": 40}
    expected = sdk(OfflineTransport()).chat.completions.create(**params)

    async def run() -> tuple[Any, str]:
        client = async_sdk(OfflineTransport())
        plain = await client.chat.completions.create(**params)
        stream = await client.chat.completions.create(**params, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        await client.close()
        return plain, text

    plain, streamed = asyncio.run(run())
    assert plain.model_dump() == expected.model_dump()
    assert streamed == expected.choices[0].message.content


# --------------------------------------------------------------------------- determinism


def test_seeded_request_is_a_pure_function_of_seed_and_request() -> None:
    """Two fresh transports answer a seeded request with the same body, id and created too."""
    params: dict[str, Any] = {"model": "gpt-4o", "messages": STORY, "seed": 42, "max_tokens": 30}
    first = sdk(OfflineTransport()).chat.completions.create(**params)
    second = sdk(OfflineTransport(seed=999)).chat.completions.create(**params)
    assert first.model_dump() == second.model_dump()


def test_seeded_transport_repeats_its_sequence() -> None:
    """A transport made with a seed gives the same sequence of replies on every run."""

    def run(seed: int) -> list[str | None]:
        client = sdk(OfflineTransport(seed=seed))
        return [
            client.chat.completions.create(
                model="gpt-4o", messages=STORY, temperature=1.2, max_tokens=20
            )
            .choices[0]
            .message.content
            for _ in range(4)
        ]

    assert run(3) == run(3)
    assert len(set(run(3))) > 1  # the sequence moves on


def test_cutting_fields_do_not_change_the_sampled_tokens() -> None:
    """max_tokens, n and logprobs only cut or report: a shorter reply is a prefix of a longer."""
    client = sdk(OfflineTransport())
    params: dict[str, Any] = {"model": "gpt-4o", "messages": STORY, "seed": 8, "temperature": 1.2}
    full = client.chat.completions.create(**params, max_tokens=60).choices[0].message.content
    short = client.chat.completions.create(**params, max_tokens=5, n=2, logprobs=True)
    assert full is not None and short.choices[0].message.content is not None
    assert full.startswith(short.choices[0].message.content)


def test_routing_caching_and_tagging_fields_stay_out_of_the_seed() -> None:
    """prompt_cache_key, safety_identifier, user, metadata, service_tier and store only route,
    cache or tag: a seeded reply is the same with any of them (openai-agents sends a fresh
    prompt_cache_key on every run)."""
    client = sdk(OfflineTransport())
    params: dict[str, Any] = {"model": "gpt-4o", "messages": STORY, "seed": 5, "temperature": 1.3}
    plain = client.chat.completions.create(**params, max_tokens=30)
    tagged = client.chat.completions.create(
        **params,
        max_tokens=30,
        prompt_cache_key="run-8f2a",
        safety_identifier="user-17",
        user="someone",
        metadata={"team": "qa"},
        service_tier="auto",
        store=False,
    )
    assert tagged.choices[0].message.content == plain.choices[0].message.content
    assert tagged.id == plain.id


def test_n_choices_are_independent_streams() -> None:
    """n choices are sampled from independent streams and all counted in usage."""
    reply = sdk(OfflineTransport()).chat.completions.create(
        model="gpt-4o", messages=STORY, n=6, seed=2, temperature=1.3, max_tokens=25
    )
    assert [choice.index for choice in reply.choices] == list(range(6))
    assert len({choice.message.content for choice in reply.choices}) > 1
    assert reply.usage is not None and reply.usage.completion_tokens >= 6


def from_threads(
    ask: Callable[[int], str | None], seeds: list[int], count: int
) -> list[str | None]:
    """``ask(seed)`` for every seed, from ``count`` threads at once; the answers in seed order."""
    answers: dict[int, str | None] = {}

    def worker(chunk: Sequence[int]) -> None:
        for seed in chunk:
            answers[seed] = ask(seed)

    threads = [threading.Thread(target=worker, args=(seeds[i::count],)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answers[seed] for seed in seeds]


def test_concurrent_threads_get_the_sequential_results() -> None:
    """Seeded requests from 8 threads at once get exactly their one-at-a-time replies."""
    transport = OfflineTransport()
    seeds = list(range(16))

    def ask(seed: int) -> str | None:
        return (
            sdk(transport)
            .chat.completions.create(
                model="gpt-4o", messages=STORY, seed=seed, temperature=1.1, max_tokens=40
            )
            .choices[0]
            .message.content
        )

    assert from_threads(ask, seeds, 8) == [ask(seed) for seed in seeds]


def test_concurrent_threads_get_the_sequential_structured_results() -> None:
    """Seeded JSON-schema requests from 4 threads at once get exactly their one-at-a-time
    replies: the constrained engine's caches and per-thread mask buffers are shared safely."""
    transport = OfflineTransport()
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "tags"],
        "additionalProperties": False,
    }
    response_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "item", "schema": schema, "strict": True},
    }
    messages: Any = [{"role": "user", "content": "Name a fruit and tag it, as JSON."}]
    seeds = list(range(12))

    def ask(seed: int) -> str | None:
        return (
            sdk(transport)
            .chat.completions.create(
                model="gpt-4o",
                messages=messages,
                seed=seed,
                temperature=1.0,
                top_p=0.95,
                max_tokens=60,
                response_format=response_format,
            )
            .choices[0]
            .message.content
        )

    assert from_threads(ask, seeds, 4) == [ask(seed) for seed in seeds]


def test_concurrent_async_tasks_get_the_sequential_results() -> None:
    """asyncio.gather of seeded requests gives each request its one-at-a-time reply."""
    transport = OfflineTransport()

    async def run() -> tuple[list[str | None], list[str | None]]:
        client = async_sdk(transport)

        async def ask(seed: int) -> str | None:
            reply = await client.chat.completions.create(
                model="gpt-4o", messages=STORY, seed=seed, temperature=1.1, max_tokens=30
            )
            return reply.choices[0].message.content

        sequential = [await ask(seed) for seed in range(6)]
        together = await asyncio.gather(*(ask(seed) for seed in range(6)))
        await client.close()
        return sequential, list(together)

    sequential, together = asyncio.run(run())
    assert together == sequential


# --------------------------------------------------------------------------- parameters


def test_max_tokens_ends_with_length() -> None:
    """A reply cut by max_tokens / max_completion_tokens has finish_reason length."""
    client = sdk(OfflineTransport(seed=0))
    for name in ("max_tokens", "max_completion_tokens"):
        limit: dict[str, Any] = {name: 3}
        reply = client.chat.completions.create(
            model="gpt-4o", messages=STORY, temperature=0, **limit
        )
        assert reply.choices[0].finish_reason == "length"
        assert reply.usage is not None and reply.usage.completion_tokens == 3


def test_reply_ends_by_itself_before_the_cap() -> None:
    """The model's end-of-text ends a reply with finish_reason stop before max_tokens."""
    reply = sdk(OfflineTransport(seed=0)).chat.completions.create(
        model="gpt-4o", messages=CODE, temperature=0, max_tokens=500
    )
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens < 500


def test_ignore_eos_runs_to_the_cap() -> None:
    """vLLM's ignore_eos (through extra_body) makes the reply run to max_tokens."""
    reply = sdk(OfflineTransport(seed=0)).chat.completions.create(
        model="gpt-4o",
        messages=CODE,
        temperature=0,
        max_tokens=300,
        extra_body={"ignore_eos": True},
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 300


def test_stop_sequence_cuts_the_text_plain_and_streamed() -> None:
    """A stop sequence ends the reply before it, finish_reason stop, streamed alike."""
    client = sdk(OfflineTransport())
    for seed in range(20):
        params: dict[str, Any] = {"model": "gpt-4o", "messages": STORY, "seed": seed}
        full = client.chat.completions.create(**params).choices[0].message.content or ""
        words = full.split()
        if len(words) > 6:
            break
    stop = " " + words[5]
    cut = client.chat.completions.create(**params, stop=[stop, "zzz-never"])
    assert cut.choices[0].message.content == full[: full.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    text, finish, _, _ = collect(
        client.chat.completions.create(**params, stop=[stop, "zzz-never"], stream=True)
    )
    assert (text, finish) == (cut.choices[0].message.content, "stop")


def test_logprobs_report_the_models_distribution() -> None:
    """logprobs list each token with its bytes, and top_logprobs best first."""
    reply = sdk(OfflineTransport()).chat.completions.create(
        model="gpt-4o", messages=STORY, seed=3, max_tokens=12, logprobs=True, top_logprobs=5
    )
    choice = reply.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    entries = choice.logprobs.content
    assert reply.usage is not None and len(entries) == reply.usage.completion_tokens
    assert b"".join(bytes(entry.bytes or []) for entry in entries).decode() == (
        choice.message.content
    )
    for entry in entries:
        assert entry.logprob <= 0
        values = [top.logprob for top in entry.top_logprobs]
        assert len(values) == 5 and values == sorted(values, reverse=True)
        assert sum(np.exp(values)) <= 1 + 1e-9
        assert entry.logprob <= values[0]


@pytest.mark.parametrize("body", [{"top_k": 1}, {"min_p": 1.0}])
def test_top_k_and_min_p_through_the_body_can_force_greedy(body: dict[str, Any]) -> None:
    """top_k / min_p travel in the body (vLLM style): top_k=1 or min_p=1 equal temperature 0."""
    client = sdk(OfflineTransport())
    greedy = client.chat.completions.create(
        model="gpt-4o", messages=STORY, seed=1, temperature=0, max_tokens=30
    )
    top_one = client.chat.completions.create(
        model="gpt-4o", messages=STORY, seed=2, temperature=1.5, max_tokens=30, extra_body=body
    )
    assert top_one.choices[0].message.content == greedy.choices[0].message.content


def test_frequency_penalty_reduces_repetition() -> None:
    """A frequency penalty, applied to the logits as OpenAI documents, curbs repeated tokens."""
    client = sdk(OfflineTransport())

    def distinct_ratio(penalty: float) -> float:
        reply = client.chat.completions.create(
            model="gpt-4o",
            messages=STORY,
            seed=0,
            temperature=0,
            max_tokens=150,
            frequency_penalty=penalty,
            logprobs=True,
            extra_body={"ignore_eos": True},
        )
        tokens = [entry.token for entry in reply.choices[0].logprobs.content or []]  # type: ignore[union-attr]
        return len(set(tokens)) / len(tokens)

    assert distinct_ratio(2.0) > distinct_ratio(0.0)


def test_callable_source_sees_prompt_and_decides() -> None:
    """A user's callable gets the prompt ids, <|endofprompt|> and its output so far."""
    from llmpresets.tokens.encodings import get_encoding

    encoding = get_encoding("o200k_base")
    word = encoding.encode(" yes")[0]
    seen: list[list[int]] = []

    def source(context: Sequence[int]) -> np.ndarray:
        seen.append(list(context))
        logits = np.full(encoding.n_vocab, -np.inf)
        logits[word if len(seen) <= 3 else encoding.eot_token] = 0.0
        return logits

    reply = sdk(OfflineTransport(source=source)).chat.completions.create(
        model="gpt-4o", messages=user("Hi"), seed=0
    )
    assert reply.choices[0].message.content == " yes yes yes"
    assert reply.choices[0].finish_reason == "stop"
    marker = encoding.encode("<|endofprompt|>", allowed_special="all")[0]
    assert seen[0] == [*encoding.encode("Hi"), marker]
    assert seen[2] == [*encoding.encode("Hi"), marker, word, word]


def test_broken_source_is_a_500_that_is_not_retried() -> None:
    """A source returning the wrong shape gives a 500 server_error at once (no retry loop)."""
    transport = OfflineTransport(source=lambda context: np.zeros((2, 2)))
    client = openai.OpenAI(
        api_key="x", base_url=BASE_URL, http_client=httpx2.Client(transport=transport)
    )
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=STORY)
    assert caught.value.body["type"] == "server_error"  # type: ignore[index]


def test_models_endpoint_lists_the_registry() -> None:
    """GET /models lists the registry's models; the SDK parses it."""
    names = [model.id for model in sdk(OfflineTransport()).models.list()]
    assert "gpt-4o" in names and "o3-mini" in names


# --------------------------------------------------------------------------- errors


def error_of(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    body = caught.value.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
    return caught.value.status_code, body


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        ({"temperature": 5}, "temperature", "decimal_above_max_value"),
        ({"top_p": -0.5}, "top_p", "decimal_below_min_value"),
        ({"logprobs": True, "top_logprobs": 30}, "top_logprobs", "integer_above_max_value"),
        ({"top_logprobs": 3}, "top_logprobs", "invalid_value"),
        ({"n": 0}, "n", "integer_below_min_value"),
        ({"max_tokens": 0}, "max_tokens", "integer_below_min_value"),
        ({"max_tokens": 100000}, "max_tokens", "invalid_value"),
        ({"temperature": "hot"}, "temperature", "invalid_type"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length"),
        ({"messages": []}, "messages", "empty_array"),
        ({"messages": [{"content": "hi"}]}, "messages[0].role", "missing_required_parameter"),
        ({"messages": [{"role": "bot", "content": "hi"}]}, "messages[0].role", "invalid_value"),
    ],
)
def test_invalid_request_is_a_400_in_the_api_shape(
    extra: dict[str, Any], param: str, code: str
) -> None:
    """Each invalid value gets 400 invalid_request_error naming the parameter and a code."""
    client = sdk(OfflineTransport())
    params = {"model": "gpt-4o", "messages": STORY, **extra}
    status, body = error_of(lambda: client.chat.completions.create(**params))
    assert (status, body["type"], body["param"], body["code"]) == (
        400,
        "invalid_request_error",
        param,
        code,
    )


def test_reasoning_model_rejects_temperature_like_the_api() -> None:
    """o3-mini takes only the default temperature: 400 unsupported_value."""
    client = sdk(OfflineTransport())
    status, body = error_of(
        lambda: client.chat.completions.create(model="o3-mini", messages=STORY, temperature=0.2)
    )
    assert (status, body["param"], body["code"]) == (400, "temperature", "unsupported_value")
    ok = client.chat.completions.create(model="o3-mini", messages=STORY, max_completion_tokens=5)
    assert ok.choices[0].message.content is not None


def test_prompt_over_the_context_window_is_context_length_exceeded() -> None:
    """gpt-4's 8,192-token window: a longer request is 400 context_length_exceeded."""
    long = user("word " * 9000)
    status, body = error_of(
        lambda: sdk(OfflineTransport()).chat.completions.create(model="gpt-4", messages=long)
    )
    assert (status, body["code"]) == (400, "context_length_exceeded")


def test_malformed_json_is_a_400_with_the_api_body() -> None:
    """A body that is not JSON gets 400 and the API's error shape."""
    response = raw(OfflineTransport()).post(
        "/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and "parse the JSON body" in error["message"]
    assert response.headers["x-should-retry"] == "false"


def test_unknown_path_is_a_404_and_wrong_method_a_405() -> None:
    """An unknown path is 404 'Invalid URL (POST /v1/foo)'; GET on chat completions is 405."""
    client = raw(OfflineTransport())
    response = client.post("/foo", json={})
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "Invalid URL (POST /v1/foo)",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    assert client.get("/chat/completions").status_code == 405


def test_strict_models_answer_404_model_not_found() -> None:
    """With strict models an unknown model is 404 model_not_found; without, it is answered."""
    status, body = error_of(
        lambda: sdk(OfflineTransport(strict_models=True)).chat.completions.create(
            model="gpt-9", messages=STORY
        )
    )
    assert (status, body["code"]) == (404, "model_not_found")
    reply = sdk(OfflineTransport()).chat.completions.create(
        model="gpt-9", messages=STORY, max_tokens=3
    )
    assert reply.model == "gpt-9"


def test_strict_models_default_comes_from_the_config(tmp_path: Any) -> None:
    """offline.strict_models in presets.yaml is the transport's default."""
    config = tmp_path / "presets.yaml"
    config.write_text("offline:\n  strict_models: true\n")
    transport = OfflineTransport(config=load_presets(config))
    status, _ = error_of(
        lambda: sdk(transport).chat.completions.create(model="my-model", messages=STORY)
    )
    assert status == 404


def scripted_source(text: str) -> Any:
    """A callable source that spells ``text`` token by token, then ends."""
    from llmpresets.tokens.encodings import get_encoding

    encoding = get_encoding("o200k_base")
    tokens = [*encoding.encode(text), encoding.eot_token]
    marker = encoding.encode("<|endofprompt|>", allowed_special="all")[0]

    def source(context: Sequence[int]) -> np.ndarray:
        done = len(context) - 1 - list(context)[::-1].index(marker)
        logits = np.full(encoding.n_vocab, -np.inf)
        logits[tokens[min(len(context) - done - 1, len(tokens) - 1)]] = 0.0
        return logits

    return source


def test_characters_split_across_tokens_stream_whole() -> None:
    """Tokens that split a character's UTF-8 bytes never put broken text in the stream."""
    text = "héllo wörld 🐉🐲 end"
    client = sdk(OfflineTransport(source=scripted_source(text)))
    plain = client.chat.completions.create(model="gpt-4o", messages=STORY, seed=0)
    assert plain.choices[0].message.content == text
    _, _, _, chunks = collect(
        client.chat.completions.create(model="gpt-4o", messages=STORY, seed=0, stream=True)
    )
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(pieces) == text
    assert not any("\ufffd" in piece for piece in pieces)


def test_stop_sequence_spanning_tokens_is_cut_whole() -> None:
    """A stop sequence that spans several tokens is removed with everything after it."""
    client = sdk(OfflineTransport(source=scripted_source("alpha beta gamma delta")))
    for stop in ("a gam", "ta g", " delta", "alpha"):
        reply = client.chat.completions.create(model="gpt-4o", messages=STORY, stop=stop)
        expected = "alpha beta gamma delta".split(stop)[0]
        assert (reply.choices[0].message.content, reply.choices[0].finish_reason) == (
            expected,
            "stop",
        )
        text, _, _, _ = collect(
            client.chat.completions.create(model="gpt-4o", messages=STORY, stop=stop, stream=True)
        )
        assert text == expected


def test_seeded_replies_are_the_same_in_a_fresh_process() -> None:
    """Another process (another hash seed) gives the same seeded transport's replies."""
    import os
    import subprocess
    import sys

    code = (
        "import httpx2, openai\n"
        "from llmpresets.offline import OfflineTransport\n"
        "client = openai.OpenAI(api_key='x', base_url='http://offline.test/v1',\n"
        "    http_client=httpx2.Client(transport=OfflineTransport(seed=21)))\n"
        "for _ in range(3):\n"
        "    print(client.chat.completions.create(model='gpt-4o', temperature=1.3,\n"
        "        max_tokens=25, messages=[{'role': 'user', 'content': 'Tell me a story'}])\n"
        "        .model_dump_json())\n"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        ).stdout
        for hash_seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1] and outputs[0].count("chatcmpl-") == 3

"""The per-request caches and fast paths: never stale, never different, always bounded.

A client resolves the same use case, model and overrides on every call, and the offline backend
counts the prompt the client has just counted; both keep recent answers. These tests pin that
a cache hit gives exactly what a fresh computation gives, and that a changed book, preset,
model, setting or override is never answered from an old entry; and that the fast paths taken
for the common request give exactly the answer of the full path.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmpresets
from llmpresets import load_presets
from llmpresets.config import adapt as _adapt
from llmpresets.config.adapt import UnsupportedParameterWarning, _warned, resolve
from llmpresets.config.schema import Settings
from llmpresets.offline.api.errors import WireError
from llmpresets.offline.api.sdk_types import check_chat_body
from llmpresets.tokens import counting as _tokens


def test_cached_resolution_equals_a_fresh_one() -> None:
    """A second resolve() of the same call returns the same kwargs, dropped and effort."""
    book = load_presets()
    first = resolve("code", "gpt-4o", config=book, max_output_tokens=10)
    second = resolve("code", "gpt-4o", config=book, max_output_tokens=10)
    assert book.resolution_cache  # the second came from the cache
    assert second == first and second is not first


def test_changing_a_returned_resolution_does_not_change_the_cache() -> None:
    """The caller owns what resolve() returns: mutating it leaves later calls untouched."""
    book = load_presets()
    first = resolve("code", "o3-mini", config=book, api="responses")
    expected = resolve("code", "o3-mini", config=book, api="responses")
    first.kwargs["reasoning"]["effort"] = "high"
    first.kwargs["extra"] = 1
    first.dropped.clear()
    again = resolve("code", "o3-mini", config=book, api="responses")
    assert again == expected and again.kwargs["reasoning"] == {"effort": "medium"}


def test_a_replaced_preset_is_not_served_from_the_cache() -> None:
    """Putting a new preset into the book changes the next resolution."""
    book = load_presets()
    assert resolve("chat", "gpt-4o", config=book).kwargs["temperature"] == 0.8
    book.presets["chat"] = book.presets["chat"].model_copy(update={"temperature": 0.3})
    assert resolve("chat", "gpt-4o", config=book).kwargs["temperature"] == 0.3


def test_replaced_settings_are_not_served_from_the_cache() -> None:
    """A new settings section (default model, provider) changes the next resolution."""
    book = load_presets()
    assert resolve("code", None, config=book).kwargs["model"] == "gpt-4o"
    book.settings = Settings(default_model="gpt-4.1", provider="openai-compatible")
    kwargs = resolve("code", None, config=book).kwargs
    assert kwargs["model"] == "gpt-4.1" and kwargs["extra_body"] == {"top_k": 10}


def test_a_changed_model_is_not_served_from_the_cache() -> None:
    """A model spec the book answers differently with is resolved again."""
    book = load_presets()
    assert resolve("code", "gpt-4o", config=book).kwargs["max_tokens"] == 1024
    smaller = book.model("gpt-4o").model_copy(update={"max_output_tokens": 100})
    book._specs["gpt-4o"] = smaller
    assert resolve("code", "gpt-4o", config=book).kwargs["max_tokens"] == 100


def test_a_changed_presets_file_gives_a_new_book_and_new_resolutions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Editing the user's presets file is seen by the next default resolution."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMPRESETS_CONFIG", raising=False)
    user_file = tmp_path / "presets.yaml"
    user_file.write_text("presets:\n  code:\n    temperature: 0.15\n")
    assert llmpresets.resolve_params("code", "gpt-4o")["temperature"] == 0.15
    user_file.write_text("presets:\n  code:\n    temperature: 0.25\n    top_p: 0.2\n")
    assert llmpresets.resolve_params("code", "gpt-4o")["temperature"] == 0.25


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"temperature": 0.5}, {"temperature": 0.6}),
        ({"seed": 1}, {"seed": True}),  # equal in Python, not the same request
        ({"temperature": 0.0}, {"temperature": -0.0}),
        ({"seed": 1}, {"seed": 1.0}),
        ({"temperature": 0.5, "top_p": 0.5}, {"top_p": 0.5, "temperature": 0.5}),
    ],
)
def test_overrides_that_differ_are_resolved_apart(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    """Overrides equal in Python but not in what is sent (type, sign, order) do not share an
    entry: each gets what it gets uncached."""
    book, plain = load_presets(), load_presets()
    resolve("chat", "gpt-4o", config=book, **first)
    cached = resolve("chat", "gpt-4o", config=book, **second)
    fresh = resolve("chat", "gpt-4o", config=plain, **second)
    assert cached == fresh
    assert list(cached.kwargs.items()) == list(fresh.kwargs.items())
    assert [type(value) for value in cached.kwargs.values()] == [
        type(value) for value in fresh.kwargs.values()
    ]


def test_unhashable_overrides_are_not_cached() -> None:
    """A call with a list or dict value is resolved every time, and leaves no entry."""
    book = load_presets()
    resolve("chat", "gpt-4o", config=book, stop=["\n"])
    resolve("chat", "gpt-4o", config=book, extra_body={"top_k": 3})
    assert not book.resolution_cache


def test_a_call_that_warned_still_warns_after_the_warnings_are_reset() -> None:
    """A resolution that dropped a user's value is not cached, so each call reports it as an
    uncached call would."""
    book = load_presets()
    for _ in range(2):
        _warned.clear()
        with pytest.warns(UnsupportedParameterWarning, match="temperature"):
            resolve("chat", "o3-mini", config=book, temperature=0.5)
    with pytest.raises(llmpresets.UnsupportedParameterError):
        resolve("chat", "o3-mini", config=book, policy="error", temperature=0.5)


def test_a_refused_call_is_refused_again() -> None:
    """An invalid override raises on every call (errors are never cached), and a valid one
    that equals it in Python (``n=1`` and ``n=True``) does not let it through."""
    book = load_presets()
    for _ in range(2):
        with pytest.raises(llmpresets.ConfigError):
            resolve("chat", "gpt-4o", config=book, temperature=3.0)
    resolve("chat", "gpt-4o", config=book, n=1)
    with pytest.raises(llmpresets.ConfigError, match="n: True is not an integer"):
        resolve("chat", "gpt-4o", config=book, n=True)


def test_the_resolution_cache_is_bounded() -> None:
    """However many distinct calls, a book keeps at most _MAX_RESOLUTIONS entries."""
    book = load_presets()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(_adapt._MAX_RESOLUTIONS * 2 + 3):
            resolve("chat", "gpt-4o", config=book, seed=seed)
    assert 0 < len(book.resolution_cache) <= _adapt._MAX_RESOLUTIONS


def test_text_counts_equal_fresh_counts_and_stay_bounded() -> None:
    """Kept message-text counts are the tokenizer's; the cache holds at most
    _TEXT_COUNTS_MAX texts and none longer than _TEXT_COUNTS_LONGEST."""
    _tokens._text_counts.clear()
    texts = [f"message number {number} " * (number % 7 + 1) for number in range(600)]
    long_text = "word " * (_tokens._TEXT_COUNTS_LONGEST // 4)
    for text in [*texts, long_text, *texts[:10]]:
        counted = llmpresets.count_message_tokens([{"role": "user", "content": text}])
        assert counted == 7 + llmpresets.count_tokens(text)  # 3 + "user" + text + 3 priming
    assert 0 < len(_tokens._text_counts) <= _tokens._TEXT_COUNTS_MAX
    assert all(len(text) <= _tokens._TEXT_COUNTS_LONGEST for _, text in _tokens._text_counts)


def test_text_counts_are_kept_per_encoding() -> None:
    """The same text counted for an o200k and a cl100k model gives each tokenizer's count."""
    text = "Ünïcödé façade — naïve coöperation 🙂 " * 3
    for model in ("gpt-4o", "gpt-4", "gpt-4o", "gpt-4"):
        counted = llmpresets.count_message_tokens([{"role": "user", "content": text}], model)
        assert counted == 7 + llmpresets.count_tokens(text, model)


# --------------------------------------------------------------------------- fast paths

_MESSAGE_KEYS = ["role", "content", "name", "refusal", "tool_call_id", "tool_calls", "audio", "x"]
_message_values = st.one_of(
    st.text(max_size=6),
    st.none(),
    st.integers(),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
    st.just([{"type": "text", "text": "hi"}]),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
_messages = st.builds(
    lambda role, rest: {"role": role, **rest},
    st.sampled_from(["user", "system", "developer", "assistant", "tool", "function"]),
    st.dictionaries(st.sampled_from(_MESSAGE_KEYS[1:]), _message_values, max_size=4),
)


def _outcome(body: dict[str, Any], *, fast: bool = True) -> tuple[Any, ...] | None:
    try:
        check_chat_body(body, fast=fast)
    except WireError as error:
        return (error.status, error.message, error.param, error.code)
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(_messages, min_size=1, max_size=3))
def test_plain_messages_skip_pydantic_with_the_same_answer(
    messages: list[dict[str, Any]],
) -> None:
    """check_chat_body answers every message list exactly as full pydantic validation of each
    message does: the plain-string fast path accepts only what the SDK's types accept."""
    body = {"model": "gpt-4o", "messages": messages}
    assert _outcome(body) == _outcome(body, fast=False)


def _typed(value: Any) -> Any:
    """A parsed JSON value with each scalar's type beside it (so 1 and 1.0 differ)."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


def _generated(body: dict[str, Any]) -> tuple[Any, ...]:
    """What the chat endpoint hands the payload builders for ``body``: the request, its
    generations, usage and identity (run through the backend as the endpoint runs it)."""
    from llmpresets.offline.api.chat.parse import parse_request
    from llmpresets.offline.api.chat.payloads import Usage
    from llmpresets.offline.backend.backend import OfflineBackend
    from llmpresets.offline.backend.randomness import make_identity

    backend = OfflineBackend(load_presets())
    chat = parse_request(body, backend.spec)
    prepared = backend.prepare(chat, backend.spec(chat.model))
    entropy, reproducible = backend.entropy(chat.body, chat.seed)
    generations = backend.run(prepared, entropy)
    usage = Usage(10, sum(g.completion_tokens for g in generations), 0)
    return chat, generations, usage, make_identity(entropy, reproducible)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"n": 3, "temperature": 1.2},
        {"messages": [{"role": "user", "content": "Écris « bonjour » 🙂 \u2028 en français"}]},
        {"response_format": {"type": "json_object"}},
        {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                            "required": ["city"],
                        },
                    },
                }
            ],
            "tool_choice": "required",
        },
        {"logprobs": True, "top_logprobs": 2},
    ],
)
def test_completion_bodies_carry_the_same_json_as_json_dumps_would(extra: dict[str, Any]) -> None:
    """The chat.completion body the SDK's type writes (the fast path) parses to exactly the
    values (and types) of the plain path (``fast=False``: every logprob entry validated, then
    json.dumps), for text, n, unicode, JSON and tool replies."""
    from llmpresets.offline.api.chat.payloads import completion_payload

    body = {"model": "gpt-4o", "max_tokens": 12, "seed": 3}
    body["messages"] = [{"role": "user", "content": "Say hello."}]
    body.update(extra)
    if body.get("response_format"):
        body["messages"] = [{"role": "user", "content": "Answer in JSON."}]
    generated = _generated(body)
    written = json.loads(completion_payload(*generated))
    plain = json.loads(completion_payload(*generated, fast=False))
    assert _typed(written) == _typed(plain)
    assert written["choices"][0]["finish_reason"] in ("stop", "length", "tool_calls")


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"content-type", b"application/json")],
        [(b"X-LLMPresets-Use-Case", b"code")],
        [(b"x-llmpresets-use-case", b"code"), (b"x-llmpresets-use-case", b"chat")],
        [(b"x-llmpresets-use-case", "créatif".encode())],
        [(b"x-llmpresets-use-case", "créatif".encode("latin-1"))],
        [(b"x-other", "é".encode()), (b"x-llmpresets-use-case", b"code")],
    ],
)
def test_the_use_case_header_reads_as_httpx2_reads_it(headers: list[tuple[bytes, bytes]]) -> None:
    """The transport's header lookup answers exactly what ``headers.get`` answers: absent,
    any case, repeated, and values that are not ASCII in either encoding."""
    from llmpresets.config.params import USE_CASE_HEADER
    from llmpresets.offline.transport import _use_case

    assert _use_case(httpx2.Headers(headers)) == httpx2.Headers(headers).get(USE_CASE_HEADER)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"n": 2, "stream_options": {"include_usage": True}},
        {"messages": [{"role": "user", "content": 'Quote "this" \\ and 🙂 é \u2028 please'}]},
        {"model": "\x00llmpresets: one token's text\x00"},
        {"logprobs": True, "top_logprobs": 1},
    ],
)
def test_streamed_token_events_are_byte_for_byte_the_validated_chunks(
    extra: dict[str, Any],
) -> None:
    """Each token's SSE event, written from one validated chunk of its choice (the fast
    path), is exactly the bytes of validating and writing that chunk in full (``fast=False``);
    a model name holding the stand-in text, and logprobs, take the full path."""
    from llmpresets.offline.api.chat import payloads as _payloads

    body: dict[str, Any] = {
        "model": "gpt-4o",
        "max_tokens": 24,
        "seed": 5,
        "stream": True,
        "messages": [{"role": "user", "content": "Tell me a story."}],
    }
    body.update(extra)
    generated = _generated(body)

    writers: list[Any] = []
    real_writer = _payloads._piece_writer

    def spy(*args: Any) -> Any:  # observes which path each choice took; answers as before
        writers.append(real_writer(*args))
        return writers[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_payloads, "_piece_writer", spy)
        written = b"".join(_payloads.chunk_payloads(*generated))
    full = b"".join(_payloads.chunk_payloads(*generated, fast=False))
    assert written == full and written.count(b"data: ") > 10
    used = [writer is not None for writer in writers]
    assert used == (
        [] if body.get("logprobs") else [_payloads._PIECE not in body["model"]] * len(used)
    )
    assert body.get("logprobs") or used


def test_the_engines_bounded_cache_keeps_its_budget_and_the_entries_in_use() -> None:
    """The constrained decoder's caches stay within their byte budget, forget the oldest
    entries first, and keep an entry that is being used while new ones arrive."""
    from llmpresets._cache import BoundedCache

    cache: BoundedCache[object, int] = BoundedCache("test", 1000)
    for key in range(100):
        cache.put(key, key, 100)
        assert cache.used <= 1000
    assert [key for key in range(100) if cache.get(key) is not None] == list(range(90, 100))
    for key in range(100, 200):
        assert cache.get(95) == 95  # in use: never the one forgotten
        cache.put(key, key, 100)
        assert cache.used <= 1000
    assert cache.get(95) == 95
    assert sum(cache.get(key) is not None for key in range(200)) == 10
    assert cache.get(90) is None and cache.get(199) == 199
    cache.put("big", 0, 1001)  # larger than the whole budget: not kept
    assert cache.get("big") is None

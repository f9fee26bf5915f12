"""Caches and the Responses store are bounded by bytes, keys included (issue 23).

A fuzzer found the Responses store bounded by a count (a thousand responses of any size), and
memoized functions charged only their results, so a cache keyed by large texts (schemas,
prompts) held gigabytes while its byte total stayed small. The tracemalloc check runs in a
child process so that other tests' allocations do not blur it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import httpx2
import openai
import pytest

from llmpresets import OfflineTransport
from llmpresets._cache import BoundedCache, deep_size, key_size, memoize
from llmpresets.offline.api.responses.store import ResponseStore, StoredResponse


def _entry(response_id: str, text: str, previous: str | None = None) -> StoredResponse:
    response = {
        "id": response_id,
        "object": "response",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}],
    }
    return StoredResponse(response, [{"role": "user", "content": text}], previous)


def test_the_store_keeps_no_more_bytes_than_its_budget() -> None:
    """Fifty responses of 200 KB into a 2 MB store: what it keeps fits the budget."""
    store = ResponseStore(budget=2 * 1024 * 1024)
    for number in range(50):
        store.put(_entry(f"resp_{number}", chr(65 + number % 26) * 100_000))
    assert store.used <= store.budget
    kept = [store.get(f"resp_{n}") for n in range(50) if _kept(store, f"resp_{n}")]
    assert sum(deep_size(entry.response) + deep_size(entry.input_items) for entry in kept) <= (
        store.budget
    )
    assert 1 <= len(kept) < 50
    assert _kept(store, "resp_49")  # the newest stays


def _kept(store: ResponseStore, response_id: str) -> bool:
    try:
        store.get(response_id)
    except Exception:
        return False
    return True


def test_a_response_larger_than_the_whole_store_is_not_kept() -> None:
    """One response past the budget is not stored (and evicts nothing)."""
    store = ResponseStore(budget=100_000)
    store.put(_entry("resp_small", "hi"))
    store.put(_entry("resp_huge", "x" * 200_000))
    assert _kept(store, "resp_small")
    assert not _kept(store, "resp_huge")


def test_a_memoized_function_is_charged_for_its_keys() -> None:
    """100 distinct 100 KB arguments into a 1 MB memo: the texts it keeps fit the budget."""

    @memoize("test: long keys", budget=1024 * 1024)
    def length(text: str) -> int:
        return len(text)

    for number in range(100):
        assert length(str(number) * 100_000) == len(str(number)) * 100_000
    cache: BoundedCache[Any, Any] = length.cache  # type: ignore[attr-defined]
    assert sum(len(key[0]) for key in cache) <= cache.budget


def test_a_cache_put_without_a_size_charges_the_key() -> None:
    """BoundedCache.put(key, value) counts the key's text beside the value."""
    cache: BoundedCache[tuple[str, str], int] = BoundedCache("test: keyed by text", 10_000)
    cache.put(("o200k_base", "x" * 5_000), 1)
    cache.put(("o200k_base", "y" * 5_000), 2)
    assert len(cache) == 1
    assert cache.used >= key_size(("o200k_base", "y" * 5_000)) > 5_000


def test_deep_size_measures_nested_logprobs() -> None:
    """A value nested six levels deep is measured whole (approximate_size stops at three)."""
    text = "z" * 10_000
    nested = {"output": [{"content": [{"logprobs": [{"top_logprobs": [{"token": text}]}]}]}]}
    assert deep_size(nested) > 10_000


def test_an_evicted_conversation_names_the_id_the_caller_sent() -> None:
    """previous_response_id whose ancestor was evicted: the error names the id sent."""
    transport = OfflineTransport(seed=0)
    client = openai.OpenAI(
        api_key="offline",
        base_url="http://offline.test/v1",
        http_client=httpx2.Client(transport=transport),
    )
    first = client.responses.create(model="gpt-4o", input="Hi", max_output_tokens=16)
    second = client.responses.create(
        model="gpt-4o", input="And then?", previous_response_id=first.id, max_output_tokens=16
    )
    transport.responses.store.delete(first.id)  # as an eviction would
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="gpt-4o", input="More", previous_response_id=second.id, max_output_tokens=16
        )
    assert second.id in caught.value.message
    assert first.id not in caught.value.message
    assert caught.value.param == "previous_response_id"


def test_storing_many_large_responses_holds_at_most_the_budget() -> None:
    """In a child: 200 responses of 500 KB (100 MB) into the default store; memory stays bounded.

    Before the byte budget the store kept a thousand responses of any size, all 100 MB here.
    """
    script = textwrap.dedent(
        """
        import json, tracemalloc
        from llmpresets.offline.api.responses.store import (
            STORE_BYTES, ResponseStore, StoredResponse,
        )

        store = ResponseStore()
        tracemalloc.start()
        for number in range(200):
            text = f"{number} " + "word " * 100_000
            response = {"id": f"resp_{number}", "output": [{"content": [{"text": text}]}]}
            store.put(StoredResponse(response, [{"role": "user", "content": "Hi"}], None))
        current, _ = tracemalloc.get_traced_memory()
        print(json.dumps({"current": current, "used": store.used, "budget": STORE_BYTES}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    figures = json.loads(done.stdout)
    assert figures["used"] <= figures["budget"]
    # 100 MB went in; what is held stays within the budget plus a generous 8 MB.
    assert figures["current"] < figures["budget"] + 8 * 1024 * 1024, figures


def test_a_stream_left_unread_is_released_when_closed() -> None:
    """In process: a client that reads one event and closes frees the stream's bytes."""
    import gc
    import tracemalloc

    http = httpx2.Client(transport=OfflineTransport(seed=0), base_url="http://offline.test/v1")
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Tell me a story"}],
        "n": 2,
        "max_tokens": 3000,
        "ignore_eos": True,
        "stream": True,
        "seed": 1,
    }
    size = len(http.post("/chat/completions", json=body).content)  # the same stream, whole
    tracemalloc.start()
    try:
        reply = http.send(http.build_request("POST", "/chat/completions", json=body), stream=True)
        chunks = reply.iter_bytes()
        next(chunks)
        held, _ = tracemalloc.get_traced_memory()
        reply.close()
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held - after > size // 2, (held, after, size)

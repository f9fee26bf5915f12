"""The offline Responses API vs chat completions, streamed through the real openai SDK.

A 64-token streamed reply (``ignore_eos`` so both run to exactly 64 tokens; gpt-4o, temperature
0.8, top_p 0.9) read to the end, once through ``responses.create(stream=True)`` and once through
``chat.completions.create(stream=True)``, on the same transport seed. The Responses stream
carries more per token (typed events with sequence numbers, item ids, and the whole response
twice: in ``response.created`` and in ``response.completed``); the ratio shows what that costs.

Run: ``python benchmarks/bench_responses.py``. Times are the best of several repeats.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx2
import openai

from llmpresets.offline import OfflineTransport

PROMPT = "Tell me a story about a dragon."
TOKENS = 64


def client_for(transport: httpx2.BaseTransport) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="offline",
        base_url="http://offline.bench/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )


def best_of(function: Callable[[], int], calls: int, repeats: int = 7) -> float:
    """Seconds per call, the best of ``repeats`` runs of ``calls`` calls."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def main() -> int:
    responses_client = client_for(OfflineTransport(seed=0))
    chat_client = client_for(OfflineTransport(seed=0))
    counts: dict[str, int] = {}

    def responses_call() -> int:
        stream = responses_client.responses.create(
            model="gpt-4o",
            input=PROMPT,
            stream=True,
            max_output_tokens=TOKENS,
            temperature=0.8,
            top_p=0.9,
            extra_body={"ignore_eos": True},
        )
        events = 0
        for event in stream:
            events += 1
            if event.type == "response.incomplete" or event.type == "response.completed":
                assert event.response.usage is not None
                counts["responses"] = event.response.usage.output_tokens
        counts["events"] = events
        return events

    def chat_call() -> int:
        stream = chat_client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=TOKENS,
            temperature=0.8,
            top_p=0.9,
            extra_body={"ignore_eos": True},
        )
        chunks = 0
        for chunk in stream:
            chunks += 1
            if chunk.usage is not None:
                counts["chat"] = chunk.usage.completion_tokens
        counts["chunks"] = chunks
        return chunks

    responses_call()
    chat_call()
    assert counts["responses"] == counts["chat"] == TOKENS, counts
    chat = best_of(chat_call, 20)
    responses = best_of(responses_call, 20)
    ratio = responses / chat
    print(f"{TOKENS}-token streamed reply through the SDK (gpt-4o, temperature 0.8, top_p 0.9)")
    print(f"   chat.completions : {chat * 1e3:7.2f} ms/reply ({counts['chunks']} chunks)")
    print(f"   responses        : {responses * 1e3:7.2f} ms/reply ({counts['events']} events)")
    print(f"   ratio responses/chat: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The offline Responses API vs chat completions, streamed through the real openai SDK.

A 64-token streamed reply (``ignore_eos`` so both run to exactly 64 tokens; gpt-4o, temperature
0.8, top_p 0.9) read to the end, once through ``responses.create(stream=True)`` and once through
``chat.completions.create(stream=True)``, on the same transport seed. The Responses stream
carries more per token (typed events with sequence numbers, item ids, and the whole response
twice: in ``response.created`` and in ``response.completed``); the ratio shows what that costs.

Run: ``python benchmarks/bench_responses.py``. Both are timed in interleaved rounds
(``_timing``): medians, with the fastest and slowest round.
"""

from __future__ import annotations

import httpx2
import openai
from _timing import interleaved

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
    timings = interleaved({"chat": chat_call, "responses": responses_call}, rounds=9, calls=10)
    chat, responses = timings["chat"], timings["responses"]
    ratio = responses.median / chat.median
    print(f"{TOKENS}-token streamed reply through the SDK (gpt-4o, temperature 0.8, top_p 0.9)")
    print(f"   chat.completions : {chat.show('ms')} per reply ({counts['chunks']} chunks)")
    print(f"   responses        : {responses.show('ms')} per reply ({counts['events']} events)")
    print(f"   ratio responses/chat (medians): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

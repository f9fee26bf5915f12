"""Offline backend speed, measured through the real openai SDK.

1. A 1-token chat completion from ``OfflineTransport`` vs the same SDK call answered by a canned
   ``httpx2.MockTransport`` (the SDK's own cost): target at most 2x.
2. Generated tokens per second for 256-token completions (``ignore_eos`` so every reply runs to
   256 tokens) at a chat-like setting (temperature 0.8, top_p 0.9) on one core: target at
   least 20,000. The SDK round trip is included; the pure sampling loop is shown too.

Run: ``python benchmarks/bench_offline.py``. Times are the best of several repeats.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx2
import numpy as np
import openai
from openai.types.chat import ChatCompletionMessageParam

from llmpresets.offline import OfflineTransport, default_language_model
from llmpresets.offline._generate import generate
from llmpresets.offline._request import SamplingSettings
from llmpresets.offline._sources import make_stepper

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Tell me a story about a dragon."}
]
# A real API response's shape (the fields OpenAI sends), so both sides parse the same amount.
CANNED = json.dumps(
    {
        "id": "chatcmpl-canned",
        "object": "chat.completion",
        "created": 1735689600,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Once",
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "length",
            }
        ],
        "usage": {
            "prompt_tokens": 15,
            "completion_tokens": 1,
            "total_tokens": 16,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_canned",
    }
).encode()


def client_for(transport: httpx2.BaseTransport) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="offline",
        base_url="http://offline.bench/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )


def best_of(function: Callable[[int], object], calls: int, repeats: int = 7) -> float:
    """Seconds per call, the best of ``repeats`` runs of ``calls`` calls."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for index in range(calls):
            function(index)
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def one_token_overhead() -> bool:
    canned = client_for(
        httpx2.MockTransport(
            lambda request: httpx2.Response(
                200, headers={"content-type": "application/json"}, content=CANNED
            )
        )
    )
    offline = client_for(OfflineTransport(seed=0))
    offline.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=1)  # warm up

    def mock_call(index: int) -> object:
        return canned.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=1)

    def offline_call(index: int) -> object:
        return offline.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, max_tokens=1, seed=index
        )

    baseline = best_of(mock_call, 300)
    measured = best_of(offline_call, 300)
    ratio = measured / baseline
    print("1. one-token completion through the SDK")
    print(f"   canned MockTransport : {baseline * 1e6:8.0f} us/call")
    print(f"   OfflineTransport     : {measured * 1e6:8.0f} us/call")
    print(f"   ratio {ratio:.2f}x (target <= 2x): {verdict(ratio <= 2)}")
    return ratio <= 2


def tokens_per_second() -> bool:
    offline = client_for(OfflineTransport(seed=0))
    counted: list[int] = []

    def call(index: int) -> object:
        reply = offline.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            seed=index,
            temperature=0.8,
            top_p=0.9,
            max_tokens=256,
            extra_body={"ignore_eos": True},
        )
        assert reply.usage is not None
        counted.append(reply.usage.completion_tokens)
        return reply

    call(0)
    assert counted[-1] == 256
    per_call = best_of(call, 20)
    rate = 256 / per_call

    model = default_language_model()
    step = make_stepper(
        model, model.encoding.encode("Tell me a story about a dragon."), model.encoding
    )
    loop_settings = SamplingSettings(temperature=0.8, top_p=0.9, max_tokens=256, ignore_eos=True)
    loop = best_of(
        lambda index: generate(*step, model.encoding, loop_settings, np.random.default_rng(index)),
        20,
    )
    print("2. 256-token completions (temperature 0.8, top_p 0.9)")
    print(f"   through the SDK      : {rate:8.0f} tokens/s ({per_call * 1e3:.1f} ms/reply)")
    print(f"   sampling loop alone  : {256 / loop:8.0f} tokens/s")
    print(f"   target >= 20,000 tokens/s through the SDK: {verdict(rate >= 20_000)}")
    return rate >= 20_000


def main() -> int:
    results = [one_token_overhead(), tokens_per_second()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

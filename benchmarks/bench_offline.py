"""Offline backend speed through the real openai SDK, against a canned reply and the peers.

The floor is the SDK answered by a canned ``httpx2.MockTransport`` (a fixed JSON body of the
same shape and length as the offline reply): what any mock that goes through the SDK costs.
Contenders, timed in the same interleaved rounds (medians, with the fastest and slowest round):

- llmpresets offline through the SDK (``OfflineTransport``, a counter seed so every reply
  differs), at the chat preset's settings (temperature 0.8, top_p 0.9) and at the API's
  defaults (temperature 1, no filter: the whole distribution is kept);
- ``llmpresets.Client(offline=True).chat`` (preset resolution and the result object too);
- litellm ``completion(..., mock_response=TEXT)`` and pydantic-ai ``TestModel``, when installed
  (``pip install litellm pydantic-ai-slim``); otherwise skipped with a note.

Workloads: a 1-token and a 64-token chat reply (``ignore_eos``, so every reply has exactly 64
tokens). Then generated tokens per second through the SDK, for 256-token replies at the chat
settings. Targets (issues 13 and 23): the 64-token call <= 2.0x the floor at the chat settings
and at the API's defaults (what frameworks send: no sampling parameters), each ahead of the
peers; >= 50,000 tokens/s.

Run: ``python benchmarks/bench_offline.py [--rounds N] [--calls N]`` (``--calls``: 64-token
calls per contender per round, 10 by default; more steadies the medians on a busy host).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import httpx2
import openai
from _timing import Timing, interleaved, verdict
from openai.types.chat import ChatCompletionMessageParam

import llmpresets
from llmpresets.offline import OfflineTransport

PROMPT = "Tell me a story about a dragon."
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": PROMPT}]
TARGET_RATIO = 2.0
TARGET_RATE = 50_000


def canned_body(text: str, tokens: int) -> bytes:
    """A real API response's shape (the fields OpenAI sends), so both sides parse alike."""
    return json.dumps(
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
                        "content": text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "length",
                }
            ],
            "usage": {
                "prompt_tokens": 15,
                "completion_tokens": tokens,
                "total_tokens": 15 + tokens,
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


def canned_client(body: bytes) -> openai.OpenAI:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=body)

    return client_for(httpx2.MockTransport(answer))


def peers(text: str) -> tuple[dict[str, Callable[[], object]], list[str]]:
    """litellm's and pydantic-ai's mocks answering ``text``, where installed."""
    found: dict[str, Callable[[], object]] = {}
    notes = []
    if importlib.util.find_spec("litellm") is not None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
        import litellm

        def litellm_call() -> object:
            return litellm.completion(model="gpt-4o", messages=MESSAGES, mock_response=text)

        found["litellm mock_response"] = litellm_call
    else:
        notes.append("litellm not installed: skipped (pip install litellm)")
    if importlib.util.find_spec("pydantic_ai") is not None:
        from pydantic_ai import Agent
        from pydantic_ai.models.test import TestModel

        agent = Agent(TestModel(custom_output_text=text))

        def pydantic_ai_call() -> object:
            return agent.run_sync(PROMPT)

        found["pydantic-ai TestModel"] = pydantic_ai_call
    else:
        notes.append("pydantic-ai not installed: skipped (pip install pydantic-ai-slim)")
    return found, notes


def reply_text(tokens: int) -> str:
    reply = client_for(OfflineTransport(seed=0)).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, max_tokens=tokens, extra_body={"ignore_eos": True}
    )
    return reply.choices[0].message.content or ""


def workload(tokens: int, rounds: int, calls: int) -> dict[str, Timing]:
    text = reply_text(tokens)
    floor = canned_client(canned_body(text, tokens))
    chat_offline = client_for(OfflineTransport(seed=1))
    plain_offline = client_for(OfflineTransport(seed=2))
    client = llmpresets.Client(model="gpt-4o", offline=True, seed=3)
    extra = {"ignore_eos": True}
    contenders: dict[str, Callable[[], object]] = {
        "floor: canned MockTransport": lambda: floor.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, max_tokens=tokens
        ),
        "offline, chat settings": lambda: chat_offline.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            max_tokens=tokens,
            extra_body=extra,
            temperature=0.8,
            top_p=0.9,
        ),
        "offline, API defaults (T 1)": lambda: plain_offline.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, max_tokens=tokens, extra_body=extra
        ),
        "Client.chat offline": lambda: client.chat(
            MESSAGES, max_output_tokens=tokens, extra_body=extra
        ),
    }
    found, notes = peers(text)
    contenders.update(found)
    timings = interleaved(contenders, rounds=rounds, calls=calls)
    for note in notes:
        print(f"   note: {note}")
    return timings


def report(title: str, timings: dict[str, Timing], target: float | None) -> bool:
    print(title)
    floor = timings["floor: canned MockTransport"].median
    ok = True
    for name, measured in timings.items():
        ratio = measured.median / floor
        line = f"   {name:<32}{measured.show()}  ratio {ratio:5.2f}"
        if target is not None and name.startswith("offline"):
            line += f"  {verdict(ratio, target)}"
            ok = ok and ratio <= target
        print(line)
    return ok


def tokens_per_second(rounds: int) -> bool:
    offline = client_for(OfflineTransport(seed=4))

    def call() -> Any:
        reply = offline.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            max_tokens=256,
            extra_body={"ignore_eos": True},
            temperature=0.8,
            top_p=0.9,
        )
        assert reply.usage is not None and reply.usage.completion_tokens == 256
        return reply

    measured = interleaved({"256-token reply": call}, rounds=rounds, calls=5)["256-token reply"]
    rate, slowest, fastest = 256 / measured.median, 256 / measured.high, 256 / measured.low
    ok = rate >= TARGET_RATE
    print("3. 256-token replies through the SDK (temperature 0.8, top_p 0.9)")
    print(
        f"   {rate:9,.0f} tokens/s [{slowest:,.0f}-{fastest:,.0f}]  "
        f"{'PASS' if ok else 'FAIL'} (target >= {TARGET_RATE:,})"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--calls", type=int, default=10, help="64-token calls per contender per round"
    )
    arguments = parser.parse_args()
    rounds = arguments.rounds
    one = workload(1, rounds, 20)
    report("1. one 1-token chat call (per call)", one, None)
    sixty_four = workload(64, rounds, arguments.calls)
    ok = report("2. one 64-token chat call (per call)", sixty_four, TARGET_RATIO)
    for path, label in (
        ("offline, chat settings", "chat settings"),
        ("offline, API defaults (T 1)", "API defaults"),
    ):
        offline = sixty_four[path].median
        for peer in ("litellm mock_response", "pydantic-ai TestModel"):
            if peer in sixty_four:
                ahead = offline < sixty_four[peer].median
                ok = ok and ahead
                print(f"   offline ({label}) ahead of {peer}: {'PASS' if ahead else 'FAIL'}")
    ok = tokens_per_second(rounds) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

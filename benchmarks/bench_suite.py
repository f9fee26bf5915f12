"""A test-suite-like workload in a fresh process: 500 varied prompts, and the first call.

Each contender runs in its own fresh interpreter (as a test suite does), which imports its
stack, answers one prompt (the *first call*: imports, set-up and any loading it needs), then
answers the other 499 prompts (the *suite*). Contenders, in interleaved rounds (medians with
the fastest and slowest round):

- floor: the openai SDK answered by a canned ``httpx2.MockTransport``;
- ``llmpresets.Client(offline=True).chat`` (the chat preset, replies up to 64 tokens);
- the openai SDK over ``OfflineTransport`` with no sampling parameters (the API's defaults,
  temperature 1 and no filter: what agent and structured-output frameworks send);
- litellm ``completion(mock_response=...)`` and pydantic-ai ``TestModel``, when installed.

Also measured in fresh processes: tiktoken's own load of ``o200k_base`` (from its populated
cache; the one cost the offline backend cannot avoid), and the offline first call with an
empty model cache (the first run on a machine trains the model and writes the cache).

Targets (issues 13 and 23): the suite <= 2.0x the floor and ahead of both peers, at the
chat preset and at the API's defaults alike; the first offline
call <= (tiktoken's load + 100 ms) over the floor's first call, with a warm model cache.

Run: ``python benchmarks/bench_suite.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from _timing import timing, verdict

PROMPTS = 500
TOPICS = (
    "a dragon",
    "Python lists",
    "prime numbers",
    "a birthday party",
    "the weather",
    "sorting algorithms",
    "the moon",
    "coffee",
    "a job interview",
    "bread baking",
    "the French Revolution",
    "unit tests",
    "a lighthouse",
    "photosynthesis",
    "chess",
    "a road trip",
    "JSON parsing",
    "volcanoes",
    "a haiku",
    "time zones",
)
FORMS = (
    "Tell me about {}.",
    "Write a short story about {}.",
    "Explain {} to a child.",
    "Give me three facts about {}.",
    "Write a Python function related to {}.",
    "What is the history of {}?",
    "Brainstorm ideas involving {}.",
    "Summarise {} in one line.",
    "Is there a common misconception about {}?",
    "Compare {} with something similar.",
)
REPLY = "Here is a short answer about that, in a sentence or two, as a test would expect."
TARGET_RATIO = 2.0
FIRST_CALL_ALLOWANCE = 0.100


def prompts() -> list[str]:
    """500 distinct prompts: every form of every topic, numbered past the 200 pairs."""
    pairs = [form.format(topic) for topic in TOPICS for form in FORMS]
    return [
        f"{pairs[i % len(pairs)]} (case {i})" if i >= len(pairs) else pairs[i]
        for i in range(PROMPTS)
    ]


def worker(kind: str) -> dict[str, float]:
    """Run one contender in this (fresh) process; seconds for the first call and the rest."""
    started = time.perf_counter()
    texts = prompts()
    call: Any
    if kind == "tiktoken":
        import tiktoken

        imported = time.perf_counter()
        tiktoken.get_encoding("o200k_base")
        return {"first": time.perf_counter() - imported, "suite": 0.0}
    if kind == "floor":
        import httpx2
        import openai
        from bench_offline import canned_body

        body = canned_body(REPLY, 20)

        def answer(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(200, headers={"content-type": "application/json"}, content=body)

        sdk = openai.OpenAI(
            api_key="canned",
            base_url="http://canned.bench/v1",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(answer)),
        )

        def call(text: str) -> object:
            return sdk.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": text}], max_tokens=64
            )

    elif kind in ("offline", "offline-cold"):
        import llmpresets

        client = llmpresets.Client(model="gpt-4o", offline=True, seed=0)

        def call(text: str) -> object:
            return client.chat([{"role": "user", "content": text}], max_output_tokens=64)

    elif kind == "offline-defaults":
        import httpx2
        import openai

        from llmpresets.offline import OfflineTransport

        sdk = openai.OpenAI(
            api_key="offline",
            base_url="http://offline.bench/v1",
            max_retries=0,
            http_client=httpx2.Client(transport=OfflineTransport(seed=0)),
        )

        def call(text: str) -> object:
            return sdk.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": text}], max_tokens=64
            )

    elif kind == "litellm":
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        def call(text: str) -> object:
            return litellm.completion(
                model="gpt-4o", messages=[{"role": "user", "content": text}], mock_response=REPLY
            )

    elif kind == "pydantic-ai":
        from pydantic_ai import Agent
        from pydantic_ai.models.test import TestModel

        agent = Agent(TestModel(custom_output_text=REPLY))

        def call(text: str) -> object:
            return agent.run_sync(text)

    else:
        raise SystemExit(f"unknown contender {kind!r}")
    call(texts[0])
    first = time.perf_counter() - started
    suite_started = time.perf_counter()
    for text in texts[1:]:
        call(text)
    return {"first": first, "suite": time.perf_counter() - suite_started}


def run(kind: str, environment: dict[str, str]) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--worker", kind],
        check=True,
        capture_output=True,
        text=True,
        env=environment,
        cwd=os.path.dirname(os.path.abspath(__file__)),
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return 0
    kinds = ["floor", "offline", "offline-defaults"]
    notes = []
    for peer, module in (("litellm", "litellm"), ("pydantic-ai", "pydantic_ai")):
        if importlib.util.find_spec(module) is not None:
            kinds.append(peer)
        else:
            notes.append(f"{peer} not installed: skipped")
    kinds.append("tiktoken")
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as cold:
        environment = {**os.environ, "LLMPRESETS_CACHE_DIR": cache}
        for kind in kinds:  # warm up: .pyc files, tiktoken's cache, the model cache
            run(kind, environment)
        samples: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
        samples["offline, empty model cache"] = []
        for number in range(args.rounds):
            shift = number % len(kinds)
            for kind in kinds[shift:] + kinds[:shift]:
                samples[kind].append(run(kind, environment))
            fresh = tempfile.mkdtemp(dir=cold)
            samples["offline, empty model cache"].append(
                run("offline-cold", {**environment, "LLMPRESETS_CACHE_DIR": fresh})
            )
    suite = {k: timing([s["suite"] for s in v]) for k, v in samples.items() if k != "tiktoken"}
    first = {k: timing([s["first"] for s in v]) for k, v in samples.items()}
    print(f"1. {PROMPTS} varied prompts in a fresh process (the {PROMPTS - 1} after the first)")
    floor = suite["floor"].median
    ok = True
    offline_kinds = ("offline", "offline-defaults")
    for kind in ("floor", *offline_kinds, "litellm", "pydantic-ai"):
        if kind in suite:
            ratio = suite[kind].median / floor
            line = f"   {kind:<30}{suite[kind].show('ms')}  ratio {ratio:5.2f}"
            if kind in offline_kinds:
                line += f"  {verdict(ratio, TARGET_RATIO)}"
                ok = ok and ratio <= TARGET_RATIO
            print(line)
    for kind in offline_kinds:
        for peer in ("litellm", "pydantic-ai"):
            if peer in suite:
                ahead = suite[kind].median < suite[peer].median
                ok = ok and ahead
                print(f"   {kind} ahead of {peer}: {'PASS' if ahead else 'FAIL'}")
    for note in notes:
        print(f"   note: {note}")
    print("2. first call in a fresh process (imports, set-up and the first reply)")
    for kind, measured in first.items():
        extra = measured.median - first["floor"].median
        label = "tiktoken get_encoding(o200k_base)" if kind == "tiktoken" else kind
        print(f"   {label:<36}{measured.show('ms')}  over the floor {extra * 1e3:+7.1f} ms")
    allowance = first["tiktoken"].median + FIRST_CALL_ALLOWANCE
    over = first["offline"].median - first["floor"].median
    first_ok = over <= allowance
    ok = ok and first_ok
    print(
        f"   offline over the floor {over * 1e3:.1f} ms vs tiktoken's load + 100 ms = "
        f"{allowance * 1e3:.1f} ms: {'PASS' if first_ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

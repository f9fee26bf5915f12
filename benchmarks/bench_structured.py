"""Structured outputs offline: what constrained decoding costs, measured in one run.

1. A JSON object for a schema (``response_format`` json_schema, strict) through the real openai
   SDK, against plain text of the same length in tokens (``max_tokens``, ``ignore_eos``), at the
   chat preset's settings. Both sides are timed in interleaved rounds (medians, fastest and
   slowest round); the ratio is per call and per token. Target (issue 9): <= 3x. The engine
   keeps the steps it has seen (a repeated prompt, as here, finds most of them), so the JSON
   call is also shown with its caches cleared before each call (a new prompt's cost).
2. Compiling a schema: llguidance's tokenizer for o200k (once per process), a schema's first
   compile, and the cached lookup every later request makes.
3. The mask: llguidance writing a step's mask into the engine's buffer, for a new reply's
   matcher: a string's first mask (most of the vocabulary allowed), the next one in the same
   string (llguidance reuses the mask it keeps while the lexer stays in one lexeme), and one
   between values (a few tokens allowed); and one whole engine step.

Run: ``python benchmarks/bench_structured.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from typing import Any

import httpx2
import numpy as np
import openai
from _timing import interleaved, verdict
from openai.types.chat import ChatCompletionMessageParam

from llmpresets._cache import clear_caches
from llmpresets.offline import OfflineTransport, default_language_model
from llmpresets.offline.engine.constrained.decoder import generate_constrained
from llmpresets.offline.engine.constrained.grammar import json_schema_grammar, tokenizer_for
from llmpresets.offline.engine.types import SamplingSettings
from llmpresets.offline.lm.sources import make_token_stepper
from llmpresets.tokens.encodings import get_encoding

TARGET_RATIO = 3.0
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Alice is 31, lives in Paris and likes chess and tennis."}
]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "city": {"type": "string"},
        "hobbies": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
        "score": {"type": "number"},
        "member": {"type": "boolean"},
        "kind": {"type": "string", "enum": ["person", "robot"]},
        "note": {"type": "string"},
        "country": {"type": "string"},
    },
    "required": ["name", "age", "city", "hobbies", "score", "member", "kind", "note", "country"],
    "additionalProperties": False,
}
FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "person", "schema": SCHEMA, "strict": True},
}


def sdk() -> openai.OpenAI:
    return openai.OpenAI(
        api_key="offline",
        base_url="http://offline.test/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=OfflineTransport(seed=0)),
    )


def once(function: Any) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    encoding = get_encoding("o200k_base")

    print("== compile ==")
    build = once(functools.partial(tokenizer_for, encoding, for_json=True))
    print(f"llguidance tokenizer for o200k, JSON grammars' (first use): {build * 1e3:8.1f} ms")
    firsts, cached = [], []
    for index in range(20):
        extra = {**SCHEMA["properties"], f"extra{index}": {"type": "string"}}
        compile_it = functools.partial(
            json_schema_grammar, encoding, {**SCHEMA, "properties": extra}
        )
        firsts.append(once(compile_it))
        cached.append(once(compile_it))
    first, again = statistics.median(firsts), statistics.median(cached)
    print(f"schema, first compile:  {first * 1e3:8.3f} ms (median of 20 schemas)")
    print(f"schema, cached lookup:  {again * 1e3:8.3f} ms  -> first/cached = {first / again:.0f}x")

    print("\n== mask per token (llguidance writing the engine's mask buffer) ==")
    grammar = json_schema_grammar(encoding, SCHEMA)
    buffer = grammar.mask_buffer()
    points = {
        "a string's first mask": ('{"name":"', None),
        "the next one (same string)": ('{"name":"', "Al"),
        "after a value": ('{"name":"Alice","age":31', None),
    }
    for label, (prefix, more) in points.items():
        samples = []
        for _ in range(500):
            matcher = grammar.matcher()  # a new reply's matcher, as the engine makes one
            matcher.consume_tokens(encoding.encode(prefix))
            if more is not None:
                buffer.fill(matcher)
                matcher.consume_tokens(encoding.encode(more))
            samples.append(once(functools.partial(buffer.fill, matcher)))
        allowed = int(np.unpackbits(np.frombuffer(bytes(buffer.raw), np.uint8)).sum())
        median = statistics.median(samples) * 1e6
        print(f"{label:27}: {median:7.1f} us ({allowed} tokens allowed)")
    source = default_language_model("o200k_base")
    prompt = "Alice is 31, lives in Paris and likes chess and tennis."
    step, vocab = make_token_stepper(source, encoding.encode_ordinary(prompt), encoding)
    settings = SamplingSettings(temperature=0.8, top_p=0.9, max_tokens=400)
    generate_constrained(step, vocab, encoding, grammar, settings, np.random.default_rng(0))
    per_token = []
    for seed in range(30):
        started = time.perf_counter()
        reply = generate_constrained(
            step, vocab, encoding, grammar, settings, np.random.default_rng(seed)
        )
        per_token.append((time.perf_counter() - started) / reply.completion_tokens)
    engine = statistics.median(per_token) * 1e6
    print(f"whole engine step (mask, source, prior, sample): {engine:7.1f} us/token")

    print("\n== JSON object vs plain text, through the SDK (chat preset: T=0.8, top_p=0.9) ==")
    json_client, text_client = sdk(), sdk()
    lengths: list[int] = []

    def json_call() -> None:
        reply = json_client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, response_format=FORMAT, temperature=0.8, top_p=0.9
        )
        assert reply.usage is not None
        lengths.append(reply.usage.completion_tokens)

    for _ in range(9):  # the plain text gets the JSON replies' typical length
        json_call()
    tokens = round(statistics.mean(lengths))

    def text_call() -> None:
        text_client.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            temperature=0.8,
            top_p=0.9,
            max_tokens=tokens,
            extra_body={"ignore_eos": True},
        )

    timings = interleaved(
        {"json": json_call, "text": text_call}, rounds=args.rounds, calls=args.calls
    )
    mean_json = statistics.mean(lengths)
    ratio = timings["json"].median / timings["text"].median
    per_token_ratio = (timings["json"].median / mean_json) / (timings["text"].median / tokens)
    print(f"JSON object ({mean_json:.1f} tokens on average): {timings['json'].show('ms')}")
    print(f"plain text ({tokens} tokens):               {timings['text'].show('ms')}")
    outcome = verdict(per_token_ratio, TARGET_RATIO)
    print(f"ratio per call: {ratio:.2f}x  per token: {per_token_ratio:.2f}x  {outcome}")

    def json_call_cold() -> None:
        clear_caches()
        json_call()

    print("\n== JSON object, the engine's caches cleared before each call (a new prompt) ==")
    cold = interleaved({"json": json_call_cold}, rounds=args.rounds, calls=args.calls)
    print(f"JSON object, cold: {cold['json'].show('ms')}")
    print("(for scale, not the target: the n-gram model's and the sampler's caches stay warm)")


if __name__ == "__main__":
    main()

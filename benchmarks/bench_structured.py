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
4. Reading the prompt (docs/offline.md, "Reading the prompt"): every reader over a
   conversation, uncached (a new system prompt) and cached (an agent's next turn), for a
   prompt that states nothing (every reader runs), a schema prompt (instructor's) and dspy's
   ChatAdapter prompt; as a share of the JSON reply of part 1. Target (issue 20): <= 20%.
   Then whole requests with reading on and off, interleaved: a JSON reply whose keys the
   prompt names (``json_object``), and a plain chat call, where it should cost nothing.

Run: ``python benchmarks/bench_structured.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import functools
import json
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
from llmpresets.offline.engine.reading import prompt_text, read_contract, read_text
from llmpresets.offline.engine.types import SamplingSettings
from llmpresets.offline.lm.sources import make_token_stepper
from llmpresets.tokens.encodings import get_encoding

TARGET_RATIO = 3.0
READING_TARGET = 0.20  # reading the prompt, as a share of a structured reply's time
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


def sdk(read_prompt: bool = True) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="offline",
        base_url="http://offline.test/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=OfflineTransport(seed=0, read_prompt=read_prompt)),
    )


INSTRUCTOR_PROMPT = (
    "As a genius expert, your task is to understand the content and provide\n"
    "the parsed objects in json that match the following json_schema:\n\n"
    f"{json.dumps(SCHEMA, indent=2)}\n\n"
    "Make sure to return an instance of the JSON, not the schema itself"
)
DSPY_PROMPT = """Your input fields are:
1. `ticket` (str):
Your output fields are:
1. `label` (Literal['billing', 'bug', 'feature', 'other']):
2. `confidence` (float):
3. `tags` (list[str]):
All interactions will be structured in the following way, with the appropriate values filled in.

[[ ## ticket ## ]]
{ticket}

[[ ## label ## ]]
{label}        # note: the value you produce must exactly match (no extra characters) one of: \
billing; bug; feature; other

[[ ## confidence ## ]]
{confidence}        # note: the value you produce must be a single float value

[[ ## tags ## ]]
{tags}        # note: the value you produce must adhere to the JSON schema: \
{"type": "array", "items": {"type": "string"}}

[[ ## completed ## ]]
In adhering to this structure, your objective is: Classify the ticket."""
READ_CASES: dict[str, list[dict[str, Any]]] = {
    "nothing stated (all readers run)": [
        {"role": "system", "content": "You are a helpful assistant. " * 40},
        {"role": "user", "content": "Alice is 31, lives in Paris and likes chess and tennis."},
    ],
    "instructor's schema prompt": [
        {"role": "system", "content": INSTRUCTOR_PROMPT},
        {"role": "user", "content": "Alice is 31, lives in Paris and likes chess and tennis."},
    ],
    "dspy ChatAdapter prompt": [
        {"role": "system", "content": DSPY_PROMPT},
        {"role": "user", "content": "[[ ## ticket ## ]]\nI was charged twice."},
    ],
}


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
    reading(timings["json"].median, args)


def reading(json_reply: float, args: argparse.Namespace) -> None:
    """Part 4: reading the prompt, alone and in whole requests (on and off)."""
    print("\n== reading the prompt: every reader over a conversation ==")
    worst = 0.0
    for label, messages in READ_CASES.items():
        uncached = functools.partial(read_text, prompt_text(messages))  # no cache: a new prompt
        cached = functools.partial(read_contract, messages)
        times = interleaved({"new": uncached, "kept": cached}, rounds=args.rounds, calls=200)
        found = read_contract(messages)
        worst = max(worst, times["new"].median)
        print(
            f"{label:34}: new {times['new'].show('us')}  kept {times['kept'].show('us')}"
            f"  -> {found.summary if found else 'nothing'}"
        )
    share = worst / json_reply
    print(
        f"slowest new read / JSON reply of part 1 ({json_reply * 1e3:.1f} ms): {share:.2%}"
        f"  {verdict(share, READING_TARGET)}"
    )

    print("\n== whole requests, reading on and off (interleaved) ==")
    on, off = sdk(read_prompt=True), sdk(read_prompt=False)
    keyed: Any = READ_CASES["instructor's schema prompt"]
    plain: Any = [{"role": "user", "content": "Tell me about the sea."}]

    def call(client: openai.OpenAI, messages: Any, **fields: Any) -> None:
        # A seed in the request: both sides draw the same replies (a transport's own counter
        # would give each side replies of other lengths).
        client.chat.completions.create(
            model="gpt-4o", messages=messages, temperature=0.8, top_p=0.9, seed=7, **fields
        )

    json_object = {"response_format": {"type": "json_object"}}
    same_length = {"max_tokens": 40, "extra_body": {"ignore_eos": True}}
    # The request's own schema: the same grammar on both sides, so what differs is reading the
    # conversation's values (John Smith, 42, the email) and drawing fields from them.
    extraction: Any = [
        {"role": "user", "content": "John Smith is 42 years old, email john@example.com"}
    ]
    person: Any = {
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "person",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "age": {"type": "integer"},
                        "email": {"type": "string"},
                    },
                    "required": ["name", "age", "email"],
                    "additionalProperties": False,
                },
            },
        }
    }
    contenders = {
        "json_schema, values read": functools.partial(call, on, extraction, **person),
        "json_schema, not read": functools.partial(call, off, extraction, **person),
        "json_object, keys read": functools.partial(call, on, keyed, **json_object),
        "json_object, not read": functools.partial(call, off, keyed, **json_object),
        "plain chat, reading on": functools.partial(call, on, plain, **same_length),
        "plain chat, reading off": functools.partial(call, off, plain, **same_length),
    }
    times = interleaved(contenders, rounds=args.rounds, calls=args.calls)
    for label, timing_ in times.items():
        print(f"{label:26}: {timing_.show('ms')}")

    def tokens(client: openai.OpenAI) -> int:
        reply = client.chat.completions.create(
            model="gpt-4o", messages=extraction, temperature=0.8, top_p=0.9, seed=7, **person
        )
        assert reply.usage is not None
        return int(reply.usage.completion_tokens)

    read_tokens, unread_tokens = tokens(on), tokens(off)
    per_token = (times["json_schema, values read"].median / read_tokens) / (
        times["json_schema, not read"].median / unread_tokens
    )
    print(
        f"structured reply, reading on / off: {per_token:.3f}x per token "
        f"({read_tokens} and {unread_tokens} tokens)  "
        f"{verdict(per_token - 1, READING_TARGET)} (on the extra time)"
    )
    ratio = times["plain chat, reading on"].median / times["plain chat, reading off"].median
    print(
        f"plain chat, on / off: {ratio:.3f}x (the json_object pair differs in grammar, "
        "not only reading)"
    )


if __name__ == "__main__":
    main()

"""Token counting cost, as ratios to raw tiktoken measured in the same run.

1. Counting a 200-message conversation of about 50,000 tokens with ``count_message_tokens``
   against encoding the same strings (roles, contents, names, tool-call names and arguments)
   with tiktoken directly, encodings warm. Target: at most 1.15 x ``encode_ordinary`` (the
   strictest baseline; ``encode``, which also scans for special tokens, is shown too).
2. First load of an encoding through llmpresets in a fresh process with an empty
   ``TIKTOKEN_CACHE_DIR`` (decompress the packaged file, verify its sha256, write it to the
   cache, let tiktoken load it) against plain tiktoken loading the same file from an already
   populated cache, also in a fresh process. Target: at most 1.5 x. A warm-cache load through
   llmpresets (which re-verifies the cached file) is shown against the same baseline.

Run: python benchmarks/bench_tokens.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

COUNT_TARGET = 1.15
LOAD_TARGET = 1.5

_PROSE = (
    "The migration moved every table to the new cluster over a weekend, and the only "
    "visible change for users was a shorter login page. Latency dropped from 180 ms to 40 ms "
    "at the 99th percentile; nobody noticed until the dashboards were rebuilt. "
    "Could you summarise the trade-offs between optimistic and pessimistic locking for a "
    "booking system that sees bursts of 5,000 requests per second? "
    "Sure. Optimistic locking assumes conflicts are rare: each row carries a version number, "
    "and an update succeeds only if the version is unchanged since it was read. "
    "Pessimistic locking takes the lock up front, which is simpler to reason about but holds "
    "connections longer under contention. "
    "Les réservations simultanées posent problème lorsque deux clients choisissent la même "
    "place ; une contrainte d'unicité suffit souvent. "
    "東京の天気は晴れ、最高気温は二十五度の予報です。 "
)
_CODE = (
    "def reserve(seat_id: int, user_id: int) -> bool:\n"
    "    with db.transaction() as tx:\n"
    "        row = tx.execute('SELECT version FROM seats WHERE id = %s', (seat_id,)).one()\n"
    "        updated = tx.execute(\n"
    "            'UPDATE seats SET owner = %s, version = version + 1 '\n"
    "            'WHERE id = %s AND version = %s', (user_id, seat_id, row.version))\n"
    "        return updated.rowcount == 1\n"
)
_JSON = json.dumps(
    {"seat": 14, "row": "F", "price": {"amount": 129.5, "currency": "EUR"}, "tags": ["aisle"]}
)


def build_conversation(seed: int = 7) -> list[dict[str, Any]]:
    """200 messages of varied prose, code, JSON and tool calls (about 50,000 o200k tokens)."""
    rng = random.Random(seed)
    sentences = [s.strip() + "." for s in _PROSE.split(". ") if s.strip()]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a careful senior engineer. " * 6}
    ]
    while len(messages) < 200:
        number = len(messages)
        parts = rng.sample(sentences, k=min(len(sentences), rng.randint(6, 10)))
        text = " ".join(parts)
        if rng.random() < 0.35:
            text += "\n\n```python\n" + _CODE * rng.randint(1, 2) + "```\n"
        if rng.random() < 0.2:
            text += f"\nRequest {number}: {_JSON}"
        if number % 2 == 1:
            message: dict[str, Any] = {"role": "user", "content": text}
            if rng.random() < 0.1:
                message["name"] = f"analyst_{number}"
        elif rng.random() < 0.1 and len(messages) < 198:
            call_id = f"call_{number}"
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": "lookup_booking", "arguments": _JSON},
                        }
                    ],
                }
            )
            message = {"role": "tool", "tool_call_id": call_id, "content": text}
        else:
            message = {"role": "assistant", "content": text}
        messages.append(message)
    return messages[:200]


def strings_of(messages: list[dict[str, Any]]) -> list[str]:
    """Every string the counter encodes: roles, contents, names, tool-call names and arguments."""
    strings: list[str] = []
    for message in messages:
        strings.append(message["role"])
        if isinstance(message.get("content"), str):
            strings.append(message["content"])
        if "name" in message:
            strings.append(message["name"])
        for call in message.get("tool_calls") or []:
            strings += [call["function"]["name"], call["function"]["arguments"]]
    return strings


def best_seconds(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_counting(repeat: int) -> bool:
    from llmpresets import count_message_tokens
    from llmpresets.tokens.encodings import get_encoding

    messages = build_conversation()
    strings = strings_of(messages)
    encoding = get_encoding("o200k_base")
    tokens = count_message_tokens(messages, "gpt-4o")  # warm: encoding, registry, role cache

    def ordinary() -> int:
        return sum(len(encoding.encode_ordinary(text)) for text in strings)

    def plain() -> int:
        return sum(len(encoding.encode(text)) for text in strings)

    def ours() -> int:
        return count_message_tokens(messages, "gpt-4o")

    # Interleave the three so drift on a shared machine hits them alike.
    ordinary_s, plain_s, ours_s = [], [], []
    for _ in range(repeat):
        ordinary_s.append(best_seconds(ordinary, 3))
        plain_s.append(best_seconds(plain, 3))
        ours_s.append(best_seconds(ours, 3))
    baseline, encode_baseline, ours_time = min(ordinary_s), min(plain_s), min(ours_s)
    ratio = ours_time / baseline
    verdict = "PASS" if ratio <= COUNT_TARGET else "FAIL"
    print(f"conversation: {len(messages)} messages, {tokens:,} tokens (gpt-4o, o200k_base)")
    print(f"  tiktoken encode_ordinary  {baseline * 1000:8.2f} ms  (baseline)")
    print(f"  tiktoken encode           {encode_baseline * 1000:8.2f} ms")
    print(f"  count_message_tokens      {ours_time * 1000:8.2f} ms")
    print(
        f"  ratio {ratio:.3f} x encode_ordinary ({ours_time / encode_baseline:.3f} x encode); "
        f"target <= {COUNT_TARGET}: {verdict}"
    )
    return ratio <= COUNT_TARGET


_LOAD_OURS = (
    "import time; start = time.perf_counter(); "
    "from llmpresets.tokens.encodings import get_encoding; get_encoding({name!r}); "
    "print(time.perf_counter() - start)"
)
_LOAD_TIKTOKEN = (
    "import time; start = time.perf_counter(); "
    "import tiktoken; tiktoken.get_encoding({name!r}); "
    "print(time.perf_counter() - start)"
)


def _timed_process(code: str, cache_dir: str) -> float:
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": cache_dir}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return float(result.stdout.strip())


def bench_loading(name: str, repeat: int) -> bool:
    from llmpresets.tokens.encodings import seed_tiktoken_cache

    with tempfile.TemporaryDirectory() as populated:
        seed_tiktoken_cache(name, populated)
        _timed_process(_LOAD_TIKTOKEN.format(name=name), populated)  # warm the OS file cache
        cold, warm, baseline = [], [], []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as empty:
                cold.append(_timed_process(_LOAD_OURS.format(name=name), empty))
            warm.append(_timed_process(_LOAD_OURS.format(name=name), populated))
            baseline.append(_timed_process(_LOAD_TIKTOKEN.format(name=name), populated))
    cold_s, warm_s, base_s = (statistics.median(t) for t in (cold, warm, baseline))
    ratio = cold_s / base_s
    verdict = "PASS" if ratio <= LOAD_TARGET else "FAIL"
    print(f"first load of {name} (median of {repeat} fresh processes, import included)")
    print(f"  tiktoken, populated cache      {base_s * 1000:8.1f} ms  (baseline)")
    print(f"  llmpresets, empty cache        {cold_s * 1000:8.1f} ms  ratio {ratio:.3f}")
    print(f"  llmpresets, populated cache    {warm_s * 1000:8.1f} ms  ratio {warm_s / base_s:.3f}")
    print(f"  target <= {LOAD_TARGET} (empty cache): {verdict}")
    return ratio <= LOAD_TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    results = [bench_counting(args.repeat)]
    for name in ("o200k_base", "cl100k_base"):
        results.append(bench_loading(name, max(3, args.repeat // 3)))
    print("overall:", "PASS" if all(results) else "FAIL")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Costly shapes: the time per item of a request made of many tiny items (issue 23).

A request of N tiny chat messages (or Responses input items), through the offline transport
(the body's JSON, the item-count check, the SDK-type validation, parsing, counting, one
generated token), as microseconds per item, beside the floor of the same body's JSON encode
and decode alone, measured in the same run, interleaved. Past ``MAX_INPUT_ITEMS`` (10,000) the
answer is the API's 400 ``array_above_max_length`` before any per-item work, so 100,000 items
cost about what their JSON does. Memory lines follow: the Responses store after 200 stored
responses of 500 KB (100 MB in) against its byte budget, and what a heavy streamed request
(``n=8, max_tokens=4096, top_logprobs=20, ignore_eos``) holds once its first byte is sent:
its tokens are capped by MAX_LOGPROB_ENTRIES_PER_REQUEST (6,240 here, not 32,768).

Run: python benchmarks/bench_shapes.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(__file__))

import httpx2
from _timing import interleaved

from llmpresets import OfflineTransport
from llmpresets.offline.api.responses.store import STORE_BYTES, ResponseStore, StoredResponse


def measure(http: httpx2.Client, count: int, rounds: int) -> None:
    """One line per endpoint: microseconds per item of a request of ``count`` tiny items."""
    tiny = {"role": "user", "content": "hi"}
    chat = {"model": "gpt-4.1", "messages": [tiny] * count, "max_tokens": 1}
    responses = {"model": "gpt-4.1", "input": [tiny] * count, "max_output_tokens": 16}
    statuses: dict[str, int] = {}

    def send(path: str, body: dict[str, object]) -> None:
        statuses[path] = http.post(path, json=body).status_code

    timings = interleaved(
        {
            "/chat/completions": lambda: send("/chat/completions", chat),
            "/responses": lambda: send("/responses", responses),
            "floor": lambda: json.loads(json.dumps(chat)),
        },
        rounds=rounds,
        calls=1,
    )
    for path in ("/chat/completions", "/responses"):
        per_item = timings[path]
        shown = (
            f"{per_item.median / count * 1e6:8.1f} "
            f"[{per_item.low / count * 1e6:.1f}-{per_item.high / count * 1e6:.1f}]"
        )
        print(
            f"{count:>8}  {path:<18} {statuses[path]:>6}  {shown:>26}  "
            f"{timings['floor'].median / count * 1e6:.1f}"
        )


def stream_memory(http: httpx2.Client) -> None:
    """Traced memory while a heavy stream is read, and its size."""
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Tell me a story"}],
        "n": 8,
        "max_tokens": 4096,
        "logprobs": True,
        "top_logprobs": 20,
        "ignore_eos": True,
        "stream": True,
        "seed": 1,
    }
    http.post("/chat/completions", json={**body, "max_tokens": 5})
    tracemalloc.start()
    with http.stream("POST", "/chat/completions", json=body) as reply:
        held, _ = tracemalloc.get_traced_memory()
        size = sum(len(chunk) for chunk in reply.iter_bytes())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"heavy stream: {size / 2**20:.1f} MiB of events; traced {held / 2**20:.1f} MiB "
        f"when the first byte is sent, peak {peak / 2**20:.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-stream", action="store_true", help="skip the heavy stream (~20 s)")
    args = parser.parse_args()
    http = httpx2.Client(transport=OfflineTransport(seed=0), base_url="http://offline.test/v1")
    print(f"{'items':>8}  {'endpoint':<18} {'status':>6}  {'us per item':>26}  floor (JSON only)")
    for count in (1_000, 10_000, 100_000):
        measure(http, count, args.rounds)
    store = ResponseStore()
    tracemalloc.start()
    for number in range(200):
        text = f"{number} " + "word " * 100_000
        store.put(StoredResponse({"id": f"resp_{number}", "output": [text]}, [], None))
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"\nResponses store: 200 x 500 KB stored; holds {store.used / 2**20:.1f} MiB "
        f"(budget {STORE_BYTES / 2**20:.0f} MiB), traced {held / 2**20:.1f} MiB, "
        f"{len(store)} responses kept"
    )
    if not args.no_stream:
        stream_memory(http)


if __name__ == "__main__":
    main()

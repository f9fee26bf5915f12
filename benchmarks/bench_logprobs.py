"""What logprobs cost the offline backend: one request, 400 tokens, with and without them.

Prints seconds per request (best of 5) and the ratio to the same request without logprobs,
measured in the same run. Run: ``python benchmarks/bench_logprobs.py``.
"""

from __future__ import annotations

import json
import time

import httpx2

from llmpresets import OfflineTransport

MESSAGES = [{"role": "user", "content": "Tell me a story about a dragon"}]


def best_of(client: httpx2.Client, extra: dict[str, object], repeats: int = 5) -> float:
    body = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "max_tokens": 400,
        "ignore_eos": True,
        "seed": 3,
        **extra,
    }
    content = json.dumps(body).encode()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.post("/chat/completions", content=content)
        best = min(best, time.perf_counter() - start)
        assert response.status_code == 200, response.text
    return best


def main() -> None:
    client = httpx2.Client(transport=OfflineTransport(seed=1), base_url="http://offline.test/v1")
    best_of(client, {}, repeats=1)  # load the model
    plain = best_of(client, {})
    print(f"{'case':<28}{'seconds':>10}{'ratio':>8}")
    print(f"{'no logprobs':<28}{plain:>10.4f}{1.0:>8.1f}")
    cases: list[tuple[str, dict[str, object]]] = [
        ("logprobs", {"logprobs": True}),
        ("logprobs, top_logprobs=5", {"logprobs": True, "top_logprobs": 5}),
        ("logprobs, top_logprobs=20", {"logprobs": True, "top_logprobs": 20}),
    ]
    for label, extra in cases:
        seconds = best_of(client, extra)
        print(f"{label:<28}{seconds:>10.4f}{seconds / plain:>8.1f}")


if __name__ == "__main__":
    main()

"""``llmpresets serve`` throughput: 1-token completions over loopback vs the in-process transport.

16 client threads, each with its own keep-alive ``httpx2.Client``, send 1-token chat
completions (``max_tokens=1``) as fast as answers come back:

- **server**: to ``llmpresets serve --port 0 --quiet`` in a subprocess (uvicorn on 127.0.0.1;
  its own process, as a user runs it);
- **in process**: to one shared :class:`~llmpresets.OfflineTransport` (the baseline).

Printed: requests per second, p50 and p99 latency for each, and the ratios server / in-process.
Run: ``python benchmarks/bench_serve.py [REQUESTS_PER_CLIENT]`` (default 40).
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import httpx2

from llmpresets.offline import OfflineTransport

CLIENTS = 16
BODY = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Tell me a story about a dragon."}],
    "max_tokens": 1,
}


def run(make_client: Callable[[], httpx2.Client], per_client: int) -> tuple[float, list[float]]:
    """(requests per second, per-request latencies in seconds) for CLIENTS concurrent clients."""
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)

    def client_loop() -> None:
        with make_client() as client:
            client.post("/chat/completions", json=BODY).raise_for_status()  # warm the connection
            start.wait()
            mine = []
            for _ in range(per_client):
                began = time.perf_counter()
                client.post("/chat/completions", json=BODY).raise_for_status()
                mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    per_client = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    transport = OfflineTransport(seed=0)
    # Warm the language model and tokenizer once, outside the timings.
    httpx2.Client(transport=transport, base_url="http://offline.test/v1").post(
        "/chat/completions", json=BODY
    )

    def in_process() -> httpx2.Client:
        return httpx2.Client(transport=transport, base_url="http://offline.test/v1")

    local_rate, local_latencies = run(in_process, per_client)
    server = subprocess.Popen(
        [sys.executable, "-m", "llmpresets", "serve", "--port", "0", "--seed", "0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().split(" at ", 1)[1].split()[0]

        def over_http() -> httpx2.Client:
            return httpx2.Client(base_url=base_url, timeout=60)

        server_rate, server_latencies = run(over_http, per_client)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        if server.stdout is not None:
            server.stdout.close()

    total = CLIENTS * per_client
    print(f"{CLIENTS} concurrent clients, {total} 1-token chat completions each way")
    print(f"{'':12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, rate, latencies in (
        ("in process", local_rate, local_latencies),
        ("server", server_rate, server_latencies),
    ):
        p50 = percentile(latencies, 0.50) * 1000
        p99 = percentile(latencies, 0.99) * 1000
        print(f"{name:12} {rate:9.0f} {p50:8.2f} {p99:8.2f}")
    print(
        f"ratio server / in process: req/s {server_rate / local_rate:.2f}, "
        f"p50 {statistics.median(server_latencies) / statistics.median(local_latencies):.2f}x, "
        f"p99 {percentile(server_latencies, 0.99) / percentile(local_latencies, 0.99):.2f}x"
    )


if __name__ == "__main__":
    main()

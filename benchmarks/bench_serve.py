"""``llmpresets serve`` throughput: 1-token completions over loopback vs the in-process transport.

16 client threads, each with its own keep-alive ``httpx2.Client``, send 1-token chat
completions (``max_tokens=1``) as fast as answers come back:

- **server**: to ``llmpresets serve --port 0 --quiet`` in a subprocess (uvicorn on 127.0.0.1;
  its own process, as a user runs it);
- **in process**: to one shared :class:`~llmpresets.OfflineTransport` (the baseline).

Five rounds interleave the two (the order rotating), so a slow spell of a shared machine lands
on both. Printed: the median requests per second [slowest-fastest round], p50 and p99 latency
over all rounds, and the ratios server / in-process. With 16 requests always in flight, latency
is mostly queueing (16 / throughput). Run: ``python benchmarks/bench_serve.py
[REQUESTS_PER_CLIENT]`` (default 20 per client per round).
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
    per_client = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rounds = 5
    transport = OfflineTransport(seed=0)
    # Warm the language model and tokenizer once, outside the timings.
    httpx2.Client(transport=transport, base_url="http://offline.test/v1").post(
        "/chat/completions", json=BODY
    )

    def in_process() -> httpx2.Client:
        return httpx2.Client(transport=transport, base_url="http://offline.test/v1")

    server = subprocess.Popen(
        [sys.executable, "-m", "llmpresets", "serve", "--port", "0", "--seed", "0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    rates: dict[str, list[float]] = {"in process": [], "server": []}
    latencies: dict[str, list[float]] = {"in process": [], "server": []}
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().split(" at ", 1)[1].split()[0]

        def over_http() -> httpx2.Client:
            return httpx2.Client(base_url=base_url, timeout=60)

        contenders = {"in process": in_process, "server": over_http}
        names = list(contenders)
        # Rounds interleave the two, in rotating order, so a slow spell of a shared machine
        # lands on both alike.
        for round_number in range(rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                rate, measured = run(contenders[name], per_client)
                rates[name].append(rate)
                latencies[name].extend(measured)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        if server.stdout is not None:
            server.stdout.close()

    total = CLIENTS * per_client
    print(f"{CLIENTS} concurrent clients, {rounds} rounds of {total} 1-token chat completions each")
    print(f"{'':12} {'req/s median [min-max]':>26} {'p50 ms':>8} {'p99 ms':>8}")
    for name in rates:
        low, high = min(rates[name]), max(rates[name])
        median = statistics.median(rates[name])
        p50 = percentile(latencies[name], 0.50) * 1000
        p99 = percentile(latencies[name], 0.99) * 1000
        print(f"{name:12} {median:10.0f} [{low:5.0f}-{high:5.0f}]      {p50:8.2f} {p99:8.2f}")
    ratio = statistics.median(rates["server"]) / statistics.median(rates["in process"])
    tail = percentile(latencies["server"], 0.99) / percentile(latencies["in process"], 0.99)
    print(f"ratio server / in process: req/s {ratio:.2f}; p99 {tail:.2f}x")


if __name__ == "__main__":
    main()

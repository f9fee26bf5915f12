"""``serve`` keeps answering, and stops on SIGTERM, while one request is expensive (issue 23).

The expensive request is a next-token source that spins the CPU for a while at every token
(a slow grammar or a huge generation looks the same to the server). The server runs in a
child process; the waits are generous upper bounds, never the thing asserted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading

import httpx2
import pytest

SERVER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from llmpresets import OfflineTransport
    from llmpresets.offline import OfflineApp
    from llmpresets.offline.server.run import run_server
    from llmpresets.tokens.encodings import get_encoding

    encoding = get_encoding("o200k_base")
    word = encoding.encode(" slow")[0]

    def source(context):
        deadline = time.perf_counter() + 0.2
        while time.perf_counter() < deadline:  # CPU, not a sleep: it holds the GIL in turns
            pass
        logits = np.full(encoding.n_vocab, -np.inf)
        logits[word] = 0.0
        return logits

    app = OfflineApp(OfflineTransport(seed=0, source=source))
    run_server(app, "127.0.0.1", 0, on_ready=lambda url: print(url, flush=True), warm_up=False)
    print("stopped", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name == "nt", reason="POSIX signals")
def test_a_slow_request_does_not_stop_others_or_sigterm() -> None:
    """While a 10-minute request runs: /models answers, SIGTERM exits 0 without waiting it out."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        slow_body = {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 3000,  # 3,000 tokens x 0.2 s: ten minutes
        }
        started = threading.Event()

        def slow() -> None:
            started.set()
            with contextlib.suppress(httpx2.HTTPError):  # cut by the shutdown
                httpx2.post(f"{url}/chat/completions", json=slow_body, timeout=900)

        threading.Thread(target=slow, daemon=True).start()
        started.wait(30)
        for _ in range(3):
            answer = httpx2.get(f"{url}/models", timeout=60)
            assert answer.status_code == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)  # far less than the slow request's ten minutes
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err

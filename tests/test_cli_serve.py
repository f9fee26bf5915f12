"""``llmpresets serve`` as a process: the printed URL, SIGTERM while streaming, usage errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx2
import pytest

from llmpresets.cli import main
from llmpresets.cli._serve import _is_loopback
from llmpresets.client.loopback import no_proxy_for_loopback

KEY = "sk-serve-secret-4242"


@pytest.fixture(scope="module", autouse=True)
def _loopback_not_proxied() -> Iterator[None]:
    """The clients here reach their local servers directly, whatever HTTP_PROXY says (as the
    llm_server fixture arranges for its users)."""
    with no_proxy_for_loopback():
        yield


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A `llmpresets serve --port 0` process (20 tokens/s, so a stream lasts a while)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "llmpresets", "serve", "--port", "0", "--seed", "1",
         "--latency", "0,20", "--api-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "serving the offline backend at http://127.0.0.1:" in line, line
    url = line.split(" at ", 1)[1].split()[0]
    try:
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_sigterm_while_streaming_finishes_the_stream_and_exits_0(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    """SIGTERM mid-stream: the open stream completes, the process exits 0, no traceback."""
    process, url = served
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Tell me a long story"}],
        "max_tokens": 30,
        "stream": True,
        "seed": 2,
    }
    events = []
    headers = {"Authorization": f"Bearer {KEY}"}
    with (
        httpx2.Client(timeout=30) as http,
        http.stream("POST", f"{url}/chat/completions", json=body, headers=headers) as reply,
    ):
        for line in reply.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(line[6:])
            if len(events) == 2:
                process.send_signal(signal.SIGTERM)
    assert events[-1] == "[DONE]"
    assert len(events) > 3
    json.loads(events[1])
    assert process.wait(20) == 0
    stderr = process.stderr.read() if process.stderr else ""
    assert "Traceback" not in stderr
    assert "server stopped" in stderr
    assert '"POST /v1/chat/completions" 200' in stderr
    assert KEY not in stderr


def test_sigint_exits_0(served: tuple[subprocess.Popen[str], str]) -> None:
    """Ctrl+C (SIGINT) on an idle server: exit status 0."""
    process, url = served
    assert httpx2.get(f"{url}/models").status_code == 401
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "--port: 70000 is not a port"),
        (["--latency", "soon"], "--latency: not a number"),
        (["--max-body-bytes", "-5"], "--max-body-bytes"),
        (["--port", "x"], "invalid int value"),
    ],
)
def test_usage_errors_exit_2_without_traceback(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad flags: one error line naming the flag and what is allowed, exit 2."""
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
     ("192.168.1.5", False), ("example.com", False)],
)  # fmt: skip
def test_non_loopback_hosts_are_flagged(host: str, loopback: bool) -> None:
    """--host other than loopback gets a warning (decided here, printed by the command)."""
    assert _is_loopback(host) is loopback


def test_a_taken_port_is_one_error_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """A port another server holds: 'cannot listen on ...', exit 1, before loading anything."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--api-key", KEY]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err and KEY not in err
    # The access log's handler went with the command (it wrote to this test's captured
    # stderr; left behind, a later server's requests would log to a closed stream).
    import logging

    assert not logging.getLogger("llmpresets.serve").handlers

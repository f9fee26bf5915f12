"""``llmpresets serve`` against slow, stuck and hostile clients (issue 23).

A fuzzer found: no header or body read timeout and no connection limit (half-sent requests
held their connections for ever); the access log wrote a request path's control characters and
line breaks as they were (forged lines, terminal escapes); SIGTERM with streams open printed a
traceback per cut stream, and ``--quiet`` did not silence uvicorn's. Waits below are generous
upper bounds for a busy machine, never the thing asserted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx2
import pytest

from llmpresets.offline import OfflineApp, OfflineTransport, ServerThread
from llmpresets.offline.server.asgi import loggable
from llmpresets.offline.server.run import ConnectionLimits

CHAT = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Say hi"}],
    "max_tokens": 4,
    "seed": 1,
}


def _address(base_url: str) -> tuple[str, int]:
    host_port = base_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def strict_server() -> Iterator[ServerThread]:
    """A server with short timeouts and room for three connections."""
    limits = ConnectionLimits(header_timeout=0.5, keep_alive_timeout=5, max_connections=3)
    app = OfflineApp(OfflineTransport(seed=0), body_timeout=0.5)
    thread = ServerThread(app, limits=limits)
    thread.start()
    yield thread
    thread.stop()


def _wait_closed(sock: socket.socket, timeout: float = 30) -> bytes:
    """What the server sends before it closes ``sock`` (b"" if nothing)."""
    sock.settimeout(timeout)
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_half_sent_headers_are_dropped_with_one_log_line(
    strict_server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection that never finishes its headers is closed, and said so in one line."""
    caplog.set_level(logging.INFO, logger="llmpresets.serve")
    with socket.create_connection(_address(strict_server.base_url)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        assert _wait_closed(sock) == b""
    lines = [
        r.getMessage() for r in caplog.records if "no complete request headers" in r.getMessage()
    ]
    assert len(lines) == 1
    assert "\n" not in lines[0]


def test_an_idle_connection_is_dropped_too(strict_server: ServerThread) -> None:
    """A connection that sends nothing at all is closed by the same header timer."""
    with socket.create_connection(_address(strict_server.base_url)) as sock:
        assert _wait_closed(sock) == b""


def test_a_trickled_body_gets_a_408(strict_server: ServerThread) -> None:
    """Headers promise 100 bytes, 10 arrive: 408 in the API's shape, connection closed."""
    with socket.create_connection(_address(strict_server.base_url)) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"model": '
        )
        answer = _wait_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"request_timeout" in answer


def test_past_the_connection_limit_a_request_gets_503(strict_server: ServerThread) -> None:
    """Three idle connections fill a limit of three: the fourth request is refused with 503."""
    address = _address(strict_server.base_url)
    held = [socket.create_connection(address) for _ in range(3)]
    try:
        with socket.create_connection(address) as sock:
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = _wait_closed(sock)
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
    finally:
        for sock in held:
            sock.close()


def test_normal_requests_still_answer_while_slow_clients_wait(strict_server: ServerThread) -> None:
    """Two half-sent requests do not stop a normal one (the limit is three)."""
    address = _address(strict_server.base_url)
    slow = [socket.create_connection(address) for _ in range(2)]
    try:
        for sock in slow:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
        answer = httpx2.post(f"{strict_server.base_url}/chat/completions", json=CHAT, timeout=60)
        assert answer.status_code == 200
    finally:
        for sock in slow:
            sock.close()


def test_the_access_log_escapes_control_characters(
    strict_server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """A percent-encoded newline or escape in the path cannot forge or colour a log line."""
    caplog.set_level(logging.INFO, logger="llmpresets.serve")
    path = "/v1/x%0A127.0.0.1%20%22GET%20/v1/admin%22%20200%1B[31m"
    with socket.create_connection(_address(strict_server.base_url)) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert _wait_closed(sock).startswith(b"HTTP/1.1 404 ")
    lines = [r.getMessage() for r in caplog.records if "/v1/x" in r.getMessage()]
    assert len(lines) == 1
    assert "\n" not in lines[0] and "\x1b" not in lines[0]
    assert '/v1/x\\n127.0.0.1 \\"GET /v1/admin\\" 200\\x1b[31m' in lines[0]


def test_loggable_cuts_long_paths() -> None:
    """A path of a megabyte is logged as its first 256 characters and '...'."""
    assert loggable("/" + "a" * 1_000_000) == "/" + "a" * 255 + "..."


# --------------------------------------------------------------------------- SIGTERM


@contextlib.contextmanager
def served(*options: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A ``llmpresets serve --port 0`` process at 5 tokens/s (a stream lasts a minute)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "llmpresets", "serve", "--port", "0", "--latency", "0,5",
         *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "serving the offline backend at" in line, line
    try:
        yield process, line.split(" at ", 1)[1].split()[0]
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _open_streams(url: str, count: int) -> list[threading.Thread]:
    """``count`` long streams, each started (first event read) before this returns."""
    started = threading.Barrier(count + 1, timeout=120)
    body = {**CHAT, "max_tokens": 600, "stream": True, "messages": [
        {"role": "user", "content": "Tell me a very long story"}]}  # fmt: skip

    def read() -> None:
        with (
            contextlib.suppress(httpx2.HTTPError),
            httpx2.Client(timeout=120) as http,
            http.stream("POST", f"{url}/chat/completions", json=body) as reply,
        ):
            lines = reply.iter_lines()
            next(line for line in lines if line.startswith("data: "))
            started.wait()
            for _ in lines:
                pass

    threads = [threading.Thread(target=read, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    started.wait()
    return threads


@pytest.mark.parametrize("quiet", [False, True], ids=["logged", "quiet"])
def test_sigterm_with_streams_open_prints_no_traceback(quiet: bool) -> None:
    """SIGTERM cuts three long streams: exit 0, no traceback; one line each, none with --quiet."""
    with served(*(["--quiet"] if quiet else [])) as (process, url):
        threads = _open_streams(url, 3)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
        for thread in threads:
            thread.join(60)
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert "CancelledError" not in stderr
    cut = [line for line in stderr.splitlines() if "cut=shutdown" in line]
    if quiet:
        assert stderr.strip() == "llmpresets: server stopped", stderr
    else:
        assert len(cut) == 3, stderr

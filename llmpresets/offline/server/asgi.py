"""The ASGI app of ``llmpresets serve``: the offline transport behind real HTTP.

:class:`OfflineApp` is an ASGI application that turns each HTTP request into an
``httpx2.Request`` for an :class:`~llmpresets.OfflineTransport` and sends back whatever the
transport answers, so every endpoint the transport knows is served with no list kept here
(``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/models``...; an unknown path gets the
transport's 404). Around that it adds what only a network server needs:

- an optional API key: a missing or wrong ``Authorization: Bearer`` gets the API's 401 (the key
  itself is never echoed, logged or shown in a repr);
- a request body limit: past ``max_body_bytes`` a 413 in the API's error shape, without reading
  the rest; and a body that takes longer than ``body_timeout`` seconds to arrive gets a 408 and
  its connection closed (a slow client cannot hold a connection by trickling its body);
- generation in a bounded pool of daemon threads (:mod:`.workers`), off the event loop, so
  concurrent requests all progress, the loop keeps answering while one request is expensive,
  and SIGTERM stops the server even with work in flight; a stream's events are sent (and
  flushed) one by one;
- simulated latency (:class:`Latency`): a delay before the first token, then tokens per second;
- the scripted faults of the transport (:mod:`~llmpresets.offline.faults`) done for real:
  a stall that holds the answer back, a reset that drops the TCP connection, a stream cut mid-body;
- one access-log line per request on the ``llmpresets.serve`` logger (no query string, no
  headers; control characters, quotes and backslashes of the path escaped, long paths cut,
  so a request cannot forge or split log lines); a stream cut by the server's shutdown is that
  line with ``cut=shutdown``, never a traceback.

:mod:`.run` runs this app on uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2

from ..faults import error_response, sse_events
from .workers import DaemonPool

if TYPE_CHECKING:
    from ...config.presets import FaultRule
    from ..transport import OfflineTransport

__all__ = ["DEFAULT_BODY_TIMEOUT", "DEFAULT_MAX_BODY_BYTES", "Latency", "OfflineApp", "loggable"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
# Seconds a request's whole body may take to arrive once its headers have (32 MiB at ~1 MB/s).
DEFAULT_BODY_TIMEOUT = 60.0
# The longest path the access log shows (the rest is cut, with "...").
_LOGGED_PATH = 256
# Headers the server sets itself (uvicorn frames the body) or that must not reach the transport.
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_PRIVATE_HEADERS = frozenset({"authorization", "api-key", "host", "content-length"})
_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    "username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
# The real API echoes part of a wrong key; this server echoes none of it.
_WRONG_KEY = (
    "Incorrect API key provided. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)

log = logging.getLogger("llmpresets.serve")


@dataclass(frozen=True)
class Latency:
    """Simulated model latency: ``first_token`` seconds, then ``tokens_per_second``.

    A streamed answer waits ``first_token`` before its first event and ``1 / tokens_per_second``
    between events; a whole answer waits ``first_token + completion tokens / tokens_per_second``.

    >>> Latency.parse("0.2,50")
    Latency(first_token=0.2, tokens_per_second=50.0)
    """

    first_token: float = 0.0
    tokens_per_second: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.first_token <= 600:
            raise ValueError(f"first-token delay must be 0..600 seconds, got {self.first_token}")
        if self.tokens_per_second is not None and not 0.01 <= self.tokens_per_second <= 1e6:
            raise ValueError(f"tokens per second must be 0.01..1e6, got {self.tokens_per_second}")

    @classmethod
    def parse(cls, text: str) -> Latency:
        """``"SECONDS"`` or ``"SECONDS,TOKENS_PER_SECOND"``; ValueError says what is allowed."""
        first, _, rate = text.partition(",")
        try:
            return cls(float(first), float(rate) if rate.strip() else None)
        except ValueError as exc:
            reason = str(exc) if "must be" in str(exc) else f"not a number in {text!r}"
            raise ValueError(
                f"latency: {reason}; expected SECONDS or SECONDS,TOKENS_PER_SECOND, e.g. 0.2,50"
            ) from None

    def per_event(self) -> float:
        return 0.0 if self.tokens_per_second is None else 1.0 / self.tokens_per_second

    def whole(self, tokens: int) -> float:
        return self.first_token + tokens * self.per_event()


class _Answered(Exception):
    """Raised inside the handler once a response (or a dropped connection) has ended it."""


class OfflineApp:
    """An ASGI app answering every request with an :class:`~llmpresets.OfflineTransport`.

    ``answer``: what answers a request instead of ``transport.answer`` (``llmpresets serve
    --cassette`` replays a cassette); faults, the model warm-up and the configuration stay the
    transport's.

    >>> app = OfflineApp(api_key="sk-local")
    >>> "sk-local" in repr(app)
    False
    """

    def __init__(
        self,
        transport: OfflineTransport | None = None,
        *,
        api_key: str | None = None,
        latency: Latency | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        threads: int = 16,
        answer: Callable[[httpx2.Request], httpx2.Response] | None = None,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        if transport is None:
            from ..transport import OfflineTransport

            transport = OfflineTransport()
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
        if not 0 < body_timeout <= 3600:
            raise ValueError(f"body_timeout must be 0..3600 seconds, got {body_timeout}")
        self.body_timeout = body_timeout
        self.transport = transport
        # What answers a request once faults are done: the transport, or a cassette's replay
        # (llmpresets serve --cassette) that falls back to it.
        self.answer = answer if answer is not None else transport.answer
        self.latency = latency or Latency()
        self.max_body_bytes = max_body_bytes
        self._api_key = api_key.encode() if api_key else None
        self._threads = threads
        self._pool: DaemonPool | None = None
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"OfflineApp(api_key={key}, latency={self.latency}, max_body={self.max_body_bytes})"

    def warm_up(self, model: str | None = None) -> None:
        """Load the tokenizer and language model before the first request needs them.

        A seeded one-token request through the transport; with ``seed`` in the body it does
        not advance a seeded transport's sequence.
        """
        model = model or self.transport.config.settings.default_model
        body = {
            "model": model,
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 1,
            "seed": 0,
        }
        request = httpx2.Request("POST", "http://llmpresets.local/v1/chat/completions", json=body)
        request.read()
        self.transport.answer(request)

    def close(self) -> None:
        """Stop the worker threads (a later request starts them again)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def _in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        with self._pool_lock:
            if self._pool is None:
                # Daemon threads: a generation still running when the server stops must not
                # keep the process alive (SIGTERM exits promptly; see workers.py).
                self._pool = DaemonPool(self._threads, name="llmpresets")
            pool = self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, function, *args)

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        outcome = _Outcome()
        try:
            await self._handle(scope, receive, _counting(send, outcome), outcome)
        except _Answered:
            pass
        except asyncio.CancelledError:
            outcome.cut = "shutdown"  # the server stopped mid-answer: one line, no traceback
            raise
        finally:
            client = scope.get("client")
            where = f"{client[0]}:{client[1]}" if client else "-"
            elapsed = (time.perf_counter() - started) * 1000
            fault = f" fault={outcome.fault}" if outcome.fault else ""
            cut = f" cut={outcome.cut}" if outcome.cut else ""
            log.info(
                '%s "%s %s" %s %.1fms%s%s',
                where,
                loggable(str(scope.get("method", "-"))),
                loggable(str(scope.get("path", "-"))),
                outcome.status if outcome.status is not None else "-",
                elapsed,
                fault,
                cut,
            )

    async def _handle(self, scope: Scope, receive: Receive, send: Send, outcome: _Outcome) -> None:
        headers = [(name.decode("latin-1").lower(), value) for name, value in scope["headers"]]
        if self._api_key is not None:
            await self._check_key(headers, send)
        body = await self._read_body(headers, receive, send)
        request = _to_request(scope, headers, body)
        disconnect = _DisconnectWatch(receive)
        try:
            fault = self.transport.faults.take(request)
            if fault is not None:
                outcome.fault = fault.fault
                await self._fault(fault, request, send, disconnect)
            response = await self._in_thread(self.answer, request)
            await self._send_response(response, send, disconnect)
        finally:
            disconnect.cancel()

    async def _check_key(self, headers: list[tuple[str, bytes]], send: Send) -> None:
        assert self._api_key is not None
        given = next((value for name, value in headers if name == "authorization"), None)
        if given is None or not given.lower().startswith(b"bearer "):
            await _send_error(send, 401, _MISSING_KEY, code=None)
        elif not hmac.compare_digest(given[7:].strip(), self._api_key):
            await _send_error(send, 401, _WRONG_KEY, code="invalid_api_key")

    async def _read_body(
        self, headers: list[tuple[str, bytes]], receive: Receive, send: Send
    ) -> bytes:
        declared = next((value for name, value in headers if name == "content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send, int(declared))
        chunks: list[bytes] = []
        size = 0
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        while True:
            try:
                message = await asyncio.wait_for(
                    receive(), deadline - asyncio.get_running_loop().time()
                )
            except TimeoutError:
                await self._body_too_slow(send, size)
            if message["type"] == "http.disconnect":
                raise _Answered
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(send, None)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _body_too_slow(self, send: Send, received: int) -> None:
        log.info(
            "dropped: request body not received within %gs (%d bytes arrived)",
            self.body_timeout,
            received,
        )
        await _send_error(
            send,
            408,
            f"Request body not received within {self.body_timeout:g} seconds "
            "(llmpresets serve --body-timeout).",
            code="request_timeout",
            close=True,
        )

    async def _too_large(self, send: Send, size: int | None) -> None:
        what = f"{size} bytes" if size is not None else "larger than that"
        await _send_error(
            send,
            413,
            f"Request body too large: {what}. This server accepts at most "
            f"{self.max_body_bytes} bytes (llmpresets serve --max-body-bytes).",
            code="request_too_large",
            close=True,
        )

    async def _fault(
        self,
        rule: FaultRule,
        request: httpx2.Request,
        send: Send,
        disconnect: _DisconnectWatch,
    ) -> None:
        """Do a scripted fault for real; returns only when the normal answer should follow."""
        response = error_response(rule)
        if response is not None:
            await self._send_response(response, send, disconnect)
        elif rule.fault == "reset":
            _drop_connection(send)
            raise _Answered
        elif rule.fault == "stall":
            # Hold the answer back; stop early if the client gives up.
            await asyncio.wait({disconnect.future()}, timeout=rule.stall_seconds)
            if disconnect.future().done():
                raise _Answered
        else:  # cut_stream
            response = await self._in_thread(self.answer, request)
            await self._send_response(response, send, disconnect, cut_after=rule.after_events)
            _drop_connection(send)
            raise _Answered

    async def _send_response(
        self,
        response: httpx2.Response,
        send: Send,
        disconnect: _DisconnectWatch,
        *,
        cut_after: int | None = None,
    ) -> None:
        headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers.multi_items()
            if name.lower() not in _HOP_HEADERS
        ]
        streamed = response.headers.get("content-type", "").startswith("text/event-stream")
        if not streamed:
            try:
                body = response.content
            except httpx2.ResponseNotRead:
                body = await self._in_thread(response.read)
            if response.status_code == 200 and self.latency != Latency():
                await asyncio.sleep(self.latency.whole(_completion_tokens(body)))
            headers.append((b"content-length", str(len(body)).encode()))
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": headers}
            )
            await send({"type": "http.response.body", "body": body})
            raise _Answered
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        events = sse_events(iter(response.stream))  # type: ignore[arg-type]
        delay = self.latency.first_token
        sent = 0
        while cut_after is None or sent < cut_after:
            event = await self._in_thread(next, events, None)
            if event is None or disconnect.future().done():
                break
            if delay:
                await asyncio.sleep(delay)
            delay = self.latency.per_event()
            await send({"type": "http.response.body", "body": event, "more_body": True})
            sent += 1
        if cut_after is not None:
            return
        await send({"type": "http.response.body", "body": b""})
        raise _Answered


@dataclass
class _Outcome:
    status: int | None = None
    fault: str | None = None
    cut: str | None = None


def loggable(text: str, limit: int = _LOGGED_PATH) -> str:
    r"""``text`` safe for one log line: control characters, quotes and backslashes escaped.

    A request path is percent-decoded by the server, so ``/v1/x%0A127.0.0.1 "GET /"`` would
    otherwise write a forged second line (or terminal escapes). Cut at ``limit`` characters.

    >>> print(loggable('/v1/x\n"GET /admin"\x1b[31m'))
    /v1/x\n\"GET /admin\"\x1b[31m
    """
    shown = text if len(text) <= limit else text[:limit] + "..."
    if shown.isprintable() and '"' not in shown and "\\" not in shown:
        return shown
    return "".join(map(_escaped, shown))


def _escaped(character: str) -> str:
    if character in '"\\':
        return "\\" + character
    if character.isprintable():
        return character
    return character.encode("unicode_escape").decode("ascii")


def _counting(send: Send, outcome: _Outcome) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            outcome.status = message["status"]
        await send(message)

    # Keep the server's own send reachable: a reset drops its connection.
    wrapped.__wrapped__ = send  # type: ignore[attr-defined]
    return wrapped


async def _send_error(
    send: Send, status: int, message: str, *, code: str | None, close: bool = False
) -> None:
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-should-retry", b"false"),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    raise _Answered


def _to_request(scope: Scope, headers: list[tuple[str, bytes]], body: bytes) -> httpx2.Request:
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    url = "http://llmpresets.local" + path.decode("latin-1")
    if query:
        url += "?" + query.decode("latin-1")
    forwarded = [
        (name.encode("latin-1"), value) for name, value in headers if name not in _PRIVATE_HEADERS
    ]
    request = httpx2.Request(scope["method"], url, headers=forwarded, content=body)
    request.read()
    return request


class _DisconnectWatch:
    """Learns when the client goes away; started only when a stream or a stall needs it."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: asyncio.Future[None] | None = None

    def future(self) -> asyncio.Future[None]:
        if self._task is None:
            self._task = asyncio.ensure_future(self._wait())
        return self._task

    async def _wait(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _completion_tokens(body: bytes) -> int:
    """Output tokens of a JSON answer (chat, completions or Responses usage), else 0."""
    try:
        usage = json.loads(body).get("usage") or {}
    except (ValueError, AttributeError):
        return 0
    tokens = usage.get("completion_tokens", usage.get("output_tokens", 0))
    return tokens if isinstance(tokens, int) else 0


def _drop_connection(send: Send) -> None:
    """Close the client's TCP connection at once, with a reset (uvicorn's connection).

    ASGI has no message for this; uvicorn's ``send`` is a method of the request's cycle, which
    holds the asyncio transport.
    """
    inner = getattr(send, "__wrapped__", send)
    transport = getattr(getattr(inner, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("this ASGI server does not expose its connection; cannot reset it")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # linger 0: close sends RST, not FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()

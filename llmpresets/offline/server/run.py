"""Running the ASGI app of ``llmpresets serve`` (:mod:`.asgi`) on uvicorn.

:class:`ServerThread` runs it on a background thread (the pytest fixture and the tests use it);
:func:`run_server` runs it in the foreground until SIGINT or SIGTERM, then exits with status 0
(the CLI). Both bind the socket themselves, so ``port=0`` gives a known free port, and import
uvicorn only when a server starts.

Slow or stuck clients are bounded (:class:`ConnectionLimits`): a connection must send its
request's headers within ``header_timeout`` seconds (uvicorn has no such timer: a half-sent
request would hold its connection, and a slot of the connection limit, for ever), an idle
keep-alive connection closes after ``keep_alive_timeout``, at most ``max_connections`` are
served at once (more get a 503), and a header block may hold ``max_header_bytes``. The body's
own timeout is the app's (:class:`~.asgi.OfflineApp`). Each dropped connection is one line on
the ``llmpresets.serve`` logger, and uvicorn's own log says each problem in one line, without
a traceback (:func:`one_line_logs`); a stream cut by the shutdown is not an error at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .asgi import OfflineApp

__all__ = ["ConnectionLimits", "ServerThread", "base_url_of", "one_line_logs", "run_server"]

log = logging.getLogger("llmpresets.serve")


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take and how many may connect (``llmpresets serve`` options).

    >>> ConnectionLimits().max_connections
    256
    """

    header_timeout: float = 15.0
    keep_alive_timeout: int = 15
    max_connections: int = 256
    max_header_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if not 0 < self.header_timeout <= 3600:
            raise ValueError(f"header timeout must be 0..3600 seconds, got {self.header_timeout}")
        if not 1 <= self.keep_alive_timeout <= 3600:
            raise ValueError(
                f"keep-alive timeout must be 1..3600 seconds, got {self.keep_alive_timeout}"
            )
        if not 1 <= self.max_connections <= 100_000:
            raise ValueError(f"max connections must be 1..100000, got {self.max_connections}")
        if not 1024 <= self.max_header_bytes <= 16 * 1024 * 1024:
            raise ValueError(
                f"max header bytes must be 1024..16777216, got {self.max_header_bytes}"
            )


class _OneLine(logging.Filter):
    """uvicorn's records as one line each: no traceback, no shutdown cancellations."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError):
            return False  # a stream cut by the shutdown: the access log already says so
        if "timeout graceful shutdown exceeded" in str(record.msg):
            return False
        if exc is not None:
            record.msg = f"{record.getMessage().strip()}: {type(exc).__name__}: {exc}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


_one_line = _OneLine()


def one_line_logs() -> None:
    """Make uvicorn's own log one line per problem (idempotent; process-wide)."""
    logger = logging.getLogger("uvicorn.error")
    if _one_line not in logger.filters:
        logger.addFilter(_one_line)


def _protocol_class(header_timeout: float) -> Any:
    """uvicorn's h11 protocol with a timer on the request headers (see the module docstring)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._between_requests() and self._header_timer is None:
                self._arm()  # the first bytes of a next request: its headers are due
            super().data_received(data)
            if not self._between_requests():
                self._disarm()  # the headers arrived: the app's body timeout takes over

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _between_requests(self) -> bool:
            cycle = self.cycle
            return cycle is None or bool(cycle.response_complete)

        def _arm(self) -> None:
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self._between_requests() and not self.transport.is_closing():
                where = "%s:%d" % self.client if self.client else "-"  # noqa: UP031
                log.info(
                    "%s dropped: no complete request headers within %gs", where, header_timeout
                )
                self.transport.close()

    return TimedH11Protocol


def _uvicorn_server(
    app: OfflineApp,
    on_started: Callable[[], None] | None = None,
    limits: ConnectionLimits | None = None,
) -> Any:
    import uvicorn

    limits = limits or ConnectionLimits()
    one_line_logs()

    class Server(uvicorn.Server):
        """uvicorn's server, exiting with status 0 on SIGINT / SIGTERM (no re-raised signal)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def _on_signal(self, sig: int, frame: Any) -> None:
            if self.should_exit:  # a second signal: stop waiting for open streams
                self.force_exit = True
            self.should_exit = True

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if on_started is not None and not self.should_exit:
                on_started()

    config = uvicorn.Config(
        app,
        http=_protocol_class(limits.header_timeout),
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=limits.keep_alive_timeout,
        # uvicorn counts the asking connection too: one more lets max_connections be served.
        limit_concurrency=limits.max_connections + 1,
        h11_max_incomplete_event_size=limits.max_header_bytes,
    )
    return Server(config)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def base_url_of(sock: socket.socket) -> str:
    """``http://HOST:PORT/v1`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


def run_server(
    app: OfflineApp,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    on_ready: Callable[[str], None] | None = None,
    warm_up: bool = True,
    limits: ConnectionLimits | None = None,
) -> None:
    """Serve ``app`` in the foreground until SIGINT / SIGTERM; ``on_ready(base_url)`` once up.

    ``port=0`` picks a free port (``on_ready`` gets the real one). The address is bound first
    (so a taken port fails at once), then the model is loaded (``warm_up``), then the server
    starts. Open streams get up to five seconds to finish after the signal; a second signal
    stops at once.
    """
    sock = _bind(host, port)
    url = base_url_of(sock)
    server = _uvicorn_server(app, (lambda: on_ready(url)) if on_ready else None, limits)
    try:
        if warm_up:
            app.warm_up()
        server.run(sockets=[sock])
    finally:
        sock.close()
        app.close()


class ServerThread:
    """A server on a background thread: ``with ServerThread(app) as url: ...``.

    Binds ``host`` (127.0.0.1) on ``port`` (0: a free one) before it returns from
    :meth:`start`, so ``base_url`` is usable at once; :meth:`stop` shuts it down.

    >>> with ServerThread() as base_url:
    ...     base_url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(
        self,
        app: OfflineApp | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: ConnectionLimits | None = None,
    ) -> None:
        self.app = app if app is not None else OfflineApp()
        self.host = host
        self.port = port
        self.limits = limits
        self.base_url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30) -> str:
        """Start serving; returns the base URL (``http://127.0.0.1:PORT/v1``)."""
        sock = _bind(self.host, self.port)
        ready = threading.Event()
        self._server = _uvicorn_server(self.app, ready.set, self.limits)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="llmpresets-serve",
            daemon=True,
        )
        self._thread.start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"the offline server did not start within {timeout} s")
        self.base_url = base_url_of(sock)
        return self.base_url

    def stop(self, timeout: float = 10) -> None:
        """Ask the server to exit and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        self.app.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

"""Running the ASGI app of ``llmpresets serve`` (:mod:`.asgi`) on uvicorn.

:class:`ServerThread` runs it on a background thread (the pytest fixture and the tests use it);
:func:`run_server` runs it in the foreground until SIGINT or SIGTERM, then exits with status 0
(the CLI). Both bind the socket themselves, so ``port=0`` gives a known free port, and import
uvicorn only when a server starts.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .asgi import OfflineApp

__all__ = ["ServerThread", "base_url_of", "run_server"]


def _uvicorn_server(app: OfflineApp, on_started: Callable[[], None] | None = None) -> Any:
    import uvicorn

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
        http="h11",
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=30,
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
) -> None:
    """Serve ``app`` in the foreground until SIGINT / SIGTERM; ``on_ready(base_url)`` once up.

    ``port=0`` picks a free port (``on_ready`` gets the real one). The address is bound first
    (so a taken port fails at once), then the model is loaded (``warm_up``), then the server
    starts. Open streams get up to five seconds to finish after the signal; a second signal
    stops at once.
    """
    sock = _bind(host, port)
    url = base_url_of(sock)
    server = _uvicorn_server(app, (lambda: on_ready(url)) if on_ready else None)
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
        self, app: OfflineApp | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app = app if app is not None else OfflineApp()
        self.host = host
        self.port = port
        self.base_url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30) -> str:
        """Start serving; returns the base URL (``http://127.0.0.1:PORT/v1``)."""
        sock = _bind(self.host, self.port)
        ready = threading.Event()
        self._server = _uvicorn_server(self.app, ready.set)
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

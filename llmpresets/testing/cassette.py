"""``Cassette``: record real exchanges with an API once, replay them in every test run after.

An httpx2 transport, sync and async, for the SDK's ``http_client=`` (or for
:func:`~llmpresets.intercept_openai`, or ``llmpresets serve --cassette``). The file format,
the request matching and the scrubbing are in :mod:`.cassette_file`.

Modes:

- ``"replay"``: answer from the file only; a request it lacks is a miss.
- ``"record"``: send every request to ``inner`` and write every exchange; the file is
  rewritten from this run's exchanges (what it held before is dropped at the first one).
- ``"new"``: replay what the file has, record what it lacks.
- ``"auto"`` (the default): replay what the file has; record what it lacks when a key is set,
  that is when the request carries the key found in ``OPENAI_API_KEY`` (or
  ``AZURE_OPENAI_API_KEY``); else a miss. With no key in the environment (CI) it never
  touches the network.

A miss, with ``on_miss="offline"`` (default), is answered by the offline backend with a
:class:`CassetteMissWarning` naming the request and the cassette; with ``on_miss="error"`` it
raises :class:`~llmpresets.CassetteMissError` (``llmpresets serve`` answers it as a 404 with
code ``cassette_miss``). The n-th of several identical requests gets the n-th recording; past
the last, the last again (or, when recording, a new recording).

Streams are recorded as the chunks the client received, each with its time after the request
was sent; replay gives the same chunks, at once, or at the recorded times with
``realtime=True``. Recording asks the server for an uncompressed body (``Accept-Encoding:
identity``) so the file holds readable text. ``inner`` defaults to the SDK's default network
transport (through the environment's proxy for remote hosts, never for loopback ones).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2

from .._errors import CassetteMissError, ConfigError
from ..client.loopback import is_loopback_url
from .cassette_file import (
    Chunk,
    Exchange,
    describe_request,
    dump_cassette,
    load_cassette,
    request_key,
    secrets_of,
)
from .intercept import allow_network

if TYPE_CHECKING:
    from ..offline import OfflineTransport

__all__ = ["MODES", "ON_MISS", "Cassette", "CassetteMissWarning"]

MODES = ("auto", "new", "record", "replay")
ON_MISS = ("offline", "error")
_KEY_VARIABLES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding"})


class CassetteMissWarning(UserWarning):
    """A cassette had no recording of a request; the offline backend answered it."""


class Cassette(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Replay recorded exchanges from ``path``; record new ones (module docstring: the modes).

    ``mode``: ``"auto"`` | ``"new"`` | ``"record"`` | ``"replay"``. ``on_miss``:
    ``"offline"`` | ``"error"``. ``inner``: where recording sends requests (an httpx2
    transport; default: the network). ``offline``: the transport that answers misses (default
    ``OfflineTransport(seed=0)``). ``realtime``: replay stream chunks at their recorded times.

    >>> import httpx2, openai, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "hi.yaml"
    >>> client = openai.OpenAI(api_key="offline", base_url="http://localhost:9/v1",
    ...     http_client=httpx2.Client(transport=Cassette(path, mode="replay")))
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     reply = client.chat.completions.create(model="gpt-4o", max_tokens=3,
    ...         messages=[{"role": "user", "content": "Hi"}])
    >>> reply.object, "no recording of POST /v1/chat/completions" in str(caught[0].message)
    ('chat.completion', True)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: str = "auto",
        on_miss: str = "offline",
        inner: httpx2.BaseTransport | httpx2.AsyncBaseTransport | None = None,
        offline: OfflineTransport | None = None,
        realtime: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"Cassette(mode={mode!r}); allowed: {', '.join(MODES)}", field="mode")
        if on_miss not in ON_MISS:
            raise ConfigError(
                f"Cassette(on_miss={on_miss!r}); allowed: {', '.join(ON_MISS)}", field="on_miss"
            )
        self.path = Path(path)
        self.mode = mode
        self.on_miss = on_miss
        self.realtime = realtime
        self._inner = inner
        self._offline = offline
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        # The default inner transport: one network client per kind of host (loopback hosts
        # are reached without the environment's proxy).
        self._sync_clients: dict[bool, httpx2.Client] = {}
        self._async_clients: dict[bool, httpx2.AsyncClient] = {}
        self.exchanges: list[Exchange] = []
        if mode != "record" and self.path.exists():
            self.exchanges = load_cassette(self.path)
        self._fresh = mode == "record"  # the old recordings are dropped at the first new one
        self._played: dict[str, int] = {}
        self.recorded = 0  # exchanges recorded by this object
        self.misses: list[str] = []  # the requests it had no recording of, described

    def __repr__(self) -> str:
        return (
            f"Cassette({str(self.path)!r}, mode={self.mode!r}, on_miss={self.on_miss!r}, "
            f"{len(self.exchanges)} exchanges)"
        )

    @property
    def offline(self) -> OfflineTransport:
        """The transport that answers misses (made on first use)."""
        if self._offline is None:
            from ..offline import OfflineTransport

            self._offline = OfflineTransport(seed=0)
        return self._offline

    # ------------------------------------------------------------------ httpx2 entry points

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        found = self._find(request)
        if found is not None:
            return self._replay(found)
        if self._records(request):
            return self._record(request)
        self._miss(request)
        return self.offline.handle_request(request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        found = self._find(request)
        if found is not None:
            return self._replay(found)
        if self._records(request):
            return await self._record_async(request)
        self._miss(request)
        return await self.offline.handle_async_request(request)

    def answer(self, request: httpx2.Request) -> httpx2.Response:
        """For ``llmpresets serve``: as :meth:`handle_request`, a refused miss as a 404."""
        try:
            found = self._find(request)
            if found is not None:
                return self._replay(found)
            if self._records(request):
                return self._record(request)
            self._miss(request)
        except CassetteMissError as exc:
            return httpx2.Response(
                404,
                headers={"x-should-retry": "false"},
                json={
                    "error": {
                        "message": exc.message,
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "cassette_miss",
                    }
                },
            )
        return self.offline.answer(request)

    def close(self) -> None:
        for client in self._sync_clients.values():
            client.close()

    async def aclose(self) -> None:
        for client in self._async_clients.values():
            await client.aclose()

    # ------------------------------------------------------------------ replay

    def _find(self, request: httpx2.Request) -> Exchange | None:
        if self.mode == "record":
            return None
        key = request_key(request.method, request.url.path, request.content)
        with self._lock:
            matches = [exchange for exchange in self.exchanges if exchange.key == key]
            if not matches:
                return None
            seen = self._played.get(key, 0)
            if seen >= len(matches) and self.mode != "replay" and self._records(request):
                return None  # every recording used: record one more
            self._played[key] = seen + 1
            return matches[min(seen, len(matches) - 1)]

    def _replay(self, exchange: Exchange) -> httpx2.Response:
        headers = [(name, value) for name, value in exchange.headers]
        if exchange.chunks is not None:
            stream = _Replayed(exchange.chunks, self.realtime)
            return httpx2.Response(exchange.status, headers=headers, stream=stream)
        return httpx2.Response(exchange.status, headers=headers, content=exchange.content or b"")

    # ------------------------------------------------------------------ misses

    def _records(self, request: httpx2.Request) -> bool:
        if self.mode in ("record", "new"):
            return True
        if self.mode == "replay":
            return False
        keys = {os.environ.get(variable) for variable in _KEY_VARIABLES} - {None, ""}
        given = request.headers.get("authorization", "")
        given = given[7:].strip() if given.lower().startswith("bearer ") else given
        return bool(keys) and (given in keys or request.headers.get("api-key") in keys)

    def _miss(self, request: httpx2.Request) -> None:
        described = describe_request(request.method, request.url.path, request.content)
        with self._lock:
            self.misses.append(described)
        if self.on_miss == "error":
            raise CassetteMissError(
                f"cassette {self.path} has no recording of {described} (mode {self.mode!r}); "
                "record it (pytest --llm-record=new, or Cassette(mode='new') with the API key "
                "set) or answer misses offline with on_miss='offline'",
                cassette=str(self.path),
                request=described,
            )
        warnings.warn(
            f"cassette {self.path} has no recording of {described}; answered by the offline "
            "backend (record it with pytest --llm-record=new, or Cassette(mode='new'))",
            CassetteMissWarning,
            stacklevel=2,
        )

    # ------------------------------------------------------------------ recording

    def _forwarded(self, request: httpx2.Request) -> httpx2.Request:
        with self._lock:
            self._secrets |= secrets_of(request.headers.multi_items())
        headers = httpx2.Headers(request.headers)
        headers["accept-encoding"] = "identity"
        forwarded = httpx2.Request(
            request.method,
            request.url,
            headers=headers,
            content=request.content,
            extensions=request.extensions,
        )
        return forwarded

    def _record(self, request: httpx2.Request) -> httpx2.Response:
        forwarded = self._forwarded(request)
        started = time.monotonic()
        inner = self._inner
        if inner is None:
            local = is_loopback_url(request.url)
            with self._lock:
                client = self._sync_clients.get(local)
                if client is None:
                    client = self._sync_clients[local] = httpx2.Client(
                        timeout=None, trust_env=not local
                    )
            with allow_network():
                response = client.send(forwarded, stream=True)
        elif isinstance(inner, httpx2.BaseTransport):
            with allow_network():
                response = inner.handle_request(forwarded)
        else:
            raise TypeError("Cassette(inner=...): a sync client needs a sync httpx2 transport")
        exchange, streamed = self._exchange(request, response)
        if streamed:
            return self._recording(exchange, response, started)
        try:
            content = response.read()
        finally:
            response.close()
        return self._whole(exchange, content)

    async def _record_async(self, request: httpx2.Request) -> httpx2.Response:
        forwarded = self._forwarded(request)
        started = time.monotonic()
        inner = self._inner
        if inner is None:
            local = is_loopback_url(request.url)
            with self._lock:
                aclient = self._async_clients.get(local)
                if aclient is None:
                    aclient = self._async_clients[local] = httpx2.AsyncClient(
                        timeout=None, trust_env=not local
                    )
            with allow_network():
                response = await aclient.send(forwarded, stream=True)
        elif isinstance(inner, httpx2.AsyncBaseTransport):
            with allow_network():
                response = await inner.handle_async_request(forwarded)
        else:
            raise TypeError("Cassette(inner=...): an async client needs an async httpx2 transport")
        exchange, streamed = self._exchange(request, response)
        if streamed:
            return self._recording(exchange, response, started)
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        return self._whole(exchange, content)

    @staticmethod
    def _exchange(request: httpx2.Request, response: httpx2.Response) -> tuple[Exchange, bool]:
        """The exchange to record (its body still to come), and whether it is a stream."""
        exchange = Exchange(
            method=request.method,
            path=request.url.path,
            body=request.content,
            status=response.status_code,
            headers=[
                (name, value)
                for name, value in response.headers.multi_items()
                if name.lower() not in _HOP_HEADERS
            ],
        )
        streamed = response.headers.get("content-type", "").startswith("text/event-stream")
        encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
        return exchange, streamed and not encoded

    def _recording(
        self, exchange: Exchange, response: httpx2.Response, started: float
    ) -> httpx2.Response:
        """A stream passed through to the client, stored once it ends (or is closed)."""
        exchange.chunks = []
        stream = _Recording(response, started, exchange.chunks, lambda: self._store(exchange))
        return httpx2.Response(exchange.status, headers=exchange.headers, stream=stream)

    def _whole(self, exchange: Exchange, content: bytes) -> httpx2.Response:
        """A whole (decoded) body: stored now, the same bytes handed to the client."""
        exchange.content = content
        self._store(exchange)
        return httpx2.Response(exchange.status, headers=exchange.headers, content=content)

    def _store(self, exchange: Exchange) -> None:
        with self._lock:
            if self._fresh:
                self.exchanges = []
                self._fresh = False
            self.exchanges.append(exchange)
            self.recorded += 1
            dump_cassette(self.exchanges, self.path, self._secrets)


class _Replayed(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """Recorded chunks, at once or at their recorded times."""

    def __init__(self, chunks: list[Chunk], realtime: bool) -> None:
        self._chunks = chunks
        self._realtime = realtime

    def __iter__(self) -> Iterator[bytes]:
        start = time.monotonic()
        for chunk in self._chunks:
            if self._realtime:
                time.sleep(max(0.0, chunk.t - (time.monotonic() - start)))
            yield chunk.data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        start = time.monotonic()
        for chunk in self._chunks:
            if self._realtime:
                await asyncio.sleep(max(0.0, chunk.t - (time.monotonic() - start)))
            yield chunk.data


class _Recording(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """Passes a live stream through, noting each chunk and its time; stores it when closed."""

    def __init__(
        self,
        response: httpx2.Response,
        started: float,
        chunks: list[Chunk],
        done: Callable[[], None],
    ) -> None:
        self._response = response
        self._started = started
        self._chunks = chunks
        self._done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        for data in self._response.iter_raw():
            self._chunks.append(Chunk(time.monotonic() - self._started, data))
            yield data
        self._finish()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for data in self._response.aiter_raw():
            self._chunks.append(Chunk(time.monotonic() - self._started, data))
            yield data
        self._finish()

    def close(self) -> None:
        self._response.close()
        self._finish()

    async def aclose(self) -> None:
        await self._response.aclose()
        self._finish()

    def _finish(self) -> None:
        done, self._done = self._done, None
        if done is not None:
            done()

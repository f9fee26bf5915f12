"""``intercept_openai()``: the OpenAI clients an application builds itself answer offline.

An app that calls ``openai.OpenAI()`` (or ``AsyncOpenAI()``, ``AzureOpenAI()``) in its own code
cannot be handed an offline client. Inside ``with intercept_openai() as transport:``:

1. **Routed**: every HTTP client the SDK builds itself (``openai.OpenAI()`` without
   ``http_client=``, and ``openai.DefaultHttpxClient`` / ``DefaultAsyncHttpxClient`` /
   ``DefaultAioHttpClient`` passed as ``http_client=``) sends its requests to ``transport``
   (an :class:`~llmpresets.OfflineTransport`, a :class:`~llmpresets.Cassette`, any httpx2
   transport that is both sync and async). The SDK picks the transport per request, so a
   client built before the block (a module-level ``client = OpenAI()``) is routed too while
   the block is open, whatever its base URL (``OPENAI_BASE_URL`` pointing at a local server
   included: the transport answers, so a cassette records and replays that traffic too).
2. **Blocked**: every other request that would leave the machine through httpx2's (or legacy
   httpx's) network transport raises :class:`~llmpresets.NetworkBlockedError` before a
   connection is opened: a client built with ``http_client=httpx2.Client()`` of its own, or
   any other library sending with httpx2. Loopback addresses (127.0.0.0/8, ``::1``,
   ``localhost``) stay reachable. The error is not an httpx2 error, so the SDK neither
   retries it nor turns it into ``APIConnectionError``. A :class:`~llmpresets.Cassette` that
   records passes its own forwarding through (:func:`allow_network`).
3. **A key**: ``OPENAI_API_KEY`` and ``AZURE_OPENAI_API_KEY`` are set to ``"offline"`` while
   the block is open if they are unset, so ``openai.OpenAI()`` can be built with no key in the
   environment (``AzureOpenAI`` still needs its endpoint and API version from the app).

Not caught: transports that are not httpx2's or httpx's (aiohttp's own connector used through
a client that is not the SDK's, ``requests``, raw sockets).

Blocks nest (the innermost one's transport answers) and may be entered from several threads:
the patches go in when the first block opens and come out when the last one closes, even on
an error; a client used in any thread while a block is open is routed to the most recently
opened block's transport.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar, overload

import httpx2

from .._errors import NetworkBlockedError
from ..client.loopback import is_loopback_url

if TYPE_CHECKING:
    from ..offline import OfflineTransport

__all__ = ["active_transport", "allow_network", "intercept_openai"]

_T = TypeVar("_T")
_KEY_VARIABLES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")
_PLACEHOLDER_KEY = "offline"

_lock = threading.RLock()
_stack: list[Any] = []  # the open blocks' transports, innermost last
_undo: list[Callable[[], None]] = []  # how to take the patches out again
_keys_set: list[str] = []  # the key variables this module set
_network_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "llmpresets_network_allowed", default=False
)


def active_transport() -> Any | None:
    """The transport of the innermost open ``intercept_openai`` block, or ``None``."""
    with _lock:
        return _stack[-1] if _stack else None


@contextlib.contextmanager
def allow_network() -> Iterator[None]:
    """Requests sent inside may leave the machine even while a block is open (a recording
    cassette's forwarding to the real API)."""
    token = _network_allowed.set(True)
    try:
        yield
    finally:
        _network_allowed.reset(token)


@overload
def intercept_openai(transport: None = None) -> AbstractContextManager[OfflineTransport]: ...
@overload
def intercept_openai(transport: _T) -> AbstractContextManager[_T]: ...
def intercept_openai(transport: Any = None) -> AbstractContextManager[Any]:
    """Route the OpenAI clients built by the code inside to ``transport``; block the network.

    ``transport``: default a new :class:`~llmpresets.OfflineTransport` (the configuration's
    seed); pass ``OfflineTransport(seed=0)`` for replies that repeat, or a
    :class:`~llmpresets.Cassette` to replay recorded ones. The block yields it.

    >>> import openai
    >>> from llmpresets import OfflineTransport
    >>> with intercept_openai(OfflineTransport(seed=0)):
    ...     reply = openai.OpenAI().chat.completions.create(
    ...         model="gpt-4o", max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    >>> reply.object
    'chat.completion'
    """
    if transport is None:
        from ..offline import OfflineTransport

        transport = OfflineTransport()
    if not (
        isinstance(transport, (httpx2.BaseTransport, httpx2.AsyncBaseTransport))
        and callable(getattr(transport, "handle_request", None))
        and callable(getattr(transport, "handle_async_request", None))
    ):
        raise TypeError(
            "intercept_openai(transport=...): expected an httpx2 transport with both "
            "handle_request and handle_async_request (OfflineTransport, Cassette), got "
            f"{type(transport).__name__}"
        )
    return _intercepting(transport)


@contextlib.contextmanager
def _intercepting(transport: Any) -> Iterator[Any]:
    with _lock:
        if not _stack:
            _install()
        _stack.append(transport)
    try:
        yield transport
    finally:
        with _lock:
            # Remove this block's entry (blocks in other threads may close out of order).
            for index in range(len(_stack) - 1, -1, -1):
                if _stack[index] is transport:
                    del _stack[index]
                    break
            if not _stack:
                _uninstall()


# ---------------------------------------------------------------------- the patches


def _install() -> None:
    try:
        for cls in _sdk_client_classes():
            _route(cls)
        for module in _http_modules():
            _guard(module.HTTPTransport, "handle_request", asynchronous=False)
            _guard(module.AsyncHTTPTransport, "handle_async_request", asynchronous=True)
    except BaseException:
        _uninstall()
        raise
    for variable in _KEY_VARIABLES:
        if variable not in os.environ:
            os.environ[variable] = _PLACEHOLDER_KEY
            _keys_set.append(variable)


def _uninstall() -> None:
    while _undo:
        _undo.pop()()
    while _keys_set:
        variable = _keys_set.pop()
        if os.environ.get(variable) == _PLACEHOLDER_KEY:
            del os.environ[variable]


def _sdk_client_classes() -> list[type]:
    """The HTTP client classes the openai SDK builds by default (and exports for users)."""
    import openai

    classes: list[type] = []
    for name in ("DefaultHttpxClient", "DefaultAsyncHttpxClient", "DefaultAioHttpClient"):
        cls = getattr(openai, name, None)
        base = (httpx2.Client, httpx2.AsyncClient)
        if isinstance(cls, type) and issubclass(cls, base) and cls not in base:
            classes.append(cls)
    return classes


def _http_modules() -> list[Any]:
    """httpx2, and legacy httpx when it is installed (the SDK accepts either client)."""
    modules: list[Any] = [httpx2]
    with contextlib.suppress(ImportError):
        modules.append(importlib.import_module("httpx"))
    return modules


def _patch(cls: type, name: str, replacement: Any) -> None:
    """Set ``cls.name``, remembering how to undo it (delete it, or put the old one back)."""
    had_own = name in vars(cls)
    previous = vars(cls).get(name)
    setattr(cls, name, replacement)

    def undo() -> None:
        if had_own:
            setattr(cls, name, previous)
        else:
            with contextlib.suppress(AttributeError):
                delattr(cls, name)

    _undo.append(undo)


def _route(cls: type) -> None:
    """Make the SDK's client class send its requests to the active transport."""
    original = cls._transport_for_url  # type: ignore[attr-defined]

    def _transport_for_url(self: Any, url: httpx2.URL) -> Any:
        transport = active_transport()
        if transport is not None:
            return transport
        return original(self, url)

    _patch(cls, "_transport_for_url", _transport_for_url)


def _guard(cls: type, method: str, *, asynchronous: bool) -> None:
    """Make a network transport refuse requests to other machines while a block is open."""
    original = getattr(cls, method)

    if asynchronous:

        async def guarded_async(self: Any, request: Any) -> Any:
            _refuse(request)
            return await original(self, request)

        _patch(cls, method, guarded_async)
    else:

        def guarded(self: Any, request: Any) -> Any:
            _refuse(request)
            return original(self, request)

        _patch(cls, method, guarded)


def _refuse(request: Any) -> None:
    if _network_allowed.get() or active_transport() is None or is_loopback_url(request.url):
        return
    url = request.url.copy_with(query=None)
    raise NetworkBlockedError(
        f"intercept_openai(): {request.method} {url} would leave this machine; it was not "
        "sent. Inside intercept_openai() only loopback addresses are reachable. A client built "
        "without http_client= is answered offline; one given http_client= of its own must "
        "use the intercepting transport (httpx2.Client(transport=...), the transport the "
        "block yields) or a loopback base_url (llmpresets serve)"
    )

"""Scripted faults: answer matching requests with an error, a stall, a reset or a cut stream.

A test of retry, timeout and fallback code needs the backend to misbehave on cue. A
:class:`~llmpresets.config.presets.FaultRule` (YAML under ``offline.faults``, or
:meth:`FaultPlan.add` in code) names the fault, which requests it hits and how many times:

==============  ==============================================================================
``fault``       what the client sees
==============  ==============================================================================
rate_limit      429 ``rate_limit_exceeded`` with ``Retry-After`` (the SDK retries)
server_error    500 ``server_error`` (the SDK retries)
unavailable     503 "overloaded" (the SDK retries)
stall           no answer for ``stall_seconds``: the client's read timeout fires first
reset           the connection drops before any response (``APIConnectionError``)
cut_stream      a streamed answer stops after ``after_events`` events, with no ``[DONE]``
==============  ==============================================================================

A rule matches a request when its ``endpoint`` (a path tail such as ``chat/completions``) and its
``match`` (a case-insensitive substring, or a regex, of any text in the JSON body: a message, the
input, the prompt, the model) both fit; ``cut_stream`` matches streamed requests only. The first
matching rule with faults left answers; each rule fires ``times`` times (``null``: always), and
the count is per transport (so per server). The in-process transport and ``llmpresets serve``
inject the same faults, each in its own way: the transport raises the ``httpx2`` error a real
connection would (``ReadTimeout`` once the request's read timeout passes, ``RemoteProtocolError``
for a reset or a cut), the server really stalls, closes the socket, or stops mid-stream.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, Literal

import httpx2

from ..config.presets import FaultRule

__all__ = [
    "FaultKind",
    "FaultPlan",
    "error_response",
    "inject",
    "inject_async",
    "load_faults",
    "make_fault",
    "sse_events",
]

FaultKind = Literal["rate_limit", "server_error", "unavailable", "stall", "reset", "cut_stream"]

_STATUS = {"rate_limit": 429, "server_error": 500, "unavailable": 503}
_BODIES: dict[str, dict[str, Any]] = {
    "rate_limit": {
        "message": "Rate limit reached for requests (a scripted fault of the offline backend). "
        "Please try again later.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    "server_error": {
        "message": "The server had an error while processing your request. Sorry about that! "
        "(a scripted fault of the offline backend)",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    "unavailable": {
        "message": "The engine is currently overloaded, please try again later. "
        "(a scripted fault of the offline backend)",
        "type": "server_error",
        "param": None,
        "code": None,
    },
}
log = logging.getLogger("llmpresets")
# How much of a request body is searched for a rule's text (bodies are bounded elsewhere).
_MAX_SEARCHED = 1 << 20


def make_fault(
    fault: FaultKind,
    *,
    match: str | None = None,
    regex: bool = False,
    endpoint: str | None = None,
    times: int | None = 1,
    retry_after: float | None = None,
    after_events: int = 0,
    stall_seconds: float = 600,
) -> FaultRule:
    """A validated fault rule (the same checks as ``offline.faults`` in ``presets.yaml``).

    >>> make_fault("rate_limit", match="flaky", times=2, retry_after=0.5).times
    2
    """
    from ..config.validation import ConfigLayer, validate_config

    rule: dict[str, Any] = {
        "fault": fault,
        "match": match,
        "regex": regex,
        "endpoint": endpoint,
        "times": times,
        "retry_after": retry_after,
        "after_events": after_events,
        "stall_seconds": stall_seconds,
    }
    data = {"offline": {"faults": [rule]}}
    return validate_config([ConfigLayer("make_fault()", data, {})], data).offline.faults[0]


class FaultPlan:
    """The fault rules of one transport, and how many times each has fired.

    ``rules`` is read at every request, so rules added later apply. Thread-safe: concurrent
    requests never get more faults than ``times``.

    >>> plan = FaultPlan()
    >>> rule = plan.add("server_error", times=1)
    >>> plan.fired(rule), plan.remaining(rule)
    (0, 1)
    """

    def __init__(self, rules: Sequence[FaultRule] | str | os.PathLike[str] = ()) -> None:
        if isinstance(rules, (str, bytes, os.PathLike)):
            rules = load_faults(rules)
        self.rules: list[FaultRule] = list(rules)
        self._fired: dict[int, tuple[FaultRule, int]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FaultPlan({len(self.rules)} rule(s))"

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[FaultRule]:
        return iter(self.rules)

    def add(self, fault: FaultKind, **options: Any) -> FaultRule:
        """Add a rule (the keyword arguments of :func:`make_fault`) and return it."""
        rule = make_fault(fault, **options)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget every rule and count."""
        with self._lock:
            self.rules.clear()
            self._fired.clear()

    def fired(self, rule: FaultRule) -> int:
        """How many requests this rule has answered with its fault."""
        with self._lock:
            entry = self._fired.get(id(rule))
            return entry[1] if entry is not None and entry[0] is rule else 0

    def remaining(self, rule: FaultRule) -> int | None:
        """Faults left for this rule (``None``: unlimited)."""
        return None if rule.times is None else max(0, rule.times - self.fired(rule))

    def take(self, request: httpx2.Request) -> FaultRule | None:
        """The rule that answers this request with a fault (counted as fired), or ``None``."""
        if not self.rules:
            return None
        texts: list[str] | None = None
        streamed: bool | None = None
        tail = request.url.path.rstrip("/")
        for rule in list(self.rules):
            if rule.endpoint is not None and not _path_ends_with(tail, rule.endpoint):
                continue
            if rule.fault == "cut_stream":
                if streamed is None:
                    streamed = _streamed(request.content)
                if not streamed:
                    continue
            if rule.match is not None:
                if texts is None:
                    texts = _texts(request.content)
                if not _matches(rule, texts):
                    continue
            with self._lock:
                entry = self._fired.get(id(rule))
                count = entry[1] if entry is not None and entry[0] is rule else 0
                if rule.times is not None and count >= rule.times:
                    continue
                self._fired[id(rule)] = (rule, count + 1)
            return rule
        return None


def load_faults(path: str | os.PathLike[str]) -> list[FaultRule]:
    """The ``offline.faults`` rules of a presets file (validated, errors name file and line)."""
    from pathlib import Path

    from ..config.validation import ConfigLayer, validate_config
    from ..config.yaml_file import load_yaml_file

    data, lines = load_yaml_file(Path(path))
    return list(validate_config([ConfigLayer(str(path), data, lines)], data).offline.faults)


def error_response(rule: FaultRule) -> httpx2.Response | None:
    """The HTTP answer of a status fault (429, 500, 503); ``None`` for the other kinds."""
    status = _STATUS.get(rule.fault)
    if status is None:
        return None
    import secrets

    headers = {
        "content-type": "application/json",
        "x-request-id": f"req_{secrets.token_hex(16)}",
        "openai-version": "2020-10-01",
    }
    if rule.retry_after is not None:
        # The SDK prefers milliseconds (retry-after-ms, as OpenAI sends); Retry-After is whole
        # seconds for every other client.
        headers["retry-after-ms"] = f"{rule.retry_after * 1000:g}"
        headers["retry-after"] = str(math.ceil(rule.retry_after))
    body = {"error": dict(_BODIES[rule.fault])}
    return httpx2.Response(status, headers=headers, content=json.dumps(body).encode())


def stall_timeout(request: httpx2.Request, rule: FaultRule) -> float | None:
    """The read timeout that ends an in-process stall early, if shorter than the stall."""
    timeout = request.extensions.get("timeout")
    read = timeout.get("read") if isinstance(timeout, dict) else None
    if isinstance(read, (int, float)) and read < rule.stall_seconds:
        return float(read)
    return None


def reset_error(request: httpx2.Request) -> httpx2.RemoteProtocolError:
    """What httpx2 raises when the server drops the connection before answering."""
    return httpx2.RemoteProtocolError(
        "Server disconnected without sending a response.", request=request
    )


def cut_error(request: httpx2.Request) -> httpx2.RemoteProtocolError:
    """What httpx2 raises when a streamed body stops short."""
    return httpx2.RemoteProtocolError(
        "peer closed connection without sending complete message body (incomplete chunked read)",
        request=request,
    )


def _path_ends_with(tail: str, endpoint: str) -> bool:
    endpoint = endpoint.strip("/")
    return tail == endpoint or tail.endswith("/" + endpoint)


def _streamed(content: bytes) -> bool:
    try:
        body = json.loads(content[:_MAX_SEARCHED]) if content else None
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("stream") is True


def _texts(content: bytes) -> list[str]:
    try:
        body = json.loads(content[:_MAX_SEARCHED]) if content else None
    except ValueError:
        return [content[:_MAX_SEARCHED].decode("utf-8", "replace")]
    found: list[str] = []
    stack = [body]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def _matches(rule: FaultRule, texts: list[str]) -> bool:
    assert rule.match is not None
    if rule.regex:
        from .._errors import ConfigError
        from ..config.bounded_regex import bounded_search

        try:
            return any(bounded_search(rule.match, text) for text in texts)
        except ConfigError as exc:  # a pathological pattern: the rule does not fire
            log.warning("fault rule skipped: %s", exc)
            return False
    needle = rule.match.casefold()
    return any(needle in text.casefold() for text in texts)


# --------------------------------------------------------------------------- in-process injection


def inject(
    rule: FaultRule,
    request: httpx2.Request,
    answer: Callable[[httpx2.Request], httpx2.Response],
) -> httpx2.Response:
    """Apply ``rule`` to ``request`` in process (``answer`` gives the normal response)."""
    response = error_response(rule)
    if response is not None:
        return response
    if rule.fault == "reset":
        raise reset_error(request)
    if rule.fault == "stall":
        timeout = stall_timeout(request, rule)
        time.sleep(rule.stall_seconds if timeout is None else timeout)
        if timeout is not None:
            raise httpx2.ReadTimeout("The read operation timed out", request=request)
        return answer(request)
    return _cut(answer(request), rule.after_events, request)


async def inject_async(
    rule: FaultRule,
    request: httpx2.Request,
    answer: Callable[[httpx2.Request], Awaitable[httpx2.Response]],
) -> httpx2.Response:
    """The async twin of :func:`inject` (sleeps with anyio, so asyncio and trio alike)."""
    import anyio

    response = error_response(rule)
    if response is not None:
        return response
    if rule.fault == "reset":
        raise reset_error(request)
    if rule.fault == "stall":
        timeout = stall_timeout(request, rule)
        await anyio.sleep(rule.stall_seconds if timeout is None else timeout)
        if timeout is not None:
            raise httpx2.ReadTimeout("The read operation timed out", request=request)
        return await answer(request)
    return _cut(await answer(request), rule.after_events, request)


def sse_events(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Regroup a byte stream into whole SSE events (each ending with a blank line)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        while True:
            end = pending.find(b"\n\n")
            if end < 0:
                break
            yield pending[: end + 2]
            pending = pending[end + 2 :]
    if pending:
        yield pending


class _CutStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """The first ``events`` SSE events of a stream, then the error of a dropped connection."""

    def __init__(self, inner: Any, events: int, request: httpx2.Request) -> None:
        self._inner = inner
        self._events = events
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        for sent, event in enumerate(sse_events(iter(self._inner))):
            if sent >= self._events:
                break
            yield event
        raise cut_error(self._request)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = [chunk async for chunk in self._inner]
        for sent, event in enumerate(sse_events(iter(chunks))):
            if sent >= self._events:
                break
            yield event
        raise cut_error(self._request)


def _cut(response: httpx2.Response, events: int, request: httpx2.Request) -> httpx2.Response:
    if response.status_code != 200:  # an error answer is not a stream to cut
        return response
    return httpx2.Response(
        response.status_code,
        headers=response.headers,
        stream=_CutStream(response.stream, events, request),
    )

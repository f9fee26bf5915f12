"""``OfflineTransport``: an httpx2 transport that answers the OpenAI SDK like the API does.

This module only adapts HTTP: it reads the request, takes a scripted fault (``faults``,
:mod:`.faults`) before anything else, hands the method, path, body and the client's use-case
header to the api layer's :class:`~.api.router.Router`, and turns its
:class:`~.api.reply.Reply` into an ``httpx2.Response`` with the API's headers (error answers
carry ``x-should-retry: false`` so the SDK does not retry, and sleep, on them).
:meth:`OfflineTransport.answer` is the path without faults (``llmpresets serve`` does the
faults itself, over a real socket).

Below it, one way down: the api layer (parse, check, build the body; the only layer that
raises the API's errors), the backend (:class:`~.backend.backend.OfflineBackend`: model facts,
seeds, scripted replies, reasoning; its module docstring states the determinism rules), the
engine (decoding loops) and the next-token sources. ``docs/architecture.md`` draws them.
The async entry point runs the (CPU-only, sub-millisecond per token) generation inline.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING

import httpx2

from ..config.params import USE_CASE_HEADER
from .api.reply import Reply
from .api.responses.endpoint import ResponsesEndpoint
from .api.router import Router
from .backend.backend import OfflineBackend
from .backend.responder import Responder, is_async_responder, on_worker_thread
from .backend.scripted_rules import load_scripted
from .faults import FaultPlan, inject, inject_async
from .lm.protocol import NextTokenSource
from .lm.sources import as_source

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import ArrayLike

    from ..config.presets import FaultRule, PresetBook, ScriptedRule
    from .engine.reading import Reader

__all__ = ["OfflineTransport"]


class _Events(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """Pre-generated SSE events, readable by sync and async clients alike.

    Each event is let go once it has been read, and all of them when the response is closed
    (a client that stops reading, or leaves), so a slow or departed reader does not keep a
    whole stream's bytes alive.
    """

    def __init__(self, events: list[bytes]) -> None:
        self._events = events

    def _take(self) -> Iterator[bytes]:
        events = self._events
        index = 0
        while index < len(events):  # close() may empty it meanwhile
            event = events[index]
            events[index] = b""  # read: released
            index += 1
            yield event
        events.clear()

    def __iter__(self) -> Iterator[bytes]:
        yield from self._take()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self._take():
            yield event

    def close(self) -> None:
        self._events.clear()

    async def aclose(self) -> None:
        self._events.clear()


class OfflineTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Answer the OpenAI SDK locally: sampled replies in OpenAI's exact wire format.

    ``source``: a :class:`~llmpresets.offline.NextTokenSource` or a callable
    ``(context_ids) -> logits``; default: the packaged n-gram model (or ``offline.corpus``).
    ``scripted``: a list of :class:`~llmpresets.config.presets.ScriptedRule` (read at every request,
    so rules appended later apply) or a YAML file path; default: ``offline.scripted``.
    ``strict_models``: answer 404 ``model_not_found`` for a model the registry lacks; default:
    ``offline.strict_models``.
    ``faults``: scripted faults (a :class:`~llmpresets.config.presets.FaultRule` list or a
    presets file); default: ``offline.faults``. ``transport.faults.add("rate_limit", times=2)``
    adds one.
    ``responder``: a function (sync or ``async``) of an
    :class:`~llmpresets.offline.OfflineRequest` that decides chat and ``/responses`` replies:
    text, a JSON value, :class:`~llmpresets.offline.ToolCall` (s), or None to let the rules and
    the sampler answer; raise :class:`~llmpresets.offline.ResponderError` for an API error
    (:mod:`llmpresets.offline.backend.responder`). Settable: ``transport.responder = fn``.
    ``read_prompt``: read the output contract a conversation states (a JSON schema, labels,
    dspy's markers...) when a request fixes no format; default: ``offline.read_prompt``.
    ``readers``: your own readers, ``(PromptText) -> Contract | None``, tried first
    (docs/offline.md, "Reading the prompt").

    >>> import httpx2, openai
    >>> client = openai.OpenAI(api_key="offline", base_url="http://offline.test/v1",
    ...     http_client=httpx2.Client(transport=OfflineTransport(seed=0)))
    >>> reply = client.chat.completions.create(model="gpt-4o", max_tokens=5,
    ...     messages=[{"role": "user", "content": "Hi!"}])
    >>> reply.object, reply.usage.completion_tokens <= 5
    ('chat.completion', True)
    """

    def __init__(
        self,
        seed: int | None = None,
        *,
        config: PresetBook | None = None,
        source: NextTokenSource | Callable[[Sequence[int]], ArrayLike] | None = None,
        scripted: list[ScriptedRule] | str | os.PathLike[str] | None = None,
        strict_models: bool | None = None,
        faults: Sequence[FaultRule] | str | os.PathLike[str] | None = None,
        responder: Responder | None = None,
        read_prompt: bool | None = None,
        readers: Sequence[Reader] = (),
    ) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        if config is None:
            from ..config.presets import default_book

            config = default_book()
        if scripted is None:
            scripted = list(config.offline.scripted)
        elif isinstance(scripted, (str, os.PathLike)):
            scripted = load_scripted(scripted)
        self.backend = OfflineBackend(
            config,
            seed=seed,
            source=as_source(source) if source is not None else None,
            scripted=scripted,
            strict_models=(
                config.offline.strict_models if strict_models is None else strict_models
            ),
            responder=_checked_responder(responder),
            read_prompt=config.offline.read_prompt if read_prompt is None else read_prompt,
            readers=readers,
        )
        self.router = Router(self.backend)
        self.faults = FaultPlan(config.offline.faults if faults is None else faults)

    # What the backend runs with, readable (and the rules and source settable) from here.
    @property
    def config(self) -> PresetBook:
        return self.backend.config

    @property
    def seed(self) -> int | None:
        return self.backend.seed

    @property
    def source(self) -> NextTokenSource | None:
        return self.backend.source

    @source.setter
    def source(self, source: NextTokenSource | Callable[[Sequence[int]], ArrayLike] | None) -> None:
        self.backend.source = as_source(source) if source is not None else None

    @property
    def scripted(self) -> list[ScriptedRule]:
        return self.backend.scripted

    @scripted.setter
    def scripted(self, rules: list[ScriptedRule]) -> None:
        self.backend.scripted = rules

    @property
    def strict_models(self) -> bool:
        return self.backend.strict_models

    @strict_models.setter
    def strict_models(self, strict: bool) -> None:
        self.backend.strict_models = strict

    @property
    def responder(self) -> Responder | None:
        return self.backend.responder

    @responder.setter
    def responder(self, responder: Responder | None) -> None:
        self.backend.responder = _checked_responder(responder)

    @property
    def read_prompt(self) -> bool:
        """Whether output contracts are read from the conversation (settable)."""
        return self.backend.read_prompt

    @read_prompt.setter
    def read_prompt(self, read: bool) -> None:
        self.backend.read_prompt = read

    @property
    def responses(self) -> ResponsesEndpoint:
        """The ``/responses`` endpoint, with its bounded store (``transport.responses.store``)."""
        return self.router.responses

    # ------------------------------------------------------------------ httpx2 entry points

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        fault = self.faults.take(request)
        return self.answer(request) if fault is None else inject(fault, request, self.answer)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        fault = self.faults.take(request)

        async def answer(request: httpx2.Request) -> httpx2.Response:
            if not is_async_responder(self.backend.responder):
                return self.answer(request)
            # An async responder: the request runs on a worker thread, so the responder's
            # coroutine can run on this event loop while the thread waits for it.
            import anyio.to_thread

            return await anyio.to_thread.run_sync(self._answer_on_worker, request)

        if fault is None:
            return await answer(request)
        return await inject_async(fault, request, answer)

    def _answer_on_worker(self, request: httpx2.Request) -> httpx2.Response:
        with on_worker_thread():
            return self.answer(request)

    def answer(self, request: httpx2.Request) -> httpx2.Response:
        """The answer to a request whose body has been read, without scripted faults."""
        reply = self.router.answer(
            request.method,
            request.url.path,
            request.content,
            _use_case(request.headers),
            request.url.params,
            request.url.host,
        )
        return self._response(reply)

    # ------------------------------------------------------------------ HTTP

    def _response(self, reply: Reply) -> httpx2.Response:
        if reply.events is not None:
            return httpx2.Response(
                reply.status,
                headers={**_headers("text/event-stream; charset=utf-8"), **reply.headers},
                stream=_Events(reply.events),
            )
        return httpx2.Response(
            reply.status,
            headers={**_headers("application/json", error=reply.error), **reply.headers},
            content=reply.content,
        )


def _checked_responder(responder: Responder | None) -> Responder | None:
    if responder is not None and not callable(responder):
        raise TypeError(
            f"responder must be a function of an OfflineRequest (or None), got "
            f"{type(responder).__name__}"
        )
    return responder


def _headers(content_type: str, *, error: bool = False) -> dict[str, str]:
    headers = {
        "content-type": content_type,
        "x-request-id": f"req_{secrets.token_hex(16)}",
        "openai-processing-ms": "0",
        "openai-version": "2020-10-01",
    }
    if error:
        headers["x-should-retry"] = "false"
    return headers


_USE_CASE_KEY = USE_CASE_HEADER.encode("ascii")


def _use_case(headers: httpx2.Headers) -> str | None:
    """``headers.get(USE_CASE_HEADER)``, without decoding every header to find it.

    httpx2 decodes all of a request's headers to choose their encoding before it answers a
    lookup; an ASCII value reads the same in every encoding it may choose (ascii, utf-8,
    iso-8859-1), so only a value that is not ASCII takes that path.
    """
    values = [value for key, value in headers.raw if key.lower() == _USE_CASE_KEY]
    if not values:
        return None
    if all(value.isascii() for value in values):
        return ", ".join(value.decode("ascii") for value in values)
    return headers.get(USE_CASE_HEADER)

"""Client and AsyncClient: use case -> preset -> parameters -> pre-flight -> openai SDK -> result.

One path for online and offline: offline only swaps the HTTP transport under the real
``openai.OpenAI`` for :class:`llmpresets.OfflineTransport`. Errors from the SDK are translated
into this library's errors at exactly one boundary (``_translate``), with the cause chained.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import functools
import inspect
import json
import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.chat_completion import Choice
from openai.types.completion_usage import CompletionUsage

from ._adapt import resolve_params
from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigError,
    IncompleteResponseError,
    LLMPresetsError,
    MissingAPIKeyError,
    RateLimitError,
)
from ._presets import PresetBook, default_book, load_presets
from ._tokens import Budget, MessageFormatError, check_context

if TYPE_CHECKING:
    from ._adapt import Policy

__all__ = ["AsyncChatStream", "AsyncClient", "ChatResult", "ChatStream", "Client", "offline_mode"]

log = logging.getLogger("llmpresets")

# A PresetBook, or the path(s) of presets files to layer over the defaults.
ConfigSource = PresetBook | str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_OUTPUT_KEYS = ("max_tokens", "max_completion_tokens")


@dataclass(frozen=True)
class _OfflineState:
    seed: int | None


_offline_override: contextvars.ContextVar[_OfflineState | None] = contextvars.ContextVar(
    "llmpresets_offline", default=None
)


@contextlib.contextmanager
def offline_mode(seed: int | None = None) -> Iterator[None]:
    """Within the block, every Client made without ``offline=`` runs offline.

    The previous state comes back on exit, even on error, so a test cannot leave it on.

    >>> with offline_mode(seed=1):
    ...     Client().complete("Say hi", use_case="chat").text != ""
    True
    """
    token = _offline_override.set(_OfflineState(seed))
    try:
        yield
    finally:
        _offline_override.reset(token)


def _env_offline() -> bool:
    raw = os.environ.get("LLMPRESETS_OFFLINE", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(
        f"LLMPRESETS_OFFLINE={raw!r} is not understood; allowed: 1/true/yes/on or 0/false/no/off",
        field="LLMPRESETS_OFFLINE",
    )


@dataclass(frozen=True)
class ChatResult:
    """What a chat call returns: the text, every choice, usage and the parameters sent.

    ``text`` is the first choice's content; ``texts`` has one entry per choice (``n``).
    """

    text: str
    choices: list[Choice]
    finish_reason: str | None
    usage: CompletionUsage | None
    model: str
    params: dict[str, Any]
    budget: Budget
    response: ChatCompletion = field(repr=False)

    @property
    def texts(self) -> list[str]:
        """The content of every choice, in order."""
        return [choice.message.content or "" for choice in self.choices]


def _redact(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[redacted]")
    return text


def _scrub(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return _redact(value, secret)
    if isinstance(value, dict):
        return {key: _scrub(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secret) for item in value]
    return value


def _scrub_exception(exc: BaseException, secret: str | None) -> None:
    """Redact the key from an SDK exception kept as ``__cause__`` (a server may echo it)."""
    if not secret:
        return
    exc.args = tuple(_scrub(arg, secret) for arg in exc.args)
    for attribute in ("message", "body"):
        if hasattr(exc, attribute):
            with contextlib.suppress(AttributeError):
                setattr(exc, attribute, _scrub(getattr(exc, attribute), secret))


def _status_message(exc: openai.APIStatusError) -> str:
    """The API's own error message when the body has one, else the SDK's text."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return exc.message


def _translate(exc: Exception, secret: str | None) -> LLMPresetsError:
    """The one boundary where SDK and transport errors become llmpresets errors."""
    _scrub_exception(exc, secret)
    if exc.__cause__ is not None:
        _scrub_exception(exc.__cause__, secret)
    message = _redact(str(exc), secret)
    if isinstance(exc, openai.APITimeoutError):
        return APITimeoutError(f"the request timed out: {message}")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f" ({type(cause).__name__}: {_redact(str(cause), secret)})" if cause else ""
        return APIConnectionError(f"connection failed: {message}{detail}")
    if isinstance(exc, openai.APIResponseValidationError):
        return IncompleteResponseError(
            f"the API's response did not match the expected schema: {message}",
            status_code=exc.status_code,
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        request_id = exc.request_id
        suffix = f" (request id {request_id})" if request_id else ""
        error_class = RateLimitError if status == 429 else APIStatusError
        detail = _redact(_status_message(exc), secret)
        return error_class(f"HTTP {status}: {detail}{suffix}", status_code=status)
    if isinstance(exc, openai.APIError):
        return APIError(f"the API reported an error: {message}")
    if isinstance(exc, json.JSONDecodeError):
        return IncompleteResponseError(f"the API's response body is not valid JSON: {message}")
    if isinstance(exc, UnicodeEncodeError):  # the request's text cannot be sent as UTF-8
        return MessageFormatError(
            f"the messages contain text that cannot be encoded as UTF-8 ({exc.reason} at "
            f"position {exc.start}: {exc.object[exc.start : exc.end]!r}); remove lone surrogates"
        )
    return APIError(f"{type(exc).__name__}: {message}")


# What the SDK call may raise that is not already ours. Our own errors (a bad offline corpus,
# say) pass through untouched.
_TRANSLATED = (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError, UnicodeEncodeError)


@functools.cache
def _sdk_arguments() -> frozenset[str]:
    """Keyword arguments ``chat.completions.create`` takes, read from the installed SDK."""
    from openai.resources.chat.completions import Completions

    return frozenset(inspect.signature(Completions.create).parameters) - {
        "self",
        "messages",
        "stream",
    }


# Our names for settings the SDK spells differently (resolve_params renames them).
_OWN_ARGUMENTS = frozenset({"max_output_tokens", "top_k", "min_p"})


def _check_overrides(overrides: dict[str, Any]) -> None:
    """Refuse, before anything is sent, arguments the SDK would reject with a TypeError."""
    if "stream" in overrides:
        raise ConfigError(
            "stream= is chosen by the method: use client.stream(...) to stream, "
            "client.chat(...) for a whole reply"
        )
    model = overrides.get("model")
    if model is not None and not (isinstance(model, str) and model):
        raise ConfigError(f"model: expected a non-empty model name, got {model!r}")
    allowed = _sdk_arguments() | _OWN_ARGUMENTS
    for name in overrides:
        if name not in allowed:
            close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown argument {name!r}{hint} (chat.completions.create takes: "
                f"{', '.join(sorted(_sdk_arguments()))}; llmpresets adds max_output_tokens, "
                "top_k, min_p)",
                field=name,
            )


def _as_messages(messages: Iterable[Any]) -> list[Any]:
    listed = list(messages) if not isinstance(messages, (str, bytes, Mapping)) else None
    if listed is None:
        raise TypeError(
            "messages must be a list of chat messages like "
            "[{'role': 'user', 'content': 'Hi'}]; use complete(prompt) for a single string"
        )
    return [m.model_dump(exclude_none=True) if hasattr(m, "model_dump") else m for m in listed]


@dataclass
class _ChoiceParts:
    """What the chunks of one choice have said so far."""

    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    function_call: dict[str, str] | None = None
    logprobs: dict[str, list[Any]] | None = None
    finish_reason: str | None = None

    def add(self, choice: Any) -> str:
        delta = choice.delta
        text: str = delta.content or ""
        self.content.append(text)
        if delta.refusal:
            self.refusal.append(delta.refusal)
        for call in delta.tool_calls or ():
            entry = self.tool_calls.setdefault(
                call.index, {"id": None, "type": "function", "name": "", "arguments": ""}
            )
            entry["id"] = call.id or entry["id"]
            if call.function is not None:
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
        if delta.function_call is not None:
            current = self.function_call or {"name": "", "arguments": ""}
            current["name"] += delta.function_call.name or ""
            current["arguments"] += delta.function_call.arguments or ""
            self.function_call = current
        if choice.logprobs is not None:
            logprobs = self.logprobs or {"content": [], "refusal": []}
            logprobs["content"].extend(choice.logprobs.content or ())
            logprobs["refusal"].extend(choice.logprobs.refusal or ())
            self.logprobs = logprobs
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        return text

    def logprobs_payload(self) -> dict[str, Any] | None:
        if self.logprobs is None:
            return None
        return {
            "content": self.logprobs["content"],
            "refusal": self.logprobs["refusal"] or None,  # as a whole response reports it
        }

    def message(self) -> dict[str, Any]:
        # Shaped as a whole (non-streamed) response's message is.
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.content),
            "annotations": [],
        }
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call["id"] or f"call_{index}",
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
                for index, call in sorted(self.tool_calls.items())
            ]
            message["content"] = message["content"] or None
        if self.function_call is not None:
            message["function_call"] = self.function_call
        return message


class _StreamAssembler:
    """Builds a ChatResult from chunks (text, tool calls, logprobs, usage) and notices a
    stream that ended too soon."""

    def __init__(self, params: dict[str, Any], budget: Budget) -> None:
        self.params = params
        self.budget = budget
        self.choices: dict[int, _ChoiceParts] = {}
        self.usage: CompletionUsage | None = None
        self.last: ChatCompletionChunk | None = None

    def feed(self, chunk: ChatCompletionChunk) -> str:
        """Take one chunk; return the text it adds to choice 0."""
        self.last = chunk
        if chunk.usage is not None:
            self.usage = chunk.usage
        first_delta = ""
        for choice in chunk.choices:
            text = self.choices.setdefault(choice.index, _ChoiceParts()).add(choice)
            if choice.index == 0:
                first_delta += text
        return first_delta

    def result(self) -> ChatResult:
        unfinished = [index for index, parts in self.choices.items() if parts.finish_reason is None]
        if self.last is None or not self.choices or unfinished:
            received = sum(len("".join(parts.content)) for parts in self.choices.values())
            raise IncompleteResponseError(
                f"the stream ended before its final chunk ({received} characters received, "
                f"choice(s) {unfinished or [0]} without a finish_reason); the text is incomplete"
            )
        response = ChatCompletion.model_validate(
            {
                "id": self.last.id,
                "created": self.last.created,
                "model": self.last.model,
                "object": "chat.completion",
                "system_fingerprint": self.last.system_fingerprint,
                "usage": self.usage.model_dump() if self.usage is not None else None,
                "choices": [
                    {
                        "index": index,
                        "finish_reason": parts.finish_reason,
                        "message": parts.message(),
                        "logprobs": parts.logprobs_payload(),
                    }
                    for index, parts in sorted(self.choices.items())
                ],
            }
        )
        return _result(response, self.params, self.budget)


def _result(response: ChatCompletion, params: dict[str, Any], budget: Budget) -> ChatResult:
    first = response.choices[0] if response.choices else None
    return ChatResult(
        text=(first.message.content or "") if first else "",
        choices=list(response.choices),
        finish_reason=first.finish_reason if first else None,
        usage=response.usage,
        model=response.model,
        params=params,
        budget=budget,
        response=response,
    )


class _BaseClient:
    """What Client and AsyncClient share: configuration, parameters and the pre-flight."""

    _secret: str | None

    def _setup(
        self,
        model: str | None,
        offline: bool | None,
        seed: int | None,
        config: ConfigSource,
        unsupported_params: Policy | None,
        openai_kwargs: dict[str, Any],
    ) -> str:
        """Resolve configuration, model and offline mode; return the API key to use."""
        if isinstance(config, PresetBook):
            self.config = config
        else:
            self.config = load_presets(config) if config is not None else default_book()
        self.model = model or self.config.settings.default_model
        self.unsupported_params = unsupported_params
        override = _offline_override.get()
        if offline is None:
            offline = True if override is not None else _env_offline()
        if seed is None and override is not None:
            seed = override.seed
        self.offline = offline
        self.seed = seed
        api_key: str | None = openai_kwargs.pop("api_key", None)
        if offline:
            api_key = "offline"
        else:
            api_key = api_key or os.environ.get("OPENAI_API_KEY")
            if not api_key:
                raise MissingAPIKeyError(
                    "no API key: pass Client(api_key=...) or set OPENAI_API_KEY; to run without "
                    "one, use Client(offline=True), set LLMPRESETS_OFFLINE=1, or wrap the code in "
                    "llmpresets.offline_mode()"
                )
        self._secret = None if offline else api_key
        return api_key

    def _wire_transport(
        self, transport: Any, openai_kwargs: dict[str, Any], http_client_class: Any
    ) -> None:
        """Put ``transport`` (or, offline, a new OfflineTransport) under the SDK's client."""
        if transport is None and self.offline:
            from .offline import OfflineTransport

            transport = OfflineTransport(seed=self.seed, config=self.config)
        if transport is None:
            return
        if "http_client" in openai_kwargs:
            raise ConfigError("give either transport= or http_client=, not both")
        openai_kwargs["http_client"] = http_client_class(transport=transport)

    def _send_extras(self, params: dict[str, Any], use_case: str) -> dict[str, Any]:
        """``params`` plus, offline only, a header naming the use case for the local model.

        The header steers which style of text the offline language model writes (code for
        ``code``); it is never sent to a real API.
        """
        if not self.offline:
            return params
        from .offline._sources import USE_CASE_HEADER

        headers = {**(params.get("extra_headers") or {}), USE_CASE_HEADER: use_case}
        return {**params, "extra_headers": headers}

    def _base_url(self) -> str:
        return str(self._openai_base_url)

    _openai_base_url: Any

    def _prepare(
        self, messages: Iterable[Any], use_case: str, overrides: dict[str, Any], stacklevel: int
    ) -> tuple[list[Any], dict[str, Any], Budget]:
        _check_overrides(overrides)
        model = overrides.pop("model", None) or self.model
        params = resolve_params(
            use_case,
            model,
            config=self.config,
            base_url=self._base_url(),
            policy=self.unsupported_params,
            stacklevel=stacklevel,
            **overrides,
        )
        message_list = _as_messages(messages)
        max_output = next((params[k] for k in _OUTPUT_KEYS if k in params), None)
        # The pre-flight: a request that cannot fit is refused here and never sent.
        budget = check_context(
            message_list,
            model,
            max_output,
            tools=params.get("tools"),
            config=self.config,
            stacklevel=stacklevel,  # the unknown-model warning names the user's line
        )
        log.debug("chat.completions.create %s", {k: v for k, v in params.items()})
        return message_list, params, budget

    def __repr__(self) -> str:
        mode = "offline" if self.offline else self._base_url()
        return f"{type(self).__name__}(model={self.model!r}, {mode})"


class Client(_BaseClient):
    """A preset-aware chat client over the OpenAI SDK, online or offline.

    ``config`` is a :class:`PresetBook` or the path(s) of presets files; ``offline=None`` means
    "offline if ``LLMPRESETS_OFFLINE`` is set or inside :func:`offline_mode`". ``transport``
    replaces the HTTP transport (any ``httpx2`` transport); other keyword arguments go to
    ``openai.OpenAI`` (``api_key``, ``base_url``, ``max_retries``, ``timeout``, ...).

    >>> client = Client(offline=True, seed=7)
    >>> messages = [{"role": "user", "content": "Write a sort function"}]
    >>> result = client.chat(messages, use_case="code")
    >>> result.params["temperature"], result.finish_reason in ("stop", "length")
    (0.2, True)
    """

    def __init__(
        self,
        model: str | None = None,
        offline: bool | None = None,
        seed: int | None = None,
        config: ConfigSource = None,
        *,
        transport: httpx2.BaseTransport | None = None,
        unsupported_params: Policy | None = None,
        **openai_kwargs: Any,
    ) -> None:
        api_key = self._setup(model, offline, seed, config, unsupported_params, openai_kwargs)
        self._wire_transport(transport, openai_kwargs, httpx2.Client)
        self.openai: openai.OpenAI = openai.OpenAI(api_key=api_key, **openai_kwargs)
        self._openai_base_url = self.openai.base_url

    def chat(self, messages: Iterable[Any], use_case: str = "chat", **overrides: Any) -> ChatResult:
        """Send ``messages`` with the ``use_case`` preset; per-call ``overrides`` win.

        Raises ContextWindowExceeded before sending when the prompt cannot fit.
        """
        return self._chat(messages, use_case, overrides)

    def complete(self, prompt: str, use_case: str = "chat", **overrides: Any) -> ChatResult:
        """``chat`` with a single user message."""
        return self._chat([{"role": "user", "content": prompt}], use_case, overrides)

    def _chat(
        self, messages: Iterable[Any], use_case: str, overrides: dict[str, Any]
    ) -> ChatResult:
        # Frames up to the user's line: _prepare, _chat, chat/complete, caller.
        message_list, params, budget = self._prepare(messages, use_case, overrides, 4)
        try:
            response = self.openai.chat.completions.create(
                messages=message_list, **self._send_extras(params, use_case)
            )
        except _TRANSLATED as exc:
            raise _translate(exc, self._secret) from exc
        return _result(response, params, budget)

    def stream(
        self, messages: Iterable[Any], use_case: str = "chat", **overrides: Any
    ) -> ChatStream:
        """Stream the reply: iterate for text deltas of the first choice; then ``.result``.

        A stream that stops before its final chunk raises IncompleteResponseError.
        """
        overrides.setdefault("stream_options", {"include_usage": True})
        message_list, params, budget = self._prepare(messages, use_case, overrides, 3)
        try:
            sdk_stream = self.openai.chat.completions.create(
                messages=message_list, stream=True, **self._send_extras(params, use_case)
            )
        except _TRANSLATED as exc:
            raise _translate(exc, self._secret) from exc
        return ChatStream(sdk_stream, _StreamAssembler(params, budget), self._secret)

    def close(self) -> None:
        self.openai.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ChatStream:
    """Iterate for text deltas; ``result`` holds the assembled ChatResult afterwards."""

    def __init__(self, sdk_stream: Any, assembler: _StreamAssembler, secret: str | None) -> None:
        self._sdk_stream = sdk_stream
        self._assembler = assembler
        self._secret = secret
        self._result: ChatResult | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            for chunk in self._sdk_stream:
                delta = self._assembler.feed(chunk)
                if delta:
                    yield delta
        except _TRANSLATED as exc:
            raise _translate(exc, self._secret) from exc
        finally:
            self._sdk_stream.close()
        self._result = self._assembler.result()

    @property
    def result(self) -> ChatResult:
        """The whole reply, once the stream has been read to the end."""
        if self._result is None:
            for _ in self:
                pass
        assert self._result is not None
        return self._result

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._sdk_stream.close()


class AsyncChatStream:
    """``async for`` text deltas; ``await stream.get_result()`` for the ChatResult."""

    def __init__(self, sdk_stream: Any, assembler: _StreamAssembler, secret: str | None) -> None:
        self._sdk_stream = sdk_stream
        self._assembler = assembler
        self._secret = secret
        self._result: ChatResult | None = None

    async def __aiter__(self) -> AsyncIterator[str]:
        try:
            async for chunk in self._sdk_stream:
                delta = self._assembler.feed(chunk)
                if delta:
                    yield delta
        except _TRANSLATED as exc:
            raise _translate(exc, self._secret) from exc
        finally:
            await self._sdk_stream.close()
        self._result = self._assembler.result()

    async def get_result(self) -> ChatResult:
        """The whole reply (reads the rest of the stream if needed)."""
        if self._result is None:
            async for _ in self:
                pass
        assert self._result is not None
        return self._result


class AsyncClient(_BaseClient):
    """The awaitable twin of :class:`Client`, over ``openai.AsyncOpenAI``.

    >>> import asyncio
    >>> async def main() -> str:
    ...     client = AsyncClient(offline=True, seed=1)
    ...     return (await client.complete("Hello", use_case="chat")).finish_reason
    >>> asyncio.run(main()) in ("stop", "length")
    True
    """

    def __init__(
        self,
        model: str | None = None,
        offline: bool | None = None,
        seed: int | None = None,
        config: ConfigSource = None,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        unsupported_params: Policy | None = None,
        **openai_kwargs: Any,
    ) -> None:
        api_key = self._setup(model, offline, seed, config, unsupported_params, openai_kwargs)
        self._wire_transport(transport, openai_kwargs, httpx2.AsyncClient)
        self.openai: openai.AsyncOpenAI = openai.AsyncOpenAI(api_key=api_key, **openai_kwargs)
        self._openai_base_url = self.openai.base_url

    async def chat(
        self, messages: Iterable[Any], use_case: str = "chat", **overrides: Any
    ) -> ChatResult:
        """Awaitable :meth:`Client.chat`."""
        return await self._chat(messages, use_case, overrides)

    async def complete(self, prompt: str, use_case: str = "chat", **overrides: Any) -> ChatResult:
        """Awaitable :meth:`Client.complete`."""
        return await self._chat([{"role": "user", "content": prompt}], use_case, overrides)

    async def _chat(
        self, messages: Iterable[Any], use_case: str, overrides: dict[str, Any]
    ) -> ChatResult:
        message_list, params, budget = self._prepare(messages, use_case, overrides, 4)
        try:
            response = await self.openai.chat.completions.create(
                messages=message_list, **self._send_extras(params, use_case)
            )
        except _TRANSLATED as exc:
            raise _translate(exc, self._secret) from exc
        return _result(response, params, budget)

    async def stream(
        self, messages: Iterable[Any], use_case: str = "chat", **overrides: Any
    ) -> AsyncChatStream:
        """Awaitable :meth:`Client.stream`: ``async for delta in await client.stream(...)``."""
        overrides.setdefault("stream_options", {"include_usage": True})
        message_list, params, budget = self._prepare(messages, use_case, overrides, 3)
        try:
            sdk_stream = await self.openai.chat.completions.create(
                messages=message_list, stream=True, **self._send_extras(params, use_case)
            )
        except _TRANSLATED as exc:
            raise _translate(exc, self._secret) from exc
        return AsyncChatStream(sdk_stream, _StreamAssembler(params, budget), self._secret)

    async def close(self) -> None:
        await self.openai.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

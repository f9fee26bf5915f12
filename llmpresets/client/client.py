"""Client and AsyncClient: use case -> preset -> parameters -> pre-flight -> openai SDK -> result.

One path for online and offline: offline only swaps the HTTP transport under the real
``openai.OpenAI`` for :class:`llmpresets.OfflineTransport`. The pieces live apart in
``client/``: mode selection in ``mode.py``, request preparation in ``request.py``, the SDK
error boundary in ``sdk_errors.py`` (every SDK call runs inside ``sdk_errors``), results in
``results.py``, stream assembly in ``streams.py``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import httpx2
import openai

from .._errors import ConfigError, MissingAPIKeyError
from ..config.params import USE_CASE_HEADER
from ..config.presets import PresetBook, default_book, load_presets
from .arguments import check_prompt, proxy_errors
from .loopback import is_loopback_url
from .mode import env_offline, offline_mode, offline_override
from .request import CallContext, Prepared, PreparedResponse, prepare_chat, prepare_response
from .results import ChatResult, ResponseResult, chat_result, response_result
from .sdk_errors import sdk_errors
from .streams import (
    AsyncChatStream,
    AsyncResponseStream,
    ChatStream,
    ResponseAssembler,
    ResponseStream,
    StreamAssembler,
)

if TYPE_CHECKING:
    from ..config.adapt import Policy

__all__ = [
    "AsyncChatStream",
    "AsyncClient",
    "AsyncResponseStream",
    "ChatResult",
    "ChatStream",
    "Client",
    "ResponseResult",
    "ResponseStream",
    "offline_mode",
]

log = logging.getLogger("llmpresets")

# A PresetBook, or the path(s) of presets files to layer over the defaults.
ConfigSource = PresetBook | str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def _response_arguments(
    instructions: str | None, tools: list[Any] | None, text_format: Any, previous_id: str | None
) -> dict[str, Any]:
    """The named arguments of respond() / respond_stream(), as request preparation takes them."""
    return {
        "instructions": instructions,
        "tools": tools,
        "text_format": text_format,
        "previous_response_id": previous_id,
    }


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
        override = offline_override()
        if offline is None:
            offline = True if override is not None else env_offline()
        if seed is None and override is not None:
            seed = override.seed
        self.offline = offline
        self.seed = seed
        key_names = self._route_provider(openai_kwargs)
        api_key: str | None = openai_kwargs.pop("api_key", None)
        if offline:
            api_key = "offline"
        else:
            api_key = api_key or next(
                (os.environ[name] for name in key_names if os.environ.get(name)), None
            )
            if not api_key:
                raise MissingAPIKeyError(
                    f"no API key: pass Client(api_key=...) or set {' or '.join(key_names)}; to "
                    "run without one, use Client(offline=True), set LLMPRESETS_OFFLINE=1, or "
                    "wrap the code in llmpresets.offline_mode()"
                )
        self._secret = None if offline else api_key
        return api_key

    def _route_provider(self, openai_kwargs: dict[str, Any]) -> tuple[str, ...]:
        """Point the SDK at the model's provider: its OpenAI-compatible base URL (unless
        ``base_url=`` says otherwise; offline too, so the offline backend applies that
        provider's rules) and the key variables to read. A local server's ``base_url`` makes
        the provider ``openai-compatible`` (top_k / min_p in ``extra_body``)."""
        from ..config.providers import PROVIDERS, provider_for_url

        spec = self.config.model(self.model)
        base_url = openai_kwargs.get("base_url")
        if base_url is None and spec.provider not in ("openai", "openai-compatible"):
            base_url = openai_kwargs["base_url"] = PROVIDERS[spec.provider].base_url
        at = provider_for_url(str(base_url)) if base_url else None
        self.provider = at or spec.provider
        return PROVIDERS[self.provider].key_env

    provider: str

    def _wire_transport(
        self, transport: Any, openai_kwargs: dict[str, Any], http_client_class: Any
    ) -> None:
        """Put ``transport`` (or, offline, a new OfflineTransport) under the SDK's client."""
        if transport is None and self.offline:
            from ..offline import OfflineTransport

            transport = OfflineTransport(seed=self.seed, config=self.config)
        if transport is None:
            self._skip_proxy_for_loopback(openai_kwargs, http_client_class)
            return
        if "http_client" in openai_kwargs:
            raise ConfigError("give either transport= or http_client=, not both")
        openai_kwargs["http_client"] = http_client_class(transport=transport)

    @staticmethod
    def _skip_proxy_for_loopback(openai_kwargs: dict[str, Any], http_client_class: Any) -> None:
        """A loopback ``base_url`` (``llmpresets serve``, a local vLLM) is reached directly.

        The SDK's own HTTP client would send it to a proxy named in the environment
        (``HTTP_PROXY``...); this one is the SDK's default client without the environment's
        proxies. A client given ``http_client=`` keeps it.
        """
        if "http_client" in openai_kwargs:
            return
        base_url = openai_kwargs.get("base_url") or os.environ.get("OPENAI_BASE_URL")
        if base_url is None or not is_loopback_url(base_url):
            return
        default = (
            openai.DefaultHttpxClient
            if http_client_class is httpx2.Client
            else openai.DefaultAsyncHttpxClient
        )
        openai_kwargs["http_client"] = default(trust_env=False)

    def _send_extras(self, params: dict[str, Any], use_case: str) -> dict[str, Any]:
        """``params`` plus, offline only, a header naming the use case for the local model.

        The header steers which style of text the offline language model writes (code for
        ``code``); it is never sent to a real API.
        """
        if not self.offline:
            return params
        headers = {**(params.get("extra_headers") or {}), USE_CASE_HEADER: use_case}
        return {**params, "extra_headers": headers}

    def _base_url(self) -> str:
        return str(self._openai_base_url)

    _openai_base_url: Any

    _call_context: CallContext | None = None

    def _context(self) -> CallContext:
        """What every call needs, made again only when the client's settings were changed."""
        context = self._call_context
        if (
            context is None
            or context.model is not self.model
            or context.config is not self.config
            or context.policy is not self.unsupported_params
        ):
            context = CallContext(
                self.model, self.config, self._base_url(), self.unsupported_params
            )
            self._call_context = context
        return context

    def _prepare(
        self, messages: Iterable[Any], use_case: str, overrides: dict[str, Any], stacklevel: int
    ) -> Prepared:
        if self.seed is not None and not self.offline:
            # One meaning for seed: reproducible sampling. Offline it seeds the backend (exact);
            # online it is the API's own best-effort `seed` on every chat request.
            overrides = {"seed": self.seed, **overrides}
        return prepare_chat(self._context(), messages, use_case, overrides, stacklevel + 1)

    def _prepare_response(
        self,
        input: Any,
        use_case: str,
        named: dict[str, Any],
        overrides: dict[str, Any],
        stacklevel: int,
    ) -> PreparedResponse:
        """``respond``'s named arguments (when given) join the overrides, then the preparation."""
        for name in ("instructions", "tools", "previous_response_id"):
            if named.get(name) is not None:
                overrides[name] = named[name]
        return prepare_response(
            self._context(),
            input,
            use_case,
            overrides,
            stacklevel + 1,
            text_format=named.get("text_format"),
        )

    @staticmethod
    def _chat_result(response: Any, prepared: Prepared) -> ChatResult:
        return chat_result(
            response, prepared.params, prepared.budget, dropped=prepared.dropped, spec=prepared.spec
        )

    @staticmethod
    def _chat_assembler(prepared: Prepared) -> StreamAssembler:
        return StreamAssembler(
            prepared.params, prepared.budget, dropped=prepared.dropped, spec=prepared.spec
        )

    def _response_result(self, response: Any, prepared: PreparedResponse) -> ResponseResult:
        spec = self.config.model(prepared.model)
        return response_result(
            response,
            prepared.params,
            prepared.dropped,
            prepared.budget,
            spec,
            prepared.text_format,
        )

    def _response_assembler(self, prepared: PreparedResponse) -> ResponseAssembler:
        return ResponseAssembler(prepared, self.config.model(prepared.model))

    def __repr__(self) -> str:
        mode = "offline" if self.offline else self._base_url()
        return f"{type(self).__name__}(model={self.model!r}, {mode})"


class Client(_BaseClient):
    """A preset-aware chat client over the OpenAI SDK, online or offline.

    ``config`` is a :class:`PresetBook` or the path(s) of presets files; ``offline=None`` means
    "offline if ``LLMPRESETS_OFFLINE`` is set or inside :func:`offline_mode`". ``transport``
    replaces the HTTP transport (any ``httpx2`` transport); other keyword arguments go to
    ``openai.OpenAI`` (``api_key``, ``base_url``, ``max_retries``, ``timeout``, ...).
    ``seed`` asks for reproducible sampling: offline it seeds the backend, so a run repeats
    exactly; online it is sent as the API's own ``seed`` (best effort) on every chat request.

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
        with proxy_errors():
            self.openai: openai.OpenAI = openai.OpenAI(api_key=api_key, **openai_kwargs)
        self._openai_base_url = self.openai.base_url

    def chat(self, messages: Iterable[Any], use_case: str = "chat", **overrides: Any) -> ChatResult:
        """Send ``messages`` with the ``use_case`` preset; per-call ``overrides`` win.

        Raises ContextWindowExceeded before sending when the prompt cannot fit.
        """
        return self._chat(messages, use_case, overrides)

    def complete(self, prompt: str, use_case: str = "chat", **overrides: Any) -> ChatResult:
        """``chat`` with a single user message."""
        check_prompt(prompt)
        return self._chat([{"role": "user", "content": prompt}], use_case, overrides)

    def _chat(
        self, messages: Iterable[Any], use_case: str, overrides: dict[str, Any]
    ) -> ChatResult:
        # Frames up to the user's line: _prepare, _chat, chat/complete, caller.
        prepared = self._prepare(messages, use_case, overrides, 4)
        with sdk_errors(self._secret):
            response = self.openai.chat.completions.create(
                messages=prepared.messages, **self._send_extras(prepared.params, use_case)
            )
        return self._chat_result(response, prepared)

    def stream(
        self, messages: Iterable[Any], use_case: str = "chat", **overrides: Any
    ) -> ChatStream:
        """Stream the reply: iterate for text deltas of the first choice; then ``.result``.

        A stream that stops before its final chunk raises IncompleteResponseError.
        """
        overrides.setdefault("stream_options", {"include_usage": True})
        prepared = self._prepare(messages, use_case, overrides, 3)
        with sdk_errors(self._secret):
            sdk_stream = self.openai.chat.completions.create(
                messages=prepared.messages,
                stream=True,
                **self._send_extras(prepared.params, use_case),
            )
        assembler = self._chat_assembler(prepared)
        return ChatStream(sdk_stream, assembler, self._secret)

    def respond(
        self,
        input: str | Iterable[Any],
        use_case: str = "chat",
        *,
        instructions: str | None = None,
        tools: list[Any] | None = None,
        text_format: Any = None,
        previous_response_id: str | None = None,
        **overrides: Any,
    ) -> ResponseResult:
        """Send ``input`` through the Responses API with the ``use_case`` preset.

        The preset is resolved for ``/v1/responses`` (``reasoning.effort``, ``text.verbosity``,
        ``max_output_tokens``; temperature / top_p only where the model takes them).
        ``text_format`` is a pydantic model class (the result's ``parsed``) or a ``text.format``
        dict. Raises ContextWindowExceeded before sending when the input cannot fit.

        >>> client = Client(offline=True, seed=2)
        >>> client.respond("Say hello", use_case="chat").status
        'completed'
        """
        named = _response_arguments(instructions, tools, text_format, previous_response_id)
        # Frames up to the user's line: prepare_response, _prepare_response, respond, caller.
        prepared = self._prepare_response(input, use_case, named, overrides, 3)
        with sdk_errors(self._secret):
            response = self.openai.responses.create(
                input=prepared.input, **self._send_extras(prepared.params, use_case)
            )
        return self._response_result(response, prepared)

    def respond_stream(
        self,
        input: str | Iterable[Any],
        use_case: str = "chat",
        *,
        instructions: str | None = None,
        tools: list[Any] | None = None,
        text_format: Any = None,
        previous_response_id: str | None = None,
        **overrides: Any,
    ) -> ResponseStream:
        """Stream a Responses API call: iterate for the SDK's events; then ``.result``."""
        named = _response_arguments(instructions, tools, text_format, previous_response_id)
        prepared = self._prepare_response(input, use_case, named, overrides, 3)
        with sdk_errors(self._secret):
            sdk_stream = self.openai.responses.create(
                input=prepared.input, stream=True, **self._send_extras(prepared.params, use_case)
            )
        return ResponseStream(sdk_stream, self._response_assembler(prepared), self._secret)

    def close(self) -> None:
        self.openai.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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
        with proxy_errors():
            self.openai: openai.AsyncOpenAI = openai.AsyncOpenAI(api_key=api_key, **openai_kwargs)
        self._openai_base_url = self.openai.base_url

    async def chat(
        self, messages: Iterable[Any], use_case: str = "chat", **overrides: Any
    ) -> ChatResult:
        """Awaitable :meth:`Client.chat`."""
        return await self._chat(messages, use_case, overrides)

    async def complete(self, prompt: str, use_case: str = "chat", **overrides: Any) -> ChatResult:
        """Awaitable :meth:`Client.complete`."""
        check_prompt(prompt)
        return await self._chat([{"role": "user", "content": prompt}], use_case, overrides)

    async def _chat(
        self, messages: Iterable[Any], use_case: str, overrides: dict[str, Any]
    ) -> ChatResult:
        prepared = self._prepare(messages, use_case, overrides, 4)
        with sdk_errors(self._secret):
            response = await self.openai.chat.completions.create(
                messages=prepared.messages, **self._send_extras(prepared.params, use_case)
            )
        return self._chat_result(response, prepared)

    async def stream(
        self, messages: Iterable[Any], use_case: str = "chat", **overrides: Any
    ) -> AsyncChatStream:
        """Awaitable :meth:`Client.stream`: ``async for delta in await client.stream(...)``."""
        overrides.setdefault("stream_options", {"include_usage": True})
        prepared = self._prepare(messages, use_case, overrides, 3)
        with sdk_errors(self._secret):
            sdk_stream = await self.openai.chat.completions.create(
                messages=prepared.messages,
                stream=True,
                **self._send_extras(prepared.params, use_case),
            )
        assembler = self._chat_assembler(prepared)
        return AsyncChatStream(sdk_stream, assembler, self._secret)

    async def respond(
        self,
        input: str | Iterable[Any],
        use_case: str = "chat",
        *,
        instructions: str | None = None,
        tools: list[Any] | None = None,
        text_format: Any = None,
        previous_response_id: str | None = None,
        **overrides: Any,
    ) -> ResponseResult:
        """Awaitable :meth:`Client.respond`."""
        named = _response_arguments(instructions, tools, text_format, previous_response_id)
        prepared = self._prepare_response(input, use_case, named, overrides, 3)
        with sdk_errors(self._secret):
            response = await self.openai.responses.create(
                input=prepared.input, **self._send_extras(prepared.params, use_case)
            )
        return self._response_result(response, prepared)

    async def respond_stream(
        self,
        input: str | Iterable[Any],
        use_case: str = "chat",
        *,
        instructions: str | None = None,
        tools: list[Any] | None = None,
        text_format: Any = None,
        previous_response_id: str | None = None,
        **overrides: Any,
    ) -> AsyncResponseStream:
        """Awaitable :meth:`Client.respond_stream`: ``async for event in await ...``."""
        named = _response_arguments(instructions, tools, text_format, previous_response_id)
        prepared = self._prepare_response(input, use_case, named, overrides, 3)
        with sdk_errors(self._secret):
            sdk_stream = await self.openai.responses.create(
                input=prepared.input, stream=True, **self._send_extras(prepared.params, use_case)
            )
        return AsyncResponseStream(sdk_stream, self._response_assembler(prepared), self._secret)

    async def close(self) -> None:
        await self.openai.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

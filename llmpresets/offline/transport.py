"""``OfflineTransport``: an httpx2 transport that answers like OpenAI's chat completions API.

Routing is on the path's tail, so any ``base_url`` works: ``POST .../chat/completions``,
``.../responses`` (``_responses``), legacy ``POST .../completions`` (``_completions``),
``POST .../embeddings`` (``_embeddings``), ``GET .../models`` and ``GET .../models/{id}``.
Another path is a 404 and another method a 405, in the API's error shape. Error answers carry
``x-should-retry: false`` so the SDK does not retry (and sleep) on them. Scripted faults
(``faults``, ``_faults``) are taken before routing; :meth:`OfflineTransport.answer` is the
path without them (``llmpresets serve`` does the faults itself, over a real socket).

The layers under it: ``_wire`` parses and validates a body (with ``_checks``' field checks)
into a ``_request.ChatRequest``; ``_generate`` samples each choice from a next-token source
(``_sources``) or a scripted table (``_scripted``); ``_payloads`` builds the answers
(``chat.completion`` bodies and the stream's SSE chunks) from the SDK's own types, so they
cannot drift from what the SDK parses. This module routes, counts the prompt, derives the
randomness and ties those together.

Randomness, per choice ``i`` of a request (``n`` choices are independent streams):

- the request has ``seed``: ``SeedSequence([seed, hash(request), i])`` — a pure function of
  the seed and the request. The hash covers what shapes the tokens (model, messages, sampling
  settings, tools...) and leaves out (``_request.NOT_SHAPING``) what only cuts, counts or
  reports them (``stream``, ``stream_options``, ``stop``, ``max_tokens``,
  ``max_completion_tokens``, ``n``, ``logprobs``, ``top_logprobs``) and what only routes,
  caches or tags a request (``prompt_cache_key``, ``safety_identifier``, ``user``,
  ``metadata``, ``service_tier``, ``store``): a streamed and a plain request give the same
  choices and usage, a lower ``max_tokens`` gives a prefix of the longer reply, choice 0 of
  ``n`` is the ``n=1`` reply, and a framework's random ``prompt_cache_key`` changes nothing;
- else the transport has a seed: ``SeedSequence([transport seed, k, hash(request), i])`` for
  the transport's k-th request (a counter under a lock), the same sequence on every run;
- else fresh OS entropy.

With either seed the response ``id`` is derived from the same numbers and ``created`` is a
fixed epoch, so the whole body is reproducible. Requests share no mutable state but caches of
pure values, so concurrent threads and tasks get exactly what they would get one at a time.
The async entry point runs the (CPU-only, sub-millisecond per token) generation inline.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import httpx2

from .._errors import LLMPresetsError
from ..config.headers import USE_CASE_HEADER
from ..tokens.counting import count_message_tokens
from .api.chat import parse_request
from .api.chat_payloads import (
    OFFLINE_EPOCH,
    Usage,
    chunk_payloads,
    completion_payload,
    make_identity,
)
from .api.completions import (
    LEGACY_MODELS,
    completions_chunks,
    completions_payload,
    parse_completions_request,
)
from .api.embeddings import EMBEDDING_MODELS, embeddings_payload, parse_embeddings_request
from .api.errors import WireError, model_not_found, parse_body
from .api.model_rules import request_effort
from .api.responses.endpoint import ResponsesEndpoint, is_responses_path
from .backend.randomness import request_digest
from .backend.reasoning import reasoning_tokens
from .backend.scripted import ScriptedTable, find_rule, load_scripted
from .engine.structured import choose_allowed, make_plan, scripted_allowed, scripted_generation
from .engine.text import choose_scripted, generate, seeded_generator
from .engine.types import ChatRequest, Generation
from .faults import FaultPlan, inject, inject_async
from .lm.default import source_for_model
from .lm.protocol import NextTokenSource
from .lm.sources import (
    as_source,
    last_user_text,
    make_stepper,
    make_token_stepper,
    render_prompt,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import ArrayLike

    from ..config.models import ModelSpec
    from ..config.presets import FaultRule, PresetBook, ScriptedRule

__all__ = ["OFFLINE_EPOCH", "OfflineTransport"]

_MASK64 = (1 << 64) - 1


class _Events(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """Pre-generated SSE events, readable by sync and async clients alike."""

    def __init__(self, events: list[bytes]) -> None:
        self._events = events

    def __iter__(self) -> Iterator[bytes]:
        yield from self._events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self._events:
            yield event


class OfflineTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Answer the OpenAI SDK locally: sampled replies in OpenAI's exact wire format.

    ``source``: a :class:`~llmpresets.offline.NextTokenSource` or a callable
    ``(context_ids) -> logits``; default: the packaged n-gram model (or ``offline.corpus``).
    ``scripted``: a list of :class:`~llmpresets.config.presets.ScriptedRule` (read at every request,
    so rules appended later apply) or a YAML file path; default: ``offline.scripted``.
    ``strict_models``: answer 404 ``model_not_found`` for a model the registry lacks; default:
    ``offline.strict_models``.
    ``faults``: scripted faults (:class:`~llmpresets.config.presets.FaultRule` list or a
    presets file);
    default: ``offline.faults``. ``transport.faults.add("rate_limit", times=2)`` adds one.

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
    ) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        if config is None:
            from ..config.presets import default_book

            config = default_book()
        self.config = config
        self.seed = seed
        self.source = as_source(source) if source is not None else None
        if scripted is None:
            scripted = list(config.offline.scripted)
        elif isinstance(scripted, (str, os.PathLike)):
            scripted = load_scripted(scripted)
        self.scripted: list[ScriptedRule] = scripted
        self.strict_models = (
            config.offline.strict_models if strict_models is None else strict_models
        )
        self.faults = FaultPlan(config.offline.faults if faults is None else faults)
        self._counter = 0
        self._lock = threading.Lock()
        self._tables: dict[tuple[int, str], tuple[ScriptedRule, ScriptedTable]] = {}
        self.responses = ResponsesEndpoint(self)  # /responses, with its own bounded store

    # ------------------------------------------------------------------ httpx2 entry points

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        fault = self.faults.take(request)
        return self.answer(request) if fault is None else inject(fault, request, self.answer)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        fault = self.faults.take(request)
        if fault is None:
            return self.answer(request)

        async def answer(request: httpx2.Request) -> httpx2.Response:
            return self.answer(request)

        return await inject_async(fault, request, answer)

    def answer(self, request: httpx2.Request) -> httpx2.Response:
        """The answer to a request whose body has been read, without scripted faults."""
        return self._respond(request)

    # ------------------------------------------------------------------ routing

    def _respond(self, request: httpx2.Request) -> httpx2.Response:
        method, path = request.method, request.url.path
        tail = path.rstrip("/")
        try:
            if tail.endswith("/chat/completions") or tail == "chat/completions":
                if method != "POST":
                    raise WireError(405, f"Invalid method for URL ({method} {path})")
                return self._chat(request.content, _use_case(request.headers))
            if tail.endswith("/completions") or tail == "completions":
                if method != "POST":
                    raise WireError(405, f"Invalid method for URL ({method} {path})")
                return self._completions(request.content, _use_case(request.headers))
            if is_responses_path(tail):
                use_case = _use_case(request.headers)
                answer = self.responses.handle(
                    method, path, request.content, use_case, request.url.params
                )
                if isinstance(answer, list):
                    return self._stream(answer)
                return self._json(200, answer)
            if tail.endswith("/embeddings") or tail == "embeddings":
                if method != "POST":
                    raise WireError(405, f"Invalid method for URL ({method} {path})")
                request_body = parse_embeddings_request(parse_body(request.content))
                return self._json(200, embeddings_payload(request_body))
            if tail.endswith("/models") and method == "GET":
                return self._json(200, self._model_list())
            models_at = tail.rfind("/models/")
            if models_at >= 0 and method == "GET":
                return self._json(200, self._model_entry(tail[models_at + len("/models/") :]))
            raise WireError(404, f"Invalid URL ({method} {path})")
        except WireError as error:
            return self._json(error.status, error.body(), error=True)

    def _json(self, status: int, body: Any, *, error: bool = False) -> httpx2.Response:
        return httpx2.Response(
            status,
            headers=self._headers("application/json", error=error),
            content=json.dumps(body).encode("utf-8"),
        )

    def _stream(self, events: list[bytes]) -> httpx2.Response:
        return httpx2.Response(
            200, headers=self._headers("text/event-stream; charset=utf-8"), stream=_Events(events)
        )

    @staticmethod
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

    def _model_list(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [self._model_object(name) for name in sorted(self._served_models())],
        }

    def _model_entry(self, name: str) -> dict[str, Any]:
        if not self.config.model(name).known and name not in self._served_models():
            raise model_not_found(name)
        return self._model_object(name)

    def _served_models(self) -> set[str]:
        """The registry's models, and the embedding and legacy models this backend serves."""
        return {*self.config.models, *EMBEDDING_MODELS, *LEGACY_MODELS}

    @staticmethod
    def _model_object(name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": OFFLINE_EPOCH, "owned_by": "llmpresets"}

    def _spec(self, model: str) -> ModelSpec:
        spec = self.config.model(model)
        if self.strict_models and not spec.known:
            raise model_not_found(model)
        return spec

    # ------------------------------------------------------------------ chat completions

    def _chat(self, content: bytes, use_case: str | None = None) -> httpx2.Response:
        chat = parse_request(parse_body(content), self._spec)
        spec = self.config.model(chat.model)
        prompt_tokens = self._prompt_tokens(chat, spec)
        entropy, reproducible = self._entropy(chat)
        generations, thinking = self._think_then_generate(chat, spec, entropy, use_case)
        reasoning = thinking * len(generations)
        usage = Usage(
            prompt_tokens, sum(g.completion_tokens for g in generations) + reasoning, reasoning
        )
        identity = make_identity(entropy, reproducible)
        if chat.stream:
            events = chunk_payloads(chat, generations, usage, identity)
            return self._stream(events)
        body = completion_payload(chat, generations, usage, identity)
        return httpx2.Response(200, headers=self._headers("application/json"), content=body)

    def _think_then_generate(
        self, chat: ChatRequest, spec: ModelSpec, entropy: list[int], use_case: str | None
    ) -> tuple[list[Generation], int]:
        """A reasoning model's choices and the reasoning tokens each spent before its text.

        The rule of ``_reasoning`` (zero at effort none, growing with the effort; the request's
        effort or the model's default). The tokens count against ``max_completion_tokens``: a
        limit they exhaust ends each choice with ``finish_reason="length"`` and no text, as
        online; otherwise the text gets what is left.
        """
        thinking = 0
        if spec.efforts("chat"):
            thinking = reasoning_tokens(request_effort(chat.body, spec, "chat"))
        limit = chat.explicit_max_tokens
        if thinking and limit is not None:
            if limit <= thinking:
                empty = [Generation(finish_reason="length") for _ in range(chat.n)]
                return empty, limit
            chat = dataclasses.replace(chat, max_tokens=limit - thinking)
        return self._generate(chat, spec, entropy, use_case), thinking

    def _completions(self, content: bytes, use_case: str | None) -> httpx2.Response:
        """Legacy ``/completions``: each prompt sampled as a one-message chat request."""
        legacy = parse_completions_request(
            parse_body(content),
            lambda model: self.config.model(model) if model in LEGACY_MODELS else self._spec(model),
        )
        results, entropies, reproducible = [], [], True
        for chat in legacy.chats:
            entropy, reproducible = self._entropy(chat)
            entropies.extend(entropy)
            results.append(self._generate(chat, self.config.model(chat.model), entropy, use_case))
        identity = make_identity(entropies, reproducible, prefix="cmpl-")
        if legacy.stream:
            return self._stream(completions_chunks(legacy, results, identity))
        return self._json(200, completions_payload(legacy, results, identity))

    def _prompt_tokens(self, chat: ChatRequest, spec: ModelSpec) -> int:
        try:
            count = count_message_tokens(chat.messages, chat.model, chat.tools, config=self.config)
        except (ValueError, TypeError) as exc:  # MessageFormatError is both
            raise _shape_error(str(exc)) from None
        window = spec.context_window
        limit = spec.max_input_tokens or window
        requested = count + (chat.explicit_max_tokens or 0)
        if limit is not None and count > limit:
            raise WireError(
                400,
                f"This model's maximum context length is {limit} tokens. However, your messages "
                f"resulted in {count} tokens. Please reduce the length of the messages.",
                param="messages",
                code="context_length_exceeded",
            )
        if window is not None and requested > window:
            raise WireError(
                400,
                f"This model's maximum context length is {window} tokens. However, you "
                f"requested {requested} tokens ({count} in the messages, "
                f"{chat.explicit_max_tokens} in the completion). Please reduce the length of "
                "the messages or completion.",
                param="messages",
                code="context_length_exceeded",
            )
        return count

    def _entropy(self, chat: ChatRequest) -> tuple[list[int], bool]:
        digest = int.from_bytes(request_digest(chat.body)[:16], "big")
        if chat.seed is not None:
            return [0, chat.seed & _MASK64, digest], True
        if self.seed is not None:
            with self._lock:
                number = self._counter
                self._counter += 1
            return [1, self.seed & _MASK64, number, digest], True
        return [2, secrets.randbits(128), digest], False

    def _source(self, model: str) -> NextTokenSource:
        return self.source if self.source is not None else source_for_model(self.config, model)

    def _generate(
        self, chat: ChatRequest, spec: ModelSpec, entropy: list[int], use_case: str | None = None
    ) -> list[Generation]:
        from ..tokens.encodings import get_encoding

        source = self._source(chat.model)
        encoding = get_encoding(getattr(source, "encoding_name", None) or spec.encoding)
        for token, _ in chat.settings.logit_bias:
            if token >= encoding.n_vocab:
                raise WireError(
                    400,
                    f"Invalid key in 'logit_bias': {token}. Maximum value is "
                    f"{encoding.n_vocab - 1}.",
                    param="logit_bias",
                    code="invalid_value",
                )
        rule = find_rule(self.scripted, last_user_text(chat.messages)) if self.scripted else None
        table = self._table(rule, encoding) if rule is not None else None
        plan = make_plan(chat, encoding)
        prompt_ids: list[int] | None = None
        steppers: dict[str, Any] = {}

        def stepper(kind: str) -> Any:
            # One free-text stepper (by positions) and one by token ids, made on first use.
            nonlocal prompt_ids
            if kind not in steppers:
                if prompt_ids is None:
                    prompt_ids = encoding.encode_ordinary(render_prompt(chat.messages))
                make = make_stepper if kind == "text" else make_token_stepper
                steppers[kind] = make(source, prompt_ids, encoding, style=use_case)
            return steppers[kind]

        generations = []
        for index in range(chat.n):
            rng = seeded_generator([*entropy, index])
            if table is not None:
                allowed = scripted_allowed(plan, table)
                candidate = (
                    choose_scripted(table, chat.settings, rng)
                    if allowed is None
                    else choose_allowed(table, allowed, chat.settings, rng)
                )
                if candidate is not None and not table.falls_through(candidate):
                    generations.append(
                        scripted_generation(table, candidate, encoding, chat.settings, rng)
                    )
                    continue
            try:
                made = None
                if plan is not None:
                    made = plan.generate(lambda: stepper("tokens"), lambda: stepper("text"), rng)
                if made is None:
                    step, vocab = stepper("text")
                    made = generate(step, vocab, encoding, chat.settings, rng)
                generations.append(made)
            except (LLMPresetsError, ValueError) as exc:
                # A user's source misbehaved (or left nothing to sample): the server's fault.
                raise WireError(500, str(exc), type="server_error") from exc
        return generations

    def _table(self, rule: ScriptedRule, encoding: Any) -> ScriptedTable:
        key = (id(rule), encoding.name)
        cached = self._tables.get(key)
        if cached is not None and cached[0] is rule:
            return cached[1]
        table = ScriptedTable.build(rule, encoding.encode_ordinary)
        self._tables[key] = (rule, table)
        return table


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


def _shape_error(problem: str) -> WireError:
    """A message or tool the token counter cannot read, as a 400 naming where it is.

    The counter says ``"message 2: ..."`` or ``"tools[0]...: ..."``; the API's param is
    ``messages[2]`` or ``tools[0]...``.
    """
    head, _, rest = problem.partition(": ")
    if head.startswith("tools") and rest:
        param = head
    elif head.startswith("message ") and head[8:].isdigit() and rest:
        param = f"messages[{head[8:]}]"
    else:
        param, rest = "messages", problem
    return WireError(400, f"Invalid '{param}': {rest}", param=param)

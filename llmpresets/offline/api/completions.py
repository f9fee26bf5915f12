"""Legacy ``POST /completions``: a prompt in, ``text_completion`` out, with the same sampler.

Each prompt (a string, an array of strings, an array of token ids, or an array of those) is
sampled as a chat request whose one user message is the prompt: the same next-token source,
scripted candidates and temperature / top-k / top-p / min-p mathematics, and the same seeded
determinism (a request with ``seed`` is a pure function of the seed and the request). Choices
are ordered prompt by prompt, ``n`` per prompt, as the API orders them.

What differs from chat, as on the API: ``max_tokens`` defaults to 16; ``logprobs`` is an
integer 0-5 (the alternatives per token) and comes back as ``tokens`` / ``token_logprobs`` /
``top_logprobs`` / ``text_offset``; ``echo`` puts the prompt in front of the text; the legacy
models are ``gpt-3.5-turbo-instruct``, ``davinci-002`` and ``babbage-002``, and a chat model
from the registry gets the API's 404 ("This is a chat model..."). Offline limits: ``best_of``
must equal ``n`` (no reranking), ``echo`` does not combine with ``logprobs`` (prompt tokens
have no log-probabilities here), and ``suffix`` is accepted and ignored. Bounded like chat: at
most 2,048 prompts, and the per-request cap on generated tokens (:mod:`.limits`) is shared by all
prompts' choices (each ends with ``length`` at its share).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..backend.backend import GenerationFailed
from ..backend.randomness import Identity, make_identity
from .chat.parse import parse_request
from .errors import (
    WireError,
    boolean,
    missing,
    number,
    parse_body,
    server_error,
    texts_or_token_arrays,
    unrecognized,
)
from .limits import choice_token_limit
from .models import known_spec
from .prompt_checks import check_logit_bias
from .reply import Reply

if TYPE_CHECKING:
    from ...config.models import ModelSpec
    from ..backend.backend import OfflineBackend
    from ..engine.types import ChatRequest, Generation

__all__ = [
    "LEGACY_MODELS",
    "CompletionsRequest",
    "answer_completions",
    "completions_chunks",
    "completions_payload",
    "parse_completions_request",
]

# Context windows of the models the legacy endpoint serves (developers.openai.com model pages).
LEGACY_MODELS: Mapping[str, int] = {
    "gpt-3.5-turbo-instruct": 4096,
    "davinci-002": 16384,
    "babbage-002": 16384,
}
DEFAULT_MAX_TOKENS = 16
MAX_PROMPTS = 2048
_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "best_of",
        "echo",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_tokens",
        "n",
        "presence_penalty",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "suffix",
        "temperature",
        "top_p",
        "user",
        # vLLM-style extensions, as on /chat/completions
        "top_k",
        "min_p",
        "ignore_eos",
    }
)
# Passed through to the chat parser unchanged (it validates them with the API's messages).
_SHARED = (
    "model",
    "frequency_penalty",
    "logit_bias",
    "n",
    "presence_penalty",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "user",
    "top_k",
    "min_p",
    "ignore_eos",
)


@dataclass
class CompletionsRequest:
    """A validated legacy completions body: one chat-shaped request per prompt."""

    model: str
    prompts: list[str]
    prompt_tokens: list[int]
    chats: list[ChatRequest]
    echo: bool = False
    logprobs: int | None = None
    stream: bool = False
    include_usage: bool = False
    body: dict[str, Any] = field(default_factory=dict)


def _prompts(value: Any, decode: Callable[[list[int]], str]) -> list[str]:
    def invalid() -> WireError:
        return WireError(
            400,
            "Invalid type for 'prompt': expected a string, an array of strings, an array of "
            "integers, or an array of arrays of integers.",
            param="prompt",
            code="invalid_type",
        )

    items = texts_or_token_arrays(value, invalid, empty_arrays=True)
    return [item if isinstance(item, str) else decode(item) for item in items]


def parse_completions_request(
    body: dict[str, Any], spec_for: Callable[[str], ModelSpec]
) -> CompletionsRequest:
    """Validate a legacy completions body; raise :class:`WireError`.

    ``spec_for(model)`` gives the model's spec (or raises the 404 of a strict registry);
    :func:`answer_completions` lets the legacy models through, since the registry lists chat
    models only.
    """
    from ...tokens.encodings import get_encoding

    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise unrecognized(unknown[:1], named=True)
    model = body.get("model")
    if model is None or model == "":
        raise WireError(400, "you must provide a model parameter")
    if not isinstance(model, str):
        raise WireError(400, "Invalid type for 'model': expected a string.", param="model")
    spec = spec_for(model)
    if spec.known and model not in LEGACY_MODELS:
        raise WireError(
            404,
            "This is a chat model and not supported in the v1/completions endpoint. Did you "
            "mean to use v1/chat/completions?",
            param="model",
        )
    if "prompt" not in body:
        raise missing("prompt")
    encoding = get_encoding(spec.encoding)

    def decode(tokens: list[int]) -> str:
        if any(token < 0 or token >= encoding.n_vocab for token in tokens):
            raise WireError(
                400,
                f"Invalid token in 'prompt': ids must be in [0, {encoding.n_vocab - 1}].",
                param="prompt",
                code="invalid_value",
            )
        return encoding.decode(tokens, errors="replace")

    prompts = _prompts(body["prompt"], decode)
    if len(prompts) > MAX_PROMPTS:
        raise WireError(
            400,
            f"Invalid 'prompt': at most {MAX_PROMPTS} prompts per request, got {len(prompts)}.",
            param="prompt",
            code="invalid_value",
        )
    logprobs = number(body, "logprobs", 0, 5, integer=True)
    echo = boolean(body, "echo")
    n = number(body, "n", 1, 128, integer=True) or 1
    best_of = number(body, "best_of", 1, 20, integer=True)
    if best_of is not None and best_of != n:
        raise WireError(
            400,
            f"best_of={best_of} with n={n}: the offline backend does not rerank candidates; "
            "send best_of equal to n (or leave it out).",
            param="best_of",
            code="invalid_value",
        )
    if echo and logprobs is not None:
        raise WireError(
            400,
            "echo with logprobs is not supported by the offline backend (prompt tokens have no "
            "log-probabilities here).",
            param="echo",
            code="invalid_value",
        )
    max_tokens = number(body, "max_tokens", 0, 2**31 - 1, integer=True)
    limit = DEFAULT_MAX_TOKENS if max_tokens is None else max(max_tokens, 1)
    window = LEGACY_MODELS.get(model) or spec.context_window
    counts = [len(encoding.encode_ordinary(prompt)) for prompt in prompts]
    for count in counts:
        if window is not None and count + limit > window:
            raise WireError(
                400,
                f"This model's maximum context length is {window} tokens, however you "
                f"requested {count + limit} tokens ({count} in your prompt; {limit} for the "
                "completion). Please reduce your prompt; or completion length.",
                code="context_length_exceeded",
            )
    shared = {key: body[key] for key in _SHARED if key in body}
    if logprobs is not None:
        shared["logprobs"] = True
        shared["top_logprobs"] = logprobs
    chats = []
    # The per-request cap on generated tokens (.limits) covers every prompt's n choices.
    per_choice = choice_token_limit(limit, n * len(prompts), top_logprobs=logprobs)
    for prompt in prompts:
        chat_body = {
            **shared,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": per_choice,
        }
        chats.append(parse_request(chat_body, lambda _: spec))
    return CompletionsRequest(
        model=model,
        prompts=prompts,
        prompt_tokens=counts,
        chats=chats,
        echo=echo,
        logprobs=logprobs,
        stream=chats[0].stream,
        include_usage=chats[0].include_usage,
        body=body,
    )


def _legacy_logprobs(generation: Generation, offset: int) -> dict[str, Any] | None:
    if generation.logprobs is None:
        return None
    offsets = []
    for entry in generation.logprobs:
        offsets.append(offset)
        offset += len(entry.token)
    return {
        "tokens": [entry.token for entry in generation.logprobs],
        "token_logprobs": [entry.logprob for entry in generation.logprobs],
        "top_logprobs": [
            {token: value for token, _, value in entry.top} for entry in generation.logprobs
        ],
        "text_offset": offsets,
    }


def _usage(request: CompletionsRequest, results: Sequence[Sequence[Generation]]) -> dict[str, int]:
    prompt = sum(request.prompt_tokens)
    completion = sum(g.completion_tokens for choices in results for g in choices)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completions_payload(
    request: CompletionsRequest, results: Sequence[Sequence[Generation]], identity: Identity
) -> dict[str, Any]:
    """The ``text_completion`` body, validated by the SDK's ``Completion`` type."""
    from openai.types import Completion

    choices: list[dict[str, Any]] = []
    for prompt, generations in zip(request.prompts, results, strict=True):
        for generation in generations:
            head = prompt if request.echo else ""
            choices.append(
                {
                    "index": len(choices),
                    "text": head + generation.text,
                    "logprobs": _legacy_logprobs(generation, len(head)),
                    "finish_reason": generation.finish_reason,
                }
            )
    completion = Completion.model_validate(
        {
            "id": identity.id,
            "object": "text_completion",
            "created": identity.created,
            "model": request.model,
            "choices": choices,
            "system_fingerprint": identity.system_fingerprint,
            "usage": _usage(request, results),
        }
    )
    payload: dict[str, Any] = completion.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return payload


def completions_chunks(
    request: CompletionsRequest, results: Sequence[Sequence[Generation]], identity: Identity
) -> list[bytes]:
    """The SSE events of a streamed completion: one per token, a finish, usage, ``[DONE]``."""
    head = {
        "id": identity.id,
        "object": "text_completion",
        "created": identity.created,
        "model": request.model,
        "system_fingerprint": identity.system_fingerprint,
    }
    events: list[bytes] = []

    def emit(choices: list[dict[str, Any]], **extra: Any) -> None:
        data = {**head, "choices": choices, **extra}
        events.append(f"data: {json.dumps(data)}\n\n".encode())

    index = 0
    for prompt, generations in zip(request.prompts, results, strict=True):
        for generation in generations:
            if request.echo:
                emit([{"text": prompt, "index": index, "logprobs": None, "finish_reason": None}])
            offset = len(prompt) if request.echo else 0
            for position, piece in enumerate(generation.pieces):
                logprobs = None
                if generation.logprobs is not None:
                    entry = generation.logprobs[position]
                    logprobs = {
                        "tokens": [entry.token],
                        "token_logprobs": [entry.logprob],
                        "top_logprobs": [{token: value for token, _, value in entry.top}],
                        "text_offset": [offset],
                    }
                    offset += len(entry.token)
                emit([{"text": piece, "index": index, "logprobs": logprobs, "finish_reason": None}])
            emit(
                [
                    {
                        "text": "",
                        "index": index,
                        "logprobs": None,
                        "finish_reason": generation.finish_reason,
                    }
                ]
            )
            index += 1
    if request.include_usage:
        emit([], usage=_usage(request, results))
    events.append(b"data: [DONE]\n\n")
    return events


def answer_completions(backend: OfflineBackend, content: bytes, use_case: str | None) -> Reply:
    """The answer to a legacy ``/completions`` body: each prompt sampled as a one-message
    chat request; :class:`WireError` for an error answer."""
    legacy = parse_completions_request(
        parse_body(content),
        lambda model: backend.spec(model) if model in LEGACY_MODELS else known_spec(backend, model),
    )
    results, entropies, reproducible = [], [], True
    for chat in legacy.chats:
        prepared = backend.prepare(chat, backend.spec(chat.model))
        check_logit_bias(chat, prepared.encoding)
        entropy, reproducible = backend.entropy(chat.body, chat.seed)
        entropies.extend(entropy)
        try:
            results.append(backend.run(prepared, entropy, use_case))
        except GenerationFailed as exc:
            raise server_error(exc) from exc
    identity = make_identity(entropies, reproducible, prefix="cmpl-")
    if legacy.stream:
        return Reply.stream(completions_chunks(legacy, results, identity))
    return Reply.json(200, completions_payload(legacy, results, identity))

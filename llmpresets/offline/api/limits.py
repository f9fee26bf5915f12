"""How much work one offline request may cause: the documented caps (docs/limits.md).

* :data:`MAX_TOKENS_PER_REQUEST` generated tokens per request, all ``n`` choices together:
  each choice may run to ``MAX_TOKENS_PER_REQUEST // n`` tokens (at least 1), then ends with
  ``finish_reason: "length"`` as if ``max_tokens`` had said so. ``n=128`` gets 256 tokens a
  choice; one choice up to 32,768 (the time and memory of a request stay bounded, logprobs and
  their JSON included).
* :data:`MAX_LOGPROB_ENTRIES_PER_REQUEST` logprob entries per request (each token's own and
  its ``top_logprobs`` alternatives, all choices together): a request with ``top_logprobs=k``
  may generate at most ``MAX_LOGPROB_ENTRIES_PER_REQUEST // (1 + k)`` tokens in all (6,241 at
  ``k=20``), so what one streamed request holds while a slow client reads it stays bounded:
  ``n=8, top_logprobs=20, ignore_eos`` traced 79 MB (peak 91 MB) where its 32,768 tokens traced
  169 MB (peak 240 MB), the package's caches included (``benchmarks/bench_shapes.py``).
* :data:`UNKNOWN_MODEL_MAX_OUTPUT`: a model whose output limit is not in the registry is treated
  as allowing at most this many output tokens, so ``max_tokens=2147483647`` is the API's 400
  ``max_tokens is too large`` rather than an accepted request.
* Item counts, checked before any per-item work (:func:`check_item_counts`), with the API's
  400 ``array_above_max_length``: :data:`MAX_TOOLS` tools and :data:`MAX_TOOL_CALLS` tool calls
  in one assistant message (the API's own caps, as its errors state them), and
  :data:`MAX_INPUT_ITEMS` chat messages or Responses input items (the API states no cap for
  these; ours is conservative: far above real conversations, and what keeps one request's
  parsing, validation and counting under about a second).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import WireError

__all__ = [
    "MAX_INPUT_ITEMS",
    "MAX_LOGPROB_ENTRIES_PER_REQUEST",
    "MAX_TOKENS_PER_REQUEST",
    "MAX_TOOLS",
    "MAX_TOOL_CALLS",
    "UNKNOWN_MODEL_MAX_OUTPUT",
    "check_item_counts",
    "choice_token_limit",
]

MAX_TOKENS_PER_REQUEST = 32_768
MAX_LOGPROB_ENTRIES_PER_REQUEST = 131_072
UNKNOWN_MODEL_MAX_OUTPUT = 131_072
MAX_TOOLS = 128
MAX_TOOL_CALLS = 128
MAX_INPUT_ITEMS = 10_000


def choice_token_limit(max_tokens: int, n: int = 1, *, top_logprobs: int | None = None) -> int:
    """The most tokens one of ``n`` choices may generate when ``max_tokens`` was asked for.

    ``top_logprobs``: ``None`` without logprobs, else the alternatives asked per token (0 for
    ``logprobs`` alone); each token then costs ``1 + top_logprobs`` logprob entries.

    >>> choice_token_limit(16_384, 4), choice_token_limit(1_000, 128), choice_token_limit(5)
    (8192, 256, 5)
    >>> choice_token_limit(32_768, top_logprobs=20), choice_token_limit(4_096, 8, top_logprobs=20)
    (6241, 780)
    """
    per_request = MAX_TOKENS_PER_REQUEST
    if top_logprobs is not None:
        per_request = min(per_request, MAX_LOGPROB_ENTRIES_PER_REQUEST // (1 + top_logprobs))
    return max(1, min(max_tokens, per_request // max(n, 1)))


def array_too_long(param: str, length: int, limit: int) -> WireError:
    """The API's 400 for an array past its cap, in its wording."""
    return WireError(
        400,
        f"Invalid '{param}': array too long. Expected an array with maximum length {limit}, "
        f"but got an array with length {length} instead.",
        param=param,
        code="array_above_max_length",
    )


def check_item_counts(body: Mapping[str, Any]) -> None:
    """Refuse a body with more messages / input items, tools or tool calls than allowed.

    Runs first, before the SDK-type validation and the per-item parsing, so a request of a
    hundred thousand tiny messages costs a length check, not seconds. Shapes are left to the
    parsers: only lists are counted here.

    >>> check_item_counts({"messages": [{"role": "user", "content": "hi"}] * 3})
    >>> check_item_counts({"tools": [{}] * 129})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    llmpresets.offline.api.errors.WireError: Invalid 'tools': array too long. Expected an ...
    """
    for param in ("messages", "input"):
        items = body.get(param)
        if isinstance(items, list):
            if len(items) > MAX_INPUT_ITEMS:
                raise array_too_long(param, len(items), MAX_INPUT_ITEMS)
            for index, item in enumerate(items):
                calls = item.get("tool_calls") if isinstance(item, dict) else None
                if isinstance(calls, list) and len(calls) > MAX_TOOL_CALLS:
                    raise array_too_long(f"{param}[{index}].tool_calls", len(calls), MAX_TOOL_CALLS)
    tools = body.get("tools")
    if isinstance(tools, list) and len(tools) > MAX_TOOLS:
        raise array_too_long("tools", len(tools), MAX_TOOLS)

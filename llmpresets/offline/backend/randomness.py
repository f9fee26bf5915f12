"""Seeded determinism: the hash of what shapes a request's sampled tokens.

:func:`request_digest` hashes a request body without the fields in :data:`NOT_SHAPING` (those
that only cut, count or report a reply, or only route, cache or tag a request).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["NOT_SHAPING", "request_digest"]

# Fields that only cut, count or report a reply, or only route, cache or tag a request: they do
# not enter the request's hash, so a reply with a lower max_tokens or a stop sequence is a prefix
# of the full one, choice 0 of n is the n=1 reply, streaming changes nothing, and a framework
# that sends a fresh prompt_cache_key per run (openai-agents) still gets the seeded reply.
NOT_SHAPING = frozenset(
    {
        "stream",
        "stream_options",
        "stop",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "logprobs",
        "top_logprobs",
        "prompt_cache_key",
        "safety_identifier",
        "user",
        "metadata",
        "store",
        "service_tier",
    }
)


def request_digest(body: Mapping[str, Any], ignore: frozenset[str] = NOT_SHAPING) -> bytes:
    """A hash of what shapes the sampled tokens: ``body`` without the fields in ``ignore``.

    >>> request_digest({"model": "m", "stream": True}) == request_digest({"model": "m"})
    True
    """
    shaping = {key: value for key, value in body.items() if key not in ignore}
    return hashlib.sha256(_CANONICAL.encode(shaping).encode("utf-8")).digest()


# What json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False) makes, with
# the encoder built once rather than per request.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

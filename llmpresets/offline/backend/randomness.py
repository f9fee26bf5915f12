"""Seeded determinism: what a request's randomness is drawn from, and what names a reply.

:func:`request_digest` hashes a request body without the fields in :data:`NOT_SHAPING` (those
that only cut, count or report a reply, or only route, cache or tag a request), or in
:data:`RESPONSES_NOT_SHAPING` for a ``/responses`` body;
:func:`make_identity` names a response (id, ``created``, fingerprint) from the same numbers, so
a seeded reply's whole body is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "NOT_SHAPING",
    "OFFLINE_EPOCH",
    "RESPONSES_NOT_SHAPING",
    "Identity",
    "make_identity",
    "request_digest",
    "seeded_generator",
]

# `created` of reproducible responses: 2025-01-01T00:00:00Z.
OFFLINE_EPOCH = 1735689600
_FINGERPRINT = "fp_" + hashlib.sha256(b"llmpresets-offline-1").hexdigest()[:10]


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
# A /responses body leaves out those and the Responses API's own fields that only cut, stream,
# store or tag a response.
RESPONSES_NOT_SHAPING = NOT_SHAPING | frozenset(
    {
        "max_output_tokens",
        "include",
        "truncation",
        "background",
        "max_tool_calls",
        "prompt_cache_retention",
        "parallel_tool_calls",
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


@dataclass(frozen=True)
class Identity:
    """What names one response: id, creation time and fingerprint."""

    id: str
    created: int
    system_fingerprint: str


def make_identity(
    entropy: Sequence[int], reproducible: bool, prefix: str = "chatcmpl-"
) -> Identity:
    """The id, ``created`` and fingerprint of a response drawn from ``entropy``.

    Reproducible randomness gives a reproducible identity (an id derived from the entropy,
    ``created`` = :data:`OFFLINE_EPOCH`); otherwise a fresh id and the current time.
    """
    if not reproducible:
        return Identity(f"{prefix}{secrets.token_hex(14)}", int(time.time()), _FINGERPRINT)
    tag = hashlib.sha256(repr(list(entropy)).encode()).hexdigest()[:28]
    return Identity(f"{prefix}{tag}", OFFLINE_EPOCH, _FINGERPRINT)


# Entropy goes to numpy as 32-bit words.
_WORD = 0xFFFFFFFF


def seeded_generator(entropy: Sequence[int]) -> np.random.Generator:
    """``np.random.default_rng(np.random.SeedSequence(entropy))``: the same stream, cheaper.

    The entropy (non-negative ints) goes in as the 32-bit little-endian words numpy's own
    splitter would make of it (at least one word per int), which SeedSequence takes as they
    are; numpy's splitter, run under ``np.errstate``, cost as much as the seeding itself.
    """
    words: list[int] = []
    for value in entropy:
        if value < 0:
            raise ValueError(f"entropy must be non-negative, got {value}")
        words.append(value & _WORD)
        value >>= 32
        while value:
            words.append(value & _WORD)
            value >>= 32
    return np.random.default_rng(np.random.SeedSequence(np.array(words, dtype=np.uint32)))

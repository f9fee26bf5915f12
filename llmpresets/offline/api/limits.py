"""How much work one offline request may cause: the documented caps (docs/limits.md).

* :data:`MAX_TOKENS_PER_REQUEST` generated tokens per request, all ``n`` choices together:
  each choice may run to ``MAX_TOKENS_PER_REQUEST // n`` tokens (at least 1), then ends with
  ``finish_reason: "length"`` as if ``max_tokens`` had said so. ``n=128`` gets 256 tokens a
  choice; one choice up to 32,768 (the time and memory of a request stay bounded, logprobs and
  their JSON included).
* :data:`UNKNOWN_MODEL_MAX_OUTPUT`: a model whose output limit is not in the registry is treated
  as allowing at most this many output tokens, so ``max_tokens=2147483647`` is the API's 400
  ``max_tokens is too large`` rather than an accepted request.
"""

from __future__ import annotations

__all__ = ["MAX_TOKENS_PER_REQUEST", "UNKNOWN_MODEL_MAX_OUTPUT", "choice_token_limit"]

MAX_TOKENS_PER_REQUEST = 32_768
UNKNOWN_MODEL_MAX_OUTPUT = 131_072


def choice_token_limit(max_tokens: int, n: int = 1) -> int:
    """The most tokens one of ``n`` choices may generate when ``max_tokens`` was asked for.

    >>> choice_token_limit(16_384, 4), choice_token_limit(1_000, 128), choice_token_limit(5)
    (8192, 256, 5)
    """
    return max(1, min(max_tokens, MAX_TOKENS_PER_REQUEST // max(n, 1)))

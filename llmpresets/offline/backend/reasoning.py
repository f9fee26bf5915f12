"""Simulated reasoning for the offline Responses backend: how many tokens an effort thinks.

The rule (documented in docs/offline.md): a reasoning model spends a fixed number of reasoning
tokens per effort, growing with the effort and zero at ``none``:

=========  ======
effort     tokens
=========  ======
none       0
minimal    16
low        64
medium     192
high       512
xhigh      1024
max        2048
=========  ======

They come before the text, are reported in ``usage.output_tokens_details.reasoning_tokens``,
are part of ``usage.output_tokens`` (so they are priced as output) and count against
``max_output_tokens``: a budget at or below the effort's amount ends ``incomplete``
(``max_output_tokens``) with no text, as it does online. A request without ``reasoning.effort``
runs at the model's default effort (``ModelSpec.default_effort``, read through the model rules'
``request_effort``); a model with no efforts does not reason.
The tokens are counted, not generated, so a high effort costs no time.
"""

from __future__ import annotations

__all__ = ["REASONING_TOKENS", "reasoning_tokens", "summary_text"]

REASONING_TOKENS: dict[str, int] = {
    "none": 0,
    "minimal": 16,
    "low": 64,
    "medium": 192,
    "high": 512,
    "xhigh": 1024,
    "max": 2048,
}


def reasoning_tokens(effort: str | None) -> int:
    """Reasoning tokens spent at ``effort`` (the table above; 0 for ``None``)."""
    return REASONING_TOKENS.get(effort or "none", 0)


def summary_text(effort: str, detail: str) -> str:
    """The reasoning summary the offline model writes (``reasoning.summary`` asked for one)."""
    head = "**Working out the answer**"
    if detail == "concise":
        return f"{head}\n\nRead the request and planned a reply (effort {effort})."
    return (
        f"{head}\n\nI read the request, considered what it asks for and how to answer it, "
        f"and planned the reply at reasoning effort {effort}."
    )

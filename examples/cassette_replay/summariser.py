"""A summariser written straight against the OpenAI SDK (its own client, built at import).

Its tests, test_summariser.py, replay replies recorded once from a live API.
"""

from __future__ import annotations

import openai

client = openai.OpenAI()
MODEL = "gpt-4o-mini"


def summarise(text: str) -> str:
    """One sentence about ``text``."""
    reply = client.chat.completions.create(
        model=MODEL,
        max_tokens=40,
        messages=[{"role": "user", "content": f"Summarise in one sentence: {text}"}],
    )
    return reply.choices[0].message.content or ""


def headline_stream(text: str) -> list[str]:
    """A headline for ``text``, as the pieces the API streamed."""
    stream = client.chat.completions.create(
        model=MODEL,
        max_tokens=16,
        stream=True,
        messages=[{"role": "user", "content": f"Write a headline for: {text}"}],
    )
    return [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]

"""A small support bot written straight against the OpenAI SDK.

Nothing here knows about llmpresets or about tests: it builds its own client at import, as
many apps do, and reads OPENAI_API_KEY (and OPENAI_BASE_URL) from the environment. Its tests,
test_support_bot.py, run it offline without changing a line of it.
"""

from __future__ import annotations

import openai

client = openai.OpenAI()
MODEL = "gpt-4o-mini"
LABELS = ("billing", "bug", "feature", "other")


def triage(ticket: str) -> str:
    """One label for a support ticket."""
    reply = client.chat.completions.create(
        model=MODEL,
        temperature=0,
        messages=[
            {
                "role": "system",
                "content": "Classify the ticket. Answer with one of: billing, bug, feature, other.",
            },
            {"role": "user", "content": ticket},
        ],
    )
    return (reply.choices[0].message.content or "").strip()


def draft_answer(ticket: str) -> str:
    """A short first answer to the customer, streamed as it is written."""
    stream = client.chat.completions.create(
        model=MODEL,
        max_tokens=60,
        stream=True,
        messages=[{"role": "user", "content": f"Draft a short reply to this ticket: {ticket}"}],
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

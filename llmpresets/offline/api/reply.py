"""What an endpoint answers, before HTTP: a status with a JSON body, or an event stream.

The transport (in process) and the server (over a socket) turn a :class:`Reply` into their own
response; the api layer never builds one of theirs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["READ_PROMPT_HEADER", "Reply", "read_prompt_headers"]

# The response header that says which output contract was read from the conversation.
READ_PROMPT_HEADER = "x-llmpresets-read-prompt"


def read_prompt_headers(contract: Any) -> dict[str, str]:
    """``{READ_PROMPT_HEADER: contract.summary}``, or nothing when no contract was read
    (``contract``: an engine ``Contract`` or None). The summary is ASCII, bounded."""
    if contract is None:
        return {}
    summary = contract.summary.encode("ascii", "replace").decode("ascii")
    summary = "".join(char if " " <= char <= "~" else "?" for char in summary)
    return {READ_PROMPT_HEADER: summary[:200]}


@dataclass(frozen=True)
class Reply:
    """``content`` is a JSON body (``events`` None), or ``events`` the SSE events of a 200
    stream; ``error`` marks an error answer (the SDK must not retry it); ``headers``: the
    endpoint's own response headers (``x-llmpresets-read-prompt``)."""

    status: int
    content: bytes = b""
    events: list[bytes] | None = None
    error: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, status: int, body: Any, *, error: bool = False, headers: dict[str, str] | None = None
    ) -> Reply:
        """A JSON answer, ``body`` serialized as the API writes it."""
        return cls(status, json.dumps(body).encode("utf-8"), error=error, headers=headers or {})

    @classmethod
    def stream(cls, events: list[bytes], headers: dict[str, str] | None = None) -> Reply:
        """A streamed 200: the SSE events, in order."""
        return cls(200, events=events, headers=headers or {})

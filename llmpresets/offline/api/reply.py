"""What an endpoint answers, before HTTP: a status with a JSON body, or an event stream.

The transport (in process) and the server (over a socket) turn a :class:`Reply` into their own
response; the api layer never builds one of theirs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Reply"]


@dataclass(frozen=True)
class Reply:
    """``content`` is a JSON body (``events`` None), or ``events`` the SSE events of a 200
    stream; ``error`` marks an error answer (the SDK must not retry it)."""

    status: int
    content: bytes = b""
    events: list[bytes] | None = None
    error: bool = False

    @classmethod
    def json(cls, status: int, body: Any, *, error: bool = False) -> Reply:
        """A JSON answer, ``body`` serialized as the API writes it."""
        return cls(status, json.dumps(body).encode("utf-8"), error=error)

    @classmethod
    def stream(cls, events: list[bytes]) -> Reply:
        """A streamed 200: the SSE events, in order."""
        return cls(200, events=events)

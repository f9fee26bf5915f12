"""The offline Responses store: stored responses, their input items, and conversation chains.

Bounded: it keeps the :data:`STORE_LIMIT` most recently stored responses (least recently
stored first out), so memory stays bounded however many requests a test suite makes. A
response evicted or deleted is gone as it would be online: retrieving it, listing its input
items or continuing from it gets the API's "not found" error. Thread-safe (one lock).

Each entry keeps the response body, the input items it was created with (with item ids, as
``GET /responses/{id}/input_items`` lists them) and its ``previous_response_id``; the
conversation a ``previous_response_id`` continues is rebuilt by walking those links.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..errors import WireError

__all__ = ["STORE_LIMIT", "ResponseStore", "StoredResponse"]

# How many responses the store keeps (a test double, not a database).
STORE_LIMIT = 1000
# How many responses a previous_response_id chain may span before it is refused.
CHAIN_LIMIT = 1000


@dataclass(frozen=True)
class StoredResponse:
    """One stored response: its body, its input items and the response it continued."""

    response: dict[str, Any]
    input_items: list[dict[str, Any]]
    previous_response_id: str | None


class ResponseStore:
    """A bounded, thread-safe map of response id -> :class:`StoredResponse`."""

    def __init__(self, limit: int = STORE_LIMIT) -> None:
        self.limit = limit
        self._entries: OrderedDict[str, StoredResponse] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, entry: StoredResponse) -> None:
        with self._lock:
            self._entries[entry.response["id"]] = entry
            self._entries.move_to_end(entry.response["id"])
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)

    def get(self, response_id: str) -> StoredResponse:
        """The stored response, or the API's 404."""
        with self._lock:
            entry = self._entries.get(response_id)
        if entry is None:
            raise WireError(404, f"Response with id '{response_id}' not found.")
        return entry

    def delete(self, response_id: str) -> None:
        with self._lock:
            entry = self._entries.pop(response_id, None)
        if entry is None:
            raise WireError(404, f"Response with id '{response_id}' not found.")

    def conversation(self, response_id: str) -> list[dict[str, Any]]:
        """Every item of the chain ending at ``response_id``: inputs and outputs, in order.

        An unknown (never stored, evicted or deleted) id is the API's 400 on
        ``previous_response_id``.
        """
        chain: list[StoredResponse] = []
        current: str | None = response_id
        while current is not None:
            with self._lock:
                entry = self._entries.get(current)
            if entry is None or len(chain) >= CHAIN_LIMIT:
                raise WireError(
                    400,
                    f"Previous response with id '{current}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            chain.append(entry)
            current = entry.previous_response_id
        items: list[dict[str, Any]] = []
        for entry in reversed(chain):
            items.extend(entry.input_items)
            items.extend(entry.response.get("output") or [])
        return items

"""The offline Responses store: stored responses, their input items, and conversation chains.

Bounded by bytes, not by count: it keeps the most recently stored responses whose bodies and
input items fit :data:`STORE_BYTES` (each measured at its full depth, logprobs included; least
recently stored first out), so memory stays bounded however many, and however large, the
responses a test suite makes. A response evicted or deleted is gone as it would be online:
retrieving it, listing its input items or continuing from it gets the API's "not found"
error, naming the id the caller sent. Thread-safe (one lock).

Each entry keeps the response body, the input items it was created with (with item ids, as
``GET /responses/{id}/input_items`` lists them) and its ``previous_response_id``; the
conversation a ``previous_response_id`` continues is rebuilt by walking those links.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...._cache import BoundedCache, deep_size
from ..errors import WireError

__all__ = ["STORE_BYTES", "STORE_LIMIT", "ResponseStore", "StoredResponse"]

# What the stored responses may hold in all (a test double, not a database): about a thousand
# long replies with logprobs, or tens of thousands of short ones.
STORE_BYTES = 64 * 1024 * 1024
# Kept for callers that read it: the store is bounded by STORE_BYTES, not by a count.
STORE_LIMIT = STORE_BYTES
# What one entry costs besides its contents (the entry, the cache's slot, the id).
_ENTRY_BYTES = 512
# How many responses a previous_response_id chain may span before it is refused.
CHAIN_LIMIT = 1000


@dataclass(frozen=True)
class StoredResponse:
    """One stored response: its body, its input items and the response it continued."""

    response: dict[str, Any]
    input_items: list[dict[str, Any]]
    previous_response_id: str | None


class ResponseStore:
    """A byte-bounded, thread-safe map of response id -> :class:`StoredResponse`.

    ``budget`` is in bytes (default :data:`STORE_BYTES`); a response larger than all of it
    is not stored (retrieving it is then "not found", as after an eviction).
    """

    def __init__(self, budget: int = STORE_BYTES) -> None:
        self.budget = budget
        # Not registered with clear_caches(): stored responses are state a caller can fetch.
        self._entries: BoundedCache[str, StoredResponse] = BoundedCache(
            "offline Responses store", budget, register=False
        )

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def used(self) -> int:
        """Bytes the kept responses hold (at most ``budget``)."""
        return self._entries.used

    def put(self, entry: StoredResponse) -> None:
        size = _ENTRY_BYTES + deep_size(entry.response) + deep_size(entry.input_items)
        self._entries.put(entry.response["id"], entry, size)

    def get(self, response_id: str) -> StoredResponse:
        """The stored response, or the API's 404."""
        entry = self._entries.peek(response_id)
        if entry is None:
            raise WireError(404, f"Response with id '{response_id}' not found.")
        return entry

    def delete(self, response_id: str) -> None:
        if self._entries.pop(response_id) is None:
            raise WireError(404, f"Response with id '{response_id}' not found.")

    def conversation(self, response_id: str) -> list[dict[str, Any]]:
        """Every item of the chain ending at ``response_id``: inputs and outputs, in order.

        An unknown (never stored, evicted or deleted) id, or a chain reaching one, is the
        API's 400 on ``previous_response_id``, naming the id the caller sent (an evicted
        ancestor is not what the caller can act on).
        """
        chain: list[StoredResponse] = []
        current: str | None = response_id
        while current is not None:
            entry = self._entries.peek(current)
            if entry is None or len(chain) >= CHAIN_LIMIT:
                raise WireError(
                    400,
                    f"Previous response with id '{response_id}' not found.",
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

"""The readers, in the order they are tried, and :func:`read_contract`, which runs them.

The first reader that finds a contract wins, so the specific come before the general:
dspy's adapters (their markers are unmistakable), then a JSON Schema, JSON keys, a JSON
example, "reply in JSON", XML tags, a closed set of labels, yes or no, a number, a
numbered list, a comma-separated list. A user's own readers (``OfflineTransport(readers=
[...])``) are tried before these.

A conversation's contract is kept per its text (:class:`~llmpresets._cache.BoundedCache`):
an agent sends the same system prompt with every turn, and a reader is a pure function of
the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...._cache import BoundedCache
from .closed import read_labels, read_number, read_yes_no
from .contract import Contract, PromptText, Reader, prompt_text
from .dspy import read_dspy_chat, read_dspy_json, read_dspy_xml
from .json_contracts import (
    read_json,
    read_json_example,
    read_json_keys,
    read_json_schema,
)
from .lists import read_comma_list, read_numbered_list, read_xml_tags

__all__ = ["DEFAULT_READERS", "read_contract", "read_text"]

DEFAULT_READERS: tuple[Reader, ...] = (
    read_dspy_chat,
    read_dspy_json,
    read_dspy_xml,
    read_json_schema,
    read_json_keys,
    read_json_example,
    read_json,
    read_xml_tags,
    read_labels,
    read_yes_no,
    read_number,
    read_numbered_list,
    read_comma_list,
)

# Contracts per (readers, conversation text); None cached too (most prompts hold none).
# The key holds the readers themselves (not their ids, which a collected function's
# successor could take).
_read: BoundedCache[tuple[tuple[Reader, ...], str], tuple[Contract | None]] = BoundedCache(
    "prompt contracts", 4 << 20
)


def read_text(text: PromptText, readers: Sequence[Reader] = DEFAULT_READERS) -> Contract | None:
    """The first contract ``readers`` find in ``text`` (None: none)."""
    for reader in readers:
        contract = reader(text)
        if contract is not None:
            return contract
    return None


def read_contract(
    messages: Sequence[Mapping[str, Any]], readers: Sequence[Reader] = DEFAULT_READERS
) -> Contract | None:
    """The output contract the conversation ``messages`` states (its system, developer and
    latest user turns), or None.

    >>> read_contract([{"role": "system", "content":
    ...     "Reply with exactly one word: billing, bug, feature or other."}]).summary
    'labels(billing|bug|feature|other)'
    """
    if not readers:
        return None
    text = prompt_text(messages)
    if not text.joined:
        return None
    key = (tuple(readers), "\x00".join([*text.instructions, text.user]))
    cached = _read.get(key)
    if cached is not None:
        return cached[0]
    contract = read_text(text, readers)
    _read.put(key, (contract,), 2 * len(key[1]) + 200)
    return contract

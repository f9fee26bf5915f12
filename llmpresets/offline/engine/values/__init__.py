"""Values from the conversation: what JSON fields and tool arguments repeat of the prompt.

A real model asked for ``get_weather(city)`` after "What's the weather in Paris?" writes
``{"city": "Paris"}``; this package lets the offline model do the same, with the preset's
sampling:

- :mod:`.spans` reads the conversation's typed spans (identifiers, names, places, emails,
  URLs, dates, numbers, quoted strings, labelled values, tool results' JSON), bounded;
- :mod:`.matching` scores them for a field by its name, type, ``format`` and ``enum``;
- :mod:`.guide` draws one per value a reply starts and hands its tokens to the constrained
  decoder, which keeps them only where the grammar accepts them.

:func:`read_conversation` is the entry point (one per request, kept per conversation);
``read_conversation(messages, read_values=False)`` reads nothing (the switch
``offline.read_prompt: false`` turns it off), and a reply is then sampled as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ....tokens.messages import content_text
from .guide import LabelGuide, Path, ValueGuide
from .matching import Candidate, enum_candidates
from .spans import TEXT_LIMIT, Span, conversation_spans, words

if TYPE_CHECKING:
    import tiktoken

    from ..types import SamplingSettings

__all__ = ["ConversationValues", "Path", "ValueGuide", "rank_labels", "read_conversation"]


@dataclass(frozen=True)
class ConversationValues:
    """What a request's conversation offers a reply: its spans and its latest user turn."""

    spans: tuple[Span, ...]
    latest_text: str

    def guide(
        self,
        schema: Mapping[str, Any] | None,
        encoding: tiktoken.Encoding,
        settings: SamplingSettings,
        *,
        exclude: Mapping[Path, set[str]] | None = None,
        context: str = "",
    ) -> ValueGuide:
        """A :class:`ValueGuide` for one reply in ``schema`` (None: any JSON object, fields
        matched by their keys alone); ``context``: what the JSON is for (a tool's name)."""
        return ValueGuide(
            self.spans,
            self.latest_text,
            schema,
            encoding,
            settings,
            exclude=exclude,
            context=frozenset(words(context)),
        )

    def labels(
        self,
        labels: tuple[str, ...],
        encoding: tiktoken.Encoding,
        settings: SamplingSettings,
    ) -> LabelGuide:
        """A :class:`LabelGuide` for a reply that is one of ``labels``: the one the latest
        user turn names or points at."""
        return LabelGuide(labels, self.latest_text, encoding, settings)


def read_conversation(
    messages: Sequence[Mapping[str, Any]], *, read_values: bool = True
) -> ConversationValues | None:
    """The values ``messages`` offer (None when ``read_values`` is false).

    >>> values = read_conversation([{"role": "user", "content": "Email bob@example.com"}])
    >>> [(span.kind, span.value) for span in values.spans]
    [('email', 'bob@example.com')]
    """
    if not read_values:
        return None
    latest = ""
    for message in reversed(messages):
        if message.get("role") == "user":
            latest = content_text(message.get("content"), lenient=True)[-TEXT_LIMIT:]
            break
    return ConversationValues(conversation_spans(messages), latest)


def rank_labels(labels: Sequence[str], text: str) -> list[Candidate]:
    """A closed set of labels scored by how ``text`` names them (best first): the label
    itself, a word sharing its stem, or words that point at it ("charged twice" ->
    ``billing``). For a reader of labels in the prompt; an empty list when none is named.

    >>> [c.value for c in rank_labels(["billing", "bug", "feature", "other"],
    ...                                "I was charged twice this month")]
    ['billing']
    """
    found = enum_candidates(labels, text)
    return sorted(found, key=lambda item: (-item.score, item.order))

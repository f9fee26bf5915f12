"""The prompt a next-token source reads: a conversation's text, and where the prompt ends.

A source sees the rendered prompt's token ids (:func:`render_prompt`: the messages' texts
joined by blank lines), then ``<|endofprompt|>`` (:func:`end_of_prompt`), then the ids
generated so far. Scripted rules match :func:`last_user_text`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...tokens.messages import content_text

if TYPE_CHECKING:
    import tiktoken

__all__ = ["end_of_prompt", "last_user_text", "render_prompt"]


def render_prompt(messages: Iterable[Mapping[str, Any]]) -> str:
    """The text a source sees as the prompt: message contents joined by blank lines.

    >>> render_prompt([{"role": "system", "content": "Be brief."},
    ...                {"role": "user", "content": "Hi"}])
    'Be brief.\\n\\nHi'
    """
    return "\n\n".join(
        text
        for text in (content_text(message.get("content"), lenient=True) for message in messages)
        if text
    )


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The text of the last user message (what scripted rules match), if any."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"), lenient=True)
    return None


def end_of_prompt(encoding: tiktoken.Encoding) -> int:
    """The token that ends a prompt (the reply's tokens follow it)."""
    return int(encoding.encode_single_token("<|endofprompt|>"))

"""What the client's calls return: :class:`ChatResult` (chat completions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletion
from openai.types.chat.chat_completion import Choice
from openai.types.completion_usage import CompletionUsage

from ._errors import IncompleteResponseError
from ._fit import Budget

__all__ = ["ChatResult", "chat_result"]


@dataclass(frozen=True)
class ChatResult:
    """What a chat call returns: the text, every choice, usage and the parameters sent.

    ``text`` is the first choice's content; ``texts`` has one entry per choice (``n``).
    """

    text: str
    choices: list[Choice]
    finish_reason: str | None
    usage: CompletionUsage | None
    model: str
    params: dict[str, Any]
    budget: Budget
    response: ChatCompletion = field(repr=False)

    @property
    def texts(self) -> list[str]:
        """The content of every choice, in order."""
        return [choice.message.content or "" for choice in self.choices]


def chat_result(response: ChatCompletion, params: dict[str, Any], budget: Budget) -> ChatResult:
    """The ChatResult of a whole ``chat.completion``.

    The SDK builds its objects from a 200 body without validating them, so a body of the wrong
    shape (``[]``, ``{"choices": "nope"}``) is an :class:`IncompleteResponseError` here, not an
    ``AttributeError`` later.
    """
    if (
        not isinstance(response, ChatCompletion)
        or not isinstance(response.choices, list)
        or not all(isinstance(choice, Choice) for choice in response.choices)
    ):
        raise IncompleteResponseError(
            "the API's 200 response is not a chat completion (got "
            f"{type(getattr(response, 'choices', response)).__name__} where a list of choice "
            "objects belongs)"
        )
    try:
        first = response.choices[0] if response.choices else None
        return ChatResult(
            text=(first.message.content or "") if first else "",
            choices=list(response.choices),
            finish_reason=first.finish_reason if first else None,
            usage=response.usage,
            model=response.model,
            params=params,
            budget=budget,
            response=response,
        )
    except (AttributeError, TypeError) as exc:
        raise IncompleteResponseError(
            f"the API's 200 response is missing parts of a chat completion ({exc})"
        ) from exc

"""What the client's calls return: :class:`ChatResult` (chat completions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openai.types.chat import ChatCompletion
from openai.types.chat.chat_completion import Choice
from openai.types.completion_usage import CompletionUsage

from ._errors import IncompleteResponseError
from ._fit import Budget

if TYPE_CHECKING:
    from ._models import ModelSpec

__all__ = ["ChatResult", "chat_result", "usage_cost"]


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
    # What the preset asked for that was not sent, and why (``resolve`` decided it).
    dropped: dict[str, str] = field(default_factory=dict)
    # USD from usage at the model's prices (cached input and reasoning tokens as the API
    # bills them); None where the prices are unknown or the response has no usage.
    cost: float | None = None

    @property
    def texts(self) -> list[str]:
        """The content of every choice, in order."""
        return [choice.message.content or "" for choice in self.choices]


def usage_cost(spec: ModelSpec | None, usage: CompletionUsage | None) -> float | None:
    """USD for a chat completion's usage (reasoning tokens are in completion_tokens)."""
    if spec is None or usage is None:
        return None
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    return spec.cost(usage.prompt_tokens, usage.completion_tokens, cached_tokens=cached)


def chat_result(
    response: ChatCompletion,
    params: dict[str, Any],
    budget: Budget,
    *,
    dropped: dict[str, str] | None = None,
    spec: ModelSpec | None = None,
) -> ChatResult:
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
            dropped=dict(dropped or {}),
            cost=usage_cost(spec, response.usage),
        )
    except (AttributeError, TypeError) as exc:
        raise IncompleteResponseError(
            f"the API's 200 response is missing parts of a chat completion ({exc})"
        ) from exc

"""What the client's calls return: :class:`ChatResult` (chat completions) and
:class:`ResponseResult` (the Responses API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openai.types.chat import ChatCompletion
from openai.types.chat.chat_completion import Choice
from openai.types.completion_usage import CompletionUsage
from openai.types.responses import (
    Response,
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseUsage,
)

from .._errors import IncompleteResponseError
from ..tokens.fit import Budget

if TYPE_CHECKING:
    from ..config.models import ModelSpec

__all__ = ["ChatResult", "ResponseResult", "chat_result", "response_result", "usage_cost"]


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


@dataclass(frozen=True)
class ResponseResult:
    """What a Responses API call returns (``Client.respond`` / ``respond_stream``).

    ``text`` is the response's ``output_text`` (empty when it ended before any text);
    ``output`` every output item (reasoning, messages, function calls); ``parsed`` the
    ``text_format`` model built from the text (``None`` without one, or when the response is
    incomplete); ``usage`` includes ``output_tokens_details.reasoning_tokens``; ``params`` what
    was sent besides ``input``; ``dropped`` what the preset asked for that the model does not
    take, and why; ``cost`` in USD from the model's prices (reasoning tokens priced as output;
    ``None`` when its prices are unknown); ``response`` the SDK's ``Response``.
    """

    text: str
    output: list[ResponseOutputItem]
    parsed: Any
    status: str | None
    incomplete_reason: str | None
    usage: ResponseUsage | None
    id: str
    model: str
    params: dict[str, Any]
    dropped: dict[str, str]
    cost: float | None
    budget: Budget
    response: Response = field(repr=False)

    @property
    def function_calls(self) -> list[ResponseFunctionToolCall]:
        """The function calls the model made, in order."""
        return [item for item in self.output if isinstance(item, ResponseFunctionToolCall)]

    @property
    def reasoning_tokens(self) -> int:
        """Reasoning tokens spent (0 when the usage does not say)."""
        return self.usage.output_tokens_details.reasoning_tokens if self.usage else 0


def response_result(
    response: Response,
    params: dict[str, Any],
    dropped: dict[str, str],
    budget: Budget,
    spec: ModelSpec,
    text_format: Any = None,
) -> ResponseResult:
    """The ResponseResult of a finished ``response`` (parsed with ``text_format`` if given).

    The SDK builds ``Response`` from a 200 body without validating it, so a body of the wrong
    shape is an :class:`IncompleteResponseError` here, not an ``AttributeError`` later.
    """
    if not isinstance(response, Response) or not isinstance(response.output, list):
        raise IncompleteResponseError(
            "the API's 200 response is not a Responses API response (got "
            f"{type(getattr(response, 'output', response)).__name__} where a list of output "
            "items belongs)"
        )
    try:
        usage = response.usage
        cost = None
        if usage is not None:
            cost = spec.cost(
                usage.input_tokens, usage.output_tokens, usage.input_tokens_details.cached_tokens
            )
        text = response.output_text
        details = response.incomplete_details
        reason = details.reason if details is not None else None
    except (AttributeError, TypeError) as exc:
        raise IncompleteResponseError(
            f"the API's 200 response is missing parts of a Responses API response ({exc})"
        ) from exc
    parsed = None
    if text_format is not None and response.status == "completed" and text:
        parsed = text_format.model_validate_json(text)
    return ResponseResult(
        text=text,
        output=list(response.output),
        parsed=parsed,
        status=response.status,
        incomplete_reason=reason,
        usage=usage,
        id=response.id,
        model=response.model,
        params=params,
        dropped=dropped,
        cost=cost,
        budget=budget,
        response=response,
    )

"""The prompt checked as the API checks it: counted, and held to the model's window.

A request whose messages (with their tools) exceed the model's input limit, or whose messages
plus its explicit output cap exceed the whole window, is the API's 400
``context_length_exceeded``; a message or tool the counter cannot read is a 400 naming where it
is; a ``logit_bias`` key outside the tokenizer's vocabulary is the API's 400 ``invalid_value``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...tokens.counting import count_message_tokens
from .errors import WireError

if TYPE_CHECKING:
    import tiktoken

    from ...config.models import ModelSpec
    from ...config.presets import PresetBook
    from ..engine.types import ChatRequest

__all__ = ["check_logit_bias", "counted_prompt", "shape_error"]


def counted_prompt(chat: ChatRequest, spec: ModelSpec, config: PresetBook) -> int:
    """The prompt's tokens as the API bills them; a 400 when they cannot fit the model."""
    try:
        count = count_message_tokens(chat.messages, chat.model, chat.tools, config=config)
    except (ValueError, TypeError) as exc:  # MessageFormatError is both
        raise shape_error(str(exc)) from None
    window = spec.context_window
    limit = spec.max_input_tokens or window
    requested = count + (chat.explicit_max_tokens or 0)
    if limit is not None and count > limit:
        raise WireError(
            400,
            f"This model's maximum context length is {limit} tokens. However, your messages "
            f"resulted in {count} tokens. Please reduce the length of the messages.",
            param="messages",
            code="context_length_exceeded",
        )
    if window is not None and requested > window:
        raise WireError(
            400,
            f"This model's maximum context length is {window} tokens. However, you "
            f"requested {requested} tokens ({count} in the messages, "
            f"{chat.explicit_max_tokens} in the completion). Please reduce the length of "
            "the messages or completion.",
            param="messages",
            code="context_length_exceeded",
        )
    return count


def check_logit_bias(chat: ChatRequest, encoding: tiktoken.Encoding) -> None:
    """A ``logit_bias`` key past the tokenizer's last id is the API's 400."""
    for token, _ in chat.settings.logit_bias:
        if token >= encoding.n_vocab:
            raise WireError(
                400,
                f"Invalid key in 'logit_bias': {token}. Maximum value is {encoding.n_vocab - 1}.",
                param="logit_bias",
                code="invalid_value",
            )


def shape_error(problem: str) -> WireError:
    """A message or tool the token counter cannot read, as a 400 naming where it is.

    The counter says ``"message 2: ..."`` or ``"tools[0]...: ..."``; the API's param is
    ``messages[2]`` or ``tools[0]...``.

    >>> shape_error("message 2: content: expected a string").param
    'messages[2]'
    """
    head, _, rest = problem.partition(": ")
    if head.startswith("tools") and rest:
        param = head
    elif head.startswith("message ") and head[8:].isdigit() and rest:
        param = f"messages[{head[8:]}]"
    else:
        param, rest = "messages", problem
    return WireError(400, f"Invalid '{param}': {rest}", param=param)

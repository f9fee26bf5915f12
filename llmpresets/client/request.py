"""Request preparation shared by every client call: arguments -> preset -> params -> pre-flight.

A call's overrides are checked against what the SDK method takes, the use case's preset is
resolved for the model (``resolve_params``), and the pre-flight counts the prompt against the
model's limits, so a request that cannot fit is refused before anything is sent.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from ..config.adapt import resolve
from ..config.params import PARAMETERS
from ..tokens.fit import Budget, check_context
from ..tokens.messages import as_input_items, chat_tools, conversation_messages
from .arguments import (
    check_finite,
    check_input,
    check_model_name,
    check_use_case,
    conversation,
    function_tools,
)

if TYPE_CHECKING:
    from ..config.adapt import Policy
    from ..config.models import ModelSpec
    from ..config.presets import PresetBook

__all__ = [
    "CallContext",
    "Prepared",
    "PreparedResponse",
    "as_messages",
    "check_overrides",
    "prepare_chat",
    "prepare_response",
]

log = logging.getLogger("llmpresets")

_OUTPUT_KEYS = ("max_tokens", "max_completion_tokens")
# Our names for settings the SDK spells differently or lacks (the parameter table's).
_OWN_ARGUMENTS = frozenset(PARAMETERS)


@dataclass(frozen=True)
class CallContext:
    """What a client knows that every call needs: defaults, presets, endpoint and policy."""

    model: str
    config: PresetBook
    base_url: str
    policy: Policy | None


@dataclass(frozen=True)
class Prepared:
    """A request ready to send: the model, the prompt as sent, the params and the budget."""

    model: str
    messages: list[Any]
    params: dict[str, Any]
    budget: Budget
    dropped: dict[str, str] = field(default_factory=dict)
    spec: ModelSpec | None = None


@dataclass(frozen=True)
class PreparedResponse:
    """A Responses request ready to send: ``input`` as sent, params, what was dropped, budget."""

    model: str
    input: Any  # the string as given, or the items as dicts
    params: dict[str, Any]
    dropped: dict[str, str]
    budget: Budget
    text_format: Any = None  # a pydantic model class to parse the text into


# Read once per process: the installed SDK's signatures do not change while it runs (a value
# computed on first use, not a cache with anything to forget).
@functools.cache
def _sdk_arguments() -> frozenset[str]:
    """Keyword arguments ``chat.completions.create`` takes, read from the installed SDK."""
    from openai.resources.chat.completions import Completions

    return frozenset(inspect.signature(Completions.create).parameters) - {
        "self",
        "messages",
        "stream",
    }


def check_overrides(overrides: Mapping[str, Any]) -> None:
    """Refuse, before anything is sent, arguments the SDK would reject with a TypeError."""
    if "stream" in overrides:
        raise ConfigError(
            "stream= is chosen by the method: use client.stream(...) to stream, "
            "client.chat(...) for a whole reply"
        )
    check_model_argument(overrides)
    allowed = _sdk_arguments() | _OWN_ARGUMENTS
    for name in overrides:
        if name not in allowed:
            raise unknown_argument(name, allowed, "chat.completions.create", _sdk_arguments())


def check_model_argument(overrides: Mapping[str, Any]) -> None:
    """A per-call ``model=`` must be a model name (one printable word)."""
    model = overrides.get("model")
    if model is not None:
        check_model_name(model)


def unknown_argument(
    name: str, allowed: frozenset[str], method: str, sdk_names: frozenset[str]
) -> ConfigError:
    """The error for an argument ``method`` does not take, with the closest name."""
    close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.7)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(
        f"unknown argument {name!r}{hint} ({method} takes: {', '.join(sorted(sdk_names))}; "
        f"llmpresets adds {', '.join(sorted(allowed - sdk_names))})",
        field=name,
    )


def as_messages(messages: Iterable[Any]) -> list[Any]:
    """Chat messages as plain dicts (pydantic models dumped); a lone string or None is refused."""
    listed = conversation(messages)
    return [
        m if type(m) is dict or not hasattr(m, "model_dump") else m.model_dump(exclude_none=True)
        for m in listed
    ]


def prepare_chat(
    context: CallContext,
    messages: Iterable[Any],
    use_case: str,
    overrides: dict[str, Any],
    stacklevel: int,
) -> Prepared:
    """Check, resolve and pre-flight one ``chat.completions.create`` call.

    ``stacklevel`` counts the frames up to the user's line, so warnings point at it.
    """
    check_use_case(use_case)
    check_overrides(overrides)
    if overrides.get("tools") is not None:
        overrides["tools"] = function_tools(overrides["tools"], api="chat")
    check_finite(overrides)
    model = overrides.pop("model", None) or context.model
    check_model_name(model)
    resolution = resolve(
        use_case,
        model,
        config=context.config,
        base_url=context.base_url,
        policy=context.policy,
        stacklevel=stacklevel,
        **overrides,
    )
    params = resolution.kwargs
    message_list = as_messages(messages)
    max_output = next((params[k] for k in _OUTPUT_KEYS if k in params), None)
    # The pre-flight: a request that cannot fit is refused here and never sent.
    budget = check_context(
        message_list,
        model,
        max_output,
        tools=params.get("tools"),
        config=context.config,
        stacklevel=stacklevel,  # the unknown-model warning names the user's line
    )
    log.debug("chat.completions.create %s", params)
    spec = context.config.model(model)
    return Prepared(model, message_list, params, budget, resolution.dropped, spec)


@functools.cache
def _responses_arguments() -> frozenset[str]:
    """Keyword arguments ``responses.create`` takes, read from the installed SDK."""
    from openai.resources.responses import Responses

    return frozenset(inspect.signature(Responses.create).parameters) - {"self", "input", "stream"}


# Our names the Responses API spells otherwise (resolve renames or nests them).
_OWN_RESPONSES_ARGUMENTS = _OWN_ARGUMENTS | {"reasoning_effort", "verbosity"}


def _text_format_param(text_format: Any) -> tuple[dict[str, Any] | None, Any]:
    """``text.format`` for ``text_format``, and the pydantic class to parse with (if one).

    A pydantic model class becomes the SDK's strict ``json_schema`` format (as
    ``responses.parse`` builds it); a dict is sent as the format itself.
    """
    if text_format is None:
        return None, None
    if isinstance(text_format, Mapping):
        return dict(text_format), None
    if isinstance(text_format, type) and hasattr(text_format, "model_validate_json"):
        from openai.lib._parsing._responses import type_to_text_format_param

        return dict(type_to_text_format_param(text_format)), text_format
    raise ConfigError(
        f"text_format: expected a pydantic model class or a text.format dict, got "
        f"{type(text_format).__name__}",
        field="text_format",
    )


def prepare_response(
    context: CallContext,
    input: Any,
    use_case: str,
    overrides: dict[str, Any],
    stacklevel: int,
    *,
    text_format: Any = None,
) -> PreparedResponse:
    """Check, resolve and pre-flight one ``responses.create`` call.

    The pre-flight counts ``instructions``, the input items and the function tools (see
    ``_response_items``) against the model's limits. A server-side ``previous_response_id``
    chain cannot be seen from here: only the new input is counted.
    """
    if "stream" in overrides:
        raise ConfigError(
            "stream= is chosen by the method: use client.respond_stream(...) to stream, "
            "client.respond(...) for a whole response"
        )
    check_use_case(use_case)
    check_input(input)
    check_model_argument(overrides)
    allowed = _responses_arguments() | _OWN_RESPONSES_ARGUMENTS
    for name in overrides:
        if name not in allowed:
            raise unknown_argument(name, allowed, "responses.create", _responses_arguments())
    if overrides.get("tools") is not None:
        overrides["tools"] = function_tools(overrides["tools"], api="responses")
    check_finite(overrides)
    items = as_input_items(input)
    format_param, parse_into = _text_format_param(text_format)
    if format_param is not None:
        text = dict(overrides.get("text") or {})
        text["format"] = format_param
        overrides["text"] = text
    model = overrides.pop("model", None) or context.model
    check_model_name(model)
    resolution = resolve(
        use_case,
        model,
        api="responses",
        config=context.config,
        base_url=context.base_url,
        policy=context.policy,
        stacklevel=stacklevel,
        **overrides,
    )
    params = resolution.kwargs
    messages = conversation_messages(params.get("instructions"), items)
    tools = chat_tools(params.get("tools")) or None
    # The pre-flight: a request that cannot fit is refused here and never sent.
    budget = check_context(
        messages,
        model,
        params.get("max_output_tokens"),
        tools=tools,
        config=context.config,
        stacklevel=stacklevel,
    )
    log.debug("responses.create %s", params)
    sent_input: str | list[dict[str, Any]] = input if isinstance(input, str) else items
    return PreparedResponse(model, sent_input, params, dict(resolution.dropped), budget, parse_into)

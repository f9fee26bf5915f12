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

from ._adapt import resolve
from ._errors import ConfigError
from ._fit import Budget, check_context
from ._params import PARAMETERS

if TYPE_CHECKING:
    from ._adapt import Policy
    from ._models import ModelSpec
    from ._presets import PresetBook

__all__ = ["CallContext", "Prepared", "as_messages", "check_overrides", "prepare_chat"]

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
    """A per-call ``model=`` must be a non-empty name."""
    model = overrides.get("model")
    if model is not None and not (isinstance(model, str) and model):
        raise ConfigError(f"model: expected a non-empty model name, got {model!r}")


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
    """Chat messages as plain dicts (pydantic models dumped); a lone string is refused."""
    listed = list(messages) if not isinstance(messages, (str, bytes, Mapping)) else None
    if listed is None:
        raise TypeError(
            "messages must be a list of chat messages like "
            "[{'role': 'user', 'content': 'Hi'}]; use complete(prompt) for a single string"
        )
    return [m.model_dump(exclude_none=True) if hasattr(m, "model_dump") else m for m in listed]


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
    check_overrides(overrides)
    model = overrides.pop("model", None) or context.model
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

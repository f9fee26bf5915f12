"""Preset + model -> the exact keyword arguments sent to the OpenAI SDK.

Precedence, lowest to highest: the preset, then per-call overrides (``None`` removes a
parameter). Then the model decides: parameters it does not accept are dropped under the
``unsupported_params`` policy (``warn`` once per model and parameter, ``error``, ``silent``);
reasoning models get ``max_completion_tokens``; ``top_k`` / ``min_p`` travel in ``extra_body``
only for an OpenAI-compatible provider and are never sent to OpenAI itself.
"""

from __future__ import annotations

import numbers
import threading
import warnings
from typing import Any, Literal
from urllib.parse import urlsplit

from ._errors import ConfigError, UnsupportedParameterError
from ._models import CHAT_PARAMETERS, ModelSpec
from ._presets import PresetBook, check_sampling_values, default_book

__all__ = [
    "Provider",
    "UnsupportedParameterWarning",
    "get_model",
    "provider_for",
    "resolve_params",
]

Provider = Literal["openai", "openai-compatible"]
Policy = Literal["warn", "error", "silent"]

_OUTPUT_ALIASES = ("max_output_tokens", "max_tokens", "max_completion_tokens")
# Parameters that only a vLLM-style server understands, sent through extra_body.
_BODY_ONLY = ("top_k", "min_p")


class UnsupportedParameterWarning(UserWarning):
    """A preset or call asked for a parameter the model does not accept; it was dropped."""


_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def get_model(name: str, *, config: PresetBook | None = None, strict: bool = False) -> ModelSpec:
    """Limits and capabilities of ``name``; snapshots and aliases resolve to their model.

    A model the registry lacks gets ``known=False``, unknown limits and tiktoken's encoding;
    with ``strict=True`` it raises UnknownModelError listing the known models instead.

    >>> get_model("gpt-4o-2024-08-06").context_window
    128000
    """
    return (config or default_book()).model(name, strict=strict)


def provider_for(base_url: str | None, configured: str = "auto") -> Provider:
    """``openai-compatible`` when configured so, or when ``base_url`` is not OpenAI's."""
    if configured != "auto":
        return "openai" if configured == "openai" else "openai-compatible"
    if not base_url:
        return "openai"
    host = (urlsplit(str(base_url)).hostname or "").lower()
    is_openai = host == "openai.com" or host.endswith(".openai.com")
    return "openai" if is_openai else "openai-compatible"


def _drop(
    model: ModelSpec, names: list[str], policy: Policy, values: dict[str, Any], stacklevel: int
) -> None:
    if not names:
        return
    if policy == "error":
        raise UnsupportedParameterError(model.name, names)
    if policy == "warn":
        with _warned_lock:
            fresh = [name for name in names if (model.name, name) not in _warned]
            _warned.update((model.name, name) for name in fresh)
        if fresh:
            warnings.warn(
                _drop_message(model, fresh, values),
                UnsupportedParameterWarning,
                stacklevel=stacklevel + 1,
            )


def _drop_message(model: ModelSpec, names: list[str], values: dict[str, Any]) -> str:
    def shown(group: list[str]) -> str:
        return ", ".join(f"{name}={values[name]!r}" for name in group)

    body_only = [name for name in names if name in _BODY_ONLY]
    others = [name for name in names if name not in _BODY_ONLY]
    parts = []
    if others:
        parts.append(f"model {model.name!r} does not accept {shown(others)}: dropped")
    if body_only:
        parts.append(
            f"OpenAI's API has no {shown(body_only)} (only OpenAI-compatible servers such as "
            f"vLLM take {' or '.join(body_only)}): not sent for {model.name!r}"
        )
    return "; ".join(parts) + " (unsupported_params: silent or error in presets.yaml changes this)"


def _plain_number(value: Any) -> Any:
    """numpy scalars (np.float32(0.5), np.int64(5)) as the Python numbers JSON can carry."""
    if isinstance(value, numbers.Number) and not isinstance(value, (bool, int, float)):
        item = getattr(value, "item", None)
        if callable(item):
            return item()
    return value


def _check_output_limit(spec: ModelSpec, value: Any) -> None:
    limit = spec.max_output_tokens
    if isinstance(value, int) and limit is not None and value > limit:
        raise ConfigError(
            f"per-call override: max_output_tokens: {value} is more than {spec.name}'s maximum "
            f"output of {limit:,} tokens; allowed: 1 ≤ max_output_tokens ≤ {limit}",
            field="max_output_tokens",
        )


def _check_int(overrides: dict[str, Any], name: str, low: int, high: int) -> None:
    value = overrides.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            f"per-call override: {name}: {value!r} is out of range; allowed: an integer, "
            f"{low} ≤ {name} ≤ {high}",
            field=name,
        )


def resolve_params(
    use_case: str,
    model: str | None = None,
    *,
    config: PresetBook | None = None,
    provider: Provider | Literal["auto"] | None = None,
    base_url: str | None = None,
    policy: Policy | None = None,
    stacklevel: int = 1,
    **overrides: Any,
) -> dict[str, Any]:
    """The exact keyword arguments ``client.chat.completions.create`` gets (minus messages).

    A per-call value beats the preset and ``None`` removes a parameter; ``max_output_tokens``,
    ``max_tokens`` and ``max_completion_tokens`` are one setting, renamed for the model. A
    preset's output limit above the model's maximum is lowered to it (the preset means "up to");
    a per-call one above it is a ConfigError, as the API would refuse it. Numbers may be numpy
    scalars; they are sent as Python numbers. Other SDK arguments (``seed``, ``stop``, ``n``,
    ``response_format``, ...) pass through.
    ``stacklevel`` is as for :func:`warnings.warn` (a wrapper passes 2 to name its caller).

    >>> resolve_params("code", "gpt-4o", policy="silent")
    {'model': 'gpt-4o', 'temperature': 0.2, 'top_p': 0.1, 'max_tokens': 1024}
    >>> resolve_params("code", "o3-mini", policy="silent")
    {'model': 'o3-mini', 'max_completion_tokens': 1024}
    """
    book = config or default_book()
    model_name = model or book.settings.default_model
    spec = book.model(model_name)
    chosen_policy: Policy = policy or book.settings.unsupported_params
    if chosen_policy not in ("warn", "error", "silent"):
        raise ConfigError(f"policy: {chosen_policy!r} is not allowed; allowed: warn, error, silent")
    chosen_provider = provider_for(base_url, provider or book.settings.provider)

    values: dict[str, Any] = dict(book[use_case].sampling())
    given_output = [name for name in _OUTPUT_ALIASES if name in overrides]
    if len(given_output) > 1:
        raise ConfigError(
            f"give one output limit, not {' and '.join(given_output)} "
            "(they are the same setting, renamed for the model)"
        )
    for name in given_output:
        overrides["max_output_tokens"] = overrides.pop(name)
    overrides = {name: _plain_number(value) for name, value in overrides.items()}
    check_sampling_values({k: v for k, v in overrides.items() if v is not None})
    _check_output_limit(spec, overrides.get("max_output_tokens"))
    _check_int(overrides, "n", 1, 128)
    _check_int(overrides, "top_logprobs", 0, 20)
    extra_body = dict(overrides.pop("extra_body", None) or {})
    for name, value in overrides.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value

    model_max = spec.max_output_tokens
    if model_max is not None and values.get("max_output_tokens", 0) > model_max:
        values["max_output_tokens"] = model_max  # only a preset's value can be over by now

    # Reasoning models take only the default temperature: asking for 1 is not a conflict.
    if spec.reasoning and values.get("temperature") == 1:
        del values["temperature"]

    kwargs: dict[str, Any] = {"model": model_name}
    rejected: list[str] = []
    for name, value in values.items():
        if name == "max_output_tokens":
            kwargs[spec.output_parameter] = value
        elif name in _BODY_ONLY:
            if chosen_provider == "openai-compatible":
                extra_body.setdefault(name, value)
            else:
                rejected.append(name)
        elif name in CHAT_PARAMETERS and name not in spec.accepts:
            rejected.append(name)
        else:
            kwargs[name] = value
    _drop(spec, rejected, chosen_policy, values, stacklevel + 1)
    if extra_body:
        kwargs["extra_body"] = extra_body
    return kwargs

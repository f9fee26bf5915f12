"""Each provider's rules at its own base URL: what its OpenAI-compatible endpoint refuses,
with its words, and what it silently ignores.

The transport passes the request's host; :func:`apply_provider_rules` reads the provider it
names (:func:`llmpresets.config.providers.provider_for_url`) and, for a chat request to
Anthropic, Google, xAI, DeepSeek or Mistral, checks the body against the model's facts in the
registry and the provider table, then hands the generic checks a body without what the
provider ignores. OpenAI's host, local servers (vLLM-style: ``top_k`` / ``min_p`` ranges are
the chat parser's own) and test hosts get no extra rules.

What is refused (HTTP 400, ``invalid_request_error``, in OpenAI's error shape with the
provider's message, as their compatible endpoints answer):

- a parameter the model rejects, with the registry's quoted wording (``errors:``), e.g. xAI's
  "Model grok-4.3 does not support parameter presencePenalty.";
- a refused pair (``conflicts:``): Claude's "`temperature` and `top_p` cannot both be specified
  for this model. Please use only one.", Mistral's "top_p must be 1 when using greedy
  sampling.";
- on Claude models without sampling (Opus 4.7 and later): "`temperature` is deprecated for this
  model." (``top_p`` / ``top_k`` worded the same way: presumed, not quoted);
- on Claude with thinking switched on through ``extra_body``: "`temperature` may only be set to
  1 when thinking is enabled";
- Anthropic: ``n`` other than 1;
- Gemini: a penalty field ("Invalid JSON payload received. Unknown name "frequency_penalty":
  Cannot find field.").

What is ignored, as the providers document it: on Anthropic's endpoint the penalties, seed,
logprobs and ``reasoning_effort``, and a temperature above 1 is capped at 1; DeepSeek in
thinking mode takes temperature, top_p and the penalties and ignores them; the provider-only
``thinking`` (Anthropic, DeepSeek) and ``google`` (Gemini) fields of ``extra_body`` are read
here and not passed on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...config.params import PARAMETERS
from ...config.providers import PROVIDERS, provider_for_url
from .errors import WireError

if TYPE_CHECKING:
    from ..backend.backend import OfflineBackend

__all__ = ["apply_provider_rules", "provider_at"]

_CHECKED = frozenset({"anthropic", "google", "xai", "deepseek", "mistral"})
_SAMPLING = ("temperature", "top_p", "top_k")
# How our parameter names appear in a chat request body.
_BODY_NAMES = {"max_output_tokens": "max_tokens"}


def provider_at(host: str | None) -> str | None:
    """The provider whose API ``host`` is, if it is one whose rules are checked here."""
    if not host:
        return None
    provider = provider_for_url(f"https://{host}/")
    return provider if provider in _CHECKED else None


def apply_provider_rules(backend: OfflineBackend, host: str | None, content: bytes) -> bytes:
    """``content`` as the generic chat checks should see it, after the rules of the provider
    at ``host``; raises :class:`WireError` where that provider refuses the request."""
    provider = provider_at(host)
    if provider is None:
        return content
    try:
        body = json.loads(content)
    except ValueError:
        return content  # the parser answers with the API's own error
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return content
    spec = backend.spec(body["model"])
    if spec.known or spec.family is not None:
        _check(provider, spec, body)
    _drop_ignored(provider, spec, body)
    return json.dumps(body).encode()


def _refuse(message: str, param: str | None) -> WireError:
    return WireError(400, message, param=param, code=None)


def _check(provider: str, spec: Any, body: dict[str, Any]) -> None:
    if provider == "google":
        # Gemini's compatible endpoint has no penalty fields at all.
        for name in ("frequency_penalty", "presence_penalty"):
            if body.get(name) is not None:
                raise _refuse(
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.',
                    name,
                )
    for name in sorted(spec.rejects):
        field = _BODY_NAMES.get(name, name)
        if body.get(field) is not None and name in spec.errors:
            raise _refuse(spec.errors[name], field)
    if provider == "anthropic":
        _check_anthropic(spec, body)
    for conflict in spec.conflicts:
        first, second = conflict.params
        a, b = body.get(first), body.get(second)
        if a is None or b is None:
            continue
        if conflict.when == "greedy" and not (a < 1e-5 and b != PARAMETERS[second].default):
            continue
        raise _refuse(conflict.message, None)
    for name, (low, high) in spec.ranges.items():
        value = body.get(name)
        if provider == "anthropic" and name == "temperature":
            continue  # capped at 1 by the endpoint, not refused
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and not low <= value <= high:
            raise _refuse(
                f"Invalid '{name}': expected a value between {low:g} and {high:g}, but got "
                f"{value:g} instead.",
                name,
            )


def _check_anthropic(spec: Any, body: dict[str, Any]) -> None:
    n = body.get("n")
    if n is not None and n != 1:
        raise _refuse("n: must be exactly 1", "n")
    if spec.sampling == "never" and spec.thinking != "none":
        for name in _SAMPLING:
            if body.get(name) is not None:
                raise _refuse(f"`{name}` is deprecated for this model.", name)
    thinking = body.get("thinking")
    on = isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")
    if on and body.get("temperature") not in (None, 1):
        raise _refuse("`temperature` may only be set to 1 when thinking is enabled", "temperature")
    if on:
        for name in ("top_p", "top_k"):
            if body.get(name) is not None:
                raise _refuse(f"`{name}` is not supported when thinking is enabled", name)


def _drop_ignored(provider: str, spec: Any, body: dict[str, Any]) -> None:
    info = PROVIDERS[provider]  # type: ignore[index]
    for name in info.compat_ignored:
        body.pop(name, None)
    if provider == "anthropic":
        body.pop("thinking", None)
        temperature = body.get("temperature")
        if isinstance(temperature, (int, float)) and temperature > 1:
            body["temperature"] = 1  # "Values greater than 1 are capped at 1."
    if provider == "google":
        body.pop("google", None)
    if provider == "deepseek":
        thinking = body.pop("thinking", None)
        off = isinstance(thinking, Mapping) and thinking.get("type") == "disabled"
        if not off and spec.sampling_with_thinking == "ignored" and spec.efforts("chat"):
            # Thinking mode: accepted, no effect. The effort none stands for "disabled".
            for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
                body.pop(name, None)
        if off and body.get("reasoning_effort") is None and "none" in spec.efforts("chat"):
            body["reasoning_effort"] = "none"  # what the generic rules read as thinking off
        if spec.sampling == "never" and spec.sampling_with_thinking == "ignored":
            for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
                body.pop(name, None)

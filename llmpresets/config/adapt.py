"""Preset + model + endpoint -> the exact keyword arguments sent to the OpenAI SDK.

Precedence, lowest to highest: the preset, then per-call overrides (``None`` removes a
parameter). Then the model decides, reading the parameter table
(:mod:`llmpresets.config.params`) and the model's capabilities
(:mod:`llmpresets.config.models`):

- a model without reasoning efforts gets the sampling settings and no effort;
- a model that runs at effort ``none`` gets, for a preset whose effort is ``none`` (chat,
  creative, brainstorm), ``none`` plus the sampling settings, and for an accuracy preset (code,
  factual) the preset's effort with sampling left out;
- a model with no ``none`` gets the preset's effort, or the nearest it accepts, and no sampling.

A value the user set (their file or the call) that the model rejects is dropped under the
``unsupported_params`` policy (``warn`` once per model and parameter, ``error``, ``silent``); a
value only the packaged defaults set is dropped quietly. Either way :class:`Resolution` records
what was dropped and why (``ChatResult.dropped``, ``llmpresets presets --model``, ``explain``).
"""

from __future__ import annotations

import numbers
import sys
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import ConfigError, UnsupportedParameterError
from .models import ModelSpec
from .params import ENDPOINTS, PARAMETERS, SAMPLING_RULE_PARAMETERS, Api, has_function_tools
from .presets import RESOLUTIONS_BUDGET, PresetBook, default_book
from .providers import PROVIDERS, ProviderName, provider_for_url
from .suggest import warn_if_misspelt
from .validation import check_sampling_values

__all__ = [
    "Policy",
    "Provider",
    "Resolution",
    "Target",
    "UnsupportedParameterWarning",
    "get_model",
    "provider_for",
    "resolve",
    "resolve_params",
]

Provider = ProviderName
Policy = Literal["warn", "error", "silent"]
# What a preset is compiled for: OpenAI-style endpoints (OpenAI's, or a provider's compatible
# one), or as plain data for a provider's own SDK.
Target = Literal["chat", "responses", "anthropic", "gemini"]
TARGETS: Mapping[str, str] = {
    "chat": ENDPOINTS["chat"],
    "responses": ENDPOINTS["responses"],
    "anthropic": "anthropic's messages.create",
    "gemini": "google-genai's GenerateContentConfig",
}
_NATIVE_PROVIDER = {"anthropic": "anthropic", "gemini": "google"}
# Providers whose OpenAI-compatible endpoint serves /v1/responses too.
_RESPONSES_PROVIDERS = frozenset({"openai", "openai-compatible", "xai"})
# anthropic's messages.create requires max_tokens: what is sent when nothing else says.
ANTHROPIC_DEFAULT_MAX_TOKENS = 4096
ANTHROPIC_THINKING_MAX_TOKENS = 16000
_SAMPLING_KNOBS = ("temperature", "top_p", "top_k")

_OUTPUT_ALIASES = ("max_output_tokens", "max_tokens", "max_completion_tokens")


class UnsupportedParameterWarning(UserWarning):
    """A preset or call asked for a parameter the model does not accept; it was dropped."""


_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


@dataclass(frozen=True)
class Resolution:
    """What :func:`resolve` decided: the SDK kwargs, and what was left out and why.

    ``dropped`` maps our parameter name to the reason it was not sent (or was changed, for a
    reasoning effort the model lacks); ``effort`` is the effort the request runs at (sent, or
    the model's default); ``api`` the endpoint the kwargs are for (``anthropic`` / ``gemini``:
    that provider's own SDK); ``provider`` whose rules and endpoint they follow.
    """

    kwargs: dict[str, Any]
    dropped: dict[str, str] = field(default_factory=dict)
    effort: str | None = None
    api: Target = "chat"
    provider: str = "openai"


def get_model(name: str, *, config: PresetBook | None = None, strict: bool = False) -> ModelSpec:
    """Limits and capabilities of ``name``; snapshots and aliases resolve to their model.

    A model the registry lacks gets ``known=False``, unknown limits, and the rules of its
    family when its name matches one (``gpt-6*``), and a name a small edit away from a known
    one warns :class:`~llmpresets.config.suggest.ModelNameWarning` ("did you mean ...?");
    with ``strict=True`` it raises UnknownModelError listing the known models (and the
    suggestion) instead.

    >>> get_model("gpt-4o-2024-08-06").context_window
    128000
    """
    book = config or default_book()
    spec = book.model(name, strict=strict)
    if not spec.known:
        warn_if_misspelt(name, book, stacklevel=2)
    return spec


def provider_for(
    base_url: str | None, configured: str = "auto", model_provider: str = "openai"
) -> Provider:
    """The provider a request goes to: as configured (``openai``, ``openai-compatible``), else
    the one whose host ``base_url`` names (``api.anthropic.com``: ``anthropic``; any other
    server: ``openai-compatible``), else the model's own."""
    if configured != "auto":
        return "openai" if configured == "openai" else "openai-compatible"
    return provider_for_url(base_url) or model_provider  # type: ignore[return-value]


def _plain_number(value: Any) -> Any:
    """numpy scalars (np.float32(0.5), np.int64(5)) as the Python numbers JSON can carry."""
    if isinstance(value, numbers.Number) and not isinstance(value, (bool, int, float)):
        item = getattr(value, "item", None)
        if callable(item):
            return item()
    return value


class _Resolver:
    """One resolution: the working values, who set them, and what was dropped."""

    def __init__(
        self,
        spec: ModelSpec,
        api: Target,
        provider: Provider,
        user_set: set[str],
        anthropic_version: str = "2026-10-21",
    ) -> None:
        self.spec = spec
        self.target = api
        # The OpenAI endpoint whose efforts and spellings apply (a native API reads chat's).
        self.api: Api = "responses" if api == "responses" else "chat"
        self.provider = provider
        self.user_set = user_set
        self.anthropic_version = anthropic_version
        self.dropped: dict[str, str] = {}
        self.rejected_by_user: list[str] = []

    def drop(self, values: dict[str, Any], name: str, reason: str) -> None:
        values.pop(name, None)
        self.dropped[name] = reason
        if name in self.user_set:
            self.rejected_by_user.append(name)

    def reason_not_accepted(self, name: str, effort: str | None) -> str | None:
        """Why ``spec`` does not take ``name`` on this endpoint at ``effort`` (None: it does)."""
        spec, entry = self.spec, PARAMETERS.get(name)
        native = PROVIDERS[spec.provider].native_params if self.target in TARGETS_NATIVE else {}
        if self.target in TARGETS_NATIVE:
            if entry is not None and name != "reasoning_effort" and name not in native:
                return f"{TARGETS[self.target]} has no {name}"
            if (
                self.target == "anthropic"
                and name in _SAMPLING_KNOBS
                and self.anthropic_version == "2026-10-21"
            ):
                return (
                    "anthropic-version 2026-10-21 (the current SDKs' default) removes "
                    f'temperature, top_p and top_k ("{name}: Extra inputs are not permitted"); '
                    "set settings.anthropic_version: 2023-06-01 to send them"
                )
        elif entry is not None and entry.compatible_only:
            if self.provider == "openai":
                return (
                    f"OpenAI's API has no {name} (only OpenAI-compatible servers such as vLLM "
                    "take it)"
                )
            if self.provider != "openai-compatible":
                label = PROVIDERS[self.provider].label
                return f"{label}'s OpenAI-compatible endpoint has no {name}"
            return None
        elif entry is not None and entry.spelling(self.api) is None:
            return f"{ENDPOINTS[self.api]} has no {name}"
        elif entry is not None and self.provider not in ("openai", "openai-compatible"):
            info = PROVIDERS[self.provider]
            if name in info.compat_ignored:
                return (
                    f"{info.label}'s OpenAI-compatible endpoint accepts {name} and ignores it "
                    "(not sent)"
                )
            if not info.takes(name):
                return f"{info.label}'s OpenAI-compatible endpoint has no {name}"
        if name in spec.rejects:
            return f"{spec.name} does not accept {name}"
        if name == "reasoning_effort" and not spec.efforts(self.api):
            return f"{spec.name} takes no reasoning_effort" + (
                "" if spec.reasoning else " (not a reasoning model)"
            )
        if name == "verbosity" and not spec.verbosity:
            return f"{spec.name} does not take verbosity"
        if name == "top_k" and self.target in TARGETS_NATIVE and not spec.sampling_allowed(effort):
            return f"{spec.name} takes no top_k while it thinks (effort {effort!r})"
        if (
            name in SAMPLING_RULE_PARAMETERS
            and spec.provider == "anthropic"
            and spec.sampling == "effort_none"
            and not spec.sampling_allowed(effort)
        ):
            return (
                f"thinking is on at effort {effort or spec.default_effort!r}, and Anthropic "
                '"`temperature` may only be set to 1 when thinking is enabled" (no top_p, top_k)'
            )
        if name in SAMPLING_RULE_PARAMETERS and not spec.sampling_allowed(effort):
            if spec.sampling_with_thinking == "ignored":
                return (
                    f"{spec.name} accepts {name} and ignores it while it thinks (effort "
                    f"{effort or spec.default_effort!r}): it would have no effect"
                )
            if spec.sampling == "never":
                return f"{spec.name} takes no {name} (a reasoning model: default sampling only)"
            return (
                f"{spec.name} takes {name} only at reasoning effort 'none' (running at {effort!r})"
            )
        return None


TARGETS_NATIVE = ("anthropic", "gemini")


def _lift_nested(overrides: dict[str, Any]) -> None:
    """``reasoning={"effort": ...}`` / ``text={"verbosity": ...}`` as our flat names."""
    for container, key, ours in (
        ("reasoning", "effort", "reasoning_effort"),
        ("text", "verbosity", "verbosity"),
    ):
        nested = overrides.get(container)
        if isinstance(nested, Mapping) and key in nested:
            if ours in overrides:
                raise ConfigError(f"give {ours} once, not also as {container}.{key}")
            rest = {k: v for k, v in nested.items() if k != key}
            overrides[ours] = nested[key]
            if rest:
                overrides[container] = rest
            else:
                del overrides[container]


def _check_call_values(spec: ModelSpec, overrides: dict[str, Any]) -> None:
    """Per-call values in the table's ranges (a request known to be invalid is never sent)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        check_sampling_values(given)
    for name in ("n", "top_logprobs"):
        value = overrides.get(name)
        problem = PARAMETERS[name].check(value) if value is not None else None
        if problem:
            raise ConfigError(f"per-call override: {name}: {problem}", field=name)
    limit, value = spec.max_output_tokens, overrides.get("max_output_tokens")
    if isinstance(value, int) and limit is not None and value > limit:
        raise ConfigError(
            f"per-call override: max_output_tokens: {value} is more than {spec.name}'s maximum "
            f"output of {limit:,} tokens; allowed: 1 ≤ max_output_tokens ≤ {limit}",
            field="max_output_tokens",
        )


def resolve(
    use_case: str | None,
    model: str | None = None,
    *,
    api: Target = "chat",
    config: PresetBook | None = None,
    provider: Provider | Literal["auto"] | None = None,
    base_url: str | None = None,
    policy: Policy | None = None,
    stacklevel: int = 1,
    **overrides: Any,
) -> Resolution:
    """Like :func:`resolve_params`, with what was dropped and why (see :class:`Resolution`).

    ``use_case=None`` resolves the call's values alone, with no preset under them.

    >>> r = resolve("code", "gpt-4o")
    >>> r.kwargs["temperature"], r.dropped["top_k"][:22]
    (0.2, "OpenAI's API has no to")
    """
    if api not in TARGETS:
        raise ConfigError(f"api: {api!r} is not allowed; allowed: {', '.join(TARGETS)}")
    book = config or default_book()
    key = _cache_key(use_case, model, api, provider, base_url, policy, overrides)
    kept = _recall(book, key, use_case, model)
    if kept is not None:
        return kept
    model_name = model or book.settings.default_model
    spec = book.model(model_name)
    if not spec.known:
        warn_if_misspelt(model_name, book, stacklevel=stacklevel + 1)
    chosen_policy: Policy = policy or book.settings.unsupported_params
    if chosen_policy not in ("warn", "error", "silent"):
        raise ConfigError(f"policy: {chosen_policy!r} is not allowed; allowed: warn, error, silent")
    if api in TARGETS_NATIVE:
        wanted = _NATIVE_PROVIDER[api]
        if spec.provider != wanted:
            raise ConfigError(
                f"api={api!r} compiles for {wanted}'s own SDK, but {model_name} is "
                f"{'an' if spec.provider == 'openai' else 'a'} {spec.provider} model; use "
                "api='chat' (or a model of that provider)",
                field="api",
            )
        chosen_provider: Provider = spec.provider
    else:
        chosen_provider = provider_for(base_url, provider or book.settings.provider, spec.provider)
        _check_endpoint(
            spec, "responses" if api == "responses" else "chat", chosen_provider, model_name
        )

    # No use case: only the call's values (``explain`` with sampling flags and no preset).
    values: dict[str, Any] = dict(book[use_case].settings()) if use_case is not None else {}
    provider_values: dict[str, Any] = {}
    if use_case is not None:
        per_provider = book[use_case].providers.get(chosen_provider)
        provider_values = per_provider.values() if per_provider is not None else {}
        values.update(provider_values)
    overrides = dict(overrides)
    given_output = [name for name in _OUTPUT_ALIASES if name in overrides]
    if len(given_output) > 1:
        raise ConfigError(
            f"give one output limit, not {' and '.join(given_output)} "
            "(they are the same setting, renamed for the model and endpoint)"
        )
    for name in given_output:
        overrides["max_output_tokens"] = overrides.pop(name)
    _lift_nested(overrides)
    overrides = {name: _plain_number(value) for name, value in overrides.items()}
    _check_call_values(spec, overrides)
    extra_body = dict(overrides.pop("extra_body", None) or {})
    user_set = set(book.user_fields.get(use_case or "", ())) | set(overrides)
    if "providers" in user_set:
        user_set |= set(provider_values)
    for name, value in overrides.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value

    resolver = _Resolver(spec, api, chosen_provider, user_set, book.settings.anthropic_version)
    if "reasoning_effort" in values and not _endpoint_takes_effort(resolver):
        resolver.drop(
            values,
            "reasoning_effort",
            f"{PROVIDERS[chosen_provider].label}'s OpenAI-compatible endpoint ignores "
            "reasoning_effort (documented); the model runs at its default "
            f"{spec.default_effort!r} (use api='anthropic' to set effort)",
        )
    rules_api = resolver.api
    _fit_tools(resolver, values, _choose_effort(resolver, values))
    effort = (
        (values.get("reasoning_effort") or spec.default_effort) if spec.efforts(rules_api) else None
    )

    model_max = spec.max_output_tokens
    if model_max is not None and values.get("max_output_tokens", 0) > model_max:
        values["max_output_tokens"] = model_max  # only a preset's value can be over by now
    if (
        spec.reasoning
        and effort != "none"
        and "max_output_tokens" in values
        and "max_output_tokens" not in user_set
    ):
        resolver.drop(
            values,
            "max_output_tokens",
            f"reasoning tokens count against it at effort {effort!r}; a preset's short limit "
            "would cut the answer (set one per call to send it)",
        )
    # The API's default temperature is always accepted: asking for 1 is not a conflict.
    if (
        values.get("temperature") == 1
        and not spec.sampling_allowed(effort)
        and "temperature" not in spec.errors
    ):
        del values["temperature"]
        resolver.dropped["temperature"] = f"1 is {spec.name}'s own (and only) temperature here"

    for name in list(values):
        reason = resolver.reason_not_accepted(name, effort)
        if reason is not None:
            resolver.drop(values, name, reason)
    _fit_model_rules(resolver, values)

    if api == "anthropic":
        kwargs = _anthropic_kwargs(model_name, spec, values, effort, extra_body)
    elif api == "gemini":
        kwargs = _gemini_config(spec, values, effort)
    else:
        kwargs = _spell(model_name, spec, rules_api, chosen_provider, values, extra_body)
    _report(spec, resolver, chosen_policy, stacklevel + 1)
    resolution = Resolution(
        kwargs=kwargs, dropped=resolver.dropped, effort=effort, api=api, provider=chosen_provider
    )
    if key is not None and not resolver.rejected_by_user:
        # Only a resolution that warned about nothing is kept: a later call must still warn
        # (or raise) exactly as this one would have.
        _remember(book, key, _Cached.of(book, use_case, model_name, resolution), overrides)
    return resolution


def _check_endpoint(spec: ModelSpec, api: Api, provider: Provider, model_name: str) -> None:
    """A model only served on the other endpoint, or a provider without /v1/responses."""
    if api not in spec.endpoints:
        only = " and ".join(ENDPOINTS[a] for a in spec.endpoints)  # type: ignore[index]
        method = "respond()" if "responses" in spec.endpoints else "chat()"
        raise ConfigError(
            f"{model_name} is only available on {only}, not {ENDPOINTS[api]}; use {method}",
            field="model",
        )
    if api == "responses" and provider not in _RESPONSES_PROVIDERS:
        raise ConfigError(
            f"{PROVIDERS[provider].label}'s OpenAI-compatible endpoint has no /v1/responses; "
            "use chat()",
            field="api",
        )


def _endpoint_takes_effort(resolver: _Resolver) -> bool:
    """Whether the request's endpoint does anything with a reasoning effort."""
    if resolver.target in TARGETS_NATIVE or resolver.provider in ("openai", "openai-compatible"):
        return True
    info = PROVIDERS[resolver.provider]
    return "reasoning_effort" not in info.compat_ignored


def _fit_model_rules(resolver: _Resolver, values: dict[str, Any]) -> None:
    """The model's own ranges, refused pairs and advice, after the endpoint's rules."""
    spec = resolver.spec
    for name, (low, high) in spec.ranges.items():
        value = values.get(name)
        if not isinstance(value, (int, float)) or low <= value <= high:
            continue
        if low == high:
            resolver.drop(values, name, f"{spec.name} fixes {name} at {low:g}; not sent")
            continue
        fitted = min(max(value, low), high)
        values[name] = type(value)(fitted) if isinstance(value, int) else float(fitted)
        resolver.dropped[name] = (
            f"{value:g} is outside {spec.name}'s range {low:g}..{high:g}; sent {fitted:g}"
        )
        if name in resolver.user_set:
            resolver.rejected_by_user.append(name)
    for conflict in spec.conflicts:
        first, second = conflict.params
        if first not in values or second not in values:
            continue
        if conflict.when == "greedy" and not (
            values[first] < 1e-5 and values[second] != PARAMETERS[second].default
        ):
            continue
        # Keep the one the user chose when only one of them is theirs; else the first.
        loser = first if second in resolver.user_set and first not in resolver.user_set else second
        resolver.drop(
            values,
            loser,
            f'{spec.name} refuses {first} and {second} together ("{conflict.message}"); '
            f"{loser} left out",
        )
    if spec.sampling_with_thinking == "discouraged" and spec.efforts(resolver.api):
        for name in _SAMPLING_KNOBS:
            if name in values and name not in resolver.user_set:
                resolver.drop(
                    values,
                    name,
                    f"{spec.name} thinks on every request and its provider advises keeping "
                    "temperature, top_p and top_k at their defaults (Gemini 3: lower "
                    "temperatures can loop); the preset's value is left out",
                )


def _anthropic_kwargs(
    model_name: str,
    spec: ModelSpec,
    values: dict[str, Any],
    effort: str | None,
    extra_body: dict[str, Any],
) -> dict[str, Any]:
    """The keyword arguments of anthropic's ``messages.create`` (minus messages)."""
    native = PROVIDERS["anthropic"].native_params
    thinking = effort not in (None, "none") or spec.thinking == "always"
    kwargs: dict[str, Any] = {"model": model_name}
    limit = values.get("max_output_tokens")
    if limit is None:  # required by messages.create
        limit = ANTHROPIC_THINKING_MAX_TOKENS if thinking else ANTHROPIC_DEFAULT_MAX_TOKENS
        if spec.max_output_tokens is not None:
            limit = min(limit, spec.max_output_tokens)
    kwargs["max_tokens"] = limit
    for name, value in values.items():
        if name == "max_output_tokens":
            continue
        if name == "reasoning_effort":
            continue
        spelled = native.get(name)
        if spelled is None:
            kwargs[name] = value
        else:
            kwargs[spelled] = [value] if name == "stop" and isinstance(value, str) else value
    if spec.efforts("chat") and effort is not None:
        if effort == "none":
            if spec.default_effort not in (None, "none"):
                kwargs["thinking"] = {"type": "disabled"}
        else:
            if spec.thinking != "always":
                kwargs["thinking"] = {"type": "adaptive"}
            kwargs["output_config"] = {"effort": effort}
    if extra_body:
        kwargs["extra_body"] = extra_body
    return kwargs


def _gemini_config(spec: ModelSpec, values: dict[str, Any], effort: str | None) -> dict[str, Any]:
    """The fields of google-genai's ``GenerateContentConfig``."""
    native = PROVIDERS["google"].native_params
    config: dict[str, Any] = {}
    for name, value in values.items():
        if name == "reasoning_effort":
            continue
        spelled = native.get(name)
        if spelled is None:
            config[name] = value
        else:
            config[spelled] = [value] if name == "stop" and isinstance(value, str) else value
    if spec.efforts("chat") and effort is not None:
        if spec.thinking_budgets:
            budget = spec.thinking_budgets.get(effort)
            if budget is not None:
                config["thinking_config"] = {"thinking_budget": budget}
        elif effort != "none":
            config["thinking_config"] = {"thinking_level": effort}
    return config


def _choose_effort(resolver: _Resolver, values: dict[str, Any]) -> str | None:
    """The effort sent: the preset's moved to the nearest the model accepts; yours, if the
    model lacks it, dropped (the model then runs at its default)."""
    spec, api = resolver.spec, resolver.api
    wanted: str | None = values.get("reasoning_effort")
    if wanted is None or not spec.efforts(api) or wanted in spec.efforts(api):
        return wanted
    accepted = ", ".join(spec.efforts(api))
    if "reasoning_effort" in resolver.user_set:
        # Your value is not replaced by another: dropped, so the model runs at its default.
        resolver.drop(
            values,
            "reasoning_effort",
            f"{spec.name} does not accept reasoning_effort={wanted!r} on {ENDPOINTS[api]} "
            f"(accepts {accepted}); not sent, so it runs at its default "
            f"{spec.default_effort!r}",
        )
        return None
    nearest = spec.nearest_effort(wanted, api)
    resolver.dropped["reasoning_effort"] = (
        f"the preset's {wanted!r} is not among {spec.name}'s efforts ({accepted}); "
        f"sent the nearest, {nearest!r}"
    )
    values["reasoning_effort"] = nearest
    return nearest


def _fit_tools(resolver: _Resolver, values: dict[str, Any], effort: str | None) -> None:
    """Models that refuse function tools with an effort on /chat/completions (``tools_with_effort:
    false``): the effort becomes ``none`` when the preset chose it and the model has it, else
    a ConfigError in the API's own words."""
    spec = resolver.spec
    if (
        resolver.api != "chat"
        or spec.tools_with_effort
        or not has_function_tools(values.get("tools"))
    ):
        return
    running = effort or spec.default_effort
    if running in (None, "none"):
        return
    if "reasoning_effort" not in resolver.user_set and "none" in spec.efforts("chat"):
        values["reasoning_effort"] = "none"
        resolver.dropped["reasoning_effort"] = (
            f"{spec.name} takes function tools on /v1/chat/completions only at effort 'none'; "
            f"sent 'none' instead of {running!r} (use respond() to keep the effort)"
        )
        return
    fix = (
        "use /v1/responses (Client.respond) or set reasoning_effort to 'none'"
        if "none" in spec.efforts("chat")
        else f"use /v1/responses (Client.respond): {spec.name} has no effort 'none'"
    )
    raise ConfigError(
        f"Function tools with reasoning_effort are not supported for {spec.name} in "
        f"/v1/chat/completions. To use function tools, {fix}.",
        field="reasoning_effort",
    )


def _spell(
    model_name: str,
    spec: ModelSpec,
    api: Api,
    provider: Provider,
    values: dict[str, Any],
    extra_body: dict[str, Any],
) -> dict[str, Any]:
    """Our names -> the endpoint's spelling (``reasoning.effort``, ``text.verbosity`` nest)."""
    kwargs: dict[str, Any] = {"model": model_name}
    for name, value in values.items():
        entry = PARAMETERS.get(name)
        if entry is None:  # an SDK argument the library does not govern
            nested = kwargs.get(name)
            if isinstance(nested, dict) and isinstance(value, Mapping):
                value = {**value, **nested}  # reasoning={"summary": ...} beside the effort
            kwargs[name] = value
            continue
        if entry.compatible_only:
            if provider == "openai-compatible":
                extra_body.setdefault(name, value)
            continue
        if name == "reasoning_effort" and provider == "deepseek":
            # DeepSeek switches thinking in the body; its efforts are high and max.
            thinking = "disabled" if value == "none" else "enabled"
            extra_body.setdefault("thinking", {"type": thinking})
            if value == "none":
                continue
        spelled = entry.spelling(api, reasoning=spec.output_parameter == "max_completion_tokens")
        if spelled is None:
            continue
        container, _, key = spelled.rpartition(".")
        if container:
            nested = dict(kwargs.get(container) or {})
            nested[key] = value
            kwargs[container] = nested
        else:
            kwargs[spelled] = value
    if extra_body:
        kwargs["extra_body"] = extra_body
    return kwargs


def _report(spec: ModelSpec, resolver: _Resolver, policy: Policy, stacklevel: int) -> None:
    names = list(dict.fromkeys(resolver.rejected_by_user))
    if not names:
        return
    if policy == "error":
        raise UnsupportedParameterError(spec.name, names)
    if policy == "warn":
        with _warned_lock:
            fresh = [name for name in names if (spec.name, name) not in _warned]
            _warned.update((spec.name, name) for name in fresh)
        if fresh:
            reasons = "; ".join(f"{name}: {resolver.dropped[name]}" for name in fresh)
            warnings.warn(
                f"not sent as asked for {spec.name!r}: {reasons} "
                "(unsupported_params: silent or error in presets.yaml changes this)",
                UnsupportedParameterWarning,
                stacklevel=stacklevel + 1,
            )


def resolve_params(
    use_case: str,
    model: str | None = None,
    *,
    api: Target = "chat",
    config: PresetBook | None = None,
    provider: Provider | Literal["auto"] | None = None,
    base_url: str | None = None,
    policy: Policy | None = None,
    stacklevel: int = 1,
    **overrides: Any,
) -> dict[str, Any]:
    """The exact keyword arguments ``chat.completions.create`` gets (minus messages);
    with ``api="responses"``, those of ``responses.create`` (minus input).

    A per-call value beats the preset and ``None`` removes a parameter; ``max_output_tokens``,
    ``max_tokens`` and ``max_completion_tokens`` are one setting, spelled for the model and
    endpoint. A preset's output limit above the model's maximum is lowered to it; a per-call
    one above it is a ConfigError, as the API would refuse it. Numbers may be numpy scalars.
    Other SDK arguments (``seed``, ``stop``, ``response_format``, ...) pass through, unless
    the model or endpoint rejects them. ``stacklevel`` is as for :func:`warnings.warn`.

    Other providers: a model's provider (``claude-*``: anthropic) or ``base_url`` picks the
    endpoint whose rules apply (its OpenAI-compatible endpoint; a local server gets ``top_k`` /
    ``min_p`` in ``extra_body``). ``api="anthropic"`` gives anthropic's ``messages.create``
    kwargs and ``api="gemini"`` google-genai's ``GenerateContentConfig`` fields, as plain dicts.

    >>> resolve_params("code", "gpt-4o")
    {'model': 'gpt-4o', 'temperature': 0.2, 'top_p': 0.1, 'max_tokens': 1024}
    >>> resolve_params("code", "o3-mini")
    {'model': 'o3-mini', 'reasoning_effort': 'medium'}
    >>> resolve_params("creative", "claude-sonnet-4-6")
    {'model': 'claude-sonnet-4-6', 'temperature': 1.0, 'max_tokens': 1024}
    >>> resolve_params("code", "gemini-3.5-flash", api="gemini")
    {'thinking_config': {'thinking_level': 'medium'}}
    """
    return resolve(
        use_case,
        model,
        api=api,
        config=config,
        provider=provider,
        base_url=base_url,
        policy=policy,
        stacklevel=stacklevel + 1,
        **overrides,
    ).kwargs


# --------------------------------------------------------------------------- the cache

# Resolutions kept per PresetBook (in its ``_resolutions``): a client resolves the same use
# case, model and overrides on every call, and the answer depends only on them and on the
# book. One entry (its key, the kwargs, the reasons for what was dropped) holds 1.0 to 1.6 KB
# (measured); it is charged 1.5 KiB and the text of its string overrides (``instructions``,
# ``user``...), so a book keeps at most _MAX_RESOLUTIONS entries, fewer with long texts.
_RESOLUTION_BYTES = 1536
_MAX_RESOLUTIONS = RESOLUTIONS_BUDGET // _RESOLUTION_BYTES
# Override values that may form a cache key: immutable, and equal only when they are the same
# value to every later step (floats are keyed by their exact bits, so -0.0 is not 0.0).
_KEY_TYPES = (str, int, bool, type(None))


def _cache_key(
    use_case: str | None,
    model: str | None,
    api: str,
    provider: str | None,
    base_url: str | None,
    policy: str | None,
    overrides: Mapping[str, Any],
) -> tuple[Any, ...] | None:
    """The cache key of one call to :func:`resolve`, or None when a value cannot be part of
    one (a list, a dict, a numpy number...: such calls are resolved every time)."""
    items: list[tuple[Any, ...]] = []
    for name, value in overrides.items():
        kind = type(value)
        if kind is float:
            items.append((name, kind, value.hex()))
        elif kind in _KEY_TYPES:
            items.append((name, kind, value))
        else:
            return None
    return (use_case, model, api, provider, base_url, policy, tuple(items))


def _recall(
    book: PresetBook, key: tuple[Any, ...] | None, use_case: str | None, model: str | None
) -> Resolution | None:
    """A copy of the resolution kept for ``key``, while the book holds what it was made of."""
    cached: _Cached | None = book.resolution_cache.get(key) if key is not None else None
    if cached is not None and cached.holds_for(book, use_case, model):
        return cached.fresh()
    return None


def _remember(
    book: PresetBook, key: tuple[Any, ...], cached: _Cached, overrides: Mapping[str, Any]
) -> None:
    """Keep ``cached`` in the book's cache, charged its own size and the text of its string
    overrides."""
    texts = sum(sys.getsizeof(value) for value in overrides.values() if type(value) is str)
    book.resolution_cache.put(key, cached, nbytes=_RESOLUTION_BYTES + texts)


@dataclass(frozen=True)
class _Cached:
    """A resolution and the parts of the book it was made from (all immutable objects, so
    their identity says whether the book still holds them)."""

    resolution: Resolution
    settings: Any
    preset: Any
    spec: ModelSpec
    user_fields: Any

    @classmethod
    def of(
        cls, book: PresetBook, use_case: str | None, model_name: str, resolution: Resolution
    ) -> _Cached:
        return cls(
            _copied(resolution),
            book.settings,
            book.presets.get(use_case) if use_case is not None else None,
            book.model(model_name),
            book.user_fields.get(use_case or ""),
        )

    def holds_for(self, book: PresetBook, use_case: str | None, model: str | None) -> bool:
        """Whether ``book`` still has the settings, preset, model and user fields used."""
        settings = book.settings
        return (
            settings is self.settings
            and (use_case is None or book.presets.get(use_case) is self.preset)
            and book.model(model or settings.default_model) is self.spec
            and book.user_fields.get(use_case or "") is self.user_fields
        )

    def fresh(self) -> Resolution:
        """A copy the caller may change without changing the cache."""
        return _copied(self.resolution)


def _copied(resolution: Resolution) -> Resolution:
    return Resolution(
        kwargs=_deep_copy(resolution.kwargs),
        dropped=dict(resolution.dropped),
        effort=resolution.effort,
        api=resolution.api,
        provider=resolution.provider,
    )


def _deep_copy(value: dict[str, Any]) -> dict[str, Any]:
    """A copy of kwargs down to their scalars (a cached key held only scalars; ``_spell``
    nests some in dicts)."""
    return {key: _deep_copy(item) if type(item) is dict else item for key, item in value.items()}

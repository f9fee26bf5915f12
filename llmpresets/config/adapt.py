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
from urllib.parse import urlsplit

from .._errors import ConfigError, UnsupportedParameterError
from .models import ModelSpec
from .params import ENDPOINTS, PARAMETERS, SAMPLING_RULE_PARAMETERS, Api, has_function_tools
from .presets import RESOLUTIONS_BUDGET, PresetBook, default_book
from .suggest import warn_if_misspelt
from .validation import check_sampling_values

__all__ = [
    "Policy",
    "Provider",
    "Resolution",
    "UnsupportedParameterWarning",
    "get_model",
    "provider_for",
    "resolve",
    "resolve_params",
]

Provider = Literal["openai", "openai-compatible"]
Policy = Literal["warn", "error", "silent"]

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
    the model's default); ``api`` the endpoint the kwargs are for.
    """

    kwargs: dict[str, Any]
    dropped: dict[str, str] = field(default_factory=dict)
    effort: str | None = None
    api: Api = "chat"


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


def provider_for(base_url: str | None, configured: str = "auto") -> Provider:
    """``openai-compatible`` when configured so, or when ``base_url`` is not OpenAI's."""
    if configured != "auto":
        return "openai" if configured == "openai" else "openai-compatible"
    if not base_url:
        return "openai"
    host = (urlsplit(str(base_url)).hostname or "").lower()
    is_openai = host == "openai.com" or host.endswith(".openai.com")
    return "openai" if is_openai else "openai-compatible"


def _plain_number(value: Any) -> Any:
    """numpy scalars (np.float32(0.5), np.int64(5)) as the Python numbers JSON can carry."""
    if isinstance(value, numbers.Number) and not isinstance(value, (bool, int, float)):
        item = getattr(value, "item", None)
        if callable(item):
            return item()
    return value


class _Resolver:
    """One resolution: the working values, who set them, and what was dropped."""

    def __init__(self, spec: ModelSpec, api: Api, provider: Provider, user_set: set[str]) -> None:
        self.spec = spec
        self.api = api
        self.provider = provider
        self.user_set = user_set
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
        if entry is not None and entry.compatible_only:
            if self.provider == "openai":
                return (
                    f"OpenAI's API has no {name} (only OpenAI-compatible servers such as vLLM "
                    "take it)"
                )
            return None
        if entry is not None and entry.spelling(self.api) is None:
            return f"{ENDPOINTS[self.api]} has no {name}"
        if name in spec.rejects:
            return f"{spec.name} does not accept {name}"
        if name == "reasoning_effort" and not spec.efforts(self.api):
            return f"{spec.name} takes no reasoning_effort" + (
                "" if spec.reasoning else " (not a reasoning model)"
            )
        if name == "verbosity" and not spec.verbosity:
            return f"{spec.name} does not take verbosity"
        if name in SAMPLING_RULE_PARAMETERS and not spec.sampling_allowed(effort):
            if spec.sampling == "never":
                return f"{spec.name} takes no {name} (a reasoning model: default sampling only)"
            return (
                f"{spec.name} takes {name} only at reasoning effort 'none' (running at {effort!r})"
            )
        return None


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
    api: Api = "chat",
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
    if api not in ENDPOINTS:
        raise ConfigError(f"api: {api!r} is not allowed; allowed: {', '.join(ENDPOINTS)}")
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
    chosen_provider = provider_for(base_url, provider or book.settings.provider)

    if api not in spec.endpoints:
        only = " and ".join(ENDPOINTS[a] for a in spec.endpoints)  # type: ignore[index]
        method = "respond()" if "responses" in spec.endpoints else "chat()"
        raise ConfigError(
            f"{model_name} is only available on {only}, not {ENDPOINTS[api]}; use {method}",
            field="model",
        )
    # No use case: only the call's values (``explain`` with sampling flags and no preset).
    values: dict[str, Any] = dict(book[use_case].settings()) if use_case is not None else {}
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
    for name, value in overrides.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value

    resolver = _Resolver(spec, api, chosen_provider, user_set)
    _fit_tools(resolver, values, _choose_effort(resolver, values))
    effort = (values.get("reasoning_effort") or spec.default_effort) if spec.efforts(api) else None

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
    if values.get("temperature") == 1 and not spec.sampling_allowed(effort):
        del values["temperature"]
        resolver.dropped["temperature"] = f"1 is {spec.name}'s own (and only) temperature here"

    for name in list(values):
        reason = resolver.reason_not_accepted(name, effort)
        if reason is not None:
            resolver.drop(values, name, reason)

    kwargs = _spell(model_name, spec, api, chosen_provider, values, extra_body)
    _report(spec, resolver, chosen_policy, stacklevel + 1)
    resolution = Resolution(kwargs=kwargs, dropped=resolver.dropped, effort=effort, api=api)
    if key is not None and not resolver.rejected_by_user:
        # Only a resolution that warned about nothing is kept: a later call must still warn
        # (or raise) exactly as this one would have.
        _remember(book, key, _Cached.of(book, use_case, model_name, resolution), overrides)
    return resolution


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
    api: Api = "chat",
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

    >>> resolve_params("code", "gpt-4o")
    {'model': 'gpt-4o', 'temperature': 0.2, 'top_p': 0.1, 'max_tokens': 1024}
    >>> resolve_params("code", "o3-mini")
    {'model': 'o3-mini', 'reasoning_effort': 'medium'}
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
    )


def _deep_copy(value: dict[str, Any]) -> dict[str, Any]:
    """A copy of kwargs down to their scalars (a cached key held only scalars; ``_spell``
    nests some in dicts)."""
    return {key: _deep_copy(item) if type(item) is dict else item for key, item in value.items()}

"""The model rules (docs/models.md), enforced on a request body with the API's own refusals.

One function, :func:`check_model_rules`, serves every endpoint (``api="chat"`` for
``/chat/completions``, ``"responses"`` for ``/responses``). It reads the parameter table
(:mod:`~llmpresets.config.params`: how each endpoint spells a parameter) and the model's
capabilities (:mod:`~llmpresets.config.models`: efforts, sampling rule, rejected parameters,
tools with effort, verbosity, endpoints); it restates neither. :func:`check_output_limit` holds
an explicit output cap to the model's output limit, worded per endpoint. The wording, ``param``
and ``code`` of each refusal are the API's, as seen in its error bodies:

- an effort the model lacks: ``Unsupported value: 'minimal' is not supported with the 'gpt-5.1'
  model. Supported values are: 'none', 'low', 'medium', and 'high'.`` (``unsupported_value``);
- an effort sent to a model without efforts: ``Unrecognized request argument supplied:
  reasoning_effort`` on chat, ``Unsupported parameter: 'reasoning.effort' is not supported with
  this model.`` on responses;
- temperature on a model that never takes it: ``Unsupported value: 'temperature' does not
  support 0.8 with this model. Only the default (1) value is supported.``; any other sampling
  parameter, or one sent at an effort other than ``none``: ``Unsupported parameter: 'top_p' is
  not supported with this model.``;
- ``max_tokens`` to a reasoning model: ``... Use 'max_completion_tokens' instead.``;
- function tools with an effort on chat where the model refuses them (the effort the request
  runs at, its default included);
- ``verbosity`` other than ``medium`` to a model without it (the API accepts its default);
- a model that is not served on the endpoint.

A model the registry does not know and whose name matches no family is not checked (its rules
are unknown); one that matches a family is checked with the family's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...config.params import PARAMETERS, SAMPLING_RULE_PARAMETERS, Api, has_function_tools
from .errors import WireError, check_number, quoted_list, unrecognized
from .limits import UNKNOWN_MODEL_MAX_OUTPUT

if TYPE_CHECKING:
    from ...config.models import ModelSpec

__all__ = ["check_model_rules", "check_output_limit", "request_effort"]


def _get(body: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` (``reasoning.effort``), or None."""
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _unsupported_parameter(name: str, extra: str = "") -> WireError:
    return WireError(
        400,
        f"Unsupported parameter: '{name}' is not supported with this model.{extra}",
        param=name,
        code="unsupported_parameter",
    )


def request_effort(body: Mapping[str, Any], spec: ModelSpec, api: Api) -> str | None:
    """The effort a request runs at: the one it sends, else the model's default."""
    spelled = PARAMETERS["reasoning_effort"].spelling(api)
    sent = _get(body, spelled) if spelled else None
    if isinstance(sent, str):
        return sent
    return spec.default_effort if spec.efforts(api) else None


def check_model_rules(body: Mapping[str, Any], spec: ModelSpec, api: Api) -> None:
    """Raise the API's WireError when ``spec`` refuses something in ``body`` on ``api``."""
    if not spec.known and spec.family is None:
        return
    _check_endpoint(spec, api)
    effort = _check_effort(body, spec, api)
    _check_sampling(body, spec, api, effort)
    _check_rejected(body, spec, api)
    _check_verbosity(body, spec, api)
    _check_tools(body, spec, api, effort)


def check_output_limit(asked: int | None, name: str, spec: ModelSpec, api: Api) -> None:
    """Raise the API's 400 when ``asked`` (the request's explicit output cap, the field
    ``name``) is above the model's output limit, worded as ``api`` words it.

    A model without a known output limit gets the offline backend's
    (:data:`~llmpresets.offline.api.limits.UNKNOWN_MODEL_MAX_OUTPUT`). Chat completions says
    ``max_tokens is too large: ...`` (``invalid_value``); the Responses API words it as any
    integer above its maximum (``integer_above_max_value``).
    """
    limit = spec.max_output_tokens or UNKNOWN_MODEL_MAX_OUTPUT
    if asked is None or asked <= limit:
        return
    if api == "chat":
        raise WireError(
            400,
            f"{name} is too large: {asked}. This model supports at most "
            f"{limit} completion tokens, whereas you provided {asked}.",
            param=name,
            code="invalid_value",
        )
    check_number(name, asked, 0, limit, integer=True)


def _check_endpoint(spec: ModelSpec, api: Api) -> None:
    if api in spec.endpoints:
        return
    if api == "chat":
        raise WireError(
            404,
            "This model is only supported in v1/responses and not in v1/chat/completions.",
            param="model",
            code="unsupported_model",
        )
    raise WireError(
        400,
        f"The model '{spec.name}' is not supported with the Responses API.",
        param="model",
        code="unsupported_model",
    )


def _check_effort(body: Mapping[str, Any], spec: ModelSpec, api: Api) -> str | None:
    spelled = PARAMETERS["reasoning_effort"].spelling(api)
    sent = _get(body, spelled) if spelled else None
    if sent is None:
        return request_effort(body, spec, api)
    accepted = spec.efforts(api)
    if not accepted:
        if api == "chat":
            raise unrecognized(["reasoning_effort"])
        raise _unsupported_parameter(str(spelled))
    if sent not in accepted:
        raise WireError(
            400,
            f"Unsupported value: '{sent}' is not supported with the '{spec.name}' model. "
            f"Supported values are: {quoted_list(accepted)}.",
            param=spelled,
            code="unsupported_value",
        )
    return str(sent)


def _check_sampling(body: Mapping[str, Any], spec: ModelSpec, api: Api, effort: str | None) -> None:
    if spec.sampling_allowed(effort):
        return
    for name in SAMPLING_RULE_PARAMETERS:
        spelled = PARAMETERS[name].spelling(api)
        value = _get(body, spelled) if spelled else None
        if value is None or value is False or value == PARAMETERS[name].default:
            continue  # absent, logprobs: false, or the API's own default (temperature 1)
        if name == "temperature" and spec.sampling == "never":
            raise WireError(
                400,
                f"Unsupported value: 'temperature' does not support {value} with this model. "
                "Only the default (1) value is supported.",
                param="temperature",
                code="unsupported_value",
            )
        raise _unsupported_parameter(str(spelled))


def _check_rejected(body: Mapping[str, Any], spec: ModelSpec, api: Api) -> None:
    for name in sorted(spec.rejects):
        entry = PARAMETERS.get(name)
        spelled = entry.spelling(api) if entry is not None else (name if api == "chat" else None)
        if spelled is None or _get(body, spelled) is None:
            continue
        if name == "max_tokens":
            raise _unsupported_parameter("max_tokens", " Use 'max_completion_tokens' instead.")
        raise _unsupported_parameter(spelled)


def _check_verbosity(body: Mapping[str, Any], spec: ModelSpec, api: Api) -> None:
    spelled = PARAMETERS["verbosity"].spelling(api)
    value = _get(body, spelled) if spelled else None
    if value is None or spec.verbosity or value == "medium":
        return
    raise WireError(
        400,
        f"Unsupported value: 'verbosity' does not support '{value}' with this model. "
        "Supported values are: 'medium'.",
        param=spelled,
        code="unsupported_value",
    )


def _check_tools(body: Mapping[str, Any], spec: ModelSpec, api: Api, effort: str | None) -> None:
    if api != "chat" or spec.tools_with_effort or effort in (None, "none"):
        return
    if not has_function_tools(body.get("tools")):
        return
    raise WireError(
        400,
        f"Function tools with reasoning_effort are not supported for {spec.name} in "
        "/v1/chat/completions. To use function tools, use /v1/responses or set "
        "reasoning_effort to 'none'.",
        param="reasoning_effort",
    )

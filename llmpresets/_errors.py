"""Every error llmpresets raises, rooted at one base class.

::

    LLMPresetsError
    ├── ConfigError (ValueError)              a preset/model file or value is invalid
    ├── UnknownPresetError (KeyError)         no preset by that use-case name
    ├── UnknownModelError (KeyError)          strict lookup of a model the registry lacks
    ├── UnsupportedParameterError (ValueError)  policy "error": the model rejects a parameter
    ├── TokenizerError                        an encoding's BPE file is missing or corrupt
    ├── MessageFormatError (ValueError, TypeError)  a chat message has a bad shape or text
    ├── ContextWindowExceeded (ValueError)    the prompt (or the output limit) cannot fit
    ├── MissingAPIKeyError                    online requested, no key anywhere
    ├── NetworkBlockedError                   a request would leave the machine (intercept_openai)
    ├── CassetteMissError                     a cassette has no recording of a request
    └── APIError                              the provider (or the offline backend) failed
        ├── APIConnectionError                could not reach it / connection reset
        │   └── APITimeoutError               timed out
        ├── APIStatusError                    an HTTP error status (``status_code`` kept)
        │   └── RateLimitError                429 after the SDK's retries
        ├── IncompleteResponseError           a malformed body or a stream cut off mid-way
        └── SourceError                       a user's next-token source failed (offline)

Errors from lower libraries (openai, httpx2, yaml, tiktoken) are translated at exactly one
boundary each, with ``raise ... from exc`` so the cause stays on ``__cause__``. Validation
errors from pydantic are rendered by one function, :func:`describe_pydantic_error`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "CassetteMissError",
    "ConfigError",
    "ContextWindowExceeded",
    "IncompleteResponseError",
    "LLMPresetsError",
    "MessageFormatError",
    "MissingAPIKeyError",
    "NetworkBlockedError",
    "RateLimitError",
    "SourceError",
    "TokenizerError",
    "UnknownModelError",
    "UnknownPresetError",
    "UnsupportedParameterError",
    "describe_pydantic_error",
]


class LLMPresetsError(Exception):
    """Base class of every error this library raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        # KeyError subclasses would otherwise print their message in quotes.
        return self.message


class ConfigError(LLMPresetsError, ValueError):
    """A configuration file or value is invalid.

    ``file``, ``line`` and ``field`` say where (each may be ``None``); the message says what is
    allowed.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.field = field


class UnknownPresetError(LLMPresetsError, KeyError):
    """No preset is defined for the requested use case; the message lists the valid names."""

    def __init__(self, name: str, valid: list[str]) -> None:
        super().__init__(
            f"unknown use case {name!r}; valid use cases: {', '.join(valid)} "
            "(add one under 'presets:' in your presets.yaml)"
        )
        self.name = name
        self.valid = valid


class UnknownModelError(LLMPresetsError, KeyError):
    """A strict lookup found no model of that name in the registry."""

    def __init__(self, name: str, valid: list[str], *, suggestion: str | None = None) -> None:
        hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
        super().__init__(
            f"unknown model {name!r}{hint}; known models: {', '.join(valid)} "
            "(declare it under 'models:' in your presets.yaml)"
        )
        self.name = name
        self.valid = valid
        self.suggestion = suggestion  # the known model ``name`` probably misspells, if any


class UnsupportedParameterError(LLMPresetsError, ValueError):
    """The model does not accept a parameter and the policy is ``"error"``."""

    def __init__(self, model: str, parameters: list[str]) -> None:
        super().__init__(
            f"model {model!r} does not accept {', '.join(parameters)}; remove "
            f"{'it' if len(parameters) == 1 else 'them'} from the preset or the call, or set "
            "unsupported_params: warn (drop and warn) or silent in your presets.yaml"
        )
        self.model = model
        self.parameters = parameters


class TokenizerError(LLMPresetsError):
    """An encoding could not be loaded; counting never falls back to an estimate."""


class MessageFormatError(LLMPresetsError, ValueError, TypeError):
    """A message, content part or tool has the wrong shape; the message names which and where.

    It is both a ``ValueError`` and a ``TypeError`` so either ``except`` catches it.
    """


class ContextWindowExceeded(LLMPresetsError, ValueError):
    """The prompt (plus the reserved output) cannot fit the model's limits.

    The numbers are kept as attributes so callers can react without parsing the message.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str,
        prompt_tokens: int,
        max_input_tokens: int | None,
        context_window: int | None,
        reserved_output_tokens: int,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.max_input_tokens = max_input_tokens
        self.context_window = context_window
        self.reserved_output_tokens = reserved_output_tokens


class MissingAPIKeyError(LLMPresetsError):
    """Online mode was chosen but no API key was given or found in ``OPENAI_API_KEY``."""


class NetworkBlockedError(LLMPresetsError):
    """Inside ``intercept_openai()``, a request would have left the machine; it was not sent.

    Raised by the network transport itself, so the SDK neither retries nor wraps it.
    """


class CassetteMissError(LLMPresetsError):
    """A cassette (``on_miss="error"``) has no recording of a request; the message names both.

    ``cassette`` is the file's path, ``request`` the request as the message shows it.
    """

    def __init__(self, message: str, *, cassette: str, request: str) -> None:
        super().__init__(message)
        self.cassette = cassette
        self.request = request


class APIError(LLMPresetsError):
    """The provider, or the offline backend, answered with an error or not at all.

    ``status_code`` is the HTTP status when there was one; the original SDK exception is on
    ``__cause__``.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class APIConnectionError(APIError):
    """The request never got an answer: connection refused or reset."""


class APITimeoutError(APIConnectionError):
    """The request timed out (after the SDK's retries)."""


class APIStatusError(APIError):
    """The API answered with an HTTP error status (after the SDK's retries)."""


class RateLimitError(APIStatusError):
    """HTTP 429 after the SDK's retries were used up."""


class IncompleteResponseError(APIError):
    """A response body was malformed, or a stream ended before its final chunk."""


class SourceError(APIError):
    """A user's next-token source returned something unusable (offline; answered as HTTP 500)."""


def describe_pydantic_error(
    error: Mapping[str, Any],
    *,
    valid_fields: Sequence[str] | None = None,
    allowed: str | None = None,
) -> str:
    """What one pydantic error (an item of ``ValidationError.errors()``) says, for a user.

    ``valid_fields`` lists the names a misspelt field could have meant; ``allowed`` states the
    field's range. The caller says *where* (file, line, field path); this says *what*.

    >>> describe_pydantic_error({"type": "less_than_equal", "msg": "x", "input": 3},
    ...                         allowed="0 to 2")
    '3 is out of range; allowed: 0 to 2'
    """
    import difflib

    kind = error.get("type", "")
    value = error.get("input")
    message = str(error.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        loc = error.get("loc") or ("",)
        valid = list(valid_fields or ())
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown field; {hint}valid fields: {', '.join(valid)}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{_short_repr(value)} is out of range; allowed: {allowed or message}"
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"{_short_repr(value)} is not allowed; allowed values: {expected}"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind == "missing":
        return "required field is missing"
    if value is None and kind in ("model_type", "dict_type"):
        return "is empty; expected a mapping of its fields (or remove the key)"
    what = f"{message[:1].lower()}{message[1:]}, got {type(value).__name__} {_short_repr(value)}"
    return f"{what}; allowed: {allowed}" if allowed else what


def _short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (a user's value may be megabytes)."""
    try:
        text = repr(value)
    except Exception:  # a user's object whose repr fails is still reported
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]}"

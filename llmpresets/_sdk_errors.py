"""The one boundary where SDK and transport errors become llmpresets errors.

Every call into the openai SDK (a request, or reading a stream) runs inside
:func:`sdk_errors`; it translates what the SDK raises into the tree drawn in ``_errors`` and
chains the original with ``raise ... from exc``. The API key is scrubbed from the message and
from the chained SDK exception first (a server may echo it back).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import openai

from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    IncompleteResponseError,
    LLMPresetsError,
    MessageFormatError,
    RateLimitError,
)

__all__ = ["TRANSLATED", "sdk_errors", "translate"]

# What an SDK call may raise that is not already ours. Our own errors (a bad offline corpus,
# say) pass through untouched.
TRANSLATED = (openai.OpenAIError, httpx2.HTTPError, json.JSONDecodeError, UnicodeEncodeError)


@contextlib.contextmanager
def sdk_errors(secret: str | None) -> Iterator[None]:
    """Run an SDK call; re-raise what it raises as an llmpresets error, key scrubbed.

    Works around ``await`` and inside (async) generators too: it only wraps a block.
    """
    try:
        yield
    except TRANSLATED as exc:
        raise translate(exc, secret) from exc


def _redact(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[redacted]")
    return text


def _scrub(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return _redact(value, secret)
    if isinstance(value, dict):
        return {key: _scrub(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secret) for item in value]
    return value


def _scrub_exception(exc: BaseException, secret: str | None) -> None:
    """Redact the key from an SDK exception kept as ``__cause__`` (a server may echo it)."""
    if not secret:
        return
    exc.args = tuple(_scrub(arg, secret) for arg in exc.args)
    for attribute in ("message", "body"):
        if hasattr(exc, attribute):
            with contextlib.suppress(AttributeError):
                setattr(exc, attribute, _scrub(getattr(exc, attribute), secret))


def _status_message(exc: openai.APIStatusError) -> str:
    """The API's own error message when the body has one, else the SDK's text."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return exc.message


def translate(exc: Exception, secret: str | None) -> LLMPresetsError:
    """The llmpresets error for an SDK or transport error (the key scrubbed from both)."""
    _scrub_exception(exc, secret)
    if exc.__cause__ is not None:
        _scrub_exception(exc.__cause__, secret)
    message = _redact(str(exc), secret)
    if isinstance(exc, openai.APITimeoutError):
        return APITimeoutError(f"the request timed out: {message}")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f" ({type(cause).__name__}: {_redact(str(cause), secret)})" if cause else ""
        return APIConnectionError(f"connection failed: {message}{detail}")
    if isinstance(exc, openai.APIResponseValidationError):
        return IncompleteResponseError(
            f"the API's response did not match the expected schema: {message}",
            status_code=exc.status_code,
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        request_id = exc.request_id
        suffix = f" (request id {request_id})" if request_id else ""
        error_class = RateLimitError if status == 429 else APIStatusError
        detail = _redact(_status_message(exc), secret)
        return error_class(f"HTTP {status}: {detail}{suffix}", status_code=status)
    if isinstance(exc, openai.APIError):
        return APIError(f"the API reported an error: {message}")
    if isinstance(exc, json.JSONDecodeError):
        return IncompleteResponseError(f"the API's response body is not valid JSON: {message}")
    if isinstance(exc, UnicodeEncodeError):  # the request's text cannot be sent as UTF-8
        return MessageFormatError(
            f"the messages contain text that cannot be encoded as UTF-8 ({exc.reason} at "
            f"position {exc.start}: {exc.object[exc.start : exc.end]!r}); remove lone surrogates"
        )
    return APIError(f"{type(exc).__name__}: {message}")

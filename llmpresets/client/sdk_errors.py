"""The one boundary where SDK and transport errors become llmpresets errors.

Every call into the openai SDK (a request, or reading a stream) runs inside
:func:`sdk_errors`; it translates what the SDK raises into the tree drawn in
:mod:`llmpresets._errors` and chains the original with ``raise ... from exc``. The API key is
scrubbed (:mod:`llmpresets.client.secrets`: whole, partial, case-changed or masked) from the
message and from every exception in the chain, and from exceptions that pass through
untranslated (a user transport's own errors).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import httpx2
import openai

from .._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigError,
    IncompleteResponseError,
    LLMPresetsError,
    MessageFormatError,
    RateLimitError,
)
from .secrets import scrub, scrub_exception

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
    except BaseException as exc:
        # Anything else (ours, a user transport's own exception, Ctrl-C) leaves as it is, but
        # never with the key in it.
        scrub_exception(exc, secret)
        raise


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
    scrub_exception(exc, secret)
    message = scrub(str(exc), secret)
    if isinstance(exc, openai.APITimeoutError):
        return APITimeoutError(f"the request timed out: {message}")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f" ({type(cause).__name__}: {scrub(str(cause), secret)})" if cause else ""
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
        detail = scrub(_status_message(exc), secret)
        return error_class(f"HTTP {status}: {detail}{suffix}", status_code=status)
    if isinstance(exc, openai.APIError):
        return APIError(f"the API reported an error: {message}")
    if isinstance(exc, json.JSONDecodeError):
        return IncompleteResponseError(f"the API's response body is not valid JSON: {message}")
    if isinstance(exc, UnicodeEncodeError) and exc.encoding != "utf-8":
        # Headers are ASCII (or Latin-1): the key, or a header value, has a character they lack.
        return ConfigError(
            f"the API key or a header value has a character HTTP headers cannot carry "
            f"({exc.reason}); check OPENAI_API_KEY / api_key= and default_headers for "
            "pasted non-ASCII characters",
            field="api_key",
        )
    if isinstance(exc, UnicodeEncodeError):  # the request's text cannot be sent as UTF-8
        return MessageFormatError(
            f"the messages contain text that cannot be encoded as UTF-8 ({exc.reason} at "
            f"position {exc.start}: {exc.object[exc.start : exc.end]!r}); remove lone surrogates"
        )
    return APIError(f"{type(exc).__name__}: {message}")

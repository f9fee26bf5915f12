"""The API key never leaves the library: whole, partial, case-changed or masked, on any path."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmpresets
from llmpresets import Client
from llmpresets.client.secrets import scrub, scrub_exception

KEY = "sk-proj-Zq81mXv02LkTt7Rw5Yb9Hc4Np6Ds3Fa"
MESSAGES = [{"role": "user", "content": "Say hello"}]


def echoes(key: str) -> list[str]:
    """Ways a server or a proxy has been seen to echo a key back."""
    return [
        key,
        key.upper(),
        key.lower(),
        key[5:21],  # a slice
        key[-12:],  # the tail
        key[:8] + "*" * 20 + key[-4:],  # OpenAI's mask
        key[:3] + "..." + key[-4:],
        key[:7] + "\u2026" + key[-2:] + "**",
        f"Bearer {key}",
    ]


def leaked(text: str, key: str = KEY) -> list[str]:
    """Every piece of the key (8+ chars, any case) or its masked tail visible in ``text``."""
    folded = text.casefold()
    pieces = [key[i : i + 8] for i in range(len(key) - 7)]
    found = [piece for piece in pieces if piece.casefold() in folded]
    found += [tail for tail in (key[-4:],) if tail.casefold() in folded]
    return found


def render(exc: BaseException) -> str:
    """Everything a user could see of an exception: str, repr and the printed traceback."""
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


# --------------------------------------------------------------------------- scrub()


@settings(max_examples=200, deadline=None)
@given(
    key=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=60
    ),
    start=st.integers(min_value=0, max_value=60),
    length=st.integers(min_value=8, max_value=60),
    upper=st.booleans(),
    prefix=st.text(max_size=20),
    suffix=st.text(max_size=20),
)
def test_any_slice_of_eight_or_more_in_any_case_is_removed(
    key: str, start: int, length: int, upper: bool, prefix: str, suffix: str
) -> None:
    """Whatever the key and the slice of it, in any case and any surroundings, none survives."""
    piece = key[start : start + length]
    if len(piece) < 8:
        piece = key
    if upper:
        piece = piece.upper()
    cleaned = scrub(f"{prefix}{piece}{suffix}", key)
    assert piece.casefold() not in cleaned.casefold()


@pytest.mark.parametrize("echo", echoes(KEY))
def test_each_kind_of_echo_is_removed(echo: str) -> None:
    """Whole, cased, sliced, masked and Bearer echoes all go; the text around them stays."""
    cleaned = scrub(f"Incorrect API key provided: {echo}. See the docs.", KEY)
    assert leaked(cleaned) == []
    assert cleaned.startswith("Incorrect API key provided: ")
    assert cleaned.endswith("See the docs.") or cleaned.endswith("[redacted]")


def test_unrelated_text_is_left_alone() -> None:
    """Short common pieces (under 8 characters, no mask) are not the key."""
    text = "model gpt-4o, sk- prefix, 2024-08-06, ****, ... and Yb9H"
    assert scrub(text, KEY) == text


def _chained() -> KeyError:
    """A KeyError raised from a RuntimeError (with a body) while handling a ValueError."""
    try:
        try:
            raise ValueError(f"inner {KEY.upper()}")
        except ValueError as inner:
            error = RuntimeError({"header": f"Bearer {KEY}"})
            error.body = {"error": {"message": KEY[4:30]}}  # type: ignore[attr-defined]
            raise error from inner
    except RuntimeError as outer:
        try:
            raise KeyError("outer") from outer
        except KeyError as top:
            return top
    raise AssertionError("unreachable")


def test_chained_exceptions_are_scrubbed_everywhere() -> None:
    """__cause__ and __context__, args and attributes: the printed traceback is clean."""
    top = _chained()
    scrub_exception(top, KEY)
    assert leaked(render(top)) == []
    assert top.__cause__ is not None
    assert leaked(json.dumps(top.__cause__.body)) == []  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- the client


class Script(httpx2.BaseTransport):
    """A user's transport answering every request with one scripted behaviour."""

    def __init__(self, step: Callable[[httpx2.Request], httpx2.Response]) -> None:
        self.step = step

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return self.step(request)


def _error_body(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


def _paths(echo: str) -> Iterator[tuple[str, Callable[[httpx2.Request], httpx2.Response]]]:
    yield "401", lambda r: httpx2.Response(401, json=_error_body(f"Incorrect API key: {echo}"))
    yield (
        "400 param",
        lambda r: httpx2.Response(400, json={"error": {"message": "x", "param": echo}}),
    )
    yield "429", lambda r: httpx2.Response(429, json=_error_body(echo))
    yield "500 text", lambda r: httpx2.Response(500, text=f"proxy failed for {echo}")
    yield "200 not json", lambda r: httpx2.Response(200, text=f"<html>{echo}</html>")
    yield "200 wrong shape", lambda r: httpx2.Response(200, json={"choices": echo})

    def connect_error(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError(f"refused, {echo}", request=request)

    def foreign_error(request: httpx2.Request) -> httpx2.Response:
        # A user transport's own exception, quoting the request headers.
        raise RuntimeError(f"cannot send {dict(request.headers)!r}; key {echo}")

    def lookup_error(request: httpx2.Request) -> httpx2.Response:
        raise KeyError(request.headers["authorization"].upper())

    yield "connect", connect_error
    yield "foreign", foreign_error
    yield "foreign KeyError", lookup_error


CASES = [(name, echo, step) for echo in echoes(KEY) for name, step in _paths(echo)]


@pytest.mark.parametrize(
    ("name", "echo", "step"), CASES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]
)
@pytest.mark.parametrize("stream", [False, True])
def test_no_error_path_shows_the_key(
    name: str,
    echo: str,
    step: Callable[[httpx2.Request], httpx2.Response],
    stream: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every error the client raises, on every path, renders without any piece of the key."""
    monkeypatch.setattr("openai._base_client.time.sleep", lambda seconds: None)
    client = Client(
        "gpt-4o", api_key=KEY, transport=Script(step), max_retries=0, unsupported_params="silent"
    )
    call = (lambda: list(client.stream(MESSAGES))) if stream else (lambda: client.chat(MESSAGES))
    with pytest.raises(BaseException) as caught:  # noqa: PT011 - every type is checked below
        call()
    assert isinstance(caught.value, (llmpresets.LLMPresetsError, RuntimeError, KeyError))
    assert leaked(render(caught.value)) == []
    assert leaked(repr(client)) == []


def test_a_non_ascii_key_is_blamed_on_the_key_not_the_messages() -> None:
    """A key with a pasted non-ASCII character is a ConfigError naming the key, scrubbed."""
    key = KEY[:20] + "\u2019" + KEY[20:]
    client = Client("gpt-4o", api_key=key, transport=Script(lambda r: httpx2.Response(200)))
    with pytest.raises(llmpresets.ConfigError, match="API key") as caught:
        client.chat(MESSAGES)
    assert "messages" not in str(caught.value)
    assert leaked(render(caught.value), key) == []


@pytest.mark.parametrize("key", ["REDACTED", "xx[redacted]yy", "[redacted][removed]"])
def test_a_key_that_spells_the_marker_is_still_removed(key: str) -> None:
    """A key holding the marker's own letters is replaced by another marker, so no slice of
    it survives (hypothesis found "REDACTED")."""
    cleaned = scrub(f"the key {key} leaked", key)
    assert [piece for piece in leaked(cleaned, key) if len(piece) >= 8] == []
    assert cleaned.startswith("the key ") and cleaned.endswith(" leaked")

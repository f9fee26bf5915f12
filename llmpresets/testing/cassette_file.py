"""The cassette file: recorded exchanges as readable YAML, how requests match, and scrubbing.

A cassette is a YAML file (``version: 1``, ``interactions: [...]``), one field per line, that
a reviewer can read and diff. Each interaction holds:

- ``request``: ``method``, ``path`` (the URL path, e.g. ``/v1/chat/completions``; host, port
  and query string are not kept) and ``body`` (parsed JSON, or ``text``). No header is kept.
- ``response``: ``status``, the ``headers`` worth replaying (:data:`KEPT_HEADERS`: the content
  type, ``x-request-id``, ``openai-processing-ms``, ``openai-version``, the rate-limit headers,
  ``retry-after``, ``x-should-retry``) and either
  ``body`` (parsed JSON, with ``json_style`` saying how it was written, so the replayed bytes
  are the recorded bytes) or ``text`` / ``base64`` when re-writing the JSON would not give the
  same bytes; or, for a stream, ``stream``: one entry per chunk as the client received it,
  ``t`` (seconds after the request was sent) and the chunk as ``data`` (parsed JSON, with its
  ``event`` name if it had one; the stream's ``json_style`` says how it was written), or
  ``text`` / ``base64``.

**Matching** (:func:`request_key`): method, path, and the JSON body normalised: key order does
not matter; every run of whitespace in a string is one space and leading and trailing
whitespace is ignored; a whole-valued float equals the integer (``1.0`` is ``1``); the fields
in :data:`IGNORED_FIELDS` are left out (ids that only link a conversation, wherever they
occur: ``id``, ``tool_call_id``, ``call_id``; and, at the top of the body,
``previous_response_id`` and the fields that only route, cache or tag a request: ``user``,
``metadata``, ``prompt_cache_key``, ``safety_identifier``, ``service_tier``, ``store``).
Everything else (model, messages or input, tools, tool choice, response format or
``text.format``, sampling settings, ``stream``, ``stream_options``, ``n``, ``seed``,
``max_tokens``...) must match. Headers (keys, idempotency keys) never take part.

**Scrubbing** (:func:`scrub_data`): every string written is scrubbed of each secret the
requests carried (``Authorization`` / ``api-key``, ``OpenAI-Organization``,
``OpenAI-Project``) and of ``OPENAI_API_KEY``, ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID`` and
``AZURE_OPENAI_API_KEY`` (values of 8 characters or more): whole, in part (any 8 characters
in a row) or masked as OpenAI's 401 echoes a key (:func:`llmpresets.client.secrets.scrub`);
then the written text is checked once more and not written if any piece of a secret is still
in it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .._errors import ConfigError
from ..client.secrets import MIN_FRAGMENT, scrub

__all__ = [
    "IGNORED_FIELDS",
    "IGNORED_IDS",
    "KEPT_HEADERS",
    "Chunk",
    "Exchange",
    "describe_request",
    "dump_cassette",
    "load_cassette",
    "request_key",
    "scrub_data",
    "secrets_of",
]

VERSION = 1
IGNORED_IDS = frozenset({"id", "tool_call_id", "call_id"})  # wherever they occur
IGNORED_FIELDS = IGNORED_IDS | frozenset(  # at the top of a body
    {
        "previous_response_id",
        "user",
        "metadata",
        "prompt_cache_key",
        "safety_identifier",
        "service_tier",
        "store",
    }
)
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "x-request-id",
        "openai-processing-ms",
        "openai-version",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
    }
)
_KEPT_PREFIXES = ("x-ratelimit-",)
_SECRET_HEADERS = ("authorization", "api-key", "openai-organization", "openai-project")
_SECRET_VARIABLES = ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "AZURE_OPENAI_API_KEY")
# Values a test puts where a key goes; too common as words to scrub from replies.
_PLACEHOLDERS = frozenset({"", "offline", "test", "dummy", "fake", "none", "empty", "sk-test"})

# How a JSON text may have been written: (name, json.dumps keywords).
_JSON_STYLES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("compact", {"separators": (",", ":"), "ensure_ascii": False}),
    ("compact-ascii", {"separators": (",", ":"), "ensure_ascii": True}),
    ("spaced", {"separators": (", ", ": "), "ensure_ascii": False}),
    ("spaced-ascii", {"separators": (", ", ": "), "ensure_ascii": True}),
    ("indented", {"indent": 2, "ensure_ascii": False}),
    ("indented-ascii", {"indent": 2, "ensure_ascii": True}),
)
_STYLE_KEYWORDS = dict(_JSON_STYLES)
_NEWLINE = "+newline"
_EVENT = re.compile(r"(?:event: ([^\n]*)\n)?data: ([^\n]*)\n\n", re.DOTALL)


@dataclass
class Chunk:
    """One piece of a streamed body as the client received it, ``t`` seconds after sending."""

    t: float
    data: bytes


@dataclass
class Exchange:
    """One recorded request and its response (``content`` for a whole body, or ``chunks``)."""

    method: str
    path: str
    body: bytes
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    content: bytes | None = None
    chunks: list[Chunk] | None = None

    @property
    def key(self) -> str:
        return request_key(self.method, self.path, self.body)


# ---------------------------------------------------------------------- matching


def request_key(method: str, path: str, body: bytes) -> str:
    """What a request is matched on: method, path and the normalised body (module docstring).

    >>> a = request_key("POST", "/v1/chat/completions", b'{"model": "m", "user": "u1"}')
    >>> a == request_key("post", "/v1/chat/completions/", b'{"model":"m","user":"u2"}')
    True
    """
    parsed = _parse_json(body)
    if isinstance(parsed, dict):
        parsed = {key: value for key, value in parsed.items() if key not in IGNORED_FIELDS}
    normal = _normalise(parsed) if parsed is not _NOT_JSON else body.decode("utf-8", "replace")
    return json.dumps(
        [method.upper(), path.rstrip("/") or "/", normal], sort_keys=True, ensure_ascii=False
    )


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items() if key not in IGNORED_IDS}
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def describe_request(method: str, path: str, body: bytes) -> str:
    """A short description for messages: ``POST /v1/chat/completions (model gpt-4o, ...)``.

    >>> describe_request("POST", "/v1/chat/completions",
    ...     b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi there"}]}')
    "POST /v1/chat/completions (model 'gpt-4o', last message 'Hi there')"
    """
    parsed = _parse_json(body)
    details: list[str] = []
    if isinstance(parsed, dict):
        if "model" in parsed:
            details.append(f"model {parsed['model']!r}")
        last = _last_text(parsed.get("messages") if "messages" in parsed else parsed.get("input"))
        if last is not None:
            shown = " ".join(last.split())
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            details.append(f"last message {shown!r}")
        if parsed.get("stream"):
            details.append("streamed")
    return f"{method.upper()} {path}" + (f" ({', '.join(details)})" if details else "")


def _last_text(messages: Any) -> str | None:
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list) or not messages:
        return None
    content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [part.get("text") for part in content if isinstance(part, dict)]
        return " ".join(text for text in texts if isinstance(text, str)) or None
    return None


# ---------------------------------------------------------------------- secrets


def secrets_of(headers: Iterable[tuple[str, str]]) -> set[str]:
    """The secrets a request carries, and those of the environment.

    Values shorter than 8 characters and placeholders (``offline``, ``test``...) are not
    keys: scrubbing them would cut ordinary words out of the replies.
    """
    found: set[str] = set()
    for name, value in headers:
        if name.lower() in _SECRET_HEADERS:
            value = value.strip()
            if name.lower() == "authorization" and value.lower().startswith("bearer "):
                value = value[7:].strip()
            found.add(value)
    found.update(os.environ.get(variable, "") for variable in _SECRET_VARIABLES)
    return {
        secret
        for secret in found
        if len(secret) >= MIN_FRAGMENT and secret.strip().lower() not in _PLACEHOLDERS
    }


def scrub_data(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (JSON-like) with every string, keys included, scrubbed of every secret."""
    ordered = sorted(secrets, key=len, reverse=True)
    if not ordered:
        return value

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            for secret in ordered:
                item = scrub(item, secret)
            return item
        if isinstance(item, dict):
            return {clean(key): clean(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [clean(inner) for inner in item]
        return item

    return clean(value)


def _leaks(text: str, secrets: Iterable[str]) -> bool:
    folded = text.casefold()
    for secret in secrets:
        piece = secret.casefold()
        if len(piece) < MIN_FRAGMENT:
            if piece in folded:
                return True
            continue
        if any(piece[i : i + MIN_FRAGMENT] in folded for i in range(len(piece) - 7)):
            return True
    return False


# ---------------------------------------------------------------------- writing


def dump_cassette(exchanges: Iterable[Exchange], path: Path, secrets: Iterable[str]) -> None:
    """Write ``exchanges`` to ``path`` (atomically), scrubbed; refuse if a secret remains."""
    secrets = set(secrets)
    data = {
        "version": VERSION,
        "interactions": [scrub_data(_interaction(exchange), secrets) for exchange in exchanges],
    }
    text = _HEADER + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    if yaml.safe_load(text) != data:  # a string YAML would not give back exactly: plain JSON
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if _leaks(text, secrets):
        raise RuntimeError(
            f"cassette {path}: a secret survived scrubbing; the file was not written"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_HEADER = (
    "# llmpresets cassette: recorded exchanges replayed by llmpresets.Cassette.\n"
    "# Secrets are scrubbed; requests match on method, path and the normalised body\n"
    "# (see docs/testing.md, 'Recording and replaying real replies').\n"
)


def _interaction(exchange: Exchange) -> dict[str, Any]:
    request: dict[str, Any] = {"method": exchange.method, "path": exchange.path}
    if exchange.body:
        parsed = _parse_json(exchange.body)
        if parsed is not _NOT_JSON:
            request["body"] = parsed
        else:
            request.update(_as_text(exchange.body))
    response: dict[str, Any] = {"status": exchange.status}
    headers = {
        name.lower(): value
        for name, value in exchange.headers
        if name.lower() in KEPT_HEADERS or name.lower().startswith(_KEPT_PREFIXES)
    }
    if headers:
        response["headers"] = headers
    if exchange.chunks is not None:
        entries = [_chunk_entry(chunk) for chunk in exchange.chunks]
        styles = {entry.get("json_style") for entry in entries if "data" in entry}
        if len(styles) == 1:  # said once for the stream, not on every chunk
            response["json_style"] = styles.pop()
            for entry in entries:
                entry.pop("json_style", None)
        response["stream"] = entries
    elif exchange.content is not None:
        response.update(_body_entry(exchange.content))
    return {"request": request, "response": response}


def _body_entry(content: bytes) -> dict[str, Any]:
    parsed = _parse_json(content)
    if parsed is not _NOT_JSON:
        style = _json_style(parsed, content)
        if style is not None:
            return {"body": parsed, "json_style": style}
    return _as_text(content)


def _chunk_entry(chunk: Chunk) -> dict[str, Any]:
    entry: dict[str, Any] = {"t": round(chunk.t, 4)}
    try:
        text = chunk.data.decode("utf-8")
    except UnicodeDecodeError:
        entry["base64"] = base64.b64encode(chunk.data).decode("ascii")
        return entry
    match = _EVENT.fullmatch(text)
    if match is not None:
        event, payload = match.groups()
        parsed = _parse_json(payload.encode())
        style = _json_style(parsed, payload.encode()) if parsed is not _NOT_JSON else None
        if style is not None and _NEWLINE not in style:
            if event is not None:
                entry["event"] = event
            entry["data"] = parsed
            entry["json_style"] = style
            return entry
    entry["text"] = text
    return entry


def _json_style(parsed: Any, raw: bytes) -> str | None:
    """The name of the way ``raw`` was written, if re-writing ``parsed`` gives it back."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    for name, keywords in _JSON_STYLES:
        written = json.dumps(parsed, **keywords)
        if written == text:
            return name
        if written + "\n" == text:
            return name + _NEWLINE
    return None


def _as_text(content: bytes) -> dict[str, str]:
    try:
        return {"text": content.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(content).decode("ascii")}


class _Dumper(yaml.SafeDumper):
    """SafeDumper writing multi-line strings as ``|`` blocks (YAML falls back when it must)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.rstrip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


# ---------------------------------------------------------------------- reading


def load_cassette(path: Path) -> list[Exchange]:
    """The exchanges of the cassette at ``path``; ConfigError names the file and the entry."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"cassette {path}: not valid YAML ({getattr(exc, 'problem', exc)})",
            file=str(path),
            line=mark.line + 1 if mark is not None else None,
        ) from None
    except OSError as exc:
        message = f"cassette {path}: cannot read it ({exc.strerror})"
        raise ConfigError(message, file=str(path)) from None
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("interactions", []), list):
        raise ConfigError(
            f"cassette {path}: expected a mapping with 'interactions: [...]'", file=str(path)
        )
    if data.get("version", VERSION) != VERSION:
        raise ConfigError(
            f"cassette {path}: version {data.get('version')!r} is not supported; allowed: "
            f"{VERSION}",
            file=str(path),
            field="version",
        )
    exchanges = []
    for index, entry in enumerate(data.get("interactions") or []):
        try:
            exchanges.append(_exchange(entry))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"cassette {path}: interactions[{index}] is malformed ({exc!r}); expected "
                "request: {method, path, body} and response: {status, body | stream}",
                file=str(path),
                field=f"interactions[{index}]",
            ) from None
    return exchanges


def _loader() -> type[yaml.SafeLoader]:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _exchange(entry: Mapping[str, Any]) -> Exchange:
    request, response = entry["request"], entry["response"]
    if "body" in request:
        body = json.dumps(request["body"], ensure_ascii=False).encode()
    else:
        body = _from_text(request)
    exchange = Exchange(
        method=str(request["method"]).upper(),
        path=str(request["path"]),
        body=body,
        status=int(response["status"]),
        headers=[(str(k), str(v)) for k, v in (response.get("headers") or {}).items()],
    )
    if "stream" in response:
        exchange.chunks = [
            Chunk(float(item.get("t", 0.0)), _chunk_bytes(item, response.get("json_style")))
            for item in response["stream"]
        ]
    elif "body" in response:
        exchange.content = _write_json(response["body"], response.get("json_style", "compact"))
    else:
        exchange.content = _from_text(response)
    return exchange


def _chunk_bytes(item: Mapping[str, Any], stream_style: str | None) -> bytes:
    if "data" in item:
        payload = _write_json(item["data"], item.get("json_style", stream_style or "compact"))
        event = f"event: {item['event']}\n".encode() if "event" in item else b""
        return event + b"data: " + payload + b"\n\n"
    return _from_text(item)


def _write_json(value: Any, style: str) -> bytes:
    name, newline, _ = style.partition(_NEWLINE)
    if name not in _STYLE_KEYWORDS:
        raise ValueError(f"json_style {style!r}; allowed: {', '.join(_STYLE_KEYWORDS)}")
    text = json.dumps(value, **_STYLE_KEYWORDS[name]) + ("\n" if newline else "")
    return text.encode()


def _from_text(entry: Mapping[str, Any]) -> bytes:
    if "base64" in entry:
        return base64.b64decode(entry["base64"])
    return str(entry.get("text", "")).encode()


class _NotJson:
    """The marker for a body that is not JSON."""


_NOT_JSON: Any = _NotJson()


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return _NOT_JSON
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON

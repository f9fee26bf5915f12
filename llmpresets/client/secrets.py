"""Scrubbing an API key from text and exceptions, whole or in part.

A server, a proxy or a user's transport may echo the key back: whole, upper-cased, cut to a
slice, or masked the way OpenAI's 401 does (``sk-proj-****...**78**``). :func:`scrub` removes:

* every run of :data:`MIN_FRAGMENT` (8) or more characters that also occurs in the key, in any
  case, widened to the whole word it sits in (the rest of that word is the key's too, or noise);
* every masked form: a word with a mask (``***``, ``...``, ``…``, ``••``) whose visible parts
  all occur in the key and show at least two of its characters, or start with its prefix.

:func:`scrub_exception` applies it to an exception and to every exception chained to it
(``__cause__``, ``__context__``, groups): its ``args``, its string attributes (``message``,
``body``, ``doc``, ``object``, ...) and notes, so ``str``, ``repr`` and a printed traceback are
clean. The client's SDK error boundary (:mod:`llmpresets.client.sdk_errors`) calls both.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from .._cache import memoize

__all__ = ["MIN_FRAGMENT", "REDACTED", "scrub", "scrub_exception", "scrub_value"]

MIN_FRAGMENT = 8
REDACTED = "[redacted]"

# A "word" that may hold a key: the characters keys are made of, plus mask characters.
_WORD = re.compile(r"[A-Za-z0-9_\-*.\u2026\u2022]+")
_MASK = re.compile(r"\*{2,}|\.{2,}|\u2026|\u2022{2,}")
_NESTING_LIMIT = 20  # dicts/lists inside an exception's attributes; deeper is left as it is


# One pattern per key in use (a client has one): about 13 KB compiled for a 168-character key,
# so the budget keeps about 20.
@memoize("API-key fragment patterns", budget=256 * 1024)
def _fragments(secret: str) -> re.Pattern[str] | None:
    """A case-insensitive pattern matching any MIN_FRAGMENT-long slice of ``secret``."""
    if len(secret) < MIN_FRAGMENT:
        return re.compile(re.escape(secret), re.IGNORECASE) if secret else None
    grams = {secret[i : i + MIN_FRAGMENT].casefold() for i in range(len(secret) - 7)}
    return re.compile("|".join(map(re.escape, sorted(grams))), re.IGNORECASE)


def _is_masked_key(word: str, secret_folded: str) -> bool:
    if not _MASK.search(word):
        return False
    visible = [part.strip(".*").casefold() for part in _MASK.split(word) if part.strip(".*")]
    if not visible or not all(part in secret_folded for part in visible):
        return False
    shown = sum(len(part) for part in visible)
    starts_like_key = len(visible[0]) >= 3 and secret_folded.startswith(visible[0])
    return shown >= 2 and (starts_like_key or shown >= 4)


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every whole, partial, case-changed or masked echo of ``secret`` removed.

    >>> key = "sk-proj-Abc123Def456Ghi789"
    >>> scrub("bad key SK-PROJ-ABC123DEF456GHI789 and ghi789 is fine", key)
    'bad key [redacted] and ghi789 is fine'
    >>> scrub("Incorrect API key provided: sk-proj-***********i789.", key)
    'Incorrect API key provided: [redacted]'
    >>> scrub("a slice: 123Def456G!", key)
    'a slice: [redacted]!'
    """
    if not secret or not text:
        return text
    pattern = _fragments(secret)
    if pattern is None:
        return text
    marker = _marker(pattern)
    # Positions inside a fragment of the key, then widened to whole words.
    spans = [match.span() for match in pattern.finditer(text)]
    folded = secret.casefold()
    pieces: list[str] = []
    position = 0
    span_index = 0
    for word in _WORD.finditer(text):
        start, end = word.span()
        while span_index < len(spans) and spans[span_index][1] <= start:
            span_index += 1
        hit = span_index < len(spans) and spans[span_index][0] < end
        if hit or _is_masked_key(word.group(), folded):
            pieces += [text[position:start], marker]
            position = end
    if not pieces:
        # No word matched; a fragment may still span characters outside the word alphabet.
        return pattern.sub(marker, text)
    pieces.append(text[position:])
    return pattern.sub(marker, "".join(pieces))


def _marker(pattern: re.Pattern[str]) -> str:
    """REDACTED, unless the key itself holds a slice of it (a key such as "REDACTED..."):
    then a marker that says nothing of the key."""
    for marker in (REDACTED, "[removed]", "[hidden]"):
        if not pattern.search(marker):
            return marker
    return "***"


def scrub_value(value: Any, secret: str | None, _depth: int = 0) -> Any:
    """``value`` with strings scrubbed, looking inside dicts, lists and tuples."""
    if not secret or _depth > _NESTING_LIMIT:
        return value
    if isinstance(value, str):
        return scrub(value, secret)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", "replace")
        cleaned = scrub(text, secret)
        return value if cleaned == text else cleaned.encode()
    if isinstance(value, dict):
        return {key: scrub_value(item, secret, _depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_value(item, secret, _depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(scrub_value(item, secret, _depth + 1) for item in value)
    return value


# Attributes of built-in exceptions that hold text but are not in __dict__.
_BUILTIN_TEXT = ("object", "doc", "msg", "strerror", "filename", "filename2", "reason", "text")


def scrub_exception(exc: BaseException, secret: str | None) -> None:
    """Scrub ``secret`` from ``exc`` and every exception chained to it, in place."""
    if not secret:
        return
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        _scrub_one(current, secret)
        pending += [current.__cause__, current.__context__]
        pending += list(getattr(current, "exceptions", ()) or ())


def _scrub_one(exc: BaseException, secret: str) -> None:
    with contextlib.suppress(Exception):
        exc.args = tuple(scrub_value(arg, secret) for arg in exc.args)
    names = [*vars(exc), *_BUILTIN_TEXT] if hasattr(exc, "__dict__") else list(_BUILTIN_TEXT)
    for name in names:
        value = getattr(exc, name, None)
        if isinstance(value, (str, bytes, bytearray, dict, list, tuple)):
            cleaned = scrub_value(value, secret)
            if cleaned != value:
                # Some attributes are read-only (or typed, like UnicodeError.object): then the
                # args above are what str() and repr() show.
                with contextlib.suppress(Exception):
                    setattr(exc, name, cleaned)

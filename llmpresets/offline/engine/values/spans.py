"""Typed spans of a conversation: the values a reply may repeat (identifiers, names, places...).

:func:`conversation_spans` reads a request's messages (system, developer, user and tool turns;
the model's own turns are left out) and returns :class:`Span` records: a span's ``kind``, its
JSON ``value``, the words around it that say what it is (``cues``: "order" before A-10293,
"years old" after 42, a label such as ``email:``), how much its turn weighs (the latest user
turn and the tool results after it most, the system prompt least) and where it stood.

Kinds: ``email``, ``url``, ``date`` (ISO ``YYYY-MM-DD``; the text as written is kept in
``text``), ``datetime``, ``time`` (19:30), ``phone``, ``identifier`` (letters and digits
mixed: A-10293, ORD-5512, or digits after "order #"), ``code`` (capitals: USD, NVDA),
``state`` (shipped, pending), ``number``, ``person``, ``place``, ``proper`` (a capitalised
phrase neither of those), ``quoted``, ``labeled`` (``key: value`` in a message, or a scalar
of a tool result's JSON: its key is the cue), ``boolean`` (a tool result's), ``list`` (items
after a label or a cue: "tags: a, b and c").

Reading is bounded: each message is read up to :data:`TEXT_LIMIT` characters (its end, which
holds the question, is kept), at most :data:`SPAN_LIMIT` spans per conversation, and every
regex is linear (no nested repetition). The answer is kept per conversation text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...._cache import BoundedCache
from ....tokens.messages import content_text
from .lexicon import (
    FIRST_NAMES,
    HONORIFICS,
    PLACE_NAMES,
    PLACE_PREPOSITIONS,
    SENTENCE_WORDS,
    STATE_WORDS,
)

__all__ = [
    "SPAN_LIMIT",
    "TEXT_LIMIT",
    "Span",
    "clear_spans",
    "conversation_spans",
    "message_texts",
    "words",
]

TEXT_LIMIT = 8000  # characters read per message
SPAN_LIMIT = 400  # spans per conversation
_CONVERSATION_LIMIT = 40  # messages read, the latest

# Turn weights (added to a span's score, in nats).
LATEST_WEIGHT = 1.0
TOOL_WEIGHT = 1.2
EARLIER_WEIGHT = 0.3
SYSTEM_WEIGHT = -0.5


@dataclass(frozen=True)
class Span:
    """One typed value of the conversation."""

    kind: str
    value: Any  # the JSON value a field takes (a str, int, float, bool or list)
    text: str  # as written
    cues: frozenset[str]  # lower-case words that say what it is (label, neighbours)
    weight: float  # its turn's weight
    order: int  # position in the conversation (earlier first)
    label: str = ""  # the key of a ``key: value`` line or of a tool result's JSON
    lead: frozenset[str] = frozenset()  # the (up to two) words right before it: "from", "to"


# --------------------------------------------------------------------------- patterns
# Every pattern is linear: bounded repetitions, no nested quantifiers over the same text.

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}")
_URL = re.compile(r"\bhttps?://[^\s<>\"'`)\]]{1,2000}")
_DATETIME = re.compile(
    r"\b(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2})?"
)
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?(?:\s?([AaPp])\.?[Mm]\.?)?(?!\d)")
_ISO_DATE = re.compile(r"\b(\d{4})[-/](\d{1,2})[-/](\d{1,2})\b")
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH = r"(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|" + (
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE_MDY = re.compile(_MONTH + r"\s{1,3}(\d{1,2})(?:st|nd|rd|th)?,?\s{1,3}(\d{4})\b")
_DATE_DMY = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s{1,3}" + _MONTH + r",?\s{1,3}(\d{4})\b")
_US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_PHONE = re.compile(r"(?<![\w+])\+?\d{1,3}?[ .-]?\(?\d{2,4}\)?[ .-]\d{3,4}[ .-]\d{3,4}\b")
_IDENTIFIER = re.compile(r"(?<![\w@/.-])#?[A-Za-z0-9]{1,20}(?:[-_][A-Za-z0-9]{1,20}){0,4}(?![\w@])")
_NUMBER = re.compile(
    r"(?<![\w.])[-+]?[$€£]?\d{1,3}(?:,\d{3}){1,5}(?:\.\d+)?|[-+]?[$€£]?\d{1,15}(?:\.\d{1,10})?"
)
_QUOTED = re.compile(r"\"([^\"\n]{1,200})\"|“([^”\n]{1,200})”|(?<![\w])'([^'\n]{1,200})'(?![\w])")
_LABELED = re.compile(
    r"(?m)(?:^|[,;(]\s?|\b)([A-Za-z][A-Za-z _-]{0,28}[A-Za-z])\s{0,2}[:=]\s{0,3}([^\n,;]{1,200})"
)
_CAPITALISED = re.compile(
    r"\b[A-Z][a-zA-Z'’-]{0,30}(?:\s(?:[A-Z][a-zA-Z'’-]{0,30}|de|da|van|von|del|la|le)){0,3}\b"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{0,40}")
_CODE = re.compile(r"\b[A-Z]{2,5}\b")
_STATE = re.compile(r"\b[a-z]{4,20}\b")
_LIST_CUE = re.compile(
    r"(?i)\b(tags?|keywords?|labels?|topics?|skills?|interests?|hobbies|likes|enjoys|"
    r"loves|items?|ingredients|languages?|categories|includes?|including)\b\s{0,2}[:=]?\s{0,2}"
)
_LIST_ITEM = re.compile(r"[^,;.\n]{1,60}")
_SENTENCE_END = re.compile(r"[.!?\n]")


def words(text: str) -> list[str]:
    """The lower-case words of ``text`` (snake_case and camelCase split)."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text).replace("_", " ").replace("-", " ")
    return [word.lower() for word in _WORD.findall(spaced)]


def message_texts(messages: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, str]]:
    """``(role, weight, text)`` of the messages a reply may copy from, oldest first: system
    and developer turns, user turns (the latest weighs most) and tool results (those after
    the latest user turn weigh most). Each text is at most :data:`TEXT_LIMIT` characters."""
    latest_user = max(
        (index for index, message in enumerate(messages) if message.get("role") == "user"),
        default=-1,
    )
    start = max(0, len(messages) - _CONVERSATION_LIMIT)
    found: list[tuple[str, float, str]] = []
    for index in range(start, len(messages)):
        message = messages[index]
        role = message.get("role")
        if role not in ("system", "developer", "user", "tool"):
            continue
        text = content_text(message.get("content"), lenient=True)
        if len(text) > TEXT_LIMIT:
            text = text[-TEXT_LIMIT:]
        if role == "user":
            weight = LATEST_WEIGHT if index == latest_user else EARLIER_WEIGHT
        elif role == "tool":
            weight = TOOL_WEIGHT if index > latest_user else EARLIER_WEIGHT
        else:
            weight = SYSTEM_WEIGHT
        found.append((str(role), weight, text))
    return found


_spans: BoundedCache[tuple[tuple[str, float, str], ...], tuple[Span, ...]] = BoundedCache(
    "conversation spans", 8 << 20
)


def clear_spans() -> None:
    """Forget the spans kept per conversation (benchmarks read a new conversation's cost)."""
    _spans.clear()


def conversation_spans(messages: Sequence[Mapping[str, Any]]) -> tuple[Span, ...]:
    """The typed spans of ``messages`` (see the module docstring), kept per conversation.

    >>> [(s.kind, s.value) for s in conversation_spans(
    ...     [{"role": "user", "content": "Where is my order A-10293?"}])]
    [('identifier', 'A-10293')]
    """
    texts = tuple(message_texts(messages))
    known = _spans.get(texts)
    if known is not None:
        return known
    spans: list[Span] = []
    for role, weight, text in texts:
        if len(spans) >= SPAN_LIMIT:
            break
        if role == "tool" and _read_json(text, weight, len(spans), spans):
            continue
        if role in ("system", "developer") and _looks_like_schema(text):
            continue  # a format written out (20a's readers use it), not the user's values
        spans.extend(_text_spans(text, weight, len(spans)))
    found = tuple(spans[:SPAN_LIMIT])
    _spans.put(texts, found, sum(len(text) for _, _, text in texts) * 2 + 200 * len(found) + 200)
    return found


def _looks_like_schema(text: str) -> bool:
    return '"properties"' in text or '"$defs"' in text or '"type": "object"' in text


def _read_json(text: str, weight: float, order: int, spans: list[Span]) -> bool:
    """A tool result that is JSON: its scalars as labelled spans. False when not JSON."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        data = json.loads(stripped)
    except ValueError:
        return False
    budget = [SPAN_LIMIT // 2]

    def walk(value: Any, label: str, depth: int) -> None:
        if budget[0] <= 0 or depth > 6:
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, str(key), depth + 1)
        elif isinstance(value, list):
            if value and all(isinstance(item, str | int | float) for item in value):
                spans.append(
                    Span(
                        "list",
                        list(value)[:20],
                        json.dumps(value),
                        _cue_set(label),
                        weight,
                        order + len(spans),
                        label,
                    )
                )
                budget[0] -= 1
            for item in value[:20]:
                walk(item, label, depth + 1)
        elif isinstance(value, bool):
            spans.append(
                Span(
                    "boolean",
                    value,
                    str(value).lower(),
                    _cue_set(label),
                    weight,
                    order + len(spans),
                    label,
                )
            )
            budget[0] -= 1
        elif isinstance(value, int | float) or (isinstance(value, str) and value):
            for span in _classify(str(value), value, weight, order + len(spans)):
                spans.append(
                    Span(
                        "labeled",
                        span.value,
                        span.text,
                        span.cues | _cue_set(label),
                        weight,
                        span.order,
                        label,
                    )
                )
                if span.kind != "quoted":
                    spans.append(
                        Span(
                            span.kind,
                            span.value,
                            span.text,
                            span.cues | _cue_set(label),
                            weight,
                            span.order,
                            label,
                        )
                    )
            budget[0] -= 1

    walk(data, "", 0)
    return True


def _cue_set(label: str) -> frozenset[str]:
    return frozenset(words(label))


def _classify(text: str, raw: Any, weight: float, order: int) -> list[Span]:
    """A labelled value's own kind (a number, an email...) and its text."""
    if isinstance(raw, bool):
        return [Span("boolean", raw, text, frozenset(), weight, order)]
    if isinstance(raw, int | float):
        return [Span("number", raw, text, frozenset(), weight, order)]
    inner = _text_spans(text, weight, order)
    whole = [span for span in inner if span.text == text.strip()]
    if whole:
        return whole[:1]
    return [Span("quoted", text.strip(), text.strip(), frozenset(), weight, order)]


def _text_spans(text: str, weight: float, order: int) -> list[Span]:
    """The spans of one message's text, in the order they stand."""
    found: list[tuple[int, int, str, Any, str]] = []  # (start, end, kind, value, label)
    taken = bytearray(len(text))

    def claim(start: int, end: int, kind: str, value: Any, label: str = "") -> None:
        if any(taken[start:end]):
            return
        taken[start:end] = b"\x01" * (end - start)
        found.append((start, end, kind, value, label))

    for match in _EMAIL.finditer(text):
        claim(match.start(), match.end(), "email", match.group())
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:!?")
        claim(match.start(), match.start() + len(url), "url", url)
    for match in _DATETIME.finditer(text):
        claim(match.start(), match.end(), "datetime", match.group().replace(" ", "T"))
    for pattern, order_of in ((_ISO_DATE, (0, 1, 2)), (_US_DATE, (2, 0, 1))):
        for match in pattern.finditer(text):
            year, month, day = (int(match.group(1 + i)) for i in order_of)
            if 1 <= month <= 12 and 1 <= day <= 31:
                claim(match.start(), match.end(), "date", f"{year:04d}-{month:02d}-{day:02d}")
    for match in _DATE_MDY.finditer(text):
        month = _month(match.group(1))
        day, year = int(match.group(2)), int(match.group(3))
        if month and 1 <= day <= 31:
            claim(match.start(), match.end(), "date", f"{year:04d}-{month:02d}-{day:02d}")
    for match in _DATE_DMY.finditer(text):
        month = _month(match.group(2))
        day, year = int(match.group(1)), int(match.group(3))
        if month and 1 <= day <= 31:
            claim(match.start(), match.end(), "date", f"{year:04d}-{month:02d}-{day:02d}")
    for match in _TIME.finditer(text):
        claim(match.start(), match.end(), "time", match.group())
    for match in _PHONE.finditer(text):
        digits = sum(char.isdigit() for char in match.group())
        if 7 <= digits <= 15:
            claim(match.start(), match.end(), "phone", match.group().strip())
    for match in _QUOTED.finditer(text):
        inner = next(group for group in match.groups() if group is not None)
        if text[match.end() : match.end() + 1] != ":":  # a JSON key is not a value
            found.append((match.start(), match.end(), "quoted", inner.strip(), ""))
    for match in _IDENTIFIER.finditer(text):
        token = match.group()
        bare = token.lstrip("#")
        has_digit = any(char.isdigit() for char in bare)
        has_alpha = any(char.isalpha() for char in bare)
        before = text[max(0, match.start() - 24) : match.start()].lower()
        id_cue = token.startswith("#") or re.search(
            r"(order|ticket|invoice|id|number|no\.?|ref|reference|account|case|tracking)\W{0,3}$",
            before,
        )
        if len(bare) >= 3 and has_digit and (has_alpha or id_cue) and not _is_ordinal(bare):
            claim(match.start(), match.end(), "identifier", bare)
    for match in _NUMBER.finditer(text):
        raw = match.group()
        number = _number(raw)
        if number is not None:
            claim(match.start(), match.end(), "number", number)
    for match in _CODE.finditer(text):
        if match.group().lower() not in SENTENCE_WORDS:
            claim(match.start(), match.end(), "code", match.group())
    _names(text, claim)
    for match in _STATE.finditer(text):
        word = match.group()
        if word in STATE_WORDS or (word.endswith("ed") and len(word) >= 6):
            claim(match.start(), match.end(), "state", word)
    for match in _LABELED.finditer(text):
        label, value = match.group(1).strip(), match.group(2).strip().rstrip(".!?")
        if value and len(words(label)) <= 4:
            found.append((match.start(2), match.start(2) + len(value), "labeled", value, label))
    for match in _LIST_CUE.finditer(text):
        items = _list_items(text, match.end())
        if len(items) >= 2:
            cue = match.group(1).lower()
            found.append((match.start(), match.end(), "list", items, cue))
    found.sort(key=lambda item: (item[0], item[1]))
    spans: list[Span] = []
    for start, end, kind, value, label in found:
        cues = _cues(text, start, end) | _cue_set(label)
        lead = frozenset(words(re.split(r"[.!?\n]", text[max(0, start - 24) : start])[-1])[-2:])
        shown = text[start:end]
        if kind in ("labeled", "list"):
            shown = value if isinstance(value, str) else shown
        spans.append(Span(kind, value, shown, cues, weight, order + len(spans), label, lead))
        # A labelled value is also its own kind ("email: a@b.co" is an email).
        if kind == "labeled":
            for inner in _classify(value, value, weight, order + len(spans)):
                if inner.kind not in ("quoted", "labeled"):
                    spans.append(
                        Span(
                            inner.kind,
                            inner.value,
                            inner.text,
                            cues,
                            weight,
                            inner.order,
                            label,
                            lead,
                        )
                    )
    return spans


def _names(text: str, claim: Any) -> None:
    """Capitalised phrases as ``person``, ``place`` or ``proper`` spans."""
    for match in _CAPITALISED.finditer(text):
        phrase = match.group().rstrip("'’")
        parts = phrase.split()
        start = match.start()
        # A sentence's first word is capitalised anyway: drop it when it is an ordinary word.
        while parts and parts[0].lower() in SENTENCE_WORDS:
            start += len(parts[0]) + 1
            parts = parts[1:]
        while parts and parts[-1].lower() in SENTENCE_WORDS:
            parts = parts[:-1]
        if not parts:
            continue
        phrase = " ".join(parts)
        end = start + len(phrase)
        before = text[max(0, start - 20) : start].lower().split()
        previous = before[-1] if before else ""
        first = parts[0].lower()
        if phrase.lower() in PLACE_NAMES or (
            previous in PLACE_PREPOSITIONS and first not in FIRST_NAMES
        ):
            kind = "place"
        elif (
            first in FIRST_NAMES
            or previous in HONORIFICS
            or (
                len(parts) >= 2
                and all(part[:1].isupper() for part in parts)
                and phrase.lower() not in PLACE_NAMES
            )
        ):
            kind = "person"
        else:
            kind = "proper"
        if len(phrase) >= 2:
            claim(start, end, kind, phrase)


def _list_items(text: str, start: int) -> list[str]:
    """Items of a list that starts at ``start``: "a, b and c" up to the sentence's end."""
    end_match = _SENTENCE_END.search(text, start)
    end = end_match.start() if end_match else min(len(text), start + 400)
    chunk = text[start : min(end, start + 400)]
    parts = re.split(r",|;|\band\b|\bor\b|&", chunk)
    items = []
    for part in parts:
        item = part.strip().strip("\"'").strip()
        if item and len(item) <= 60 and len(item.split()) <= 4:
            items.append(item)
    return items[:12]


def _cues(text: str, start: int, end: int) -> frozenset[str]:
    """Up to three words either side of a span (within its sentence)."""
    before = text[max(0, start - 40) : start]
    after = text[end : end + 30]
    before = re.split(r"[.!?\n]", before)[-1]
    after = re.split(r"[.!?\n]", after)[0]
    return frozenset(words(before)[-3:] + words(after)[:3])


def _month(name: str) -> int:
    prefix = name.lower().rstrip(".")[:3]
    for index, month in enumerate(_MONTHS, start=1):
        if month.startswith(prefix):
            return index
    return 0


def _is_ordinal(token: str) -> bool:
    return bool(re.fullmatch(r"\d{1,4}(st|nd|rd|th|s|am|pm|k|m|kg|km|cm|mm|g|h)", token.lower()))


def _number(raw: str) -> int | float | None:
    cleaned = raw.replace(",", "").lstrip("$€£+")
    if raw.startswith("-"):
        cleaned = "-" + cleaned.lstrip("-$€£")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    if "." not in cleaned and abs(value) < 2**53:
        return int(value)
    return value

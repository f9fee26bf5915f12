"""Which span of the conversation fits a JSON field: the field read from its schema, scored.

:func:`describe` reads a field's schema (``$ref``, ``anyOf`` / ``oneOf`` / ``allOf`` and
nullable types resolved) into a :class:`Field`: its name's words, the classes they say
(:data:`~.lexicon.FIELD_CLASSES`: ``city`` is a place, ``order_id`` an identifier), its JSON
types, ``format``, ``enum``, string length bounds and, for an array, its items.
:func:`candidates` scores each span of the conversation for the field, in nats:

- the span's kind against what the field holds (:data:`KIND_SCORES`; a ``format`` admits only
  its own kinds, a number field only numbers, a string field no booleans);
- the words around the span (its label, its neighbours) that the field's name shares
  (``CUE_BONUS`` each, up to two; units count for numbers: "42 years old" is an ``age``);
- its turn's weight (the latest user turn and the tool results after it most);
- ``REUSE_PENALTY`` when another field of the reply already took the same value;
- ``ORDER_PENALTY`` per value before it in the conversation (up to three): of two values alike,
  the first named is likelier.

An ``enum`` field's candidates are its values, scored by whether the conversation names them
(or words that point at them, :data:`~.lexicon.LABEL_HINTS`). Values are deduplicated (the
best score kept) and sorted best first, earlier spans first on a tie. A field with nothing
better than :data:`NONE_SCORE` is left to the JSON prior.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .lexicon import COUNTRY_NAMES, FIELD_CLASSES, FIELD_CUES, LABEL_HINTS, PREPOSITIONS, UNIT_CUES
from .spans import Span, words

__all__ = [
    "CUE_BONUS",
    "KIND_SCORES",
    "NONE_SCORE",
    "ORDER_PENALTY",
    "REUSE_PENALTY",
    "Candidate",
    "Field",
    "candidates",
    "describe",
    "enum_candidates",
    "value_key",
]

NONE_SCORE = 1.0  # the JSON prior's own draw, as a candidate's score
CUE_BONUS = 2.5
REUSE_PENALTY = 3.0
ORDER_PENALTY = 0.5
_MAX_DEPTH = 12

# How well a span kind fits a field class (classes from the field's name; "" = no class).
KIND_SCORES: dict[str, dict[str, float]] = {
    "person": {"person": 3.0, "proper": 1.5, "labeled": 0.5, "quoted": 0.5},
    "place": {"place": 3.0, "proper": 1.5, "labeled": 0.5, "quoted": 0.5},
    "email": {"email": 4.0},
    "url": {"url": 4.0},
    "date": {"date": 4.0, "datetime": 1.5},
    "datetime": {"datetime": 4.0, "date": 1.5},
    "time": {"time": 4.0, "datetime": 1.0},
    "phone": {"phone": 4.0},
    "identifier": {"identifier": 3.5, "code": 1.5, "number": 0.5, "quoted": 0.5, "labeled": 0.5},
    "code": {"code": 3.0, "identifier": 1.0, "quoted": 0.5},
    "status": {"state": 3.0, "labeled": 1.0, "quoted": 0.5},
    "number": {"number": 2.0},
    "text": {"quoted": 3.0, "labeled": 0.5, "proper": 0.5, "topic": 2.0, "sentence": 0.5},
    "list": {"list": 3.0},
    "": {
        "labeled": 0.5,
        "quoted": 1.0,
        "proper": 0.6,
        "person": 0.6,
        "place": 0.6,
        "identifier": 0.6,
        "code": 0.6,
        "number": 1.5,
        "email": 0.3,
        "url": 0.3,
        "date": 0.3,
        "time": 0.3,
    },
}
_FORMAT_KINDS = {
    "email": ("email",),
    "idn-email": ("email",),
    "uri": ("url",),
    "url": ("url",),
    "iri": ("url",),
    "uri-reference": ("url",),
    "date": ("date",),
    "date-time": ("datetime",),
}
_LAST_NAME_WORDS = frozenset({"last", "surname", "family"})
_STRICT_CLASSES = frozenset({"email", "url", "date", "datetime", "phone", "time"})
_ADDRESSEE_WORDS = frozenset({"to", "from", "cc", "bcc", "recipient", "recipients", "sender"})
_MAIL_WORDS = frozenset({"email", "mail", "emails", "message"})
_PERSON_QUALIFIERS = (FIELD_CLASSES["person"] - {"name"}) | {"given", "middle", "display"}


@dataclass(frozen=True)
class Field:
    """A JSON field as the value reader sees it."""

    name: str
    name_words: frozenset[str]
    description_words: frozenset[str]
    classes: frozenset[str]
    types: frozenset[str]
    format: str | None = None
    enum: tuple[Any, ...] | None = None
    items: Field | None = None
    max_items: int | None = None
    min_items: int = 0
    min_length: int = 0
    max_length: int | None = None
    required: bool = False

    @property
    def holds_text(self) -> bool:
        return "string" in self.types or not self.types


@dataclass(frozen=True)
class Candidate:
    """A value a field may take, and its score (nats)."""

    value: Any
    score: float
    order: int = 0


def value_key(value: Any) -> str:
    """A value as compact JSON (how used and excluded values are compared)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


# --------------------------------------------------------------------------- fields


def resolve(schema: Any, root: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """``schema`` with a local ``$ref`` followed and ``allOf`` merged (a dict, maybe empty)."""
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        merged = dict(resolve(target, root, depth + 1))
        merged.update({key: value for key, value in schema.items() if key != "$ref"})
        return merged
    result = dict(schema)
    for part in schema.get("allOf") or ():
        for key, value in resolve(part, root, depth + 1).items():
            result.setdefault(key, value)
    return result


def branches(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The non-null branches of ``anyOf`` / ``oneOf`` (or the schema itself)."""
    options = schema.get("anyOf") or schema.get("oneOf")
    if not isinstance(options, list):
        return [dict(schema)]
    found = [resolve(option, root) for option in options]
    return [option for option in found if option.get("type") != "null"] or found


def describe(
    schema: Any,
    name: str,
    root: Mapping[str, Any],
    *,
    required: bool = False,
    depth: int = 0,
    context: frozenset[str] = frozenset(),
) -> Field:
    """The :class:`Field` of ``schema`` named ``name`` (see the module docstring);
    ``context``: words of what holds it (a tool's name: ``to`` of ``send_email`` is an
    email address)."""
    node = resolve(schema, root)
    options = branches(node, root)
    types: set[str] = set()
    fmt = enum = items_schema = max_items = max_length = None
    min_length = min_items = 0
    description = str(node.get("description") or node.get("title") or "")
    for option in options:
        kind = option.get("type")
        if isinstance(kind, str):
            types.add(kind)
        elif isinstance(kind, list):
            types.update(str(item) for item in kind if item != "null")
        if "enum" in option and isinstance(option["enum"], list):
            enum = tuple(option["enum"])
        if "const" in option:
            enum = (option["const"],)
        if "properties" in option:
            types.add("object")
        if "items" in option:
            types.add("array")
            items_schema = option["items"]
            max_items = option.get("maxItems")
            if isinstance(option.get("minItems"), int):
                min_items = option["minItems"]
        fmt = fmt or option.get("format")
        if isinstance(option.get("minLength"), int):
            min_length = option["minLength"]
        if isinstance(option.get("maxLength"), int):
            max_length = option["maxLength"]
        description = description or str(option.get("description") or "")
    types.discard("null")
    name_words = frozenset(words(name))
    singular = frozenset(_singular(word) for word in name_words)
    items = None
    if items_schema is not None and depth < _MAX_DEPTH:
        items = describe(items_schema, name, root, depth=depth + 1, context=context)
    classes = {
        cls for cls, vocabulary in FIELD_CLASSES.items() if (name_words | singular) & vocabulary
    }
    if "name" in name_words and name_words - {"name"} and not name_words & _PERSON_QUALIFIERS:
        classes.discard("person")  # "city_name", "product_name": the other word's thing
    if name_words & _ADDRESSEE_WORDS and context & _MAIL_WORDS:
        classes = {"email"}
    if "id" in name_words or name.lower().endswith("id"):
        classes = {"identifier"} | (classes & {"email"})
    if fmt in _FORMAT_KINDS:
        classes = {
            {"email": "email", "url": "url", "date": "date", "datetime": "datetime"}[
                _FORMAT_KINDS[fmt][0]
            ]
        }
    return Field(
        name=name,
        name_words=name_words | singular,
        description_words=frozenset(words(description)[:40]),
        classes=frozenset(classes),
        types=frozenset(types),
        format=fmt if isinstance(fmt, str) else None,
        enum=enum,
        items=items,
        max_items=max_items if isinstance(max_items, int) else None,
        min_items=min_items,
        min_length=min_length,
        max_length=max_length if isinstance(max_length, int) else None,
        required=required,
    )


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


# --------------------------------------------------------------------------- scoring


def candidates(
    field: Field,
    spans: Iterable[Span],
    *,
    used: frozenset[str] | set[str] = frozenset(),
    exclude: frozenset[str] | set[str] = frozenset(),
    latest_text: str = "",
) -> list[Candidate]:
    """The values ``field`` may take from ``spans``, best first (see the module docstring).

    ``used``: values other fields of the reply took (penalised); ``exclude``: values it must
    not take (earlier calls of the same tool); ``latest_text``: the latest user turn (an
    enum's values and a text field's sentence are read from it)."""
    if field.enum is not None:
        found = enum_candidates(field.enum, latest_text, field)
    elif "array" in field.types and field.items is not None:
        found = _array_candidates(field, spans)
    elif field.types == frozenset({"boolean"}):
        found = [*_boolean_candidates(field, latest_text)] + [
            Candidate(span.value, score + span.weight, span.order)
            for span in spans
            if span.kind == "boolean" and (score := _score(field, span)) is not None
        ]
    else:
        found = []
        for span in spans:
            score = _score(field, span)
            if score is None:
                continue
            value = _as_field_value(field, span)
            if value is None:
                continue
            found.append(Candidate(value, score + span.weight, span.order))
        if "text" in field.classes and latest_text and field.holds_text:
            scores = KIND_SCORES["text"]
            sentence = _sentence(latest_text)
            topic = _topic(sentence)
            if topic:
                found.append(Candidate(topic, scores["topic"] + 1.0, 1 << 29))
            if sentence:
                found.append(Candidate(sentence, scores["sentence"] + 1.0, 1 << 30))
    best: dict[str, Candidate] = {}
    for candidate in found:
        key = value_key(candidate.value)
        if key in exclude:
            continue
        score = candidate.score - (REUSE_PENALTY if key in used else 0.0)
        known = best.get(key)
        if known is None or score > known.score:
            best[key] = Candidate(
                candidate.value,
                score,
                min(candidate.order, known.order) if known else candidate.order,
            )
    # Of values alike, the one the conversation gives first is likelier ("Paris and Rome").
    ranked = sorted(best.values(), key=lambda item: item.order)
    ranked = [
        Candidate(item.value, item.score - ORDER_PENALTY * min(rank, 3), item.order)
        for rank, item in enumerate(ranked)
    ]
    return sorted(ranked, key=lambda item: (-item.score, item.order))


def enum_candidates(
    values: Iterable[Any], text: str, field: Field | None = None
) -> list[Candidate]:
    """An enum's (or a label set's) values scored by how the text names them: the value
    itself (as a word or phrase), then words that point at it (:data:`LABEL_HINTS`)."""
    lowered = text.lower()
    text_words = set(words(text))
    found = []
    for order, value in enumerate(values):
        label = str(value).lower()
        score = 0.0
        if label and re.search(r"(?<![a-z0-9])" + re.escape(label) + r"(?![a-z0-9])", lowered):
            score = 4.0
        elif len(label) >= 4 and any(
            word.startswith(label[:5]) or label.startswith(word[:5])
            for word in text_words
            if len(word) >= 4
        ):
            score = 3.0
        else:
            hints = LABEL_HINTS.get(label, frozenset())
            shared = len(hints & text_words)
            if shared:
                score = 1.5 + 0.5 * min(shared, 3)
        if score:
            found.append(Candidate(value, score + 1.0, order))
    return found


def _score(field: Field, span: Span) -> float | None:
    """A span's fit for a field (None: it cannot fill it), before its turn's weight."""
    if span.kind in ("list", "boolean") and "boolean" not in field.types:
        return None
    kinds = _FORMAT_KINDS.get(field.format or "")
    if kinds is not None and span.kind not in kinds:
        return None
    numeric = field.types & {"integer", "number"}
    if numeric and not field.holds_text:
        if span.kind != "number":
            return None
        if "integer" in numeric and "number" not in numeric and not float(span.value).is_integer():
            return None
    elif "boolean" in field.types and not field.holds_text:
        return (
            2.0 + _cue_score(field, span)
            if span.kind == "boolean" and _cue_score(field, span)
            else None
        )
    elif not field.holds_text:
        return None
    if field.max_length is not None and len(span.text) > field.max_length:
        return None
    classes = field.classes or frozenset({""})
    base = max(KIND_SCORES[cls].get(span.kind, -math.inf) for cls in classes)
    cue = _cue_score(field, span)
    if not field.types and not field.classes and not cue:
        return None  # a key of free JSON that says nothing of its value
    if base == -math.inf:
        if not cue or classes & _STRICT_CLASSES:
            return None  # an email field takes an email, whatever words stand near a number
        base = 0.0
    if span.kind == "place" and field.name_words & {"country", "city", "town"}:
        is_country = str(span.value).lower() in COUNTRY_NAMES
        base += (1.0 if is_country else -1.5) * (1 if "country" in field.name_words else -1)
    if span.kind == "number" and numeric:
        base += _unit_score(field, span)
        value = float(span.value)
        if 1900 <= value <= 2100 and "year" not in field.name_words and value.is_integer():
            base -= 1.0  # a year, most likely, unless the field wants one
    return base + cue


def _cue_score(field: Field, span: Span) -> float:
    """``CUE_BONUS`` per field word among the span's cues (label and neighbours), up to two;
    a preposition ("from", "to"), or a word that implies one (``origin``), counts only right
    before the span."""
    if not span.cues:
        return 0.0
    shared = 0
    for word in field.name_words:
        implied = FIELD_CUES.get(word)
        if implied is not None and implied & span.lead:
            shared += 1
        elif word in PREPOSITIONS:
            shared += word in span.lead
        elif word in span.cues or (
            len(word) >= 4 and any(cue.startswith(word[:5]) for cue in span.cues if len(cue) >= 4)
        ):
            shared += 1
    if not shared:
        shared = len(field.description_words & span.cues & _content(field.description_words)) and 1
        return 0.5 * CUE_BONUS * shared
    label_bonus = 1.0 if span.label and frozenset(words(span.label)) <= field.name_words else 0.0
    return CUE_BONUS * min(shared, 2) + label_bonus


def _content(description: frozenset[str]) -> frozenset[str]:
    return frozenset(word for word in description if len(word) >= 4)


def _unit_score(field: Field, span: Span) -> float:
    for word in field.name_words:
        cues = UNIT_CUES.get(word)
        if cues and cues & span.cues:
            return CUE_BONUS
    return 0.0


def _as_field_value(field: Field, span: Span) -> Any:
    """The span's value in the field's type (None: it has none)."""
    value = span.value
    if field.holds_text:
        if isinstance(value, bool):
            return None
        text = value if isinstance(value, str) else span.text
        if "person" in field.classes and isinstance(text, str) and " " in text:
            parts = text.split()
            if "first" in field.name_words:
                text = parts[0]
            elif field.name_words & _LAST_NAME_WORDS:
                text = parts[-1]
        if len(text) < field.min_length:
            return None
        return text
    if field.types & {"integer", "number"} and isinstance(value, int | float):
        if "integer" in field.types and "number" not in field.types:
            return int(value)
        return value
    if "boolean" in field.types and isinstance(value, bool):
        return value
    return None


def _array_candidates(field: Field, spans: Iterable[Span]) -> list[Candidate]:
    """Items the conversation lists for an array field: a list span whose cue fits, or every
    span that fits the items (two or more)."""
    items = field.items
    assert items is not None
    limit = field.max_items or 8
    found: list[Candidate] = []
    fitting: list[tuple[float, int, Any]] = []
    for span in spans:
        if span.kind == "list":
            cue = _cue_score(field, span) or (1.0 if field.classes & {"list"} else 0.0)
            if cue:
                listed = [_item_value(items, item) for item in span.value]
                listed = [value for value in listed if value is not None][:limit]
                if listed:
                    found.append(Candidate(listed, 3.0 + cue + span.weight, span.order))
            continue
        if items.enum is not None or "object" in items.types:
            continue
        score = _score(items, span)
        value = _as_field_value(items, span) if score is not None else None
        if score is not None and value is not None and score >= 2.5 and items.classes:
            fitting.append((score + span.weight, span.order, value))
    if len(fitting) >= 1 and not found:
        values: list[Any] = []
        for _, _, value in sorted(fitting, key=lambda item: item[1]):
            if value not in values:
                values.append(value)
        found.append(
            Candidate(values[:limit], max(score for score, _, _ in fitting), fitting[0][1])
        )
    return found


def _item_value(items: Field, text: Any) -> Any:
    if items.holds_text:
        return str(text)
    if items.types & {"integer", "number"}:
        try:
            number = float(str(text).replace(",", ""))
        except ValueError:
            return None
        return int(number) if "integer" in items.types or number.is_integer() else number
    return None


_TOPIC = re.compile(
    r"\b(?:for|about|regarding|on)\s+((?:the\s+|a\s+|an\s+)?[^.,;!?\n]{2,80})[.!?]?$", re.I
)


def _topic(sentence: str) -> str:
    """What a search is for: the words after "for" / "about" ending the sentence (at most
    six words), as a query repeats them ("Search the docs for rate limits" -> "rate
    limits")."""
    match = _TOPIC.search(sentence)
    if match is None:
        return ""
    words_found = match.group(1).split()
    if words_found and words_found[0].lower() in ("the", "a", "an"):
        words_found = words_found[1:]
    if not words_found or len(words_found) > 6:
        return ""
    return " ".join(words_found)


_NEGATIONS = frozenset({"not", "no", "never", "isn't", "aren't", "wasn't", "don't", "doesn't"})


def _boolean_candidates(field: Field, text: str) -> list[Candidate]:
    """A yes/no field the latest turn speaks of: true where it names the field's word ("she
    is a member" for ``is_member``), false when a negation stands just before it."""
    said = words(text)
    content = [word for word in field.name_words if len(word) >= 4 and word not in ("true",)]
    for index, word in enumerate(said):
        if any(word.startswith(name[:5]) or name.startswith(word[:5]) for name in content):
            negated = bool(_NEGATIONS & set(said[max(0, index - 3) : index]))
            return [Candidate(not negated, 3.0, index)]
    return []


def _sentence(text: str) -> str:
    """The latest turn's first sentence, as a text field may repeat it (at most 200
    characters)."""
    stripped = text.strip()
    first = re.split(r"(?<=[.!?])\s|\n", stripped, maxsplit=1)[0].strip()
    return first[:200]

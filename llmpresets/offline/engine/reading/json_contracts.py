"""Readers of JSON contracts: a JSON Schema in the prompt, JSON with named keys, a JSON
example, "reply in JSON"; each in a ```json fence when the prompt asks for one.

- :func:`read_json_schema`: the last JSON object of the prompt that is a schema (it has
  ``properties``, ``$defs`` or an object / array ``type``), as instructor's ``Mode.JSON`` /
  ``MD_JSON``, pydantic-ai's ``PromptedOutput`` and langchain's ``PydanticOutputParser``
  write it (langchain shows an example schema first and the real one last);
- :func:`read_json_keys`: "reply in JSON with the keys city and temperature_c", "a JSON object
  with fields name, age and email": those keys, typed by their names;
- :func:`read_json_example`: a JSON object the prompt gives as the format ("in this format:
  {...}", "JSON like {...}"), typed by its values;
- :func:`read_json`: "reply in JSON", "JSON only": any JSON object.

A sentence that asks for a ```json code block (and does not say "not") fences the reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .contract import Contract, PromptText

__all__ = [
    "fenced",
    "json_objects",
    "keys_schema",
    "read_json",
    "read_json_example",
    "read_json_keys",
    "read_json_schema",
    "schema_of_example",
]

_OBJECT_STARTS = 64  # '{' positions tried per text (each a linear raw_decode)
_KEY_LIMIT = 40
_DECODER = json.JSONDecoder()
_JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


def json_objects(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects written in ``text`` (outermost only), with where each starts."""
    position, tried = 0, 0
    while tried < _OBJECT_STARTS:
        start = text.find("{", position)
        if start < 0:
            return
        tried += 1
        try:
            value, end = _DECODER.raw_decode(text, start)
        except ValueError:
            position = start + 1
            continue
        if isinstance(value, dict):
            yield start, value
        position = end


def _is_schema(value: Mapping[str, Any]) -> bool:
    properties = value.get("properties")
    if isinstance(properties, dict) and properties:
        return all(isinstance(child, dict) for child in properties.values())
    kind = value.get("type")
    if kind in ("object", "array") and ("items" in value or "$defs" in value):
        return True
    return isinstance(value.get("$defs"), dict) and any(
        key in value for key in ("$ref", "anyOf", "oneOf")
    )


def _keys(schema: Mapping[str, Any]) -> str:
    properties = schema.get("properties")
    if isinstance(properties, dict) and properties:
        return "keys=" + ",".join(list(properties)[:_KEY_LIMIT])
    return f"type={schema.get('type', 'any')}"


# --------------------------------------------------------------------------- fences

_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_FENCE_ASK = re.compile(
    r"```\s*json|\bjson\s+code\s*block|\bmarkdown\s+code\s*block|\bcode\s*block"
)
_NEGATION = re.compile(r"\b(?:not|no|don't|do not|never|without)\b")


def fenced(text: PromptText) -> bool:
    """Whether the prompt asks for the JSON in a ```json code block (a sentence asking it
    that says no "not", "without"...)."""
    if "```" not in text.joined and "code" not in text.lower:
        return False
    for sentence in _SENTENCES.split(text.lower):
        if _FENCE_ASK.search(sentence) and not _NEGATION.search(sentence):
            return True
    return False


# --------------------------------------------------------------------------- readers


def read_json_schema(text: PromptText) -> Contract | None:
    """A JSON Schema written in the prompt (the last one: an example schema comes first)."""
    if '"properties"' not in text.joined and '"$defs"' not in text.joined:
        return None
    found: dict[str, Any] | None = None
    for _, value in json_objects(text.joined):
        if _is_schema(value):
            found = value
    if found is None:
        return None
    schema = {key: value for key, value in found.items() if key != "$schema"}
    if "properties" in schema and "type" not in schema:
        schema["type"] = "object"  # langchain's parser leaves it out: it means an object
    return Contract("json_schema", _keys(schema), schema=schema, fenced=fenced(text))


_IDENTIFIER = r"[`'\"]?[A-Za-z_][\w\-]{0,40}[`'\"]?"
_KEYS = re.compile(
    r"\bjson\b[^.\n{]{0,80}?\b(?:keys?|fields?|properties|attributes)\b"
    r"(?:\s+(?:named|called|of))?\s*:?\s*"
    rf"({_IDENTIFIER}(?:\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|/)\s*{_IDENTIFIER}){{0,39}})",
    re.IGNORECASE,
)
_KEYS_FIRST = re.compile(
    r"\b(?:keys?|fields?)\b\s*:?\s*"
    rf"({_IDENTIFIER}(?:\s*(?:,\s*(?:and\s+)?|\s+and\s+)\s*{_IDENTIFIER}){{1,39}})"
    r"[^.\n]{0,40}?\bjson\b",
    re.IGNORECASE,
)
_SPLIT_KEYS = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|/)\s*", re.IGNORECASE)
_NOT_KEYS = frozenset({"the", "a", "an", "with", "and", "or", "that", "which", "following"})

_NUMBER_NAMES = re.compile(
    r"(?:^|_)(?:age|count|number|num|total|amount|price|cost|quantity|qty|year|score|rating|"
    r"temperature|temp|celsius|fahrenheit|c|f|km|kg|percent|percentage|latitude|longitude|"
    r"lat|lon|lng|height|width|weight|size|length|duration|minutes|hours|days|seconds)(?:$|_)",
    re.IGNORECASE,
)
_BOOLEAN_NAMES = re.compile(r"^(?:is|has|can|should|was|will)_|^(?:ok|valid|success)$", re.I)
_ARRAY_NAMES = re.compile(r"(?:^|_)(?:tags|items|list|names|keywords|labels|steps|ideas)$", re.I)


def _type_for(key: str) -> dict[str, Any]:
    if _BOOLEAN_NAMES.search(key):
        return {"type": "boolean"}
    if _ARRAY_NAMES.search(key):
        return {"type": "array", "items": {"type": "string"}}
    if _NUMBER_NAMES.search(key):
        return {"type": "number"}
    return {"type": "string"}


def keys_schema(keys: list[str]) -> dict[str, Any]:
    """An object schema with ``keys``, each typed by its name (``age``: a number, ``tags``:
    strings, ``is_open``: a boolean, else a string), all required."""
    return {
        "type": "object",
        "properties": {key: _type_for(key) for key in keys},
        "required": list(keys),
        "additionalProperties": False,
    }


_INSTRUCTION = re.compile(
    r"\b(?:reply|respond|return|output|answer|give|provide|write|produce|format|generate|"
    r"create|include|use|must|should)\w*\b",
    re.IGNORECASE,
)


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence (or line) around ``text[start:end]``."""
    before = max(text.rfind(mark, 0, start) for mark in (". ", "\n", "? ", "! "))
    after = [at for at in (text.find(mark, end) for mark in (". ", "\n", "? ", "! ")) if at >= 0]
    return text[before + 1 : min(after) if after else len(text)]


def read_json_keys(text: PromptText) -> Contract | None:
    """JSON with the keys the prompt names ("reply in JSON with the keys a and b"), in a
    sentence that asks for it ("This JSON has the fields a and b" describes data)."""
    if "json" not in text.lower:
        return None
    match = _KEYS.search(text.joined) or _KEYS_FIRST.search(text.joined)
    if match is None or not _INSTRUCTION.search(_sentence(text.joined, *match.span())):
        return None
    keys: list[str] = []
    for part in _SPLIT_KEYS.split(match.group(1)):
        key = part.strip("`'\" ")
        if key and key.lower() not in _NOT_KEYS and key not in keys:
            keys.append(key)
    if not keys:
        return None
    schema = keys_schema(keys)
    return Contract("json_keys", _keys(schema), schema=schema, fenced=fenced(text))


def schema_of_example(value: Any, depth: int = 0) -> dict[str, Any]:
    """A schema every value shaped like ``value`` fits: its keys required, its types kept
    (an example's placeholder strings and numbers are not the values to give)."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if depth >= 6:
        return {}
    if isinstance(value, list):
        items = schema_of_example(value[0], depth + 1) if value else {"type": "string"}
        return {"type": "array", "items": items}
    if isinstance(value, dict):
        return {
            "type": "object",
            "properties": {
                key: schema_of_example(child, depth + 1)
                for key, child in list(value.items())[:_KEY_LIMIT]
            },
            "required": list(value)[:_KEY_LIMIT],
            "additionalProperties": False,
        }
    return {}


# An instruction about the reply's form just before the object (data the prompt hands over,
# "Here is the JSON data: {...}", is not a format).
_EXAMPLE_CUE = re.compile(
    r"\b(?:respond|reply|answer|return|output|format|structure|template|shape|schema|"
    r"like this|as follows|example|e\.g\.)[^{}]{0,120}$",
    re.IGNORECASE,
)


def read_json_example(text: PromptText) -> Contract | None:
    """The JSON object the prompt shows as the reply's format (the last one after a cue such
    as "JSON", "format", "like this")."""
    if "{" not in text.joined:
        return None
    found: dict[str, Any] | None = None
    for start, value in json_objects(text.joined):
        before = text.joined[max(0, start - 160) : start]
        if value and not _is_schema(value) and _EXAMPLE_CUE.search(before):
            found = value
    if found is None:
        return None
    schema = schema_of_example(found)
    return Contract("json_example", _keys(schema), schema=schema, fenced=fenced(text))


_JSON_ASK = re.compile(
    r"\b(?:respond|reply|answer|return|output|format|give|write|provide|produce)\w*\b"
    r"[^.\n]{0,60}?\b(?:in|as|with|using)\s+(?:a\s+|an\s+|valid\s+|only\s+|strict\s+)*json\b"
    r"|\bjson\s+only\b|\bonly\s+(?:valid\s+)?json\b",
    re.IGNORECASE,
)


def read_json(text: PromptText) -> Contract | None:
    """ "Reply in JSON" with nothing said of its keys: a JSON object."""
    if "json" not in text.lower or _JSON_ASK.search(text.joined) is None:
        return None
    return Contract("json", schema={"type": "object"}, fenced=fenced(text))

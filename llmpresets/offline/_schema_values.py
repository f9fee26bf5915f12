"""A JSON value valid for a JSON schema, drawn with a seeded RNG: tool-call arguments and
``json_schema`` / ``json_object`` text for the offline Responses backend.

Strings are taken from the words of the conversation's last user message (so a call to
``get_weather`` for "the weather in Paris" carries ``"Paris"``); numbers are drawn inside the
schema's bounds; enums, ``const``, arrays (within ``minItems`` / ``maxItems``), nested objects
(every required property, and every property under ``strict``), ``anyOf`` / ``oneOf`` and local
``$ref`` s into ``$defs`` are followed. Depth is bounded, so a recursive schema terminates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["schema_value"]

_MAX_DEPTH = 8
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_FILLER = ("value", "example", "sample")


def _words(text: str) -> list[str]:
    words = _WORD.findall(text)
    capitalised = [word for word in words[1:] if word[0].isupper()]
    return capitalised or words or list(_FILLER)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return target if isinstance(target, Mapping) else {}
    return schema


def schema_value(
    schema: Mapping[str, Any], rng: np.random.Generator, context_text: str = ""
) -> Any:
    """A value valid for ``schema`` (see the module docstring)."""
    return _value(schema, schema, rng, _words(context_text), 0)


def _value(
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    rng: np.random.Generator,
    words: list[str],
    depth: int,
) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][int(rng.integers(len(schema["enum"])))]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            # Prefer a branch that is not null, so values carry content.
            usable = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
            return _value(usable[0] if usable else options[0], root, rng, words, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        return _object(schema, root, rng, words, depth)
    if kind == "array":
        low = int(schema.get("minItems", 1))
        high = max(low, min(int(schema.get("maxItems", low + 1)), low + 2))
        count = int(rng.integers(low, high + 1))
        items = schema.get("items", {})
        if depth >= _MAX_DEPTH or not isinstance(items, Mapping):
            return [] if low == 0 else [None] * low
        return [_value(items, root, rng, words, depth + 1) for _ in range(count)]
    if kind == "integer":
        low = int(schema.get("minimum", 0))
        high = int(schema.get("maximum", max(low, 0) + 100))
        return int(rng.integers(low, high + 1)) if high >= low else low
    if kind == "number":
        floor = float(schema.get("minimum", 0.0))
        ceiling = float(schema.get("maximum", floor + 100.0))
        return round(float(rng.uniform(floor, ceiling)), 2) if ceiling > floor else floor
    if kind == "boolean":
        return bool(rng.integers(2))
    if kind == "null":
        return None
    return _string(schema, rng, words)


def _string(schema: Mapping[str, Any], rng: np.random.Generator, words: list[str]) -> str:
    text = words[int(rng.integers(len(words)))]
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    while len(text) < low:
        text += " " + words[int(rng.integers(len(words)))]
    if isinstance(high, int):
        text = text[:high]
    return text


def _object(
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    rng: np.random.Generator,
    words: list[str],
    depth: int,
) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping) or depth >= _MAX_DEPTH:
        return {}
    required = schema.get("required")
    names = (
        list(properties)
        if not isinstance(required, list)
        else [name for name in properties if name in required]
    )
    return {
        name: _value(properties[name], root, rng, words, depth + 1)
        for name in names
        if isinstance(properties[name], Mapping)
    }

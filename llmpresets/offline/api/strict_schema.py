"""OpenAI's structured-outputs rules for ``strict: true`` schemas, with the API's wording.

A strict schema (``response_format.json_schema.strict`` or a function tool's ``strict``) must:

- have an object at the root (``type: "object"``, not ``anyOf``);
- say ``additionalProperties: false`` on every object;
- list every property of every object in ``required`` (an optional field is spelled as a
  union with ``null``: ``"type": ["string", "null"]``);
- use only the supported keywords: ``type``, ``properties``, ``required``,
  ``additionalProperties``, ``items``, ``enum``, ``const``, ``anyOf``, ``$ref``, ``$defs`` /
  ``definitions``, ``description``, ``title``; for strings ``pattern`` and ``format``; for
  numbers ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``,
  ``multipleOf``; for arrays ``minItems`` and ``maxItems``. Anything else (``allOf``, ``not``,
  ``if``, ``minLength``, ``patternProperties``, ``uniqueItems``, ``default``...) is refused;
- nest at most :data:`MAX_DEPTH` levels and hold at most :data:`MAX_PROPERTIES` properties.

:func:`strict_problem` returns the API's sentence for the first rule broken (``None`` when the
schema is fine); the caller wraps it as ``Invalid schema for response_format 'NAME': ...`` or
``Invalid schema for function 'NAME': ...``.

>>> strict_problem({"type": "object", "properties": {"a": {"type": "string"}},
...                 "additionalProperties": False}).endswith("Missing 'a'.")
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..._cache import memoize

__all__ = ["MAX_DEPTH", "MAX_PROPERTIES", "as_strict", "root_problem", "strict_problem"]

MAX_DEPTH = 10
MAX_PROPERTIES = 5000

_ANY = frozenset(
    {
        "type",
        "description",
        "title",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "definitions",
        "properties",
        "required",
        "additionalProperties",
        "items",
    }
)
_BY_TYPE = {
    "string": frozenset({"pattern", "format"}),
    "number": frozenset(
        {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    ),
    "integer": frozenset(
        {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    ),
    "array": frozenset({"minItems", "maxItems"}),
}
_ALL_TYPED = frozenset().union(*_BY_TYPE.values())


def root_problem(schema: Mapping[str, Any]) -> str | None:
    """The API's sentence when a strict schema's root is not an object."""
    if "anyOf" in schema and "type" not in schema:
        return "Root objects must not be anyOf and must be an object"
    kind = schema.get("type")
    if kind != "object":
        shown = "null" if kind is None else kind
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{shown}\"'."
    return None


def strict_problem(schema: Mapping[str, Any]) -> str | None:
    """The first strict-mode rule ``schema`` breaks, in the API's words; None if none.

    Kept per schema text: an agent sends the same schemas with every request.
    """
    return _problem_of(json.dumps(schema, separators=(",", ":")))[1]


@memoize("strict schema problems", budget=4 << 20)
def _problem_of(text: str) -> tuple[str, str | None]:
    """The text of a schema (JSON, as read from a request body) and the first strict-mode rule
    it breaks.

    The text is returned beside the problem because a memoized function's cache measures its
    values and not its keys: held by both (one string), a large schema costs its bytes.
    """
    schema = json.loads(text)
    problem = root_problem(schema)
    if problem is None:
        problem = _check(schema, (), 0, [0])
    return text, problem


def as_strict(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """``schema`` normalized into strict mode, as the Responses API does for a function tool
    sent without ``strict``: every object gets ``additionalProperties: false`` (where it says
    nothing) and lists all its properties in ``required``. ``None`` when the result still
    breaks a strict rule (an unsupported keyword, say): the tool then stays non-strict.

    >>> as_strict({"type": "object", "properties": {"a": {"type": "string"}}})["required"]
    ['a']
    """
    normalized = _normalized(schema)
    if not isinstance(normalized, dict) or strict_problem(normalized) is not None:
        return None
    return normalized


def _normalized(node: Any) -> Any:
    if not isinstance(node, Mapping):
        return node
    result = dict(node)
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        result["properties"] = {name: _normalized(child) for name, child in properties.items()}
    if "object" in _types(node) or isinstance(properties, Mapping):
        result.setdefault("additionalProperties", False)
        result["required"] = list(properties or {})
    if isinstance(node.get("items"), Mapping):
        result["items"] = _normalized(node["items"])
    if isinstance(node.get("anyOf"), list):
        result["anyOf"] = [_normalized(option) for option in node["anyOf"]]
    for group in ("$defs", "definitions"):
        if isinstance(node.get(group), Mapping):
            result[group] = {name: _normalized(child) for name, child in node[group].items()}
    return result


def _context(path: tuple[str, ...]) -> str:
    return f"In context={path!r}"


def _types(node: Mapping[str, Any]) -> set[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {item for item in kind if isinstance(item, str)}
    return set()


def _check(node: Any, path: tuple[str, ...], depth: int, counter: list[int]) -> str | None:
    if not isinstance(node, Mapping):
        return f"{_context(path)}, schema must be an object."
    if depth > MAX_DEPTH:
        return f"{_context(path)}, schema nesting exceeds the maximum depth of {MAX_DEPTH}."
    types = _types(node)
    allowed = set(_ANY)
    for kind in types:
        allowed |= _BY_TYPE.get(kind, frozenset())
    if not types:  # a $ref / anyOf / enum node: keywords of any type may sit beside it
        allowed |= _ALL_TYPED
    for key in node:
        if key not in allowed:
            return f"{_context(path)}, '{key}' is not permitted."
    if "object" in types or "properties" in node:
        problem = _check_object(node, path, counter)
        if problem is not None:
            return problem
        for name, child in (node.get("properties") or {}).items():
            problem = _check(child, (*path, "properties", name), depth + 1, counter)
            if problem is not None:
                return problem
    if "array" in types:
        items = node.get("items")
        if items is None:
            return f"{_context(path)}, array schema missing items."
        problem = _check(items, (*path, "items"), depth + 1, counter)
        if problem is not None:
            return problem
    for index, option in enumerate(node.get("anyOf") or ()):
        problem = _check(option, (*path, "anyOf", str(index)), depth + 1, counter)
        if problem is not None:
            return problem
    for group in ("$defs", "definitions"):
        for name, child in (node.get(group) or {}).items():
            problem = _check(child, (*path, group, name), depth, counter)
            if problem is not None:
                return problem
    return None


def _check_object(node: Mapping[str, Any], path: tuple[str, ...], counter: list[int]) -> str | None:
    if node.get("additionalProperties") is not False:
        return (
            f"{_context(path)}, 'additionalProperties' is required to be supplied and to be false."
        )
    properties = node.get("properties") or {}
    if not isinstance(properties, Mapping):
        return f"{_context(path)}, 'properties' must be an object."
    counter[0] += len(properties)
    if counter[0] > MAX_PROPERTIES:
        return f"{_context(path)}, a schema may have at most {MAX_PROPERTIES} properties."
    required = node.get("required")
    listed = set(required) if isinstance(required, list) else set()
    missing = [name for name in properties if name not in listed]
    if missing or not isinstance(required, list):
        detail = f" Missing '{missing[0]}'." if missing else ""
        return (
            f"{_context(path)}, 'required' is required to be supplied and to be an array "
            f"including every key in properties.{detail}"
        )
    extra = [name for name in required if name not in properties]
    if extra:
        return f"{_context(path)}, Extra required key '{extra[0]}' supplied."
    return None

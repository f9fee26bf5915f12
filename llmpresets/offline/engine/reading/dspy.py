"""Readers of dspy's adapters: ChatAdapter's ``[[ ## field ## ]]`` markers, JSONAdapter's
object and XMLAdapter's tags, each with the typed output fields the system prompt lists.

dspy's system prompt says "Your output fields are:" and then, per field, ``{field}`` with a
note of its type ("must exactly match (no extra characters) one of: a; b", "must be a single
float value", "must be True or False", "must adhere to the JSON schema: {...}"); a field
without a note is text. Each field becomes a JSON Schema (:func:`output_fields`):

- ChatAdapter: ``[[ ## name ## ]]``, a line break, the value (text of one paragraph, a label,
  a number, ``True``/``False``, or JSON for its schema), a blank line, the next field, and the
  ``[[ ## completed ## ]]`` end marker;
- JSONAdapter: a JSON object with every output field, in order;
- XMLAdapter: ``<name>value</name>`` per field (a list as ``<item>`` elements).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from .contract import Contract, PromptText, lark_literal
from .json_contracts import json_objects

__all__ = ["output_fields", "read_dspy_chat", "read_dspy_json", "read_dspy_xml"]

_FIELD_LIMIT = 24
_FIELDS_AT = re.compile(r"Your output fields are:\n", re.IGNORECASE)
_FIELD_LINE = re.compile(r"^\d{1,2}\.\s+`([A-Za-z_]\w{0,60})`\s+\(([^\n]{0,400})\)", re.M)
_NOTE_ONE_OF = "must exactly match (no extra characters) one of: "
_NOTE_ENUM = "must be one of: "
_NOTE_SCHEMA = "must adhere to the JSON schema: "
_SCALAR_TYPES = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
}
# Free text of a field: one paragraph, bounded, without the bytes JSON and markers use
# (so the JSON shape prior reads the JSON values alone).
_TEXT = '/[^\\s\\[\\]{}"<>&][^\\n\\[\\]{}"<>&]{0,239}/'


def _note(text: str, name: str) -> str:
    """The note dspy writes after ``{name}`` in its structure section ("" when none)."""
    at = text.find("{" + name + "}")
    if at < 0:
        return ""
    line_end = text.find("\n", at)
    line = text[at : line_end if line_end >= 0 else len(text)]
    marker = line.find("# note: the value you produce ")
    return line[marker + len("# note: the value you produce ") :] if marker >= 0 else ""


def _field_schema(type_name: str, note: str) -> dict[str, Any]:
    if note.startswith(_NOTE_ONE_OF) or note.startswith(_NOTE_ENUM):
        listed = note.split(": ", 1)[1]
        return {"enum": [item.strip() for item in listed.split(";") if item.strip()]}
    if note.startswith(_NOTE_SCHEMA):
        for _, schema in json_objects(note):
            return schema
        return {}
    if note == "must be True or False":
        return {"type": "boolean"}
    if note.startswith("must be a single int"):
        return {"type": "integer"}
    if note.startswith("must be a single float"):
        return {"type": "number"}
    if type_name in _SCALAR_TYPES:
        return dict(_SCALAR_TYPES[type_name])
    if re.fullmatch(r"list\[(str|int|float)\]", type_name):
        return {"type": "array", "items": dict(_SCALAR_TYPES[type_name[5:-1]])}
    literal = re.fullmatch(r"Literal\[(.*)\]", type_name)
    if literal is not None:
        return {"enum": re.findall(r"'([^']*)'", literal.group(1))}
    return {"type": "string"}


def output_fields(text: PromptText) -> list[tuple[str, dict[str, Any]]] | None:
    """dspy's output fields, in order, each with its JSON Schema; None for another prompt."""
    for instruction in text.instructions:
        start = _FIELDS_AT.search(instruction)
        if start is None:
            continue
        end = instruction.find("All interactions will be structured", start.end())
        listing = instruction[start.end() : end if end >= 0 else len(instruction)]
        fields = [
            (
                match.group(1),
                _field_schema(match.group(2).strip(), _note(instruction, match.group(1))),
            )
            for match in _FIELD_LINE.finditer(listing)
        ][:_FIELD_LIMIT]
        if fields:
            return fields
    return None


def _is_text(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and len(schema) == 1


def _chat_value(schema: dict[str, Any]) -> str:
    if _is_text(schema):
        return "TEXT"
    if "enum" in schema and all(isinstance(item, str) for item in schema["enum"]):
        return "(" + " | ".join(lark_literal(item) for item in schema["enum"]) + ")"
    kind = schema.get("type")
    if kind == "integer" and len(schema) == 1:
        return "/-?[0-9]{1,6}/"
    if kind == "number" and len(schema) == 1:
        return "/-?[0-9]{1,6}(\\.[0-9]{1,3})?/"
    if kind == "boolean":
        return '("True" | "False")'
    compact = {**schema, "x-guidance": {"whitespace_flexible": False}}  # as the API writes JSON
    return "%json " + json.dumps(compact, separators=(",", ":"))


_REACT_TOOL = re.compile(
    r"^[ \t]{0,16}\(\d{1,2}\) ([A-Za-z_]\w{0,60}), whose description is <desc>.{0,2000}?</desc>\. "
    r"It takes arguments (\{[^\n]{0,4000}\})\.?$",
    re.M,
)


def react_tools(text: PromptText) -> dict[str, dict[str, Any]]:
    """dspy ReAct's tools as its instructions list them: name -> the JSON Schema of its
    arguments (a Python-literal dict of properties, read with ``ast.literal_eval``)."""
    tools: dict[str, dict[str, Any]] = {}
    for instruction in text.instructions:
        for match in _REACT_TOOL.finditer(instruction):
            try:
                properties = ast.literal_eval(match.group(2))
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            if isinstance(properties, dict) and all(
                isinstance(v, dict) for v in properties.values()
            ):
                tools[match.group(1)] = {
                    "type": "object",
                    "properties": properties,
                    "required": list(properties),
                    "additionalProperties": False,
                }
    return tools


def _react_rule(index: int, names: list[str], tools: dict[str, dict[str, Any]]) -> str | None:
    """ReAct's ``next_tool_name`` and ``next_tool_args`` as one rule: each tool's name, then
    JSON for that tool's own arguments."""
    if set(names) != set(tools):
        return None
    head = lark_literal("\n\n[[ ## next_tool_args ## ]]\n")
    choices = []
    for name in names:
        schema = {**tools[name], "x-guidance": {"whitespace_flexible": False}}
        choices.append(f"{lark_literal(name)} {head} %json {json.dumps(schema)}")
    return f"value{index}: " + " | ".join(f"({choice})" for choice in choices)


def read_dspy_chat(text: PromptText) -> Contract | None:
    """ChatAdapter: ``[[ ## field ## ]]`` sections ending with ``[[ ## completed ## ]]``
    (for ReAct, each tool's name followed by JSON for its own arguments)."""
    if "[[ ## completed ## ]]" not in text.joined:
        return None
    fields = output_fields(text)
    if not fields:
        return None
    names = [name for name, _ in fields]
    tools = react_tools(text) if "next_tool_args" in names else {}
    rules, parts = [], []
    for index, (name, schema) in enumerate(fields):
        if name == "next_tool_args" and tools:
            continue  # written with next_tool_name
        head = f"[[ ## {name} ## ]]\n" if index == 0 else f"\n\n[[ ## {name} ## ]]\n"
        parts.append(f"{lark_literal(head)} value{index}")
        rule = None
        if name == "next_tool_name" and tools:
            rule = _react_rule(index, list(schema.get("enum", [])), tools)
            if rule is None:
                tools = {}
        rules.append(rule or f"value{index}: {_chat_value(schema)}")
    parts.append(lark_literal("\n\n[[ ## completed ## ]]"))
    lark = "start: " + " ".join(parts) + "\n" + "\n".join(rules) + f"\nTEXT: {_TEXT}\n"
    detail = "fields=" + ",".join(name for name, _ in fields)
    return Contract("dspy_chat", detail, lark=lark, json_shape=True)


def read_dspy_json(text: PromptText) -> Contract | None:
    """JSONAdapter: a JSON object of the output fields."""
    if "Outputs will be a JSON object with the following fields" not in text.joined:
        return None
    fields = output_fields(text)
    if not fields:
        return None
    names = [name for name, _ in fields]
    schema = {
        "type": "object",
        "properties": dict(fields),
        "required": names,
        "additionalProperties": False,
    }
    return Contract("dspy_json", "fields=" + ",".join(names), schema=schema)


def _xml_value(schema: dict[str, Any]) -> str:
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict):
        return f'("<item>" {_xml_value(items)} "</item>"){{1,5}}'
    if "enum" in schema or schema.get("type") in ("integer", "number", "boolean"):
        return _chat_value(schema)
    return "TEXT"


def read_dspy_xml(text: PromptText) -> Contract | None:
    """XMLAdapter: ``<field>value</field>`` per output field."""
    if "Respond with the corresponding output fields wrapped in XML tags" not in text.joined:
        return None
    fields = output_fields(text)
    if not fields:
        return None
    parts, rules = [], []
    for index, (name, schema) in enumerate(fields):
        separator = "" if index == 0 else "\\n"
        parts.append(f'"{separator}<{name}>" value{index} "</{name}>"')
        rules.append(f"value{index}: {_xml_value(schema)}")
    lark = "start: " + " ".join(parts) + "\n" + "\n".join(rules) + f"\nTEXT: {_TEXT}\n"
    return Contract("dspy_xml", "fields=" + ",".join(name for name, _ in fields), lark=lark)

"""The request fields that shape structured replies, checked as the API checks them.

Each parser returns the typed form (:class:`~llmpresets.offline.engine.types.OutputFormat`,
:class:`~llmpresets.offline.engine.types.Tool`,
:class:`~llmpresets.offline.engine.types.ToolChoice`)
or raises the API's 400 (:class:`~llmpresets.offline.api.errors.WireError`):

- ``response_format``: ``type`` one of ``text`` / ``json_object`` / ``json_schema``;
  ``json_object`` needs the word "json" somewhere in the messages; ``json_schema`` needs a
  ``name`` (``^[a-zA-Z0-9_-]+$``, at most 64 characters) and, with ``strict: true``, a schema
  that follows the structured-outputs rules (:mod:`.strict_schema`);
- ``tools``: a non-empty array of ``function`` / ``custom`` tools with valid names; a strict
  function's ``parameters`` follow the same rules; names are unique;
- ``tool_choice`` (``none`` / ``auto`` / ``required``, a named function or custom tool, or
  ``allowed_tools``) and ``parallel_tool_calls`` need ``tools``; a named tool must be one of
  them.

Whether a schema *compiles* is checked where it is compiled, per encoding: the backend's
``prepare`` (through :func:`~llmpresets.offline.engine.structured.make_plan`) raises the
engine's ``SchemaError``, which :mod:`.endpoint` answers as a 400, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ....tokens.messages import content_text
from ...engine.types import OutputFormat, Tool, ToolChoice
from ..errors import (
    WireError,
    bad_type,
    boolean,
    empty_array,
    invalid_value,
    quoted_list,
    required,
)
from ..strict_schema import strict_problem

__all__ = ["ParsedTool", "parse_response_format", "parse_tool_choice", "parse_tools"]

_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_MAX_NAME = 64
_FORMATS = ("text", "json_object", "json_schema")
_CHOICES = ("none", "auto", "required")
_JSON_WORD = re.compile(r"json", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedTool:
    """A tool as sent (``raw``, for token counting) and as understood (``tool``)."""

    raw: dict[str, Any]
    tool: Tool


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise bad_type(where, "a string", name)
    if not _NAME.fullmatch(name):
        raise WireError(
            400,
            f"Invalid '{where}': string does not match pattern. Expected a string that matches "
            "the pattern '^[a-zA-Z0-9_-]+$'.",
            param=where,
            code="invalid_value",
        )
    if len(name) > _MAX_NAME:
        raise WireError(
            400,
            f"Invalid '{where}': string too long. Expected a string with maximum length "
            f"{_MAX_NAME}, but got a string with length {len(name)} instead.",
            param=where,
            code="string_above_max_length",
        )
    return name


def _text_of(messages: Sequence[Mapping[str, Any]]) -> str:
    """The conversation's text, one message a line (where the API looks for "json")."""
    return "\n".join(content_text(message.get("content"), lenient=True) for message in messages)


def parse_response_format(
    body: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]
) -> OutputFormat:
    """``response_format`` checked (absent: plain text)."""
    value = body.get("response_format")
    if value is None:
        return OutputFormat()
    if not isinstance(value, dict):
        raise bad_type("response_format", "an object", value)
    kind = required(value, "response_format.type")
    if kind not in _FORMATS:
        raise invalid_value("response_format.type", kind, quoted_list(_FORMATS))
    if kind == "text":
        return OutputFormat()
    if kind == "json_object":
        if not _JSON_WORD.search(_text_of(messages)):
            raise WireError(
                400,
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'.",
                param="messages",
            )
        return OutputFormat(kind="json_object")
    spec = required(value, "response_format.json_schema")
    if not isinstance(spec, dict):
        raise bad_type("response_format.json_schema", "an object", spec)
    name = _check_name(
        required(spec, "response_format.json_schema.name"), "response_format.json_schema.name"
    )
    schema = spec.get("schema")
    if schema is None:
        schema = {}
    if not isinstance(schema, dict):
        raise bad_type("response_format.json_schema.schema", "an object", schema)
    strict = boolean(spec, "strict")
    if strict:
        problem = strict_problem(schema)
        if problem is not None:
            raise WireError(
                400,
                f"Invalid schema for response_format '{name}': {problem}",
                param="response_format",
            )
    return OutputFormat(kind="json_schema", name=name, schema=schema, strict=strict)


def parse_tools(body: Mapping[str, Any]) -> list[ParsedTool] | None:
    """``tools`` checked as the API checks it; ``tool_choice`` and friends need tools."""
    tools = body.get("tools")
    if tools is None:
        for name in ("tool_choice", "parallel_tool_calls"):
            if body.get(name) is not None:
                raise WireError(
                    400,
                    f"Invalid value for '{name}': '{name}' is only allowed when 'tools' are "
                    "specified.",
                    param=name,
                )
        return None
    if not isinstance(tools, list):
        raise bad_type("tools", "an array of objects", tools)
    if not tools:
        raise empty_array("tools")
    parsed: list[ParsedTool] = []
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise bad_type(where, "an object", tool)
        kind = required(tool, f"{where}.type")
        if kind not in ("function", "custom"):
            raise invalid_value(f"{where}.type", kind, quoted_list(("function", "custom")))
        definition = required(tool, f"{where}.{kind}")
        if not isinstance(definition, dict):
            raise bad_type(f"{where}.{kind}", "an object", definition)
        name = _check_name(required(definition, f"{where}.{kind}.name"), f"{where}.{kind}.name")
        if name in seen:
            raise WireError(
                400,
                f"Invalid 'tools': duplicate tool name '{name}'. Tool names must be unique.",
                param="tools",
            )
        seen.add(name)
        description = definition.get("description") or ""
        if not isinstance(description, str):
            raise bad_type(f"{where}.{kind}.description", "a string", description)
        made = (
            _function(definition, where, name, description)
            if kind == "function"
            else _custom(definition, where, name, description)
        )
        parsed.append(ParsedTool(tool, made))
    return parsed


def _function(definition: dict[str, Any], where: str, name: str, description: str) -> Tool:
    parameters = definition.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise bad_type(f"{where}.function.parameters", "an object", parameters)
    strict = boolean(definition, "strict")
    if strict:
        problem = strict_problem(parameters or {"type": "object"})
        if problem is not None:
            raise WireError(
                400,
                f"Invalid schema for function '{name}': {problem}",
                param=f"{where}.function.parameters",
                code="invalid_function_parameters",
            )
    return Tool(name=name, description=description, parameters=parameters, strict=strict)


def _custom(definition: dict[str, Any], where: str, name: str, description: str) -> Tool:
    form = definition.get("format")
    if form is None:
        return Tool(name=name, kind="custom", description=description)
    if not isinstance(form, dict):
        raise bad_type(f"{where}.custom.format", "an object", form)
    kind = required(form, f"{where}.custom.format.type")
    if kind == "text":
        return Tool(name=name, kind="custom", description=description)
    if kind != "grammar":
        raise invalid_value(f"{where}.custom.format.type", kind, quoted_list(("text", "grammar")))
    grammar = required(form, f"{where}.custom.format.grammar")
    if not isinstance(grammar, dict):
        raise bad_type(f"{where}.custom.format.grammar", "an object", grammar)
    text = required(grammar, f"{where}.custom.format.grammar.definition")
    syntax = required(grammar, f"{where}.custom.format.grammar.syntax")
    if not isinstance(text, str):
        raise bad_type(f"{where}.custom.format.grammar.definition", "a string", text)
    if syntax not in ("lark", "regex"):
        raise invalid_value(
            f"{where}.custom.format.grammar.syntax", syntax, quoted_list(("lark", "regex"))
        )
    return Tool(name=name, kind="custom", description=description, grammar=text, syntax=syntax)


def parse_tool_choice(
    body: Mapping[str, Any], tools: Sequence[ParsedTool] | None
) -> tuple[ToolChoice, bool]:
    """``tool_choice`` and ``parallel_tool_calls`` (``parse_tools`` has checked they need tools)."""
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise bad_type("parallel_tool_calls", "a boolean", parallel)
    names = {parsed.tool.name: parsed.tool.kind for parsed in tools or ()}
    choice = body.get("tool_choice")
    result = ToolChoice("auto" if names else "none")
    if isinstance(choice, str):
        if choice not in _CHOICES:
            raise invalid_value("tool_choice", choice, quoted_list(_CHOICES))
        result = ToolChoice(choice)
    elif isinstance(choice, dict):
        result = _choice_object(choice, names)
    elif choice is not None:
        raise bad_type("tool_choice", "one of a string or object", choice)
    return result, parallel is not False


def _named(name: Any, where: str, names: Mapping[str, str], kind: str) -> str:
    if not isinstance(name, str):
        raise bad_type(where, "a string", name)
    if names.get(name) != kind:
        raise WireError(
            400, f"Tool choice '{name}' not found in 'tools' parameter.", param="tool_choice"
        )
    return name


def _choice_object(choice: dict[str, Any], names: Mapping[str, str]) -> ToolChoice:
    kind = required(choice, "tool_choice.type")
    if kind in ("function", "custom"):
        inner = required(choice, f"tool_choice.{kind}")
        if not isinstance(inner, dict):
            raise bad_type(f"tool_choice.{kind}", "an object", inner)
        where = f"tool_choice.{kind}.name"
        return ToolChoice("required", (_named(required(inner, where), where, names, kind),))
    if kind != "allowed_tools":
        raise invalid_value(
            "tool_choice.type", kind, quoted_list(("function", "custom", "allowed_tools"))
        )
    allowed = required(choice, "tool_choice.allowed_tools")
    if not isinstance(allowed, dict):
        raise bad_type("tool_choice.allowed_tools", "an object", allowed)
    mode = required(allowed, "tool_choice.allowed_tools.mode")
    if mode not in ("auto", "required"):
        raise invalid_value(
            "tool_choice.allowed_tools.mode", mode, quoted_list(("auto", "required"))
        )
    listed = required(allowed, "tool_choice.allowed_tools.tools")
    if not isinstance(listed, list):
        raise bad_type("tool_choice.allowed_tools.tools", "an array of objects", listed)
    if not listed:
        raise empty_array("tool_choice.allowed_tools.tools")
    chosen: list[str] = []
    for index, entry in enumerate(listed):
        where = f"tool_choice.allowed_tools.tools[{index}]"
        if not isinstance(entry, dict):
            raise bad_type(where, "an object", entry)
        entry_kind = required(entry, f"{where}.type")
        inner = entry.get(entry_kind) if isinstance(entry_kind, str) else None
        name = inner.get("name") if isinstance(inner, dict) else entry.get("name")
        chosen.append(_named(name, f"{where}.name", names, str(entry_kind)))
    return ToolChoice(mode, tuple(chosen))

"""``POST /responses`` requests: validation with the API's errors, and the conversation they imply.

:func:`parse_responses_request` checks a body the way the Responses API does (types, ranges,
``max_output_tokens >= 16``, ``tool_choice`` against ``tools``, ``text.format``) and returns a
:class:`ResponsesRequest`. :func:`conversation_messages` turns the request's items (after the
stored items of a ``previous_response_id`` chain) into chat-shaped messages: the one form the
token counter, the prompt renderer and the generator read, so ``usage.input_tokens`` and
``POST /responses/input_tokens`` are the same count.

The conversion to messages is ``llmpresets.tokens.messages`` (shared with the client's
pre-flight); instructions of earlier responses in a chain are not carried over, as online.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...._errors import MessageFormatError
from ....tokens.messages import content_text
from ...engine.types import OutputFormat, Tool, ToolChoice
from ..errors import (
    WireError,
    bad_type,
    boolean,
    invalid_value,
    missing,
    number,
    quoted_list,
    unknown_parameter,
)
from ..limits import check_item_counts
from ..strict_schema import as_strict, strict_problem

__all__ = [
    "REASONING_EFFORTS",
    "ResponsesRequest",
    "parse_responses_request",
]

_INT32_MAX = 2**31 - 1
# The API's floor on max_output_tokens.
_MIN_OUTPUT_TOKENS = 16
# Every effort value the Responses API spells; which a model takes is the model table's call.
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_SUMMARIES = ("auto", "concise", "detailed")
_VERBOSITY = ("low", "medium", "high")
_MESSAGE_ROLES = ("user", "assistant", "system", "developer")
# Item types the offline model understands as context; any other is refused by name.
_ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning")
# Body fields the offline backend reads, plus those it accepts and ignores (routing, caching,
# tagging): anything else is the API's "Unknown parameter" 400.
_ACCEPTED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "text",
        "reasoning",
        "max_output_tokens",
        "temperature",
        "top_p",
        "store",
        "previous_response_id",
        "stream",
        "stream_options",
        "metadata",
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "service_tier",
        "include",
        "truncation",
        "background",
        "max_tool_calls",
        "top_logprobs",
        "top_k",
        "min_p",
        "ignore_eos",
    }
)


@dataclass
class ResponsesRequest:
    """A validated ``POST /responses`` body (API values; ``None``: not given)."""

    model: str
    items: list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | dict[str, Any] = "auto"
    parallel_tool_calls: bool = True
    text_format: dict[str, Any] = field(default_factory=lambda: {"type": "text"})
    verbosity: str | None = None
    effort: str | None = None
    summary: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    ignore_eos: bool = False
    store: bool = True
    previous_response_id: str | None = None
    stream: bool = False
    metadata: dict[str, str] | None = None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def output_format(self) -> OutputFormat:
        """``text.format`` as the generator reads it."""
        fmt = self.text_format
        kind = fmt.get("type", "text")
        if kind == "json_schema":
            return OutputFormat(
                kind="json_schema",
                name=fmt.get("name"),
                schema=fmt.get("schema") or {},
                strict=fmt.get("strict") is True,
            )
        return OutputFormat(kind=kind)

    @property
    def tool_list(self) -> tuple[Tool, ...]:
        """The function tools as the generator reads them."""
        return tuple(
            Tool(
                name=tool["name"],
                description=tool.get("description") or "",
                parameters=tool.get("parameters"),
                strict=tool.get("strict") is True,
            )
            for tool in self.tools
        )

    @property
    def tool_choice_spec(self) -> ToolChoice:
        """``tool_choice`` as the generator reads it (a named function: required, that one)."""
        choice = self.tool_choice
        if isinstance(choice, dict):
            return ToolChoice("required", (str(choice.get("name")),))
        return ToolChoice(choice)


def _invalid_value(param: str, value: Any, allowed: Sequence[str]) -> WireError:
    """This endpoint's own checks list the values without a final "and"."""
    return invalid_value(param, value, quoted_list(allowed, conjunction=False))


def _choice(mapping: Mapping[str, Any], name: str, where: str, allowed: Sequence[str]) -> Any:
    value = mapping.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise _invalid_value(f"{where}.{name}", value, allowed)
    return value


def _object(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_type(name, "an object", value)
    return value


def _content_text(content: Any, param: str) -> str:
    """The text of a message's ``content``, or the API's 400 naming where it is wrong."""
    try:
        return content_text(content, param)
    except MessageFormatError as exc:
        where, _, problem = str(exc).partition(": ")
        raise WireError(400, f"Invalid '{where}': {problem}", param=where) from None


def _input_items(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``input`` as a list of item dicts (a string is one user message)."""
    raw = body.get("input")
    if raw is None:
        return []
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise bad_type("input", "a string or an array of input items", raw)
    items = []
    for index, item in enumerate(raw):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise bad_type(where, "an object", item)
        kind = item.get("type", "message")
        if kind not in _ITEM_TYPES:
            raise invalid_value(
                f"{where}.type",
                kind,
                quoted_list(_ITEM_TYPES, conjunction=False) + " (the offline backend's item types)",
            )
        if kind == "message":
            role = item.get("role")
            if role not in _MESSAGE_ROLES:
                raise _invalid_value(f"{where}.role", role, _MESSAGE_ROLES)
            if "content" not in item:
                raise missing(f"{where}.content")
            _content_text(item["content"], f"{where}.content")
        elif kind == "function_call":
            for name in ("call_id", "name", "arguments"):
                if not isinstance(item.get(name), str):
                    raise missing(f"{where}.{name}")
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str):
                raise missing(f"{where}.call_id")
            output = item.get("output")
            if not isinstance(output, (str, list)):
                raise missing(f"{where}.output")
        items.append({**item, "type": kind})
    return items


def _function_tools(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("tools")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad_type("tools", "an array", raw)
    tools = []
    for index, tool in enumerate(raw):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise bad_type(where, "an object", tool)
        if tool.get("type") != "function":
            raise WireError(
                400,
                f"Invalid value: '{tool.get('type')}'. The offline backend supports "
                "'function' tools.",
                param=f"{where}.type",
                code="invalid_value",
            )
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise missing(f"{where}.name")
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise bad_type(f"{where}.parameters", "an object", parameters)
        if tool.get("strict") is None:
            tool = _strict_by_default(tool)
            parameters = tool.get("parameters")
        if tool.get("strict") is True:
            problem = strict_problem(parameters or {"type": "object"})
            if problem is not None:
                raise WireError(
                    400,
                    f"Invalid schema for function '{tool['name']}': {problem}",
                    param=f"{where}.parameters",
                    code="invalid_function_parameters",
                )
        tools.append(tool)
    return tools


def _strict_by_default(tool: dict[str, Any]) -> dict[str, Any]:
    """A function tool sent without ``strict`` (or with ``null``), read as the API reads it:
    strict by default, its schema normalized into strict mode where that is possible (every
    object closed, every property required), else best-effort (non-strict); never refused."""
    parameters = tool.get("parameters")
    if parameters is None:
        return {**tool, "strict": True}
    normalized = as_strict(parameters)
    if normalized is None:
        return {**tool, "strict": False}
    return {**tool, "parameters": normalized, "strict": True}


def _tool_choice(body: Mapping[str, Any], tools: list[dict[str, Any]]) -> str | dict[str, Any]:
    choice = body.get("tool_choice")
    if choice is None:
        return "auto"
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise _invalid_value("tool_choice", choice, ("auto", "none", "required"))
        if choice == "required" and not tools:
            raise WireError(
                400,
                "Tool choice 'required' must be specified with 'tools' parameter.",
                param="tool_choice",
                code="invalid_value",
            )
        return choice
    if not isinstance(choice, dict):
        raise bad_type("tool_choice", "a string or an object", choice)
    if choice.get("type") != "function":
        raise _invalid_value("tool_choice.type", choice.get("type"), ("function",))
    name = choice.get("name")
    if name not in {tool["name"] for tool in tools}:
        raise WireError(
            400,
            f"Tool choice '{name}' not found in 'tools' parameter.",
            param="tool_choice",
            code="invalid_value",
        )
    return choice


def _text_format(text: Mapping[str, Any]) -> dict[str, Any]:
    fmt = text.get("format")
    if fmt is None:
        return {"type": "text"}
    if not isinstance(fmt, dict):
        raise bad_type("text.format", "an object", fmt)
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise _invalid_value("text.format.type", kind, ("text", "json_object", "json_schema"))
    if kind == "json_schema":
        if not isinstance(fmt.get("name"), str) or not fmt["name"]:
            raise missing("text.format.name")
        if not isinstance(fmt.get("schema"), dict):
            raise missing("text.format.schema")
        if fmt.get("strict") is True:
            problem = strict_problem(fmt["schema"])
            if problem is not None:
                raise WireError(
                    400,
                    f"Invalid schema for text.format '{fmt['name']}': {problem}",
                    param="text.format.schema",
                )
    return fmt


def _check_types(body: dict[str, Any]) -> None:
    """Every field against the SDK's own ``ResponseCreateParamsBase`` (types, enums, nested
    keys); the parser below adds the rules the types cannot state."""
    from openai.types.responses.response_create_params import ResponseCreateParamsBase

    from ..sdk_types import check_body_types

    check_body_types(_with_wire_defaults(body), ResponseCreateParamsBase)


def _with_wire_defaults(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the fields the API reference makes optional, though the SDK's TypedDicts
    mark them ``Required``, set to what their absence means, for the type check only.

    The one such field of what this endpoint reads: a function tool's ``strict`` (the SDK:
    ``Required[Optional[bool]]``; the API: optional, strict by default, see
    :func:`_strict_by_default`). Everything else the SDK requires, the reference requires too.
    """
    tools = body.get("tools")
    if not isinstance(tools, list) or not any(
        isinstance(tool, dict) and tool.get("type") == "function" and "strict" not in tool
        for tool in tools
    ):
        return body
    filled = [
        {**tool, "strict": None}
        if isinstance(tool, dict) and tool.get("type") == "function" and "strict" not in tool
        else tool
        for tool in tools
    ]
    return {**body, "tools": filled}


def parse_responses_request(body: dict[str, Any]) -> ResponsesRequest:
    """Validate a ``POST /responses`` body; raise WireError with the API's status and wording."""
    for name in body:
        if name not in _ACCEPTED:
            raise unknown_parameter(name)
    check_item_counts(body)  # before any per-item work (limits.py)
    _check_types(body)
    model = body.get("model")
    if model is None or model == "":
        raise missing("model")
    if not isinstance(model, str):
        raise bad_type("model", "a string", model)
    items = _input_items(body)
    previous = body.get("previous_response_id")
    if previous is not None and not isinstance(previous, str):
        raise bad_type("previous_response_id", "a string", previous)
    if not items and previous is None:
        raise missing("input")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise bad_type("instructions", "a string", instructions)
    tools = _function_tools(body)
    reasoning = _object(body, "reasoning")
    text = _object(body, "text")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise bad_type("metadata", "an object", metadata)
    max_output = number(body, "max_output_tokens", _MIN_OUTPUT_TOKENS, _INT32_MAX, integer=True)
    store = body.get("store")
    if store is not None and not isinstance(store, bool):
        raise bad_type("store", "a boolean", store)
    return ResponsesRequest(
        model=model,
        items=items,
        instructions=instructions,
        tools=tools,
        tool_choice=_tool_choice(body, tools),
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        text_format=_text_format(text),
        verbosity=_choice(text, "verbosity", "text", _VERBOSITY),
        effort=_choice(reasoning, "effort", "reasoning", REASONING_EFFORTS),
        summary=_choice(reasoning, "summary", "reasoning", _SUMMARIES),
        max_output_tokens=max_output,
        temperature=number(body, "temperature", 0, 2),
        top_p=number(body, "top_p", 0, 1),
        top_k=number(body, "top_k", -1, _INT32_MAX, integer=True),
        min_p=number(body, "min_p", 0, 1),
        ignore_eos=boolean(body, "ignore_eos"),
        store=store is not False,
        previous_response_id=previous,
        stream=boolean(body, "stream"),
        metadata=metadata,
        body=body,
    )

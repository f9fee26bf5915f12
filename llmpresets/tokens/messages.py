"""Responses API input items as chat-shaped messages: the one form the token counter reads.

Used by the client's pre-flight and by the offline backend's ``usage.input_tokens`` (and
``POST /responses/input_tokens``), so both count a Responses request the same way:

- ``instructions`` -> a leading ``developer`` message;
- a message item -> a message with its text parts (``input_text`` / ``output_text`` /
  ``text``; a refusal's text) joined;
- ``function_call`` -> an assistant message with one ``tool_calls`` entry;
- ``function_call_output`` -> a ``tool`` message;
- ``reasoning`` items add nothing (earlier reasoning is not billed as input here);
- function tools ``{"type": "function", "name", "description", "parameters"}`` -> the chat
  shape, counted by the cookbook's rule.

What this cannot know online: the items of a server-side ``previous_response_id`` chain (the
API adds them; only the new input is counted before sending).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import MessageFormatError

__all__ = ["as_input_items", "chat_tools", "content_text", "conversation_messages"]

_TEXT_PARTS = ("input_text", "output_text", "text")


def content_text(content: Any, where: str = "content", *, lenient: bool = False) -> str:
    """The text of a message's ``content``: a string, or its text parts joined with nothing
    between them.

    The parts are pieces of one message, and this text is what the token counter counts (the
    client's pre-flight and the offline backend's ``usage.input_tokens``): a separator would
    add tokens the request does not hold. A refusal part gives its refusal text; any other
    part is a MessageFormatError naming ``where``. This is the package's one reading of a
    message's text: the offline backend reads prompts with it too, ``lenient=True`` (a part
    that holds no text, an image say, or content that is neither a string nor a list, gives
    no text instead of an error: the request was validated before).

    >>> content_text([{"type": "input_text", "text": "Hello, "},
    ...               {"type": "input_text", "text": "world"}])
    'Hello, world'
    >>> content_text([{"type": "image_url"}, {"type": "text", "text": "Hi"}], lenient=True)
    'Hi'
    """
    if isinstance(content, str):
        return content
    if lenient:
        if not isinstance(content, list):
            return ""
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    if not isinstance(content, list):
        raise MessageFormatError(f"{where}: expected a string or a list of content parts")
    texts = []
    for index, part in enumerate(content):
        if not isinstance(part, Mapping):
            raise MessageFormatError(f"{where}[{index}]: expected an object")
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            text = part.get("text")
            if not isinstance(text, str):
                raise MessageFormatError(f"{where}[{index}].text: expected a string")
            texts.append(text)
        elif kind == "refusal":
            texts.append(str(part.get("refusal", "")))
        else:
            raise MessageFormatError(
                f"{where}[{index}].type: {kind!r} is not a text part; "
                f"allowed: {', '.join(_TEXT_PARTS)}"
            )
    return "".join(texts)


def as_input_items(value: Any) -> list[dict[str, Any]]:
    """``input`` as item dicts: a string is one user message; pydantic items are dumped."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Sequence):
        raise TypeError(
            "input must be a string or a list of input items like "
            "[{'role': 'user', 'content': 'Hi'}]"
        )
    items = []
    for item in value:
        if hasattr(item, "model_dump"):
            item = item.model_dump(exclude_none=True)
        if not isinstance(item, Mapping):
            raise TypeError(f"input items must be objects, got {type(item).__name__}")
        items.append({"type": "message", **item} if "type" not in item else dict(item))
    return items


def chat_tools(tools: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Responses function tools in the chat shape the token counter reads (others skipped)."""
    converted = []
    for tool in tools or ():
        if tool.get("type", "function") != "function" or not isinstance(tool.get("name"), str):
            continue
        function: dict[str, Any] = {"name": tool["name"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        if tool.get("parameters") is not None:
            function["parameters"] = tool["parameters"]
        converted.append({"type": "function", "function": function})
    return converted


def conversation_messages(
    instructions: str | None, items: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Chat-shaped messages for ``instructions`` and input ``items`` (module docstring)."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "developer", "content": instructions})
    for index, item in enumerate(items):
        kind = item.get("type", "message")
        where = f"input[{index}]"
        if kind == "message":
            role = item.get("role")
            if not isinstance(role, str):
                raise MessageFormatError(f"{where}.role: expected a string")
            text = content_text(item.get("content"), f"{where}.content")
            messages.append({"role": role, "content": text})
        elif kind == "function_call":
            call = {
                "id": str(item.get("call_id", "")),
                "type": "function",
                "function": {
                    "name": str(item.get("name", "")),
                    "arguments": str(item.get("arguments", "")),
                },
            }
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else content_text(output, f"{where}.output")
            messages.append(
                {"role": "tool", "tool_call_id": str(item.get("call_id", "")), "content": text}
            )
    return messages

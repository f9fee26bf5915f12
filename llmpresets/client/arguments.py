"""Checks of a call's own arguments, so misuse is a library error that names the argument.

Every ``Client`` / ``AsyncClient`` method (chat, complete, stream, respond, respond_stream)
passes its arguments through here before anything is resolved or sent: a ``None`` where a
conversation belongs, a use case that is not a name, a model name with a line break, a
number JSON cannot carry (NaN, infinity) anywhere in the overrides, and tools given as
pydantic model classes. The last are accepted, as ``openai.pydantic_function_tool`` accepts
them: each class becomes the strict function tool the SDK's helper builds. And making the
SDK's client with a SOCKS proxy in the environment (``proxy_errors``) says what to install.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._errors import ConfigError, MessageFormatError

__all__ = [
    "check_finite",
    "check_input",
    "check_model_name",
    "check_prompt",
    "check_use_case",
    "conversation",
    "function_tools",
    "proxy_errors",
]

# Longer than any real model name (they are under 64 characters), short enough to print.
_MAX_MODEL_NAME = 256
# How deep check_finite looks into nested overrides; deeper values are left to the SDK's JSON.
_MAX_DEPTH = 64


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def conversation(messages: Any) -> list[Any]:
    """``messages`` as a list, or a MessageFormatError naming ``messages``."""
    if isinstance(messages, (str, bytes)):
        raise MessageFormatError(
            "messages: expected a list of chat messages like "
            "[{'role': 'user', 'content': 'Hi'}], got a string; use complete(prompt) for a "
            "single string"
        )
    if messages is None or isinstance(messages, Mapping) or not isinstance(messages, Iterable):
        raise MessageFormatError(
            "messages: expected a list of chat messages like "
            f"[{{'role': 'user', 'content': 'Hi'}}], got {_kind(messages)}"
        )
    return list(messages)


def check_prompt(prompt: Any) -> None:
    """``complete(prompt)`` takes one string."""
    if not isinstance(prompt, str):
        raise MessageFormatError(
            f"prompt: expected a string (the user message), got {_kind(prompt)}; "
            "use chat(messages) for a conversation"
        )


def check_input(value: Any) -> None:
    """``respond(input)`` takes a string or a list of input items."""
    if isinstance(value, str):
        return
    if value is None or isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise MessageFormatError(
            "input: expected a string or a list of input items like "
            f"[{{'role': 'user', 'content': 'Hi'}}], got {_kind(value)}"
        )


def check_use_case(use_case: Any) -> None:
    """A use case is a preset's name: a non-empty string."""
    if not isinstance(use_case, str) or not use_case:
        raise ConfigError(
            f"use_case: expected a preset name such as 'chat' or 'code', got {use_case!r}",
            field="use_case",
        )


def check_model_name(model: Any) -> None:
    """A model name is one printable line: no control characters, no surrounding spaces."""
    if not isinstance(model, str) or not model:
        raise ConfigError(f"model: expected a non-empty model name, got {model!r}", field="model")
    if (
        len(model) > _MAX_MODEL_NAME
        or not model.isprintable()
        or model != model.strip()
        or any(c.isspace() for c in model)
    ):
        shown = model if len(model) <= 80 else model[:77] + "..."
        raise ConfigError(
            f"model: {shown!r} is not a model name (one word of at most {_MAX_MODEL_NAME} "
            "printable characters, no spaces, line breaks or control characters)",
            field="model",
        )


def check_finite(overrides: Mapping[str, Any]) -> None:
    """Refuse NaN and infinities anywhere in ``overrides``: JSON cannot carry them.

    The error names the path of the value (``logit_bias['15']``, ``extra_body.scores[2]``),
    where the SDK would fail with "Out of range float values are not JSON compliant".
    """
    stack: list[tuple[str, Any, int]] = [(name, value, 0) for name, value in overrides.items()]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ConfigError(
                    f"{path}: {value!r} is not a number JSON can carry; give a finite number",
                    field=path.split(".")[0].split("[")[0],
                )
        elif depth >= _MAX_DEPTH:
            continue
        elif isinstance(value, Mapping):
            for key, item in value.items():
                step = f".{key}" if isinstance(key, str) and key.isidentifier() else f"[{key!r}]"
                stack.append((path + step, item, depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{i}]", item, depth + 1) for i, item in enumerate(value))


def _is_model_class(tool: Any) -> bool:
    return isinstance(tool, type) and hasattr(tool, "model_json_schema")


def function_tools(tools: Any, *, api: str) -> Any:
    """``tools`` with each pydantic model class made a strict function tool; others checked.

    ``api`` is ``"chat"`` (the ``{"type": "function", "function": {...}}`` shape, as
    ``openai.pydantic_function_tool`` builds it) or ``"responses"`` (the flat shape). A tool
    that is neither a mapping nor a model class is refused, naming its index.
    """
    if tools is None:
        return None
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Iterable):
        raise ConfigError(
            "tools: expected a list of tools (dicts or pydantic model classes), got "
            f"{_kind(tools)}",
            field="tools",
        )
    listed = list(tools)
    if not any(_is_model_class(tool) for tool in listed):
        for index, tool in enumerate(listed):
            if not isinstance(tool, Mapping):
                raise _bad_tool(index, tool)
        return listed
    import openai

    converted: list[Any] = []
    for index, tool in enumerate(listed):
        if _is_model_class(tool):
            made: dict[str, Any] = dict(openai.pydantic_function_tool(tool))
            if api == "responses":
                made = {"type": "function", **made["function"]}
            converted.append(made)
        elif isinstance(tool, Mapping):
            converted.append(tool)
        else:
            raise _bad_tool(index, tool)
    return converted


def _bad_tool(index: int, tool: Any) -> ConfigError:
    return ConfigError(
        f"tools[{index}]: expected a tool dict or a pydantic model class, got "
        f"{type(tool).__name__ if not isinstance(tool, type) else 'class ' + tool.__name__}",
        field="tools",
    )


@contextlib.contextmanager
def proxy_errors() -> Iterator[None]:
    """Around making the SDK's HTTP client: a SOCKS proxy without ``socksio`` is a ConfigError.

    httpx2 reads ``ALL_PROXY`` / ``HTTPS_PROXY`` from the environment when the SDK makes its
    client, and raises a bare ImportError for a ``socks5://`` proxy unless the optional
    ``socksio`` package is installed. The error names the variable and the scheme, never the
    proxy's address (it may carry a password).
    """
    try:
        yield
    except ImportError as exc:
        if "socks" not in str(exc).lower():
            raise
        names = [
            name
            for name, value in os.environ.items()
            if name.lower().endswith("_proxy") and value.lower().startswith("socks")
        ]
        where = ", ".join(sorted(names)) or "the proxy settings"
        raise ConfigError(
            f"{where}: a SOCKS proxy needs the socksio package; install it with "
            "`pip install 'httpx2[socks]'` (or `pip install socksio`), use an http:// proxy, "
            "or unset the variable",
            field=names[0] if names else None,
        ) from exc

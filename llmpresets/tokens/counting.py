"""Token counts for text, chat messages and tool definitions, exactly as tiktoken encodes them.

Text is always encoded by the model's own tiktoken encoding (loaded offline by
:mod:`llmpresets.tokens.encodings`); counting never falls back to an estimate of the text, and a
tokenizer that cannot load is a :class:`~llmpresets.TokenizerError`. The tokens *around* the text
follow OpenAI's cookbook (3 per message, 1 per name, 3 for the reply priming, and its tool
definition rule); where OpenAI publishes no rule (content parts, tool calls, images, custom tools)
the overhead is our documented estimate. Every rule, and why counts never go down when a message,
part, tool call, tool, property or enum item is added, is in ``docs/token-counting.md``.

Image parts are priced by :mod:`llmpresets.tokens.images`. The context check and fitting build
on this module and live in :mod:`llmpresets.tokens.fit`.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .._cache import BoundedCache
from .._errors import MessageFormatError
from .encodings import get_encoding
from .images import image_tokens

if TYPE_CHECKING:
    import tiktoken

    from ..config.models import ModelSpec
    from ..config.presets import PresetBook

__all__ = [
    "MessageFormatError",
    "TokenCounter",
    "as_list",
    "as_mapping",
    "count_message_tokens",
    "count_tokens",
    "counter_for",
]


class SupportsModelDump(Protocol):
    """A pydantic model, e.g. the SDK's ``ChatCompletionMessage`` from an earlier response."""

    def model_dump(self, *, exclude_none: bool = ...) -> dict[str, Any]: ...


MessageLike = Mapping[str, Any] | SupportsModelDump
ToolLike = Mapping[str, Any] | SupportsModelDump
MessageT = TypeVar("MessageT", bound=MessageLike)


# The cookbook's chat-format constants (gpt-3.5-turbo-0613 onwards, gpt-4, gpt-4o, o-series).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
# Our estimate for the framing of one assistant tool call (like a message of its own).
TOKENS_PER_TOOL_CALL = 3
# The cookbook's tool-definition constants; FUNC_INIT depends on the encoding.
_FUNC_INIT = {"o200k_base": 7, "cl100k_base": 10}
_PROP_INIT, _PROP_KEY, _ENUM_INIT, _ENUM_ITEM, _FUNC_END = 3, 3, -3, 3, 12

# What one kept count costs besides its text: the key tuple, the cache's entry tuple, the
# ints and the dict slot (about 230 bytes).
_COUNT_ENTRY_BYTES = 256
# Token counts of the roles the API defines: one table per encoding, read by a counter with a
# plain dict lookup per message (any other role string is counted each time, so a stream of
# odd roles cannot grow them). A table of 6 is about 1 KB; the budget holds 16.
_CACHED_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_ROLE_TABLE_BYTES = 1024
_role_tokens: BoundedCache[str, dict[str, int]] = BoundedCache(
    "role token counts", 16 * _ROLE_TABLE_BYTES
)


# Token counts of recent message texts, per encoding: a client's pre-flight and the offline
# backend count the same prompt, and test suites send the same prompts again. Each is charged
# its text and _COUNT_ENTRY_BYTES; a text longer than _TEXT_COUNTS_LONGEST characters is
# counted every time. The budget is what 256 texts of that length take, as before the byte
# budget; short texts fit by the thousand (at most _TEXT_COUNTS_MAX entries).
_TEXT_COUNTS_LONGEST = 16_384
_TEXT_COUNTS_BUDGET = 256 * (_TEXT_COUNTS_LONGEST + _COUNT_ENTRY_BYTES)
_TEXT_COUNTS_MAX = _TEXT_COUNTS_BUDGET // _COUNT_ENTRY_BYTES
_text_counts: BoundedCache[tuple[str, str], int] = BoundedCache(
    "message text token counts", _TEXT_COUNTS_BUDGET
)


# --------------------------------------------------------------------------- public functions


def count_tokens(text: str, model: str = "gpt-4o", *, config: PresetBook | None = None) -> int:
    """The number of tokens ``model``'s tokenizer makes of ``text`` (no chat framing).

    The text is encoded as ordinary text: a literal ``<|endoftext|>`` in it counts as the
    characters it is, as the API treats user text.

    >>> count_tokens("hello world")
    2
    >>> count_tokens("hello world", "gpt-4")
    2
    """
    if not isinstance(text, str):
        raise TypeError(f"count_tokens() takes a str, got {type(text).__name__}")
    counter = counter_for(model, config)
    return counter.scaled(len(counter.encode(text)))


def count_message_tokens(
    messages: Iterable[MessageLike],
    model: str = "gpt-4o",
    tools: Iterable[ToolLike] | None = None,
    *,
    config: PresetBook | None = None,
) -> int:
    """Prompt tokens of a chat request: the messages, the reply priming and the tool definitions.

    Per message 3 tokens plus its role, content and name (1 more for a name), 3 once for the reply
    priming, and the cookbook's rule for function tools. Content as a list of parts, assistant
    ``tool_calls``, ``tool`` messages and the legacy ``function_call`` are counted too (see
    ``docs/token-counting.md``). Messages may be dicts, the SDK's typed params, or pydantic
    models such as a previous response's ``ChatCompletionMessage``. A bad shape raises
    :class:`MessageFormatError` naming the message and the field.

    >>> count_message_tokens([{"role": "user", "content": "hello world"}])
    9
    """
    counter = counter_for(model, config)
    return counter.scaled(counter.prompt(messages, tools))


# --------------------------------------------------------------------------- the counter


def counter_for(model: str, config: PresetBook | None) -> TokenCounter:
    """The counter for ``model`` as ``config`` (default: the current presets files) knows it."""
    if not isinstance(model, str) or not model:
        raise TypeError(f"model must be a non-empty str, got {model!r}")
    if config is None:
        from ..config.presets import default_book

        config = default_book()
    return TokenCounter(config.model(model))


def as_mapping(item: object, where: str) -> Mapping[str, Any]:
    """``item`` as a mapping: dicts (and TypedDicts) as they are, pydantic models dumped."""
    if isinstance(item, Mapping):
        return item
    model_dump = getattr(item, "model_dump", None)
    if callable(model_dump):
        dumped = model_dump(exclude_none=True)
        if isinstance(dumped, Mapping):
            return dumped
    raise MessageFormatError(
        f"{where}: expected a dict (or a pydantic model), got {type(item).__name__}"
    )


def as_list(items: object, where: str, what: str) -> list[Any]:
    """``items`` (messages, tools, tool calls) as a list; a string, bytes or a mapping is
    refused with a MessageFormatError naming ``where`` and ``what`` was expected."""
    if type(items) is list:
        return items
    if isinstance(items, (str, bytes, bytearray, Mapping)) or not isinstance(items, Iterable):
        raise MessageFormatError(f"{where}: expected a list of {what}, got {type(items).__name__}")
    return items if isinstance(items, list) else list(items)


def _strip_period(text: str) -> str:
    return text[:-1] if text.endswith(".") else text


class TokenCounter:
    """Counts for one model: its spec, its encoding and the rules that depend on them."""

    __slots__ = ("encode", "encoding", "roles", "spec")

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.encoding: tiktoken.Encoding = get_encoding(spec.encoding)
        self.encode = self.encoding.encode_ordinary
        self.roles: dict[str, int] | None = None  # the API roles' counts, on first use

    @property
    def exact(self) -> bool:
        """Whether counts are the model's own tokenizer's (else an estimate, see scaled)."""
        return self.spec.estimate_factor is None

    def scaled(self, tokens: int) -> int:
        """``tokens`` (an o200k/cl100k count) as this model's count: itself with a public
        tokenizer; else an estimate with a safety margin, ``ceil(tokens * factor)``, the
        provider's factor from :mod:`llmpresets.config.providers` (Claude 1.35, others 1.2).
        """
        factor = self.spec.estimate_factor
        return tokens if factor is None else math.ceil(tokens * factor)

    # -- text fields

    def _text(self, value: object, where: str) -> int:
        if not isinstance(value, str):
            raise MessageFormatError(f"{where} must be a string, got {type(value).__name__}")
        return len(self.encode(value))

    def _role(self, role: str) -> int:
        roles = self.roles
        if roles is None:
            roles = self.roles = self._role_table()
        tokens = roles.get(role)
        return len(self.encode(role)) if tokens is None else tokens

    def _role_table(self) -> dict[str, int]:
        """The token count of each role the API defines, in this counter's encoding."""
        table = _role_tokens.peek(self.spec.encoding)
        if table is None:
            table = {role: len(self.encode(role)) for role in _CACHED_ROLES}
            _role_tokens.put(self.spec.encoding, table, nbytes=_ROLE_TABLE_BYTES)
        return table

    def _content(self, text: str) -> int:
        """The tokens of a message's text content (recent texts' counts are kept)."""
        if len(text) > _TEXT_COUNTS_LONGEST:
            return len(self.encode(text))
        key = (self.spec.encoding, text)
        tokens = _text_counts.peek(key)
        if tokens is None:
            tokens = len(self.encode(text))
            _text_counts.put(key, tokens, nbytes=sys.getsizeof(text) + _COUNT_ENTRY_BYTES)
        return tokens

    # -- messages

    def prompt(self, messages: Iterable[MessageLike], tools: Iterable[ToolLike] | None) -> int:
        """The whole prompt: messages, the reply priming and the tools."""
        total = REPLY_PRIMING_TOKENS + self.tools(tools)
        for index, message in enumerate(as_list(messages, "messages", "messages")):
            total += self.message(message, index)
        return total

    def message(self, message: object, index: int) -> int:
        """One message with its framing (the 3 per message included)."""
        if not isinstance(message, Mapping):
            message = as_mapping(message, f"message {index}")
        role = message.get("role")
        if type(role) is not str and not isinstance(role, str):
            if role is None:
                raise MessageFormatError(
                    f"message {index}: missing 'role' (one of system, developer, user, "
                    "assistant, tool, function)"
                )
            raise MessageFormatError(
                f"message {index}: 'role' must be a string, got {type(role).__name__}"
            )
        tokens = TOKENS_PER_MESSAGE + self._role(role)
        content = message.get("content")
        if type(content) is str or isinstance(content, str):  # the common case tested first
            tokens += self._content(content)
        elif content is not None:
            tokens += self._parts(content, index)
        if len(message) > 2 or "content" not in message:  # beyond a plain {role, content}
            tokens += self._other_fields(message, index)
        return tokens

    def _other_fields(self, message: Mapping[str, Any], index: int) -> int:
        tokens = 0
        name = message.get("name")
        if name is not None:
            tokens += self._text(name, f"message {index}: 'name'") + TOKENS_PER_NAME
        refusal = message.get("refusal")
        if refusal is not None:
            tokens += self._text(refusal, f"message {index}: 'refusal'")
        tool_calls = message.get("tool_calls")
        if tool_calls is not None:
            where = f"message {index}: 'tool_calls'"
            for number, call in enumerate(as_list(tool_calls, where, "tool calls")):
                tokens += self._tool_call(call, f"{where}[{number}]")
        function_call = message.get("function_call")
        if function_call is not None:
            where = f"message {index}: 'function_call'"
            tokens += TOKENS_PER_TOOL_CALL + self._call(as_mapping(function_call, where), where)
        return tokens

    def _tool_call(self, call: object, where: str) -> int:
        call = as_mapping(call, where)
        function = call.get("function")
        if function is not None:
            return TOKENS_PER_TOOL_CALL + self._call(as_mapping(function, where), where)
        custom = call.get("custom")
        if custom is not None:
            custom = as_mapping(custom, where)
            return (
                TOKENS_PER_TOOL_CALL
                + self._text(custom.get("name"), f"{where}.custom.name")
                + self._text(custom.get("input", ""), f"{where}.custom.input")
            )
        raise MessageFormatError(f"{where}: expected a 'function' (or 'custom') tool call")

    def _call(self, function: Mapping[str, Any], where: str) -> int:
        return self._text(function.get("name"), f"{where}.name") + self._text(
            function.get("arguments", ""), f"{where}.arguments"
        )

    def _parts(self, content: object, index: int) -> int:
        where = f"message {index}: 'content'"
        if isinstance(content, (bytes, bytearray, Mapping)) or not isinstance(content, Iterable):
            raise MessageFormatError(
                f"{where} must be a string, a list of content parts or null, "
                f"got {type(content).__name__}"
            )
        tokens = 0
        for number, part in enumerate(content):
            part_where = f"message {index}: content[{number}]"
            part = as_mapping(part, part_where)
            kind = part.get("type")
            if kind == "text":
                tokens += self._text(part.get("text"), f"{part_where}.text")
            elif kind == "image_url":
                tokens += self._image(part.get("image_url"), part_where)
            elif kind == "refusal":
                tokens += self._text(part.get("refusal"), f"{part_where}.refusal")
            elif kind in ("input_audio", "file"):
                pass  # billed by OpenAI from data we cannot measure offline; see the docs
            else:
                raise MessageFormatError(
                    f"{part_where}: unknown content part type {kind!r}; expected one of text, "
                    "image_url, input_audio, file, refusal"
                )
        return tokens

    # -- images

    def _image(self, image: object, where: str) -> int:
        url: object = image
        detail: object = "auto"
        if not isinstance(image, str):
            image = as_mapping(image, f"{where}.image_url")
            url, detail = image.get("url"), image.get("detail")
        if not isinstance(url, str):
            raise MessageFormatError(f"{where}.image_url.url must be a string")
        return image_tokens(url, detail, self.spec.name)

    # -- tools

    def tools(self, tools: Iterable[ToolLike] | None) -> int:
        """Tool definitions by the cookbook's rule (0 when there are none)."""
        if tools is None:
            return 0
        items = as_list(tools, "tools", "tools")
        if not items:
            return 0
        func_init = _FUNC_INIT.get(self.spec.encoding, _FUNC_INIT["cl100k_base"])
        tokens = _FUNC_END
        for number, tool in enumerate(items):
            where = f"tools[{number}]"
            tool = as_mapping(tool, where)
            kind = tool.get("type", "function")
            if kind == "function":
                if "function" in tool:
                    function = as_mapping(tool["function"], f"{where}.function")
                elif "name" in tool:  # a bare definition, as the legacy `functions=` took
                    function = tool
                else:
                    raise MessageFormatError(f"{where}: missing 'function'")
                tokens += func_init + self._signature(function, where)
                parameters = function.get("parameters")
                if isinstance(parameters, Mapping):
                    properties = parameters.get("properties")
                    if isinstance(properties, Mapping) and properties:
                        tokens += _PROP_INIT + self._properties(properties, where)
            elif kind == "custom":
                custom = as_mapping(tool.get("custom"), f"{where}.custom")
                tokens += func_init + self._signature(custom, where)
                tokens += self._grammar(custom.get("format"))
            else:
                raise MessageFormatError(
                    f"{where}: unknown tool type {kind!r}; expected function or custom"
                )
        return tokens

    def _grammar(self, text_format: object) -> int:
        # Our estimate: a custom tool's grammar is shown to the model as its text.
        grammar = text_format.get("grammar") if isinstance(text_format, Mapping) else None
        definition = grammar.get("definition") if isinstance(grammar, Mapping) else None
        return len(self.encode(definition)) if isinstance(definition, str) else 0

    def _signature(self, function: Mapping[str, Any], where: str) -> int:
        name = function.get("name")
        if not isinstance(name, str):
            raise MessageFormatError(f"{where}: 'name' must be a string")
        description = function.get("description") or ""
        if not isinstance(description, str):
            raise MessageFormatError(f"{where}: 'description' must be a string")
        return len(self.encode(f"{name}:{_strip_period(description)}"))

    def _properties(self, properties: Mapping[str, Any], where: str) -> int:
        tokens = 0
        for key, schema in properties.items():
            if not isinstance(schema, Mapping):
                raise MessageFormatError(f"{where}: property {key!r} must be a JSON Schema object")
            kind = schema.get("type", "")
            if isinstance(kind, list):
                kind = "|".join(str(item) for item in kind)
            description = schema.get("description") or ""
            if not isinstance(description, str):
                raise MessageFormatError(
                    f"{where}: property {key!r}: 'description' must be a string"
                )
            tokens += _PROP_KEY + len(self.encode(f"{key}:{kind}:{_strip_period(description)}"))
            enum = schema.get("enum")
            if isinstance(enum, list) and enum:
                # The cookbook's -3 applies only with at least one item (each adds 3 + its
                # tokens), so an enum never lowers a property's count.
                tokens += _ENUM_INIT
                for item in enum:
                    text = item if isinstance(item, str) else json.dumps(item)
                    tokens += _ENUM_ITEM + len(self.encode(text))
            # Our estimate beyond the cookbook: nested object properties, same per-property rule.
            nested = schema.get("properties")
            if isinstance(nested, Mapping):
                tokens += self._properties(nested, f"{where}.{key}")
            items = schema.get("items")
            if isinstance(items, Mapping) and isinstance(items.get("properties"), Mapping):
                tokens += self._properties(items["properties"], f"{where}.{key}[]")
        return tokens

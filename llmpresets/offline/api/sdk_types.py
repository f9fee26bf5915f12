"""Every request field checked against the openai SDK's own request types, as the API would.

The SDK describes each endpoint's body as a ``TypedDict`` (``CompletionCreateParamsBase`` for
chat completions, ``ResponseCreateParamsBase`` for the Responses API). :func:`check_body_types`
validates each field of a body with pydantic against that field's annotation, strictly (a
string is not a number, ``1`` is not ``true``) and with unknown keys refused at every level, so
the types, the enums (``service_tier``, ``reasoning_effort``...), the required keys of nested
objects and the shapes of unions (``tool_choice``, ``response_format``) are the SDK's and cannot
drift from it. A failure is the API's 400 (:class:`WireError`) naming the ``param``:

* a wrong type: ``invalid_type``, "Invalid type for 'store': expected a boolean, but got a
  string instead.";
* a value outside an enum: ``invalid_value``, "Invalid value: 'zzz'. Supported values are: ...";
* a missing key of a nested object: ``missing_required_parameter``;
* an unknown key of a nested object: ``unknown_parameter``.

Where a union has a discriminator (a message's ``role``, a part's or tool's ``type``) the
member it names is the one checked, so the error is about that member, not a list of every
alternative. The API's rules that types cannot say (an assistant message needs content or
tool calls; content may not be an empty array; metadata's sizes) are checked here too.

The endpoint's parser calls this after its own checks (which give the API's exact messages for
the common cases) and passes the fields it validates itself in ``skip``.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import NotRequired, Required, is_typeddict

from .errors import (
    WireError,
    bad_type,
    empty_array,
    invalid_value,
    missing,
    quoted_list,
    unknown_parameter,
)

__all__ = ["check_body_types", "check_chat_body"]

_CONFIG = ConfigDict(strict=True, extra="forbid")
# pydantic's names of the types it expected, as the API words them.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "dict_type": "an object",
    "typed_dict_type": "an object",
    "model_type": "an object",
    "mapping_type": "an object",
    "list_type": "an array",
    "tuple_type": "an array",
    "iterable_type": "an array",
    "set_type": "an array",
}
_METADATA_PAIRS, _METADATA_KEY, _METADATA_VALUE = 16, 64, 512


# --------------------------------------------------------------------------- adapters


def _unwrap(annotation: Any) -> Any:
    """``Required[X]`` / ``NotRequired[X]`` -> ``X``."""
    while typing.get_origin(annotation) in (Required, NotRequired):
        annotation = typing.get_args(annotation)[0]
    return annotation


@functools.cache
def _hints(params_type: type) -> dict[str, Any]:
    return {
        name: _unwrap(hint)
        for name, hint in typing.get_type_hints(params_type, include_extras=True).items()
    }


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    """A strict, extras-forbidding adapter; a bare TypedDict is wrapped in a 1-tuple (pydantic
    takes no config for one, and setting it on the SDK's class would change the SDK)."""
    if is_typeddict(annotation):
        return TypeAdapter(tuple[annotation], config=_CONFIG)
    return TypeAdapter(annotation, config=_CONFIG)


@functools.cache
def _members_by_tag(union: Any, key: str) -> dict[str, Any]:
    """The members of a union of TypedDicts by the literal value of their ``key`` field."""
    members = {}
    for member in typing.get_args(_unwrap(union)):
        hints = typing.get_type_hints(member) if isinstance(member, type) else {}
        for tag in typing.get_args(_unwrap(hints.get(key))):
            if isinstance(tag, str):
                members[tag] = member
    return members


# --------------------------------------------------------------------------- public


def check_body_types(
    body: Mapping[str, Any], params_type: type, *, skip: Collection[str] = ()
) -> None:
    """Check each field of ``body`` against ``params_type``'s annotation; raise WireError.

    Fields in ``skip``, fields the type does not name (the parser refuses or handles them) and
    ``null`` values (the API reads them as absent) are left alone.
    """
    hints = _hints(params_type)
    for name, value in body.items():
        if name in skip or value is None or name not in hints:
            continue
        _check(hints[name], value, (name,))


def check_chat_body(
    body: Mapping[str, Any], *, skip: Collection[str] = (), fast: bool = True
) -> None:
    """:func:`check_body_types` for ``POST /chat/completions``, and the API's rules on top.

    ``fast=False`` validates every message with pydantic, without the plain-string shortcut
    (:func:`_plainly_valid`, which gives the same answer).

    >>> check_chat_body({"model": "gpt-4o", "messages": [], "store": "x"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    llmpresets.offline.api.errors.WireError: Invalid type for 'store': expected a boolean, ...
    """
    chat = _chat_types()
    hints = chat.hints
    messages = body.get("messages")
    if "messages" not in skip and isinstance(messages, list):
        by_role = chat.by_role
        for index, message in enumerate(messages):
            where = ("messages", index)
            role = message.get("role") if isinstance(message, dict) else None
            if role in by_role:
                _check_message_rules(message, where)  # parts first: the errors are sharper
                if not (fast and _plainly_valid(message, chat.plain[role])):
                    _check(by_role[role], message, where)
            else:
                _check(chat.message, message, where)
    tools = body.get("tools")
    if "tools" not in skip and isinstance(tools, list):
        by_type = chat.by_type
        for index, tool in enumerate(tools):
            member = by_type.get(str(tool.get("type"))) if isinstance(tool, dict) else None
            _check(member or chat.tool, tool, ("tools", index))
    _check_metadata(body.get("metadata"))
    check_body_types(body, chat.params, skip=_also_skipping(skip))
    if body.get("metadata") is not None:
        _check(hints["metadata"], body["metadata"], ("metadata",))


# The fields check_chat_body checks itself before the others.
_CHECKED_APART = ("messages", "tools", "metadata")


def _also_skipping(skip: Collection[str]) -> frozenset[str]:
    """``skip`` and the fields checked apart (the parser's constant set: made once)."""
    if isinstance(skip, frozenset):
        return _with_checked_apart(skip)
    return frozenset({*skip, *_CHECKED_APART})


# A lookup table, not a cache of requests: its keys are the parsers' own constant ``skip`` sets
# (a handful, fixed by the code), so it stays outside llmpresets._cache's byte budgets.
@functools.lru_cache(maxsize=16)
def _with_checked_apart(skip: frozenset[str]) -> frozenset[str]:
    return skip | frozenset(_CHECKED_APART)


@dataclass(frozen=True)
class _ChatTypes:
    """The SDK's chat completion request types, read once: the params' field annotations,
    the message and tool unions and their members by tag, and per message role the fields
    that take any string (see :func:`_plainly_valid`)."""

    params: type
    hints: dict[str, Any]
    message: Any
    by_role: dict[str, Any]
    tool: Any
    by_type: dict[str, Any]
    plain: dict[str, tuple[frozenset[str], frozenset[str]]]


@functools.cache
def _chat_types() -> _ChatTypes:
    from openai.types.chat.completion_create_params import CompletionCreateParamsBase

    hints = _hints(CompletionCreateParamsBase)
    message, tool = _element(hints["messages"]), _element(hints["tools"])
    by_role = _members_by_tag(message, "role")
    return _ChatTypes(
        params=CompletionCreateParamsBase,
        hints=hints,
        message=message,
        by_role=by_role,
        tool=tool,
        by_type=_members_by_tag(tool, "type"),
        plain={role: _string_fields(member, "role") for role, member in by_role.items()},
    )


def _string_fields(member: Any, tag: str) -> tuple[frozenset[str], frozenset[str]]:
    """A TypedDict's fields that accept any string (annotated ``str``, or a union with a bare
    ``str`` arm; the ``tag`` field too, its literal being the one the member was chosen by),
    and its required fields."""
    fields, required = {tag}, set()
    for name, hint in typing.get_type_hints(member, include_extras=True).items():
        # As pydantic reads a TypedDict: Required[...] / NotRequired[...], else its totality.
        wrapper = typing.get_origin(hint)
        if wrapper is Required or (wrapper is not NotRequired and member.__total__):
            required.add(name)
        annotation = _unwrap(hint)
        if annotation is str or (
            typing.get_origin(annotation) in (typing.Union, types.UnionType)
            and str in typing.get_args(annotation)
        ):
            fields.add(name)
    return frozenset(fields), frozenset(required)


def _plainly_valid(message: dict[str, Any], fields: tuple[frozenset[str], frozenset[str]]) -> bool:
    """Whether a message is valid for its role's type without asking pydantic: every key is a
    field that takes any string and every value is a string, with the required ones present.

    Strict validation of such a message cannot fail (a ``str`` arm accepts any ``str``, and
    nothing in it is checked lazily), so skipping it changes no answer; any other message
    (parts, tool calls, a null, an unknown key) is validated in full.
    """
    strings, required = fields
    for key, value in message.items():
        if type(value) is not str or key not in strings:
            return False
    return required <= message.keys()


def _element(iterable: Any) -> Any:
    """``Iterable[X]`` -> ``X``."""
    args = typing.get_args(_unwrap(iterable))
    return args[0] if args else Any


# --------------------------------------------------------------------------- the API's rules


def _check_message_rules(message: Mapping[str, Any], where: tuple[Any, ...]) -> None:
    content = message.get("content")
    if isinstance(content, list) and not content:
        raise empty_array(_param((*where, "content")))
    if isinstance(content, list):
        by_type = _content_part_types(message.get("role"))
        for number, part in enumerate(content):
            member = by_type.get(str(part.get("type"))) if isinstance(part, dict) else None
            if member is not None:
                _check(member, part, (*where, "content", number))
    if (
        message.get("role") == "assistant"
        and content is None
        and not message.get("tool_calls")
        and not message.get("function_call")
        and not message.get("audio")
    ):
        raise WireError(
            400,
            f"Invalid value for '{_param((*where, 'content'))}': expected a string, got null. "
            "An assistant message needs 'content' or 'tool_calls'.",
            param=_param((*where, "content")),
            code="invalid_value",
        )


@functools.cache
def _content_part_types(role: Any) -> dict[str, Any]:
    from openai.types.chat.completion_create_params import CompletionCreateParamsBase

    member = _members_by_tag(_element(_hints(CompletionCreateParamsBase)["messages"]), "role").get(
        role
    )
    if member is None:
        return {}
    content = typing.get_type_hints(member).get("content")
    for arm in typing.get_args(_unwrap(content)):
        if typing.get_origin(arm) is not None and typing.get_args(arm):
            return _members_by_tag(typing.get_args(arm)[0], "type")
    return {}


def _check_metadata(metadata: Any) -> None:
    if not isinstance(metadata, dict):
        return
    if len(metadata) > _METADATA_PAIRS:
        raise WireError(
            400,
            f"Invalid 'metadata': too many properties. Expected an object with at most "
            f"{_METADATA_PAIRS} properties, but got an object with {len(metadata)} properties "
            "instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > _METADATA_KEY:
            raise WireError(
                400,
                f"Invalid 'metadata': string too long. Expected a key with maximum length "
                f"{_METADATA_KEY}, but got a key with length {len(key)} instead.",
                param="metadata",
                code="string_above_max_length",
            )
        if isinstance(value, str) and len(value) > _METADATA_VALUE:
            raise WireError(
                400,
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum "
                f"length {_METADATA_VALUE}, but got a string with length {len(value)} instead.",
                param=f"metadata.{key}",
                code="string_above_max_length",
            )


# --------------------------------------------------------------------------- checking


def _check(annotation: Any, value: Any, where: tuple[Any, ...]) -> None:
    wrapped = is_typeddict(annotation)
    try:
        result = _adapter(annotation).validate_python((value,) if wrapped else value)
        _drain(result[0] if wrapped else result, where)
    except _Located as located:
        raise _wire_error(located.error, located.where, None) from None
    except ValidationError as exc:
        raise _wire_error(exc, where, value, skip=1 if wrapped else 0) from None


class _Located(Exception):
    """A ValidationError found while draining a lazily validated iterable at ``where``."""

    def __init__(self, error: ValidationError, where: tuple[Any, ...]) -> None:
        super().__init__(str(error))
        self.error = error
        self.where = where


def _drain(value: Any, where: tuple[Any, ...]) -> None:
    """pydantic checks ``Iterable[X]`` lazily: walk the result and consume every iterator."""
    pending: list[tuple[Any, tuple[Any, ...]]] = [(value, where)]
    while pending:
        item, path = pending.pop()
        if isinstance(item, dict):
            pending.extend((child, (*path, key)) for key, child in item.items())
        elif isinstance(item, (list, tuple)):
            pending.extend((child, (*path, index)) for index, child in enumerate(item))
        elif isinstance(item, Iterator) or type(item).__name__ == "ValidatorIterator":
            try:
                items = list(item)
            except ValidationError as exc:
                raise _Located(exc, path) from None
            pending.extend((child, (*path, index)) for index, child in enumerate(items))


_TAG = re.compile(
    r"[\[(]|^[A-Z]|^function-|^json-or-python|^chain|^lax-|^strict-"
    r"|^(str|int|float|bool|dict|list|none)$"
)


def _clean(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic location without its union-member and validator tags."""
    return tuple(part for part in loc if not (isinstance(part, str) and _TAG.search(part)))


def _param(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _value_at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _wire_error(
    exc: ValidationError, where: tuple[Any, ...], value: Any, *, skip: int = 0
) -> WireError:
    errors: list[dict[str, Any]] = [
        {**error, "loc": tuple(error["loc"])[skip:]} for error in exc.errors(include_url=False)
    ]
    # A literal mismatch on a discriminator means "not this member": prefer the others, unless
    # every member refused the discriminator (then it is the value that is wrong).
    tags = {_member(error["loc"]) for error in errors}
    refused = [error for error in errors if _is_discriminator(error)]
    if refused and len({_member(error["loc"]) for error in refused}) == len(tags) > 1:
        loc = _clean(refused[0]["loc"])
        param = _param((*where, *loc))
        values = [str((error.get("ctx") or {}).get("expected", "")) for error in refused]
        return invalid_value(param, refused[0].get("input"), _supported(", ".join(values)))
    informative = [
        error
        for error in errors
        if not (error["type"] == "literal_error" and _clean(error["loc"])[-1:] in (("type",),))
    ] or errors
    deepest = max(len(_clean(error["loc"])) for error in informative)
    chosen = [error for error in informative if len(_clean(error["loc"])) == deepest]
    first = chosen[0]
    loc = _clean(first["loc"])
    param = _param((*where, *loc))
    kind = first["type"]
    if kind == "extra_forbidden":
        return unknown_parameter(param)
    if kind == "missing":
        return missing(param)
    expected = [_EXPECTED[error["type"]] for error in chosen if error["type"] in _EXPECTED]
    literals = [error for error in chosen if error["type"] == "literal_error"]
    if literals and not expected and not isinstance(first.get("input"), str):
        return bad_type(param, "a string", first.get("input"))
    if literals and not expected:
        supported = _supported(str((literals[0].get("ctx") or {}).get("expected", "")))
        return invalid_value(param, first.get("input"), supported)
    if literals:
        expected.append("a string")
    if expected:
        kinds = list(dict.fromkeys(expected))
        text = (
            kinds[0]
            if len(kinds) == 1
            else "one of "
            + " or ".join(
                [kinds[0], *(kind.removeprefix("an ").removeprefix("a ") for kind in kinds[1:])]
            )
        )
        got = first.get("input") if value is None else _value_at(value, loc)
        return bad_type(param, text, got)
    return WireError(400, f"Invalid value for '{param}'.", param=param, code="invalid_value")


def _is_discriminator(error: Mapping[str, Any]) -> bool:
    return error["type"] == "literal_error" and _clean(error["loc"])[-1:] in (("type",),)


def _member(loc: tuple[Any, ...]) -> str | None:
    """The union member a location is inside (its first tag), if any."""
    for part in loc:
        if isinstance(part, str) and _TAG.search(part):
            return part
    return None


def _supported(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" as the API's "'a', 'b', and 'c'"."""
    values = re.findall(r"'[^']*'|\d+", expected)
    if len(values) <= 1:
        return expected
    return quoted_list(values, quote=False)

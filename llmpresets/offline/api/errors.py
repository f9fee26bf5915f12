"""The API's error answers and the field checks every endpoint's parser shares.

:class:`WireError` is an error answer (HTTP status and the body ``{"error": {"message", "type",
"param", "code"}}``). The helpers check one field as the API does, with its messages and codes:
:func:`bad_type` (``invalid_type``), :func:`empty_array`, :func:`number` /
:func:`check_number` (ranges, checked without converting a value first, so ``seed=10**400`` or
``1e400`` is a 400 and never an overflow), :func:`boolean`, :func:`required`
(``missing_required_parameter``), and :func:`parse_body` (malformed JSON, lone surrogate escapes
and ``NaN`` included). Parsers for each endpoint (:mod:`.chat` for chat completions) build on them.

Each wording the API repeats across endpoints has one home here: :func:`missing`,
:func:`unrecognized` / :func:`unknown_parameter`, :func:`invalid_value` with
:func:`quoted_list`, :func:`invalid_url`, :func:`wrong_method` / :func:`only`, and
:func:`server_error`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.types import SchemaError

__all__ = [
    "WireError",
    "bad_type",
    "boolean",
    "check_number",
    "empty_array",
    "invalid_url",
    "invalid_value",
    "missing",
    "model_not_found",
    "number",
    "only",
    "parse_body",
    "quoted_list",
    "required",
    "server_error",
    "show_number",
    "texts_or_token_arrays",
    "unknown_parameter",
    "unrecognized",
    "wrong_method",
]

_PARSE_ERROR = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)"
)


class WireError(Exception):
    """An API error answer: the HTTP status, and the body's message, type, param and code."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type

    def body(self) -> dict[str, Any]:
        """The JSON error body the API answers with."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def bad_type(name: str, expected: str, value: Any) -> WireError:
    """The API's 400 ``invalid_type`` for field ``name`` (``expected``: "a string"...)."""
    got = _type_name(value)
    return WireError(
        400,
        f"Invalid type for '{name}': expected {expected}, but got {got} instead.",
        param=name,
        code="invalid_type",
    )


def empty_array(name: str) -> WireError:
    """The API's 400 ``empty_array`` for an array field that needs at least one item."""
    return WireError(
        400,
        f"Invalid '{name}': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
        param=name,
        code="empty_array",
    )


def number(
    body: Mapping[str, Any],
    name: str,
    low: float,
    high: float,
    *,
    integer: bool = False,
) -> Any:
    """``body[name]`` checked by :func:`check_number`, or None when absent or null."""
    value = body.get(name)
    return None if value is None else check_number(name, value, low, high, integer=integer)


def check_number(name: str, value: Any, low: float, high: float, *, integer: bool) -> Any:
    """``value`` as an int or float in ``[low, high]``, or the API's 400 for it.

    Comparisons of Python ints (of any size) and floats (``inf`` from ``1e400`` in the JSON
    included) are exact and never overflow; nothing converts a value before it is in range.
    """
    kind = "integer" if integer else "decimal"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_type(name, "an integer" if integer else "a decimal", value)
    if isinstance(value, float) and (
        math.isnan(value) or (integer and math.isfinite(value) and not value.is_integer())
    ):
        raise bad_type(name, "an integer" if integer else "a decimal", value)
    if value > high:
        raise WireError(
            400,
            f"Invalid '{name}': {kind} above maximum value. Expected a value <= "
            f"{show_number(high)}, but got {show_number(value)} instead.",
            param=name,
            code=f"{kind}_above_max_value",
        )
    if value < low:
        raise WireError(
            400,
            f"Invalid '{name}': {kind} below minimum value. Expected a value >= "
            f"{show_number(low)}, but got {show_number(value)} instead.",
            param=name,
            code=f"{kind}_below_min_value",
        )
    return int(value) if integer else float(value)


def show_number(value: float) -> str:
    """A number as an error message shows it: huge ones in e-notation, never an overflow."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value) if math.isfinite(value) else ("-" if value < 0 else "") + "Infinity"
    try:
        digits = str(abs(value))
    except ValueError:  # beyond int's string conversion limit
        return "a very large integer"
    if len(digits) <= 21:
        return str(value)
    sign = "-" if value < 0 else ""
    fraction = digits[1:16].rstrip("0")
    return f"{sign}{digits[0]}{'.' if fraction else ''}{fraction}e+{len(digits) - 1}"


def boolean(body: Mapping[str, Any], name: str) -> bool:
    """``body[name]`` as a bool (absent or null: False), or the API's ``invalid_type``."""
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_type(name, "a boolean", value)
    return value


def missing(param: str) -> WireError:
    """The API's 400 ``missing_required_parameter`` for ``param`` (a path: ``messages[0].role``)."""
    return WireError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def required(mapping: Mapping[str, Any], where: str) -> Any:
    """``mapping[last part of where]``, or the API's missing_required_parameter."""
    value = mapping.get(where.rsplit(".", 1)[-1])
    if value is None:
        raise missing(where)
    return value


def unrecognized(names: Sequence[str], *, named: bool = False) -> WireError:
    """The API's 400 for body fields it does not know: ``Unrecognized request argument(s)
    supplied: a, b``, the names in the order given.

    Chat completions lists them all, with no ``param`` or ``code``; the legacy endpoints
    (``/completions``, ``/embeddings``) name one field, ``named=True``: it is also the
    ``param``, with the code ``unknown_parameter``.
    """
    plural = "s" if len(names) > 1 else ""
    message = f"Unrecognized request argument{plural} supplied: {', '.join(names)}"
    if named:
        return WireError(400, message, param=names[0], code="unknown_parameter")
    return WireError(400, message)


def unknown_parameter(param: str) -> WireError:
    """The API's 400 ``unknown_parameter`` in its other wording (the Responses API's, and a
    nested field the SDK's types do not have): ``Unknown parameter: 'text.format.name'.``"""
    return WireError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def quoted_list(values: Sequence[object], *, quote: bool = True, conjunction: bool = True) -> str:
    """Values as the API lists them in a message: ``'a'``, ``'a' and 'b'``, ``'a', 'b', and 'c'``.

    ``quote=False``: the values come quoted already (pydantic's ``expected``, where numbers
    are bare); ``conjunction=False``: ``'a', 'b', 'c'``, as the Responses endpoint's own checks
    list them.

    >>> quoted_list(["a"]), quoted_list(["a", "b"]), quoted_list(["a", "b", "c"])
    ("'a'", "'a' and 'b'", "'a', 'b', and 'c'")
    >>> quoted_list(["a", "b"], conjunction=False)
    "'a', 'b'"
    """
    items = [f"'{value}'" if quote else str(value) for value in values]
    if not conjunction:
        return ", ".join(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + f", and {items[-1]}"


def invalid_value(param: str, value: object, supported: str) -> WireError:
    """The API's 400 ``invalid_value`` for a value outside a set: ``Invalid value: 'x'.
    Supported values are: ....`` (``supported``: the set as :func:`quoted_list` lists it)."""
    return WireError(
        400,
        f"Invalid value: '{value}'. Supported values are: {supported}.",
        param=param,
        code="invalid_value",
    )


def invalid_url(method: str, path: str) -> WireError:
    """The API's 404 for a path no route answers."""
    return WireError(404, f"Invalid URL ({method} {path})")


def wrong_method(method: str, path: str) -> WireError:
    """The API's 405 for a route that does not answer ``method``."""
    return WireError(405, f"Invalid method for URL ({method} {path})")


def only(method: str, allowed: str, path: str) -> None:
    """Raise the API's 405 (:func:`wrong_method`) unless ``method`` is ``allowed``."""
    if method != allowed:
        raise wrong_method(method, path)


def server_error(exc: Exception) -> WireError:
    """The API's 500 for a failure on the server's side (a misbehaving next-token source)."""
    return WireError(500, str(exc), type="server_error")


def parse_body(content: bytes) -> dict[str, Any]:
    """The JSON object of a request body, or the API's 400 for a body that is not one.

    Not JSON: bytes that are not UTF-8, ``NaN`` / ``Infinity`` (not JSON, though Python reads
    them), nesting too deep to read, and escapes of lone surrogates (``"\\ud800"``: text
    no UTF-8 can carry, which would fail the tokenizer and the request hash).
    """
    try:
        body = json.loads(content, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise WireError(400, _PARSE_ERROR) from None
    if not isinstance(body, dict):
        raise WireError(400, _PARSE_ERROR)
    if _SURROGATE.search(content) and _has_lone_surrogate(body):
        raise WireError(400, _PARSE_ERROR)
    return body


# An escaped surrogate (\ud800...), or a UTF-8-encoded one (ED A0..BF xx), which json.loads
# lets in since it decodes bytes with "surrogatepass": one scan finds either.
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def model_not_found(model: str, suggestion: str | None = None) -> WireError:
    """The API's 404 for a model that does not exist (or that the caller cannot use).

    ``suggestion``: a known model ``model`` probably misspells, added after the API's own
    sentence (so a client matching the API's wording still matches its start).
    """
    hint = f" Did you mean `{suggestion}`?" if suggestion else ""
    return WireError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.{hint}",
        code="model_not_found",
    )


def _is_token_array(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    )


def texts_or_token_arrays(
    value: Any, invalid: Callable[[], WireError], *, empty_arrays: bool
) -> list[str | list[int]]:
    """A text-or-tokens field (``prompt`` of /completions, ``input`` of /embeddings): a string,
    a token array, or a non-empty array of strings and token arrays, in order; else ``invalid()``.

    ``empty_arrays``: whether an inner token array may be empty (completions: yes; embeddings:
    no).
    """
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        raise invalid()
    if _is_token_array(value):
        return [list(value)]
    items: list[str | list[int]] = []
    for item in value:
        if isinstance(item, str):
            items.append(item)
        elif _is_token_array(item) and (empty_arrays or item):
            items.append(list(item))
        else:
            raise invalid()
    return items


def schema_refusal(error: SchemaError, endpoint: str = "chat") -> WireError:
    """The API's 400 for a schema the engine cannot compile, named as ``endpoint`` (``chat``
    or ``responses``) names the field that holds it.

    Chat completions: ``response_format``, ``tools[i].function.parameters`` or
    ``tools[i].custom.format``; the Responses API: ``text.format``, ``tools[i].parameters`` or
    ``tools[i].format``. A tool's error carries ``invalid_function_parameters``.
    """
    responses = endpoint == "responses"
    if error.tool is None:
        where = param = "text.format" if responses else "response_format"
        code = None
    else:
        where = "function" if error.tool_kind == "function" else "custom tool"
        field = "parameters" if error.tool_kind == "function" else "format"
        param = f"tools[{error.tool}]." + (field if responses else f"{error.tool_kind}.{field}")
        code = "invalid_function_parameters"
    message = f"Invalid schema for {where} '{error.name}': {error.problem}"
    return WireError(400, message, param=param, code=code)

"""Validating configuration, with errors that name the file and line of the bad value.

A :class:`ConfigLayer` is one source of configuration (a presets file, a file of scripted rules
or faults, a rule made in code) with its data and the YAML line of each value.
:func:`validate_config` validates data against the file's schema
(:mod:`llmpresets.config.schema`) and renders each pydantic error as ``file:line: field.path:
what is wrong; what is allowed``, naming the highest layer that set the bad value (a value
quoted in YAML, ``"0.5"``, gets a hint). :func:`check_sampling_values` holds values given in
code to the same ranges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .._errors import ConfigError, describe_pydantic_error
from .params import PRESET_FIELDS
from .schema import ConfigFile, describe_range_at, schema_model_at
from .yaml_file import LineMap

__all__ = ["ConfigLayer", "check_sampling_values", "line_for", "validate_config"]


@dataclass(frozen=True)
class ConfigLayer:
    """One source of configuration: its name (a path, or what made it), data and YAML lines."""

    source: str
    data: dict[str, Any]
    lines: LineMap


def validate_config(layers: list[ConfigLayer], data: dict[str, Any]) -> ConfigFile:
    """``data`` (the ``layers`` merged) as a :class:`ConfigFile`, or a ConfigError naming
    the file, line and field of each problem (the first one's in its attributes)."""
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        messages = sorted(
            (_describe(error, layers) for error in exc.errors()),
            key=lambda described: (described[1] or "", described[2] or 0),
        )
        first = messages[0]
        if len(messages) == 1:
            text = first[0]
        else:
            text = f"{len(messages)} problems:\n" + "\n".join(f"  {m[0]}" for m in messages)
        raise ConfigError(text, file=first[1], line=first[2], field=first[3]) from None


def check_sampling_values(values: Mapping[str, Any], source: str = "per-call override") -> None:
    """Validate sampling values given in code with the same ranges as the file.

    Raises ConfigError naming the parameter, the value and the allowed range, so a request the
    library knows to be invalid is never sent.

    >>> check_sampling_values({"temperature": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    llmpresets._errors.ConfigError: per-call override: temperature: 3 is out of range; ...
    """
    fields = {name: value for name, value in values.items() if name in PRESET_FIELDS}
    data = {"presets": {"call": fields}}
    validate_config([ConfigLayer(source, data, {})], data)


def line_for(
    loc: tuple[str | int, ...], layers: list[ConfigLayer]
) -> tuple[str | None, int | None]:
    """The file and line of the highest layer that sets ``loc`` (or its nearest parent)."""
    for depth in range(len(loc), -1, -1):
        prefix = loc[:depth]
        for layer in reversed(layers):
            if prefix in layer.lines and _sets(layer.data, prefix):
                return layer.source, layer.lines[prefix]
    return (layers[-1].source, None) if layers else (None, None)


def _sets(data: Any, loc: tuple[str | int, ...]) -> bool:
    for part in loc:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return False
    return True


# --------------------------------------------------------------------------- one error


def _describe(error: Any, layers: list[ConfigLayer]) -> tuple[str, str | None, int | None, str]:
    """Render one pydantic error as ``file:line: field.path: what is wrong; what is allowed``."""
    loc: tuple[str | int, ...] = tuple(
        part for part in error["loc"] if not (isinstance(part, str) and "[" in part)
    )
    field_path = ".".join(str(part) for part in loc) or "(top level)"
    if loc[:2] == ("presets", "call") and layers and not layers[0].lines:
        field_path = ".".join(str(part) for part in loc[2:])  # a per-call override
    kind = error["type"]
    value = error.get("input")
    parent = schema_model_at(loc[:-1]) if kind == "extra_forbidden" else None
    allowed = describe_range_at(loc) if loc else None
    what = describe_pydantic_error(
        error, valid_fields=list(parent.model_fields) if parent is not None else [], allowed=allowed
    )
    if kind not in _PLAIN_KINDS and isinstance(value, str) and _looks_numeric(value):
        decimal = _decimal(value)
        if decimal != value:
            what += f" (YAML reads {value} as text; write {decimal})"
        else:
            what += " (quoted, so YAML reads it as text; remove the quotes)"
    source, line = line_for(loc, layers)
    where = f"{source}:{line}" if line is not None else (source or "<config>")
    return f"{where}: {field_path}: {what}", source, line, field_path


# Error kinds whose message needs no YAML-quoting hint.
_PLAIN_KINDS = frozenset(
    {
        "extra_forbidden",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "literal_error",
        "value_error",
        "missing",
    }
)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _decimal(text: str) -> str:
    """1e-5 -> 1.0e-5, the spelling YAML 1.1 reads as a number."""
    mantissa, _, exponent = text.lower().partition("e")
    if exponent and "." not in mantissa:
        return f"{mantissa}.0e{exponent}"
    return text

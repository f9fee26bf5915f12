"""Scripted rules: read from YAML or Python, and the one a request's prompt matches.

A rule matches the request's last user message (case-insensitive substring, or a regex with
``regex: true``); the first matching rule answers (:func:`find_rule`). Its completions are
sampled as if each were one token whose model probability is the one written in the table:
the request's temperature, top_k, top_p and min_p are applied to ``log(probability)`` by
:mod:`llmpresets.sampling`, the same maths as for the language model
(:mod:`llmpresets.offline.engine.scripted` draws and writes them). Frequency and presence
penalties do not apply to whole completions. When the probabilities add up to less than 1,
the rest is the chance that the next-token source answers instead (one more candidate).

File shape (also accepted under ``offline:`` as in ``presets.yaml``)::

    scripted:
      - match: "what should I wear"
        completions:
          - {text: "Sunglasses.", probability: 0.7}
          - {text: "A hat.", probability: 0.2}
          - {text: "A jacket.", probability: 0.1}
      - match: "weather in"
        completions:
          - {tool_call: {name: get_weather, arguments: {city: Paris}}, probability: 0.9}
          - {json: {city: Paris, forecast: sunny}, probability: 0.1}

A ``json`` completion is its value written as compact JSON; a ``tool_call`` completion is a
call to a tool the request offers (arguments as compact JSON). Candidates a request cannot
take are masked out before the draw, as a grammar masks tokens: a tool call needs its tool
in ``tools`` and allowed by ``tool_choice``; under ``response_format`` JSON, a text or JSON
candidate must be valid for the schema; when ``tool_choice`` requires a call, only calls
are left. The others keep their probabilities (renormalised by the sampler).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..._errors import ConfigError, describe_pydantic_error
from ...config.presets import ScriptedCompletion, ScriptedRule
from ...config.validation import ConfigLayer, validate_config
from ...config.yaml_file import load_yaml_file

__all__ = ["find_rule", "load_scripted", "make_rule"]


def load_scripted(path: str | os.PathLike[str]) -> list[ScriptedRule]:
    """Read and validate a scripted-candidates YAML file; errors name ``file:line: field``.

    >>> import pathlib, tempfile
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "scripted.yaml"
    >>> _ = file.write_text('scripted:\\n  - match: wear\\n    completions:\\n'
    ...                     '      - {text: Sunglasses., probability: 1.0}\\n')
    >>> load_scripted(file)[0].completions[0].text
    'Sunglasses.'
    """
    source = str(path)
    data, lines = load_yaml_file(Path(path))
    if not isinstance(data, dict) or not ("scripted" in data or "offline" in data):
        raise ConfigError(
            f"{source}:1: expected a mapping with the key 'scripted' (a list of rules with "
            "match, regex, completions)",
            file=source,
            line=1,
        )
    if "offline" in data:
        config = validate_config([ConfigLayer(source, data, lines)], data)
        return list(config.offline.scripted)
    unknown = sorted(set(data) - {"scripted"})
    if unknown:
        line = lines.get((unknown[0],))
        where = f"{source}:{line}" if line else source
        raise ConfigError(
            f"{where}: {unknown[0]}: unknown field; valid fields: scripted",
            file=source,
            line=line,
            field=unknown[0],
        )
    # Validate through the configuration schema, so messages and line numbers match presets.yaml.
    wrapped = {"offline": {"scripted": data["scripted"]}}
    wrapped_lines = {("offline", *key): line for key, line in lines.items()}
    try:
        config = validate_config([ConfigLayer(source, wrapped, wrapped_lines)], wrapped)
    except ConfigError as exc:
        field_path = (exc.field or "").removeprefix("offline.")
        raise ConfigError(
            exc.message.replace(": offline.scripted", ": scripted"),
            file=exc.file,
            line=exc.line,
            field=field_path or None,
        ) from None
    return list(config.offline.scripted)


def make_rule(
    match: str,
    completions: Mapping[str, float] | Sequence[tuple[str | Mapping[str, Any], float]],
    *,
    regex: bool = False,
) -> ScriptedRule:
    """A validated rule from ``{text: probability}`` (a ConfigError if it is not valid).

    An answer may also be ``{"json": value}`` or ``{"tool_call": {"name": ..., "arguments":
    {...}}}`` (pairs then, as a mapping's keys must be strings).

    >>> make_rule("wear", {"Sunglasses.": 0.7, "A hat.": 0.3}).completions[1].text
    'A hat.'
    >>> rule = make_rule("weather", [({"tool_call": {"name": "get_weather",
    ...     "arguments": {"city": "Paris"}}}, 1.0)])
    >>> rule.completions[0].tool_call.name
    'get_weather'
    """
    from pydantic import ValidationError

    pairs = list(completions.items()) if isinstance(completions, Mapping) else list(completions)
    try:
        return ScriptedRule(
            match=match,
            regex=regex,
            completions=[
                ScriptedCompletion.model_validate(
                    {"text": answer, "probability": p}
                    if isinstance(answer, str)
                    else {**answer, "probability": p}
                )
                for answer, p in pairs
            ],
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'rule'}: {describe_pydantic_error(error)}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid scripted rule for {match!r}: {problems}") from None


def find_rule(rules: Sequence[ScriptedRule], last_user_text: str | None) -> ScriptedRule | None:
    """The first rule matching the last user message, if any."""
    if last_user_text is None:
        return None
    for rule in rules:
        if rule.matches(last_user_text):
            return rule
    return None

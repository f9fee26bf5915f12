"""Scripted rules: read from YAML or Python, and the one a request's conversation matches.

A rule matches the request's last user message (case-insensitive substring, or a regex with
``regex: true``; no ``match``: any conversation) when its conditions on the turn hold too;
the first matching rule answers (:func:`find_rule`). Its completions are
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

Turns. An agent's conversation keeps its last user message while it calls tools and reads
their results, so a rule can also say *which step* it answers. The **turn** is the number of
assistant replies since the last user message (0 for a fresh question, 1 after one tool round
trip). Conditions, all optional:

- ``after_tool``: ``true`` only right after a tool result (the last message is a ``tool``
  message), ``false`` never then, or a tool's name: right after that tool's result;
- ``tools_offered: [a, b]``: only when the request offers all these tools;
- ``model``: only for models matching this fnmatch pattern (``gpt-4o*``);
- ``turn: N``: only at turn N.

A rule with ``replies: [...]`` (instead of ``completions``) gives them in order, one per turn
it answers: its answer is ``replies[k]``, where k counts the earlier turns of this exchange
(since the last user message) that the rules gave to it; each earlier turn is replayed through
the same choice, seen as the conversation was before it. ``times: N`` caps how many turns
of an exchange a rule answers (default: as many as ``replies``; every turn for
``completions``); replies shorter than ``times`` repeat their last one. A rule that has
answered all it may answers no more: the next matching rule answers, else the sampler. ::

    scripted:
      - match: "weather in"
        replies:
          - tool_call: {name: get_weather, arguments: {city: Paris}}
          - text: "Sunny in Paris, 21 C."

Determinism: the position is read from the conversation, with no state kept between
requests, so a replayed conversation gets the same reply, and a seeded request stays a pure
function of (seed, request). A reply the request cannot take (a tool it does not offer,
arguments its schema refuses) is a 500 naming the rule, not a silent fall-through.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..._errors import ConfigError, describe_pydantic_error
from ...config.presets import ScriptedCompletion, ScriptedReply, ScriptedRule
from ...config.validation import ConfigLayer, validate_config
from ...config.yaml_file import load_yaml_file
from ...tokens.messages import content_text
from ..engine.scripted import FixedReply
from .responder import ToolCall, last_tool_result

__all__ = [
    "find_rule",
    "fixed_reply",
    "load_scripted",
    "make_rule",
    "rule_reply",
]


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
    match: str | None,
    completions: Mapping[str, float] | Sequence[tuple[str | Mapping[str, Any], float]] = (),
    *,
    regex: bool = False,
    replies: Sequence[Any] = (),
    times: int | None = None,
    after_tool: bool | str | None = None,
    tools_offered: Sequence[str] | None = None,
    model: str | None = None,
    turn: int | None = None,
) -> ScriptedRule:
    """A validated rule from ``{text: probability}`` (a ConfigError if it is not valid).

    An answer may also be ``{"json": value}`` or ``{"tool_call": {"name": ..., "arguments":
    {...}}}`` (pairs then, as a mapping's keys must be strings). ``replies`` (instead of
    completions) are given in order, one per turn: each a text, a
    :class:`~llmpresets.offline.ToolCall`, a list of them (parallel calls) or a mapping
    (``{"json": value}``, ``{"text": ...}``, ``{"tool_call": ...}``). The conditions are
    those of the YAML file (module docstring).

    >>> make_rule("wear", {"Sunglasses.": 0.7, "A hat.": 0.3}).completions[1].text
    'A hat.'
    >>> rule = make_rule("weather", [({"tool_call": {"name": "get_weather",
    ...     "arguments": {"city": "Paris"}}}, 1.0)])
    >>> rule.completions[0].tool_call.name
    'get_weather'
    >>> from llmpresets.offline import ToolCall
    >>> make_rule("weather", replies=[ToolCall("get_weather", {"city": "Paris"}),
    ...     "Sunny."]).replies[1].text
    'Sunny.'
    """
    from pydantic import ValidationError

    pairs = list(completions.items()) if isinstance(completions, Mapping) else list(completions)
    fields: dict[str, Any] = {
        "match": match,
        "regex": regex,
        "times": times,
        "after_tool": after_tool,
        "tools_offered": list(tools_offered) if tools_offered is not None else None,
        "model": model,
        "turn": turn,
    }
    try:
        return ScriptedRule(
            completions=[
                ScriptedCompletion.model_validate(
                    {"text": answer, "probability": p}
                    if isinstance(answer, str)
                    else {**answer, "probability": p}
                )
                for answer, p in pairs
            ],
            replies=[ScriptedReply.model_validate(_reply_fields(reply)) for reply in replies],
            **fields,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'rule'}: {describe_pydantic_error(error)}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid scripted rule for {match!r}: {problems}") from None


def _reply_fields(reply: Any) -> Any:
    """A Python reply as the YAML mapping: text, ToolCall, list of ToolCall, or a mapping."""
    if isinstance(reply, str):
        return {"text": reply}
    if isinstance(reply, ToolCall):
        return {"tool_call": {"name": reply.name, "arguments": reply.arguments}}
    if isinstance(reply, (list, tuple)) and all(isinstance(call, ToolCall) for call in reply):
        return {"tool_calls": [{"name": c.name, "arguments": c.arguments} for c in reply]}
    return reply


# --------------------------------------------------------------------------- matching


def find_rule(
    rules: Sequence[ScriptedRule],
    messages: Sequence[dict[str, Any]],
    model: str = "",
    tool_names: Collection[str] = (),
) -> tuple[ScriptedRule, int] | None:
    """The first rule that answers this conversation, and how many earlier turns of this
    exchange it answered (its position in ``replies``); None: no rule answers.

    ``model`` and ``tool_names`` are the request's model and the tools it offers. The earlier
    turns are replayed through the same choice, each seen as the conversation before it, so
    the count is a function of the conversation alone.
    """
    last_user = _last_user_index(messages)
    if last_user < 0:
        return None
    text = content_text(messages[last_user].get("content"))
    offered = set(tool_names)
    eligible = [
        rule for rule in rules if _static_conditions(rule, model, offered) and rule.matches(text)
    ]
    if not eligible:
        return None
    answered = [0] * len(eligible)

    def choose(conversation: Sequence[dict[str, Any]], turn: int) -> int | None:
        for index, rule in enumerate(eligible):
            if answered[index] < _answers_allowed(rule) and _turn_conditions(
                rule, conversation, turn
            ):
                return index
        return None

    turn = 0
    for index in range(last_user + 1, len(messages)):
        if messages[index].get("role") == "assistant":
            earlier = choose(messages[:index], turn)
            if earlier is not None:
                answered[earlier] += 1
            turn += 1
    chosen = choose(messages, turn)
    return None if chosen is None else (eligible[chosen], answered[chosen])


def rule_reply(rule: ScriptedRule, position: int) -> ScriptedReply:
    """The reply ``rule`` gives at ``position`` (its last one repeats up to ``times``)."""
    return rule.replies[min(position, len(rule.replies) - 1)]


def fixed_reply(reply: ScriptedReply) -> FixedReply:
    """A scripted reply as the engine writes it: text (a JSON answer as compact JSON) or calls."""
    if reply.text is not None:
        return FixedReply(text=reply.text)
    calls = [reply.tool_call] if reply.tool_call is not None else list(reply.tool_calls or ())
    if calls:
        return FixedReply(
            calls=tuple(
                (c.name, ToolCall(c.name, dict(c.arguments)).arguments_json()) for c in calls
            )
        )
    return FixedReply(text=json.dumps(reply.json_value, ensure_ascii=False, separators=(",", ":")))


def _answers_allowed(rule: ScriptedRule) -> float:
    if rule.times is not None:
        return rule.times
    return len(rule.replies) if rule.replies else math.inf


def _static_conditions(rule: ScriptedRule, model: str, offered: set[str]) -> bool:
    if rule.model is not None and not fnmatch.fnmatchcase(model, rule.model):
        return False
    return rule.tools_offered is None or offered.issuperset(rule.tools_offered)


def _turn_conditions(rule: ScriptedRule, conversation: Sequence[dict[str, Any]], turn: int) -> bool:
    if rule.turn is not None and rule.turn != turn:
        return False
    if rule.after_tool is None:
        return True
    after = last_tool_result(conversation)
    if rule.after_tool is True:
        return after is not None
    if rule.after_tool is False:
        return after is None
    return after == rule.after_tool


def _last_user_index(messages: Sequence[dict[str, Any]]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            return index
    return -1

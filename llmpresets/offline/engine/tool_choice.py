"""The tool policy: which tools a reply calls, from ``tool_choice`` and the conversation.

A tool's *relevance* to the latest user turn (:func:`relevance`): how many words of its name
and description the turn shares (words of 3+ letters, common words left out, matched by stem:
"weather" ~ ``get_weather``), half a point per parameter name it shares, and half a point per
required parameter the conversation holds a fitting value for (an order id for
``lookup_order(order_id)``, :mod:`llmpresets.offline.engine.values`). An *output tool* is
how a framework takes a structured answer (pydantic-ai's ``final_result``, a tool whose
description says it gives the final response); it answers, it does not act.

- ``none``, or no tools: no call.
- ``auto``: a fresh user turn (the last message is the user's) calls the most relevant tool
  when one is relevant at all, else the model answers in text; after tool results the model
  answers: through the output tool if there is one, else in text.
- ``required`` (or ``allowed_tools`` in mode ``required``): a fresh turn calls the most
  relevant tool that is not an output tool, else the output tool, else the first listed;
  after tool results (a call made since the user spoke), the output tool if there is one,
  else the most relevant tool again, with arguments other than those already sent
  (:func:`previous_arguments` feeds the value reader's exclusions).
- a named function or custom tool: a call to it.
- ``parallel_tool_calls`` (default true): tools tied for the best relevance are called
  together, and the best tool once per item the turn names for its main parameter ("weather
  in Paris and London": two calls), at most :data:`MAX_PARALLEL_CALLS`; false: one call.

Ties go to the tool listed first. Ids look like the API's (:func:`call_id`: ``call_`` and 24
letters and digits, drawn from the choice's random stream, so a seeded reply repeats them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...tokens.messages import content_text
from .prompt_words import COMMON_WORDS
from .types import ChatRequest, Tool
from .values import ConversationValues
from .values.matching import Field, candidates, describe

__all__ = [
    "MAX_PARALLEL_CALLS",
    "call_id",
    "choose_tools",
    "is_output_tool",
    "last_turn",
    "previous_arguments",
    "relevance",
]

MAX_PARALLEL_CALLS = 4
FILL_SCORE = 3.0  # a candidate at least this good fills a parameter
NUMBER_FILL_SCORE = 2.5  # (a number parameter: any number of the latest turn)
_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
_WORD = re.compile(r"[a-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_OUTPUT_NAMES = frozenset(
    {"final_result", "final_answer", "final_output", "final_response", "respond", "answer"}
)
_OUTPUT_PHRASES = ("final response", "final result", "final answer", "ends this conversation")
_JOINED = re.compile(r"\band\b|,|&|\bor\b|\bvs\.?\b|\bversus\b", re.IGNORECASE)


def call_id(rng: np.random.Generator) -> str:
    """A tool-call id in the API's shape: ``call_`` and 24 letters and digits."""
    return "call_" + "".join(_ID_ALPHABET[rng.integers(len(_ID_ALPHABET), size=24)])


def is_output_tool(tool: Tool) -> bool:
    """Whether ``tool`` is a framework's way to take the final answer (``final_result``...)."""
    name = tool.name.lower()
    if name in _OUTPUT_NAMES or name.startswith("final_result"):
        return True
    description = tool.description.lower()
    return any(phrase in description for phrase in _OUTPUT_PHRASES)


def choose_tools(request: ChatRequest, values: ConversationValues | None = None) -> list[Tool]:
    """The tools this reply calls under the policy in the module docstring ([] = text); a
    tool appears once per call. ``values``: the conversation's values (None: relevance by
    words alone)."""
    choice = request.tool_choice
    tools = [
        tool for tool in request.tool_list if choice.names is None or tool.name in choice.names
    ]
    if choice.mode == "none" or not tools:
        return []
    if choice.names is not None and len(choice.names) == 1 and choice.mode == "required":
        return tools[:1]
    messages = request.messages
    prompt, called = last_turn(messages)
    fresh_turn = bool(messages) and messages[-1].get("role") == "user"
    answered = not fresh_turn and bool(called)  # tool results since the user spoke
    outputs = [tool for tool in tools if is_output_tool(tool)]
    working = [tool for tool in tools if not is_output_tool(tool)]
    prompt_words = _words(prompt)
    scores = {tool.name: relevance(tool, prompt_words, values) for tool in working}
    best_score = max(scores.values(), default=0.0)
    if choice.mode == "auto":
        if not fresh_turn:
            return outputs[:1] if answered else []
        if best_score <= 0:
            return []
    elif (answered and outputs) or (best_score <= 0 and outputs and not answered):
        return outputs[:1]
    if not working:
        return outputs[:1]
    chosen = [tool for tool in working if scores[tool.name] == best_score]
    if best_score <= 0:
        return chosen[:1]  # required, and nothing fits: the first listed
    if not request.parallel_tool_calls or answered:
        return chosen[:1]
    repeats = _items_named(chosen[0], prompt, values)
    calls = [chosen[0]] * repeats + chosen[1:]
    return calls[:MAX_PARALLEL_CALLS]


def relevance(tool: Tool, prompt_words: set[str], values: ConversationValues | None) -> float:
    """How well ``tool`` fits the turn whose words are ``prompt_words`` (see the module
    docstring)."""
    score = float(_shares(prompt_words, _words(f"{tool.name} {tool.description}")))
    for name, field in _parameters(tool):
        if _shares(prompt_words, _words(name)):
            score += 0.5
        if values is not None and field.required and _fills(field, values):
            score += 0.5
    return score


def previous_arguments(messages: Sequence[Mapping[str, Any]], name: str) -> list[dict[str, Any]]:
    """The arguments of the calls to ``name`` made since the last user message (those that
    are JSON objects)."""
    found: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        for call in message.get("tool_calls") or ():
            if not isinstance(call, Mapping):
                continue
            inner = call.get("function") or {}
            if isinstance(inner, Mapping) and inner.get("name") == name:
                try:
                    arguments = json.loads(str(inner.get("arguments") or "{}"))
                except ValueError:
                    continue
                if isinstance(arguments, dict):
                    found.append(arguments)
    return found


def last_turn(messages: Sequence[Mapping[str, Any]]) -> tuple[str, set[str]]:
    """The last user message's text and the tools called since it.

    A message's text is :func:`~llmpresets.tokens.messages.content_text`'s (lenient), the
    package's one reading of a message.
    """
    called: set[str] = set()
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"), lenient=True), called
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict):
                inner = call.get("function") or call.get("custom") or {}
                if isinstance(inner, dict) and isinstance(inner.get("name"), str):
                    called.add(inner["name"])
    return "", called


def _parameters(tool: Tool) -> list[tuple[str, Field]]:
    """The tool's top-level parameters as fields (a function's; at most 32)."""
    schema = tool.parameters
    if tool.kind != "function" or not isinstance(schema, Mapping):
        return []
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = schema.get("required") or ()
    return [
        (
            str(name),
            describe(
                child,
                str(name),
                schema,
                required=name in required,
                context=frozenset(_words(tool.name)),
            ),
        )
        for name, child in list(properties.items())[:32]
    ]


def _fills(field: Field, values: ConversationValues) -> bool:
    """Whether the conversation holds a value that fits ``field`` well (for a number, any
    number will do: arithmetic tools take the numbers a question gives)."""
    found = candidates(field, values.spans, latest_text=values.latest_text)
    numeric = bool(field.types & {"integer", "number"}) and not field.holds_text
    return bool(found) and found[0].score >= (NUMBER_FILL_SCORE if numeric else FILL_SCORE)


def _items_named(tool: Tool, prompt: str, values: ConversationValues | None) -> int:
    """How many calls of ``tool`` the turn asks for: one per value of its main parameter
    that the turn names, when it joins several ("Paris and London")."""
    if values is None or not _JOINED.search(prompt):
        return 1
    most = 1
    for _, field in _parameters(tool):
        if not field.required or field.enum is not None:
            continue
        strong = [
            option
            for option in candidates(field, values.spans, latest_text=values.latest_text)
            if option.score >= FILL_SCORE and isinstance(option.value, str | int | float)
        ]
        named = [option for option in strong if str(option.value) in prompt]
        most = max(most, len(named))
    return min(most, MAX_PARALLEL_CALLS)


def _words(text: str) -> set[str]:
    spaced = _CAMEL.sub(" ", text).replace("_", " ").replace("-", " ").lower()
    return {word for word in _WORD.findall(spaced) if len(word) >= 3 and word not in COMMON_WORDS}


def _shares(prompt: set[str], tool: set[str]) -> int:
    """How many of the tool's words the prompt has (by stem: a 4+ letter common prefix)."""
    count = 0
    for word in tool:
        if word in prompt or any(
            len(word) >= 4
            and len(other) >= 4
            and (other.startswith(word[:5]) or word.startswith(other[:5]))
            for other in prompt
        ):
            count += 1
    return count

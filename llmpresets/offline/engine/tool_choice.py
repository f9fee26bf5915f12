"""The tool policy: which tools a reply calls, from ``tool_choice`` and the prompt's words.

- ``none``, or no tools: no call.
- ``auto``: a *fresh user turn* (the last message is the user's) that points at a tool gets a
  call; "points at" means the prompt shares a word with the tool's name or description (words
  of 3+ letters, common words left out, matched by stem: "weather" ~ ``get_weather``).
  After tool results (the last message is a ``tool`` message) the model answers in text, so
  an agent loop calls, reads the result, answers and ends.
- ``required`` (or ``allowed_tools`` in mode ``required``): always a call; to the tool that
  shares the most words with the prompt, preferring tools not yet called since the last
  user message (so an agent that must finish through an output tool gets there); ties go
  to the tool listed first.
- a named function or custom tool: a call to it.
- ``parallel_tool_calls`` (default true): every tool tied for the best score is called, in
  the order listed (at most :data:`MAX_PARALLEL_CALLS`); false: one call.

Ids look like the API's (:func:`call_id`: ``call_`` and 24 letters and digits, drawn from the
choice's random stream, so a seeded reply repeats them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...tokens.messages import content_text
from .prompt_words import COMMON_WORDS
from .types import ChatRequest, Tool

__all__ = ["MAX_PARALLEL_CALLS", "call_id", "choose_tools", "last_turn"]

MAX_PARALLEL_CALLS = 4
_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
_WORD = re.compile(r"[a-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def call_id(rng: np.random.Generator) -> str:
    """A tool-call id in the API's shape: ``call_`` and 24 letters and digits."""
    return "call_" + "".join(_ID_ALPHABET[rng.integers(len(_ID_ALPHABET), size=24)])


def choose_tools(request: ChatRequest) -> list[Tool]:
    """The tools this reply calls under the policy in the module docstring ([] = text)."""
    choice = request.tool_choice
    tools = [
        tool for tool in request.tool_list if choice.names is None or tool.name in choice.names
    ]
    if choice.mode == "none" or not tools:
        return []
    prompt, called = last_turn(request.messages)
    fresh_turn = bool(request.messages) and request.messages[-1].get("role") == "user"
    prompt_words = _words(prompt)
    scores = [_shares(prompt_words, _words(f"{tool.name} {tool.description}")) for tool in tools]
    if choice.mode == "auto":
        if not fresh_turn or max(scores) == 0:
            return []
    elif choice.names is not None and len(choice.names) == 1 and choice.mode == "required":
        return tools[:1]
    else:  # required: prefer tools not called yet in this turn
        scores = [
            score + (0 if tool.name in called else 1000)
            for tool, score in zip(tools, scores, strict=True)
        ]
    best = max(scores)
    chosen = [tool for tool, score in zip(tools, scores, strict=True) if score == best]
    return chosen[:MAX_PARALLEL_CALLS] if request.parallel_tool_calls else chosen[:1]


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

"""Structured replies: JSON answers and tool calls, made by constrained decoding.

:func:`make_plan` reads a request once (compiling its grammars, so a schema the engine cannot
compile is a 400 before anything is generated); :meth:`StructuredPlan.generate` then makes
one choice: tool calls when the tool policy says so, else JSON for ``response_format``, else
nothing (the caller writes free text).

The tool policy (``tool_choice``):

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

Arguments are JSON for the function's ``parameters`` (``{}`` when it has none), sampled by
:func:`~llmpresets.offline.engine.constrained.decoder.generate_constrained`
with the request's settings and
the prompt's words as hints; a custom tool's input follows its grammar (Lark or regex) or is
free text. Ids look like the API's (``call_`` and 24 letters and digits, drawn from the
choice's random stream, so a seeded reply repeats them). Usage counts each call's name and
argument tokens; the request's token cap covers all calls together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..api.errors import WireError
from ..backend.scripted import ScriptedTable
from .constrained.decoder import COMMON_WORDS, generate_constrained, hint_tokens
from .constrained.grammar import (
    Grammar,
    GrammarError,
    json_object_grammar,
    json_schema_grammar,
    lark_grammar,
    regex_grammar,
)
from .text import generate, generate_scripted
from .types import ChatRequest, Generation, SamplingSettings, Tool, ToolCall

if TYPE_CHECKING:
    import tiktoken


__all__ = [
    "MAX_PARALLEL_CALLS",
    "StructuredPlan",
    "call_id",
    "choose_allowed",
    "choose_tools",
    "make_plan",
    "scripted_allowed",
    "scripted_generation",
]

MAX_PARALLEL_CALLS = 4
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties"})
_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
_NO_ARGUMENTS = {"type": "object", "properties": {}, "additionalProperties": False}
_WORD = re.compile(r"[a-z]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")

# (generated token ids) -> logits over the source's vocabulary positions (or token ids).
TokenStepper = tuple[Callable[[Sequence[int]], Any], NDArray[np.int64] | None]


def call_id(rng: np.random.Generator) -> str:
    """A tool-call id in the API's shape: ``call_`` and 24 letters and digits."""
    return "call_" + "".join(_ID_ALPHABET[rng.integers(len(_ID_ALPHABET), size=24)])


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


def _turn(messages: Sequence[Mapping[str, Any]]) -> tuple[str, set[str]]:
    """The last user message's text and the tools called since it."""
    called: set[str] = set()
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(
                    str(part.get("text", "")) for part in content if isinstance(part, dict)
                )
            return str(content or ""), called
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict):
                inner = call.get("function") or call.get("custom") or {}
                if isinstance(inner, dict) and isinstance(inner.get("name"), str):
                    called.add(inner["name"])
    return "", called


def choose_tools(request: ChatRequest) -> list[Tool]:
    """The tools this reply calls under the policy in the module docstring ([] = text)."""
    choice = request.tool_choice
    tools = [
        tool for tool in request.tool_list if choice.names is None or tool.name in choice.names
    ]
    if choice.mode == "none" or not tools:
        return []
    prompt, called = _turn(request.messages)
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


@dataclass
class StructuredPlan:
    """What a request needs for its structured choices, read and compiled once."""

    request: ChatRequest
    encoding: tiktoken.Encoding
    answer: Grammar | None  # the response_format grammar, if JSON
    arguments: dict[str, Grammar | None]  # per tool: its grammar (None: free text)
    hints: NDArray[np.int64]

    @property
    def callable(self) -> frozenset[str]:
        """The tools this request lets the model call."""
        names = self.request.tool_choice.names
        if self.request.tool_choice.mode == "none":
            return frozenset()
        return frozenset(name for name in self.arguments if names is None or name in names)

    @property
    def must_call(self) -> bool:
        """Whether ``tool_choice`` requires a call."""
        return self.request.tool_choice.mode == "required"

    def generate(
        self,
        stepper: Callable[[], TokenStepper],
        text_stepper: Callable[[], Any],
        rng: np.random.Generator,
    ) -> Generation | None:
        """One choice: tool calls, or a JSON answer, or None (the caller writes free text).

        ``stepper()`` gives the source's ``(step by token ids, vocab)``;
        ``text_stepper()`` the free-text ``(step by positions, vocab)`` for custom tools.
        """
        calls = choose_tools(self.request)
        if calls:
            return self._calls(calls, stepper, text_stepper, rng)
        if self.answer is not None:
            step, vocab = stepper()
            return generate_constrained(
                step,
                vocab,
                self.encoding,
                self.answer,
                self.request.settings,
                rng,
                hints=self.hints,
            )
        return None

    def _calls(
        self,
        tools: list[Tool],
        stepper: Callable[[], TokenStepper],
        text_stepper: Callable[[], Any],
        rng: np.random.Generator,
    ) -> Generation:
        settings = self.request.settings
        result = Generation(finish_reason="tool_calls", tool_calls=[])
        assert result.tool_calls is not None
        budget = settings.max_tokens
        for tool in tools:
            identifier = call_id(rng)
            name_tokens = len(self.encoding.encode_ordinary(tool.name))
            if budget <= name_tokens:
                result.finish_reason = "length"
                break
            capped = replace(settings, max_tokens=budget - name_tokens, stop=())
            grammar = self.arguments[tool.name]
            if grammar is None:
                text_step, text_vocab = text_stepper()
                made = generate(text_step, text_vocab, self.encoding, capped, rng)
            else:
                step, vocab = stepper()
                made = generate_constrained(
                    step, vocab, self.encoding, grammar, capped, rng, hints=self.hints
                )
            result.tool_calls.append(ToolCall(identifier, tool.name, tool.kind, made.pieces))
            used = name_tokens + made.completion_tokens
            result.completion_tokens += used
            budget -= used
            if made.finish_reason == "length":
                result.finish_reason = "length"
                break
        return result


def _schema_error(where: str, name: str, param: str, problem: str, code: str | None) -> WireError:
    return WireError(400, f"Invalid schema for {where} '{name}': {problem}", param=param, code=code)


def make_plan(request: ChatRequest, encoding: tiktoken.Encoding) -> StructuredPlan | None:
    """The request's grammars compiled (a 400 when one cannot be); None for plain text."""
    output = request.output
    tools = request.tool_list if request.tool_choice.mode != "none" else ()
    if not output.is_json and not tools:
        return None
    answer: Grammar | None = None
    try:
        if output.kind == "json_object":
            answer = json_object_grammar(encoding)
        elif output.kind == "json_schema":
            answer = closed_grammar(encoding, output.schema or {})
    except GrammarError as exc:
        raise _schema_error(
            "response_format", output.name or "", "response_format", str(exc), None
        ) from None
    arguments: dict[str, Grammar | None] = {}
    for index, tool in enumerate(tools):
        try:
            arguments[tool.name] = _tool_grammar(tool, encoding)
        except GrammarError as exc:
            kind = "function" if tool.kind == "function" else "custom tool"
            param = f"tools[{index}].{tool.kind}." + (
                "parameters" if tool.kind == "function" else "format"
            )
            raise _schema_error(
                kind, tool.name, param, str(exc), "invalid_function_parameters"
            ) from None
    texts = [_turn(request.messages)[0]]
    texts.extend(
        str(message.get("content") or "")
        for message in request.messages
        if message.get("role") == "tool"
    )
    return StructuredPlan(request, encoding, answer, arguments, hint_tokens(encoding, texts))


def closed(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on objects that list properties and say
    nothing of others: a model fills the fields it was given and invents no keys (a schema
    that allows more says so, and keeps it)."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {
        key: (
            {name: closed(child) for name, child in value.items()}
            if key in _SCHEMA_MAPS and isinstance(value, dict)
            else closed(value)
        )
        for key, value in schema.items()
    }
    if isinstance(schema.get("properties"), dict) and "additionalProperties" not in schema:
        result["additionalProperties"] = False
    return result


def _tool_grammar(tool: Tool, encoding: tiktoken.Encoding) -> Grammar | None:
    if tool.kind == "custom":
        if tool.grammar is None:
            return None
        if tool.syntax == "regex":
            return regex_grammar(encoding, tool.grammar)
        return lark_grammar(encoding, tool.grammar)
    parameters = tool.parameters
    if not parameters or ("properties" not in parameters and parameters.get("type") == "object"):
        parameters = _NO_ARGUMENTS
    return closed_grammar(encoding, parameters)


def closed_grammar(encoding: tiktoken.Encoding, schema: Mapping[str, Any]) -> Grammar:
    """``json_schema_grammar(encoding, closed(schema))``, kept per schema text (an agent
    sends the same schemas with every request)."""
    key = (encoding.name, json.dumps(schema, separators=(",", ":")))
    grammar = _closed_grammars.get(key)
    if grammar is None:
        grammar = json_schema_grammar(encoding, closed(schema))
        if len(_closed_grammars) >= _CLOSED_LIMIT:
            _closed_grammars.clear()
        _closed_grammars[key] = grammar
    return grammar


_closed_grammars: dict[tuple[str, str], Grammar] = {}
_CLOSED_LIMIT = 256


# --------------------------------------------------------------------------- scripted answers


def _accepts(grammar: Grammar, tokens: Sequence[int]) -> bool:
    matcher = grammar.matcher()
    return bool(matcher.consume_tokens(list(tokens))) and bool(matcher.is_accepting())


def scripted_allowed(plan: StructuredPlan | None, table: ScriptedTable) -> list[bool] | None:
    """Which of a scripted table's candidates this request can take (None: all of them).

    A tool call needs its tool offered and allowed by ``tool_choice`` and arguments its
    grammar accepts; a text or JSON answer must be valid for ``response_format`` and is out
    when ``tool_choice`` requires a call. The fall-through remainder always stays.
    """
    allowed: list[bool] = []
    for index, tokens in enumerate(table.token_ids):
        name = table.tool_names[index] if index < len(table.tool_names) else None
        if name is not None:
            ok = plan is not None and name in plan.callable
            if ok and plan is not None:
                grammar = plan.arguments[name]
                ok = grammar is None or _accepts(grammar, tokens)
        elif plan is None:
            ok = True
        else:
            ok = not plan.must_call and (plan.answer is None or _accepts(plan.answer, tokens))
        allowed.append(ok)
    if all(allowed):
        return None
    return allowed + [True] * (len(table.logits) - len(allowed))


def choose_allowed(
    table: ScriptedTable,
    allowed: Sequence[bool],
    settings: SamplingSettings,
    rng: np.random.Generator,
) -> int | None:
    """A candidate drawn with the request's sampling settings among the allowed ones."""
    from ...sampling import sample

    logits = np.where(allowed, np.asarray(table.logits, dtype=np.float64), -np.inf)
    if not np.isfinite(logits).any():
        return None
    return int(
        sample(
            logits,
            temperature=settings.temperature,
            top_k=settings.top_k,
            top_p=settings.top_p,
            min_p=settings.min_p,
            rng=rng,
        )
    )


def scripted_generation(
    table: ScriptedTable,
    candidate: int,
    encoding: tiktoken.Encoding,
    settings: SamplingSettings,
    rng: np.random.Generator,
) -> Generation:
    """A chosen scripted candidate as a reply: its text, or a tool call with its arguments."""
    name = table.tool_names[candidate] if candidate < len(table.tool_names) else None
    if name is None:
        return generate_scripted(table, candidate, encoding, settings)
    name_tokens = len(encoding.encode_ordinary(name))
    capped = replace(settings, max_tokens=max(1, settings.max_tokens - name_tokens), stop=())
    made = generate_scripted(table, candidate, encoding, capped)
    return Generation(
        finish_reason="length" if made.finish_reason == "length" else "tool_calls",
        completion_tokens=name_tokens + made.completion_tokens,
        tool_calls=[ToolCall(call_id(rng), name, "function", made.pieces)],
    )

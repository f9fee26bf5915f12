"""Structured replies: JSON answers and tool calls, made by constrained decoding.

:func:`make_plan` reads a request once, compiling its grammars (so a schema the engine cannot
compile is a :class:`~llmpresets.offline.engine.types.SchemaError` before anything is
generated); :meth:`StructuredPlan.generate` then makes one choice: tool calls when the tool
policy says so (:mod:`llmpresets.offline.engine.tool_choice`), else JSON for
``response_format``, else the output contract read from the conversation
(:mod:`llmpresets.offline.engine.reading`: a schema, keys, labels, a number, dspy's
markers...), else nothing (the caller writes free text).

Precedence: a ``json_schema`` format decides the reply's grammar; a ``json_object`` format
takes the schema a JSON contract of the prompt names (its keys), else any object; a text
format takes whatever contract the prompt states. Tools decide whether to call; a reply that
calls none follows the same grammar. A contract's grammar that cannot compile is ignored
(free text): the request did not send it.

Arguments are JSON for the function's ``parameters`` (``{}`` when it has none), sampled by
:func:`~llmpresets.offline.engine.constrained.decoder.generate_constrained` with the request's
settings and the prompt's words as hints (:mod:`llmpresets.offline.engine.prompt_words`); a
custom tool's input follows its grammar (Lark or regex) or is free text. Usage counts each
call's name and argument tokens; the request's token cap covers all calls together.

Schemas are *closed* before they are compiled (:func:`closed`): an object that lists its
properties and says nothing of others gets ``additionalProperties: false``, so a reply fills
the fields it was given and invents no keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..._cache import BoundedCache
from .constrained.decoder import ValueSource, generate_constrained
from .constrained.grammar import (
    Grammar,
    GrammarError,
    json_object_grammar,
    json_schema_grammar,
    lark_grammar,
    regex_grammar,
)
from .prompt_words import hint_tokens
from .reading import DEFAULT_READERS, Contract, Reader, read_contract
from .text import generate
from .tool_choice import call_id, choose_tools, last_turn, previous_arguments
from .types import ChatRequest, Generation, SchemaError, Tool, ToolCall
from .values import ConversationValues, Path, read_conversation
from .values.matching import value_key

if TYPE_CHECKING:
    import tiktoken


__all__ = ["StructuredPlan", "closed", "closed_grammar", "contract_grammar", "make_plan"]

ANY_OBJECT = {"type": "object"}  # json_object's own schema
# Inside a Lark grammar, ``%json`` is compact as the API writes JSON (no whitespace choices).
COMPACT = {"x-guidance": {"whitespace_flexible": False}}
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties"})
_NO_ARGUMENTS = {"type": "object", "properties": {}, "additionalProperties": False}

# (generated token ids) -> logits over the source's vocabulary positions (or token ids).
TokenStepper = tuple[Callable[[Sequence[int]], Any], NDArray[np.int64] | None]


@dataclass
class StructuredPlan:
    """What a request needs for its structured choices, read and compiled once."""

    request: ChatRequest
    encoding: tiktoken.Encoding
    answer: Grammar | None  # the reply's grammar: response_format's, or the contract's
    arguments: dict[str, Grammar | None]  # per tool: its grammar (None: free text)
    hints: NDArray[np.int64]
    contract: Contract | None = None  # the output contract read from the conversation
    answer_shape: bool | None = None  # the JSON shape prior on the answer (None: JSON grammars)
    values: ConversationValues | None = None  # the conversation's values (None: not read)

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
        calls = choose_tools(self.request, self.values)
        if calls:
            return self._calls(calls, stepper, text_stepper, rng)
        if self.answer is not None:
            step, vocab = stepper()
            guide = self._answer_guide()
            return generate_constrained(
                step,
                vocab,
                self.encoding,
                self.answer,
                self.request.settings,
                rng,
                hints=self.hints,
                json_shape=self.answer_shape,
                values=guide,
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
        exclusions: dict[str, dict[Path, set[str]]] = {}  # per tool: values its calls took
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
                guide = None
                if self.values is not None and tool.kind == "function":
                    exclude = exclusions.setdefault(tool.name, self._earlier(tool.name))
                    guide = self.values.guide(
                        tool.parameters, self.encoding, capped, exclude=exclude, context=tool.name
                    )
                made = generate_constrained(
                    step, vocab, self.encoding, grammar, capped, rng, hints=self.hints, values=guide
                )
                if guide is not None:
                    for path, key in guide.chosen.items():
                        exclusions[tool.name].setdefault(path, set()).add(key)
            result.tool_calls.append(ToolCall(identifier, tool.name, tool.kind, made.pieces))
            used = name_tokens + made.completion_tokens
            result.completion_tokens += used
            budget -= used
            if made.finish_reason == "length":
                result.finish_reason = "length"
                break
        return result

    def _answer_guide(self) -> ValueSource | None:
        """What picks the answer's values from the conversation: for a closed set of labels
        read from the prompt, the label the turn names; for JSON (the request's schema, else
        the contract's), a value per field; None for other read formats (no values to pick)."""
        if self.values is None:
            return None
        settings, contract, output = self.request.settings, self.contract, self.request.output
        if contract is not None and contract.kind in ("labels", "yes_no") and contract.detail:
            return self.values.labels(tuple(contract.detail.split("|")), self.encoding, settings)
        if contract is not None and contract.schema is None and not contract.json_shape:
            return None
        schema: Any = output.schema if output.kind == "json_schema" else None
        if schema is None and contract is not None and contract.schema is not None:
            schema = dict(contract.schema)
        return self.values.guide(schema, self.encoding, settings)

    def _earlier(self, name: str) -> dict[Path, set[str]]:
        """The values earlier calls of ``name`` sent since the user spoke, per argument: a
        call is not repeated with the same arguments."""
        earlier: dict[Path, set[str]] = {}
        for arguments in previous_arguments(self.request.messages, name):
            for key, value in arguments.items():
                earlier.setdefault((key,), set()).add(value_key(value))
        return earlier


def make_plan(
    request: ChatRequest,
    encoding: tiktoken.Encoding,
    readers: Sequence[Reader] = DEFAULT_READERS,
    *,
    read_values: bool = True,
) -> StructuredPlan | None:
    """The request's grammars compiled (a :class:`SchemaError` when one cannot be); None for
    plain text.

    ``readers``: what reads an output contract from the conversation when the request does
    not fix one (``()``: none is read, ``offline.read_prompt: false``). ``read_values=False``:
    fields and arguments take no values from the conversation
    (:mod:`llmpresets.offline.engine.values`).
    """
    output = request.output
    tools = request.tool_list if request.tool_choice.mode != "none" else ()
    contract = _read(request, readers) if output.kind != "json_schema" else None
    if not output.is_json and not tools and contract is None:
        return None
    answer: Grammar | None = None
    shape: bool | None = None
    try:
        if output.kind == "json_object":
            answer = json_object_grammar(encoding)
        elif output.kind == "json_schema":
            answer = closed_grammar(encoding, output.schema or {})
    except GrammarError as exc:
        raise SchemaError(output.name or "", str(exc)) from None
    if contract is not None:
        try:
            answer, shape = contract_grammar(encoding, contract)
        except GrammarError:
            contract = None  # a reader's grammar, not the request's: free text instead
    arguments: dict[str, Grammar | None] = {}
    for index, tool in enumerate(tools):
        try:
            arguments[tool.name] = _tool_grammar(tool, encoding)
        except GrammarError as exc:
            raise SchemaError(tool.name, str(exc), tool=index, tool_kind=tool.kind) from None
    if answer is None and not arguments:
        return None
    texts = [last_turn(request.messages)[0]]
    texts.extend(
        str(message.get("content") or "")
        for message in request.messages
        if message.get("role") == "tool"
    )
    values = read_conversation(request.messages, read_values=read_values)
    return StructuredPlan(
        request, encoding, answer, arguments, hint_tokens(encoding, texts), contract, shape, values
    )


def _read(request: ChatRequest, readers: Sequence[Reader]) -> Contract | None:
    """The contract the conversation states that this request's format lets apply: any,
    for text; for ``json_object``, one that names a JSON Schema more precise than "an
    object" (keys, an example's shape): "reply in JSON" alone changes nothing there."""
    if not readers:
        return None
    contract = read_contract(request.messages, readers)
    if contract is None or request.output.kind == "text":
        return contract
    if contract.schema is not None and contract.schema != ANY_OBJECT:
        return replace(contract, fenced=False)  # the API's JSON mode: bare JSON
    return None


def contract_grammar(encoding: tiktoken.Encoding, contract: Contract) -> tuple[Grammar, bool]:
    """``contract``'s grammar, and whether the JSON shape prior applies to it."""
    if contract.schema is not None and not contract.fenced:
        return closed_grammar(encoding, contract.schema), True
    if contract.schema is not None:  # JSON in a ```json fence: the fence is forced text
        body = json.dumps({**closed(contract.schema), **COMPACT}, separators=(",", ":"))
        return lark_grammar(encoding, f'start: "```json\\n" %json {body} "\\n```"\n'), True
    assert contract.lark is not None
    return lark_grammar(encoding, contract.lark), contract.json_shape


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
    text = json.dumps(schema, separators=(",", ":"))
    key = (encoding.name, text)
    grammar = _closed_grammars.get(key)
    if grammar is None:
        grammar = json_schema_grammar(encoding, closed(schema))
        _closed_grammars.put(key, grammar, len(text) + 200)  # (the grammar's own cache counts it)
    return grammar


# closed_grammar's answers per (encoding, schema as given).
_closed_grammars: BoundedCache[tuple[str, str], Grammar] = BoundedCache(
    "closed schema grammars", 4 << 20
)

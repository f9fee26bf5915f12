"""Scripted answers: a matched rule's completions as a table, drawn and written like tokens.

A rule (:class:`~llmpresets.config.presets.ScriptedRule`; the backend finds the one matching
a request, :mod:`llmpresets.offline.backend.scripted_rules`) becomes a :class:`ScriptedTable`: its
completions are candidates sampled as if each were one token whose model probability is the
one written in the table -- the request's temperature, top_k, top_p and min_p applied to
``log(probability)`` by :mod:`llmpresets.sampling` (:func:`choose_scripted`). When the
probabilities add up to less than 1, the rest is one more candidate: the next-token source
answers instead (:meth:`ScriptedTable.falls_through`).

Candidates a request cannot take are masked out before the draw, as a grammar masks tokens
(:func:`scripted_allowed`, then :func:`choose_allowed`): a tool call needs its tool offered
and allowed by ``tool_choice`` and arguments its grammar accepts; under ``response_format``
JSON, a text or JSON candidate must be valid for the schema; when ``tool_choice`` requires a
call, only calls are left. The chosen candidate is written through the same length cap and
stop rules as generated text (:func:`generate_scripted`), or as a tool call
(:func:`scripted_generation`); ``logprobs`` come from the table's token trie.

A :class:`FixedReply` is a reply decided before decoding: a user's responder's answer, or
the reply a rule's ``replies`` sequence holds for this turn. It is checked against the request
as a grammar would (:func:`fixed_problem`: the tool offered and allowed, its arguments valid
for the tool's parameters, a JSON answer valid for ``response_format``) and written through the
same cap and stop rules, as text or as tool calls (:func:`fixed_generation`), with logprob 0
for each of its tokens (it had probability 1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from .emitter import Emitter, alternatives, token_logprob
from .tool_choice import call_id
from .types import ChatRequest, Generation, SamplingSettings, ToolCall

if TYPE_CHECKING:
    import tiktoken

    from ...config.presets import ScriptedCompletion, ScriptedRule
    from .constrained.grammar import Grammar
    from .structured import StructuredPlan

__all__ = [
    "FixedReply",
    "ScriptedTable",
    "choose_allowed",
    "choose_scripted",
    "fixed_generation",
    "fixed_problem",
    "generate_scripted",
    "scripted_allowed",
    "scripted_generation",
    "scripted_reply",
]


# --------------------------------------------------------------------------- the table


@dataclass
class _Node:
    mass: float = 0.0
    children: dict[int, _Node] = field(default_factory=dict)


@dataclass
class ScriptedTable:
    """A rule's completions as candidates (plus the fall-through remainder) and a token trie.

    ``logits[i]`` is ``log(probability)`` of candidate ``i``; candidate ``len(texts)`` (present
    when the probabilities sum below 1) means "let the next-token source answer". The trie gives
    each token's log-probability given the tokens before it, for ``logprobs``.
    """

    texts: list[str]
    token_ids: list[list[int]]
    logits: list[float]
    root: _Node
    tool_names: list[str | None] = field(default_factory=list)  # per candidate: a call's tool

    @classmethod
    def build(cls, rule: ScriptedRule, encode: Callable[[str], Iterable[int]]) -> ScriptedTable:
        """The table of ``rule``'s completions, tokenized by ``encode``."""
        texts = [_answer_text(completion) for completion in rule.completions]
        tool_names = [
            completion.tool_call.name if completion.tool_call is not None else None
            for completion in rule.completions
        ]
        probabilities = [completion.probability for completion in rule.completions]
        token_ids = [list(encode(text)) for text in texts]
        root = _Node()
        for ids, probability in zip(token_ids, probabilities, strict=True):
            node = root
            node.mass += probability
            for token in ids:
                node = node.children.setdefault(token, _Node())
                node.mass += probability
        logits = [math.log(p) for p in probabilities]
        remainder = 1.0 - sum(probabilities)
        if remainder > 1e-9:
            logits.append(math.log(remainder))
        return cls(texts, token_ids, logits, root, tool_names)

    @classmethod
    def single(cls, text: str, encode: Callable[[str], Iterable[int]]) -> ScriptedTable:
        """A table of one candidate, ``text``, with probability 1."""
        ids = list(encode(text))
        root = node = _Node(1.0)
        for token in ids:
            node = node.children.setdefault(token, _Node(1.0))
        return cls([text], [ids], [0.0], root, [None])

    def falls_through(self, candidate: int) -> bool:
        """Whether ``candidate`` is the remainder: the next-token source answers."""
        return candidate >= len(self.texts)

    def token_logprobs(self, candidate: int) -> list[tuple[float, list[tuple[int, float]]]]:
        """Per token of the candidate: its log-probability and every sibling's, best first."""
        result = []
        node = self.root
        for token in self.token_ids[candidate]:
            siblings = sorted(
                ((child, math.log(sub.mass / node.mass)) for child, sub in node.children.items()),
                key=lambda pair: (-pair[1], pair[0]),
            )
            child = node.children[token]
            result.append((math.log(child.mass / node.mass), siblings))
            node = child
        return result


def _answer_text(completion: ScriptedCompletion) -> str:
    """A candidate's text: the reply, the compact JSON answer, or the call's arguments."""
    if completion.text is not None:
        return completion.text
    value = (
        completion.tool_call.arguments
        if completion.tool_call is not None
        else completion.json_value
    )
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- the draw


def choose_scripted(
    table: ScriptedTable, settings: SamplingSettings, rng: np.random.Generator
) -> int:
    """Sample a candidate of the table with the request's sampling settings."""
    return settings.draw(np.asarray(table.logits, dtype=np.float64), rng)


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
    logits = np.where(allowed, np.asarray(table.logits, dtype=np.float64), -np.inf)
    if not np.isfinite(logits).any():
        return None
    return settings.draw(logits, rng)


def _accepts(grammar: Grammar, tokens: Sequence[int]) -> bool:
    matcher = grammar.matcher()
    return bool(matcher.consume_tokens(list(tokens))) and bool(matcher.is_accepting())


# --------------------------------------------------------------------------- the reply


def generate_scripted(
    table: ScriptedTable,
    candidate: int,
    encoding: tiktoken.Encoding,
    settings: SamplingSettings,
) -> Generation:
    """Emit a chosen scripted completion through the same cap and stop rules."""
    emitter = Emitter(encoding, settings)
    per_token: Sequence[tuple[float, list[tuple[int, float]]]] = (
        table.token_logprobs(candidate) if settings.logprobs else []
    )
    for index, token in enumerate(table.token_ids[candidate]):
        info = None
        if settings.logprobs:
            logprob, siblings = per_token[index]
            top = alternatives(encoding, siblings[: settings.top_logprobs])
            info = token_logprob(encoding, token, logprob, top)
        emitter.add(token, info)
        if emitter.done:
            break
    if not emitter.done:
        emitter.finish("stop")
    return emitter.result


def scripted_reply(
    table: ScriptedTable,
    allowed: Sequence[bool] | None,
    encoding: tiktoken.Encoding,
    settings: SamplingSettings,
    rng: np.random.Generator,
) -> Generation | None:
    """One choice drawn from a scripted table (among the ``allowed`` candidates, see
    :func:`scripted_allowed`): the chosen completion as a reply, or None when the draw falls
    through to the next-token source or the request allows none of them."""
    candidate = (
        choose_scripted(table, settings, rng)
        if allowed is None
        else choose_allowed(table, allowed, settings, rng)
    )
    if candidate is None or table.falls_through(candidate):
        return None
    return scripted_generation(table, candidate, encoding, settings, rng)


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


# --------------------------------------------------------------------------- fixed replies


@dataclass(frozen=True)
class FixedReply:
    """A reply decided before decoding: ``text``, or tool ``calls`` as (name, JSON arguments).

    ``text`` is the reply's text (a JSON answer already written as compact JSON); ``calls``
    holds one pair per tool call, in order.
    """

    text: str | None = None
    calls: tuple[tuple[str, str], ...] = ()


def fixed_problem(
    request: ChatRequest,
    plan: StructuredPlan | None,
    reply: FixedReply,
    encoding: tiktoken.Encoding,
) -> str | None:
    """What makes ``reply`` impossible for ``request``, as a grammar would refuse it (None:
    nothing): a call to a tool the request does not offer or ``tool_choice`` does not allow,
    arguments its parameters' grammar refuses, several calls with ``parallel_tool_calls``
    false, text where ``tool_choice`` requires a call, an answer ``response_format`` refuses."""
    offered = [tool.name for tool in request.tool_list]
    for name, arguments in reply.calls:
        if name not in offered:
            listed = ", ".join(offered) if offered else "none"
            return f"it calls {name!r}, which the request does not offer (offered: {listed})"
        if plan is None or name not in plan.callable:
            allowed = ", ".join(sorted(plan.callable)) if plan is not None else ""
            return (
                f"it calls {name!r}, which tool_choice does not allow "
                f"(allowed: {allowed or 'none'})"
            )
        grammar = plan.arguments.get(name)
        if grammar is not None and not _accepts(grammar, encoding.encode_ordinary(arguments)):
            return f"the arguments of {name!r}, {arguments}, are not valid for its parameters"
    if len(reply.calls) > 1 and not request.parallel_tool_calls:
        return f"it makes {len(reply.calls)} calls, but the request sets parallel_tool_calls false"
    if reply.text is not None and plan is not None:
        if plan.must_call:
            return "it answers in text, but the request's tool_choice requires a tool call"
        if plan.answer is not None and not _accepts(
            plan.answer, encoding.encode_ordinary(reply.text)
        ):
            what = request.output.name or request.output.kind
            return f"its answer {_clip(reply.text)} is not valid for the response format {what!r}"
    return None


def _clip(text: str, limit: int = 200) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def fixed_generation(
    reply: FixedReply,
    encoding: tiktoken.Encoding,
    settings: SamplingSettings,
    rng: np.random.Generator,
    tool_kinds: dict[str, str] | None = None,
) -> Generation:
    """A fixed reply as one choice, through the request's cap and stop rules (text), or as
    tool calls whose names and arguments share the cap (``tool_kinds``: a tool's kind,
    ``function`` or ``custom``, by name)."""
    if not reply.calls:
        table = ScriptedTable.single(reply.text or "", encoding.encode_ordinary)
        return generate_scripted(table, 0, encoding, settings)
    result = Generation(finish_reason="tool_calls", tool_calls=[])
    assert result.tool_calls is not None
    budget = settings.max_tokens
    for name, arguments in reply.calls:
        identifier = call_id(rng)
        name_tokens = len(encoding.encode_ordinary(name))
        capped = replace(settings, max_tokens=max(1, budget - name_tokens), stop=())
        made = generate_scripted(
            ScriptedTable.single(arguments, encoding.encode_ordinary), 0, encoding, capped
        )
        kind = (tool_kinds or {}).get(name, "function")
        result.tool_calls.append(ToolCall(identifier, name, kind, made.pieces))
        result.completion_tokens += name_tokens + made.completion_tokens
        budget -= name_tokens + made.completion_tokens
        if made.finish_reason == "length" or budget <= 0:
            result.finish_reason = "length"
            break
    return result

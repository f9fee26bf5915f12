"""What a reader answers: a :class:`Contract` (the reply's form, as a grammar), and the
conversation text it reads (:class:`PromptText`).

A contract is data: a JSON Schema for JSON replies (compiled like ``response_format``'s, so
the JSON shape prior and the value reading apply), or a Lark grammar for the rest (labels,
numbers, lists, tags, dspy's field markers); :attr:`Contract.summary` is what the response
header and ``llmpresets explain`` say was read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ....tokens.messages import content_text

__all__ = [
    "CUE_LIMIT",
    "INSTRUCTION_ROLES",
    "TEXT_LIMIT",
    "Contract",
    "PromptText",
    "Reader",
    "lark_literal",
    "match_at_cues",
    "prompt_text",
]

# Characters read per message (its start and its end, where instructions sit); prompts are
# bounded before they get here, this bounds each reader's regexes further.
TEXT_LIMIT = 24_000
INSTRUCTION_ROLES = frozenset({"system", "developer"})
CUE_LIMIT = 64  # places a pattern is tried at, per reader


@dataclass(frozen=True)
class Contract:
    """The form a reply must take, read from the conversation.

    ``kind``: the family (``json_schema``, ``json_keys``, ``json_example``, ``json``,
    ``dspy_chat``, ``dspy_json``, ``dspy_xml``, ``labels``, ``yes_no``, ``number``,
    ``list``, ``numbered_list``, ``xml_tags``, or a user reader's own); ``detail``: what the
    header shows in brackets (``keys=city,temperature_c``). Exactly one of ``schema`` (a JSON
    Schema: the reply is that JSON) and ``lark`` (an llguidance Lark grammar) is set.
    ``fenced``: JSON inside a ```json fence (with ``schema``); ``json_shape``: apply the JSON
    shape prior to a Lark grammar whose values are JSON (its other text holds no JSON bytes).
    """

    kind: str
    detail: str = ""
    schema: Mapping[str, Any] | None = None
    lark: str | None = None
    fenced: bool = False
    json_shape: bool = False

    def __post_init__(self) -> None:
        if (self.schema is None) == (self.lark is None):
            raise ValueError("a Contract has exactly one of schema and lark")

    @property
    def summary(self) -> str:
        """``kind(detail)``, as the ``x-llmpresets-read-prompt`` header says it."""
        name = f"{self.kind}+fenced" if self.fenced else self.kind
        return f"{name}({self.detail})" if self.detail else name


@dataclass(frozen=True)
class PromptText:
    """The conversation as the readers see it: the instruction turns (system, developer) and
    the latest user turn, each bounded; ``joined`` is all of them, instructions first."""

    instructions: tuple[str, ...]
    user: str
    joined: str = field(init=False)
    lower: str = field(init=False)

    def __post_init__(self) -> None:
        joined = "\n\n".join([*self.instructions, self.user]).strip()
        object.__setattr__(self, "joined", joined)
        object.__setattr__(self, "lower", joined.lower())


# A reader: the conversation's text -> the contract it finds, or None. Pure and fast.
Reader = Callable[[PromptText], "Contract | None"]


def _bounded(text: str) -> str:
    if len(text) <= TEXT_LIMIT:
        return text
    half = TEXT_LIMIT // 2
    return text[:half] + "\n" + text[-half:]


def prompt_text(messages: Sequence[Mapping[str, Any]]) -> PromptText:
    """The texts a reader reads in ``messages`` (chat-form; Responses input is normalized to
    the same form): every system and developer turn, and the latest user turn."""
    instructions: list[str] = []
    user = ""
    for message in messages:
        role = message.get("role")
        if role in INSTRUCTION_ROLES:
            instructions.append(_bounded(content_text(message.get("content"), lenient=True)))
        elif role == "user":
            user = _bounded(content_text(message.get("content"), lenient=True))
    return PromptText(tuple(instructions), user)


def match_at_cues(
    pattern: re.Pattern[str], text: PromptText, cues: Sequence[str]
) -> re.Match[str] | None:
    """The first match of ``pattern`` (anchored) where one of ``cues`` starts in the text:
    the pattern is tried only there (its first words are the cues), at most
    :data:`CUE_LIMIT` places, so a long prompt costs a few ``str.find`` scans, not a regex
    tried at every position."""
    lower, joined = text.lower, text.joined
    if len(lower) != len(joined):  # lower-casing changed a length: positions differ
        return pattern.search(joined)
    starts: set[int] = set()
    for cue in cues:
        at = lower.find(cue)
        while at >= 0 and len(starts) < 4 * CUE_LIMIT:
            starts.add(at)
            at = lower.find(cue, at + 1)
    for at in sorted(starts)[:CUE_LIMIT]:
        match = pattern.match(joined, at)
        if match is not None:
            return match
    return None


_LARK_ESCAPES = re.compile(r'[\\"\n\r\t]')


def lark_literal(text: str) -> str:
    """``text`` as a Lark string literal (quoted, escaped)."""
    escaped = _LARK_ESCAPES.sub(
        lambda match: {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}[
            match.group()
        ],
        text,
    )
    return f'"{escaped}"'

"""Readers of closed answers: a set of labels, yes or no, a number.

- :func:`read_labels`: "Reply with exactly one word: billing, bug, feature or other", "one
  of: positive, negative, neutral", "Classify it as spam or ham", "Choose from A / B / C";
- :func:`read_yes_no`: "Answer yes or no", "(yes/no)", "Reply with Yes or No only";
- :func:`read_number`: "Reply with only a number", "an integer from 1 to 10", "just the
  number".

Each becomes a Lark grammar of exactly those answers (labels keep the prompt's spelling); a
number from a small range is one of its values.
"""

from __future__ import annotations

import re

from .contract import Contract, PromptText, lark_literal, match_at_cues

__all__ = ["label_items", "read_labels", "read_number", "read_yes_no"]

_LABEL_LIMIT = 40
_ITEM = r"[`'\"]?\w[\w\-]{0,30}(?: (?!or\b|and\b)\w[\w\-]{0,30})?[`'\"]?"
_LIST = (
    rf"({_ITEM}(?:\s*(?:,|;|/|\|)\s*(?:or\s+|and\s+)?{_ITEM}|\s+or\s+{_ITEM}){{1,{_LABEL_LIMIT}}})"
)
_LABELS = re.compile(
    r"\b(?:one\s+of|one\s+word|exactly\s+one|only\s+one|a\s+single\s+word|single\s+word|"
    r"one\s+(?:label|category|class|option)|choose\s+(?:one\s+)?from|pick\s+(?:one\s+)?from|"
    r"select\s+(?:one\s+)?from|(?:classify|categori[sz]e|label)\b[^.:\n]{0,60}?\bas|"
    r"(?:labels?|categories|classes|options)\s+(?:are|is))"
    r"(?:\s+(?:of\s+)?(?:the\s+)?(?:following|these|those))?"
    r"(?:\s+(?:words?|labels?|categories|options|values))?"
    rf"\s*(?:[:(\-]\s*|\s)\s*{_LIST}"
    # The list ends the sentence ("Use one of the tools, or ask the user" is no list).
    r"(?=\s*(?:[.!?)\n;:\u2014]|\s-\s|$))",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"\s*(?:,|;|/|\|)\s*(?:or\s+|and\s+)?|\s+or\s+", re.IGNORECASE)
_FILLER = frozenset({"the", "a", "an", "either", "and", "or"})


def label_items(listed: str) -> list[str]:
    """The labels of a written list ("billing, bug, feature or other"), as written."""
    items: list[str] = []
    for part in _SPLIT.split(listed):
        item = part.strip().strip("`'\"").strip()
        words = item.split()
        while len(words) > 1 and words[0].lower() in _FILLER:
            words = words[1:]
        item = " ".join(words)
        if item and len(words) <= 3 and item not in items:
            items.append(item)
    return items


def _choice(kind: str, items: list[str]) -> Contract:
    alternatives = " | ".join(lark_literal(item) for item in items)
    return Contract(kind, "|".join(items), lark=f"start: {alternatives}\n")


# The words a match of _LABELS starts with: it is tried only where one stands.
_LABEL_CUES = (
    "one", "exactly", "only", "a single", "single", "choose", "pick", "select", "classify",
    "categori", "label", "classes", "options",
)  # fmt: skip


def read_labels(text: PromptText) -> Contract | None:
    """One label of a closed set the prompt lists."""
    match = match_at_cues(_LABELS, text, _LABEL_CUES)
    if match is None:
        return None
    items = label_items(match.group(1))
    if len(items) < 2:
        return None
    return _choice("labels", items)


_YES_NO = re.compile(
    r"\b(?:answer|reply|respond|say|return|output|just|only|with)\b[^.\n]{0,30}?"
    r"\b(yes)\s*(?:or|/)\s*(no)\b(?=\s*(?:only\b|[.!?:;,)\n]|$))|\((yes)\s*/\s*(no)\)",
    re.IGNORECASE,
)


def read_yes_no(text: PromptText) -> Contract | None:
    """Yes or no, spelled as the prompt spells them."""
    if "yes" not in text.lower:
        return None
    match = _YES_NO.search(text.joined)
    if match is None:
        return None
    yes, no = (
        (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    )
    return _choice("yes_no", [yes, no])


_NUMBER = re.compile(
    r"\b(?:answer|reply|respond|return|output|give|provide|rate|score)\w*\b[^.\n]{0,40}?"
    # "only a number", "just the number", "a single integer"
    r"(?:\b(?:only|just|single|one)\s+(?:a\s+|an\s+|the\s+|single\s+)?"
    r"(number|integer|digit|whole number|decimal|float|score|rating)\b"
    # "as an integer." (the sentence ends there: "a number of ideas" is no number)
    r"|\b(?:as|with)\s+(?:a|an)\s+(number|integer|whole number|decimal)\s*(?:[.!?\n]|$)"
    # "a score from 1 to 5"
    r"|\b(?:a|an)\s+(number|integer|score|rating)\s+(?:from|between)\s+-?\d)"
    r"|\b(?:only|just)\s+the\s+(number|integer|digit|score)\b",
    re.IGNORECASE,
)
# The words a match of _NUMBER starts with.
_NUMBER_CUES = (
    "answer", "reply", "respond", "return", "output", "give", "provide", "rate", "score",
    "only the", "just the",
)  # fmt: skip
_RANGE = re.compile(r"\b(?:from|between)\s+(-?\d{1,6})\s+(?:to|and)\s+(-?\d{1,6})\b", re.I)
_RANGE_VALUES = 100


def read_number(text: PromptText) -> Contract | None:
    """A number (an integer when the prompt says integer, whole or digit; one of a small
    range's values when it gives one: "from 1 to 10")."""
    match = match_at_cues(_NUMBER, text, _NUMBER_CUES)
    if match is None:
        return None
    word = next((group for group in match.groups() if group), "").lower()
    window = text.joined[match.start() : match.end() + 80]
    bounds = _RANGE.search(window)
    if bounds is not None:
        low, high = sorted((int(bounds.group(1)), int(bounds.group(2))))
        if high - low < _RANGE_VALUES:
            values = [str(value) for value in range(low, high + 1)]
            alternatives = " | ".join(lark_literal(value) for value in reversed(values))
            return Contract("number", f"{low}..{high}", lark=f"start: {alternatives}\n")
    if word in ("integer", "digit", "whole number", "score", "rating"):
        return Contract("number", "integer", lark="start: /-?[0-9]{1,6}/\n")
    return Contract("number", lark="start: /-?[0-9]{1,6}(\\.[0-9]{1,3})?/\n")

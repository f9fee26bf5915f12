"""Readers of lists and tagged text: a comma-separated list, a numbered list, XML tags.

- :func:`read_comma_list`: "as a comma-separated list", "separated by commas" (with a count
  when the prompt gives one: "list three colours");
- :func:`read_numbered_list`: "as a numbered list", "number each item";
- :func:`read_xml_tags`: "wrap your answer in <answer></answer> tags", "put your reasoning in
  <thinking> tags and the answer in <answer> tags": each tag once, in the prompt's order.

Every item and every tagged text is bounded (in characters), so a reply always ends.
"""

from __future__ import annotations

import re

from .contract import Contract, PromptText, lark_literal, match_at_cues

__all__ = ["item_count", "read_comma_list", "read_numbered_list", "read_xml_tags"]

_MAX_ITEMS = 8
_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10,
}  # fmt: skip
_COUNT = re.compile(
    r"\b(?:list|give|name|write|suggest|provide|generate|return|top)\b[^.\n]{0,20}?"
    r"\b(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\b",
    re.IGNORECASE,
)
# One item of a comma list: up to three short words, no comma or line break.
_WORD = r"[A-Za-z][a-z]{0,15}"
_COMMA_ITEM = f"ITEM: /{_WORD}( {_WORD}){{0,2}}/"
_LINE = "LINE: /[A-Za-z0-9][^\\n]{0,119}/"


def item_count(text: PromptText) -> int | None:
    """How many items the prompt asks for ("list three colours", "top 5"), if it says."""
    match = _COUNT.search(text.joined)
    if match is None:
        return None
    word = match.group(1).lower()
    count = int(word) if word.isdigit() else _NUMBER_WORDS[word]
    return count if 1 <= count <= 20 else None


def _repeat(first: str, more: str, count: int | None) -> str:
    """``first`` then ``more`` (count - 1) times, or 0 to _MAX_ITEMS - 1 times."""
    if count is not None:
        return " ".join([first, *([more] * (count - 1))])
    return f"{first} ({more}){{0,{_MAX_ITEMS - 1}}}"


_COMMA = re.compile(
    r"\bcomma[\s\-]*separated\b|\bseparated\s+by\s+commas\b|\bcomma[\s\-]*delimited\b", re.I
)


def read_comma_list(text: PromptText) -> Contract | None:
    """Items separated by ``", "``."""
    if "comma" not in text.lower or _COMMA.search(text.joined) is None:
        return None
    count = item_count(text)
    items = _repeat("ITEM", '", " ITEM', count)
    lark = f"start: {items}\n{_COMMA_ITEM}\n"
    return Contract("list", f"items={count}" if count else "", lark=lark)


_NUMBERED = re.compile(
    r"\bnumbered\s+(?:list|items|steps|points)\b|\bnumber\s+(?:each|the)\s+(?:item|step|line)s?\b",
    re.IGNORECASE,
)


def read_numbered_list(text: PromptText) -> Contract | None:
    """Lines ``1. ...``, ``2. ...``."""
    if match_at_cues(_NUMBERED, text, ("numbered", "number ")) is None:
        return None
    count = item_count(text)
    limit = count or _MAX_ITEMS
    # item_k: "k. " LINE, then optionally (or, with a count, always) item_k+1.
    rules = []
    for index in range(1, limit + 1):
        head = lark_literal(f"{index}. " if index == 1 else f"\n{index}. ")
        rest = ""
        if index < limit:
            rest = f" item{index + 1}" if count else f" item{index + 1}?"
        rules.append(f"item{index}: {head} LINE{rest}")
    lark = "start: item1\n" + "\n".join(rules) + f"\n{_LINE}\n"
    return Contract("numbered_list", f"items={count}" if count else "", lark=lark)


# A sentence about the reply's own form: a verb that places text, and what is placed
# ("Write HTML using <div> tags" is not about the reply).
_TAG_VERB = re.compile(
    r"\b(?:wrap|enclose|put|place|surround|respond|reply|return|output|write|format|give|"
    r"answer|think|reason)\w*\b",
    re.IGNORECASE,
)
_TAG_WHAT = re.compile(
    r"\b(?:your|answer|response|reply|result|output|reasoning|thoughts?|thinking|final)\b",
    re.IGNORECASE,
)
_TAG = re.compile(r"<([A-Za-z][\w\-]{0,30})>")
_TAG_LIMIT = 6


def read_xml_tags(text: PromptText) -> Contract | None:
    """Text inside the XML tags the prompt asks for, each once, in its order."""
    if "<" not in text.joined:
        return None
    names: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text.joined):
        if "<" not in sentence or not (_TAG_VERB.search(sentence) and _TAG_WHAT.search(sentence)):
            continue
        for match in _TAG.finditer(sentence):
            name = match.group(1)
            if name not in names and ("tag" in sentence.lower() or f"</{name}>" in sentence):
                names.append(name)
    if not names:
        return None
    names = names[:_TAG_LIMIT]
    parts = [f'"<{name}>" TEXT "</{name}>"' for name in names]
    lark = "start: " + ' "\\n" '.join(parts) + "\nTEXT: /[^<>&\\s][^<>&]{0,239}/\n"
    return Contract("xml_tags", "tags=" + ",".join(names), lark=lark)

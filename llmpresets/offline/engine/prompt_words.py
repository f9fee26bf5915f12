"""The prompt's content words: what a JSON reply may copy into its strings, as token ids.

:func:`hint_tokens` reads the last user message and the tool results of a request
(:func:`~llmpresets.offline.engine.structured.make_plan`) and gives the single-token forms of
their content words; the constrained decoder's shape prior lets a string's first token copy
one of them (``{"city": ...}`` after "weather in Paris" tends to say ``"Paris"``).
:data:`COMMON_WORDS` are the words too common to say what a prompt is about, left out here
and by the tool policy (:mod:`llmpresets.offline.engine.tool_choice`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..._cache import BoundedCache

if TYPE_CHECKING:
    import tiktoken

__all__ = ["COMMON_WORDS", "hint_tokens"]

IntArray = NDArray[np.int64]

_WORD = re.compile(r"[^\W_]+")
_COMMON_TEXT = (
    "the and for are but not you all any can had her was one our out has his how its may new "
    "now see who did get let put say she too use what when where which while with this that "
    "from have they will would there their about into than then them these those some such "
    "your each many most other only over also just like make made very more tell give please "
    "extract write answer return returns find show list name call tool function value result "
    "results given input output data json reply format schema object"
)
COMMON_WORDS = frozenset(_COMMON_TEXT.split())
"""Words too common to say what a prompt is about (hints, and a tool's relevance)."""

# hint_tokens' answers per (encoding, texts), for texts of at most _HINT_TEXT_LIMIT characters
# (long tool results are not kept); and each word's single-token forms: the same prompt words
# come back with every request of a conversation.
_HINT_TEXT_LIMIT = 1 << 14
_hints: BoundedCache[tuple[str, tuple[str, ...]], IntArray] = BoundedCache(
    "prompt hint tokens", 8 << 20
)
_word_forms: BoundedCache[tuple[str, str], tuple[int, ...]] = BoundedCache(
    "prompt word tokens", 4 << 20
)


def hint_tokens(encoding: tiktoken.Encoding, texts: Iterable[str]) -> IntArray:
    """Token ids of the content words of ``texts`` (with and without a leading space): what
    a reply copies into its strings. Short words, common function words and words that are
    not one token are left out. The array is read-only.

    >>> from llmpresets.tokens.encodings import get_encoding
    >>> encoding = get_encoding("o200k_base")
    >>> sorted(encoding.decode([t]) for t in hint_tokens(encoding, ["the weather in Paris"]))
    [' Paris', ' weather', 'Paris', 'weather']
    """
    texts = tuple(texts)
    key = (encoding.name, texts)
    known = _hints.get(key)
    if known is not None:
        return known
    ids: set[int] = set()
    for text in texts:
        for word in set(_WORD.findall(text)):
            if (len(word) < 3 and not word.isdigit()) or word.lower() in COMMON_WORDS:
                continue
            ids.update(_word_tokens(encoding, word))
    found = np.array(sorted(ids), dtype=np.int64)
    found.flags.writeable = False
    length = sum(len(text) for text in texts)
    if length <= _HINT_TEXT_LIMIT:
        _hints.put(key, found, found.nbytes + length + 200)
    return found


def _word_tokens(encoding: tiktoken.Encoding, word: str) -> tuple[int, ...]:
    """The single-token forms of ``word`` (bare and after a space)."""
    key = (encoding.name, word)
    tokens = _word_forms.get(key)
    if tokens is None:
        forms = (encoding.encode_ordinary(form) for form in (word, " " + word))
        # A piece of a longer word would be noise on its own.
        tokens = tuple(form[0] for form in forms if len(form) == 1)
        _word_forms.put(key, tokens, 2 * len(word) + 150)
    return tokens

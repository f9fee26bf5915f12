"""The JSON shape prior of constrained decoding: what makes a reply look like data.

:class:`JsonShape` follows a compact JSON text byte by byte (open containers and their item
counts, whether a string is open and how long, key or value, digits of a number);
:func:`shape_prior` turns the state into scores for the grammar-allowed candidates, in nats
(see :mod:`llmpresets.offline.engine.constrained.decoder` for where it sits in a step):

- inside a string, its closing quote scores ``DECISION_BASE + STRING_CLOSE_SLOPE * (length -
  typical)`` (typical: 8 characters, 3 for a key), plus ``HINT_BONUS`` right after a word
  copied from the prompt and minus it for an empty string; at a string's first token a prompt
  word may be copied (a mixture with the source, each word once, names favoured by
  ``PROPER_BONUS``) and data starts with a letter or a digit; when the grammar (a format, a
  pattern) forbids the quote, the separators formats use (``@ . - : / _ +``) grow likelier;
- after an array item or object member, closing the container scores ``DECISION_BASE +
  CONTAINER_CLOSE_SLOPE * (items - TYPICAL_ITEMS)`` against the comma's ``DECISION_BASE``;
  each digit of a number makes it likelier to end (``NUMBER_END_SLOPE``);
- elsewhere, opening ``{`` / ``[`` costs ``NESTING_PENALTY`` per level, a value string opens
  with a bare quote (``STRING_OPEN_PENALTY`` on a quote glued to text), and an empty container
  costs ``CONTAINER_CLOSE_SLOPE * TYPICAL_ITEMS``.

Per encoding, :func:`classes_for` gives the token flags the prior reads and the *data tokens*
(JSON punctuation, one- and two-digit numbers, literal prefixes, end of text) that smoothing
scores above the floor.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ....tokens.encodings import bpe_tables

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "CONTAINER_CLOSE_SLOPE",
    "DECISION_BASE",
    "HINT_BONUS",
    "NESTING_PENALTY",
    "NUMBER_END_SLOPE",
    "PROPER_BONUS",
    "STRING_CLOSE_SLOPE",
    "STRING_OPEN_PENALTY",
    "TYPICAL_ITEMS",
    "JsonShape",
    "PriorState",
    "TokenClasses",
    "classes_for",
    "shape_prior",
    "string_close",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Shape prior, in nats (see the module docstring).
STRING_CLOSE_SLOPE = 0.6
STRING_TYPICAL_LENGTH = 8
KEY_TYPICAL_LENGTH = 3
CONTAINER_CLOSE_SLOPE = 1.2
TYPICAL_ITEMS = 2.5
NUMBER_END_SLOPE = 1.0
NESTING_PENALTY = 1.5
HINT_BONUS = 3.0
PROPER_BONUS = 1.5
DECISION_BASE = -2.0
STRING_OPEN_PENALTY = 3.0

_DATA_BYTES = frozenset(b'{}[]",:.-+0123456789eE@/_')
_LITERALS = ("true", "false", "null")


# --------------------------------------------------------------------------- token classes


@dataclass(frozen=True)
class TokenClasses:
    """Per encoding: the data tokens, and flags the shape prior reads for any token id."""

    data_ids: IntArray  # sorted
    quote: NDArray[np.bool_]  # contains '"'
    first: NDArray[np.uint8]  # first byte
    digits: NDArray[np.int8]  # all ASCII digits: how many; else 0
    long: NDArray[np.bool_]  # more than one byte
    separator: NDArray[np.int8]  # 1.. for the one-byte separators of formats (@ . - : / _ +)
    alnum: NDArray[np.bool_]  # starts with an ASCII letter or digit (or a non-ASCII character)


# Per encoding and process, like llguidance's tokenizer (a fifth of a second to build, about
# 1.4 MB for o200k): a table, not a cache that clear_caches empties.
@functools.cache
def classes_for(encoding: tiktoken.Encoding) -> TokenClasses:
    """The data tokens and the per-token flags of ``encoding``."""
    size = encoding.n_vocab
    quote = np.zeros(size, dtype=bool)
    first = np.zeros(size, dtype=np.uint8)
    digits = np.zeros(size, dtype=np.int8)
    long = np.zeros(size, dtype=bool)
    alnum = np.zeros(size, dtype=bool)
    data: list[int] = [encoding.eot_token]
    literal_prefixes = {
        literal[:end].encode() for literal in _LITERALS for end in range(1, len(literal) + 1)
    }
    ranks = bpe_tables(encoding)[0]
    for raw, token in ranks.items():
        if not raw or token >= size:
            continue
        first[token] = raw[0]
        long[token] = len(raw) > 1
        alnum[token] = raw[:1].isalnum() or raw[0] >= 0x80
        if b'"' in raw:
            quote[token] = True
        if raw.isdigit():
            digits[token] = min(len(raw), 127)
        # Data tokens: JSON punctuation and short numbers (three-digit and longer number
        # tokens stay in the floor class: data holds small numbers more often than not).
        short = not (len(raw) > 2 and raw.isdigit())
        if (short and all(byte in _DATA_BYTES for byte in raw)) or raw in literal_prefixes:
            data.append(token)
    data_ids = np.unique(np.array(data, dtype=np.int64))
    separator = np.zeros(size, dtype=np.int8)
    for rank, byte in enumerate(b"@.-:/_+", start=1):
        separator[ranks[bytes([byte])]] = rank
    return TokenClasses(data_ids, quote, first, digits, long, separator, alnum)


# --------------------------------------------------------------------------- JSON shape


_ONE_BYTE = [bytes((value,)) for value in range(256)]
# UTF-8 continuation bytes: a string's characters are its bytes less these.
_CONTINUATION = bytes(range(0x80, 0xC0))


class PriorState(NamedTuple):
    """Everything :func:`shape_prior` reads of a :class:`JsonShape`, and nothing else: equal
    states give equal priors, so a constrained step may be cached by it."""

    in_string: bool
    is_key: bool  # the open string is an object key
    length: int  # characters of the open string
    last_hinted: bool  # its last token was a prompt word
    used: frozenset[int]  # prompt words already copied (read at a string's first token)
    depth: int  # open containers (outside strings)
    kind: int  # the innermost one: '{' or '[' (0 at the top)
    commas: int  # its items so far, less one (only "none yet" matters before a value)
    after_value: bool  # a value just ended: close the container, or a comma
    digits: int  # digits of the number just written


_NOTHING: frozenset[int] = frozenset()
_TOP = PriorState(False, False, 0, False, _NOTHING, 0, 0, 0, False, 0)


class JsonShape:
    """Where a compact JSON text stands, fed byte by byte (only what the prior needs)."""

    def __init__(self) -> None:
        self.stack: list[list[int]] = []  # [kind ('{' or '['), commas so far]
        self.in_string = False
        self.is_key = False
        self.escape = False
        self.length = 0  # characters of the open string
        self.expect_key = False
        self.digits = 0  # digits of the number being written
        self.after_value = False
        self.used: set[int] = set()  # prompt words (hint_word keys) already copied
        self.last_hinted = False  # the open string's last token was a prompt word
        # Value tracking (off unless track_values() was called; the value reader uses it):
        # where each value starts, the path of keys and indices to it, and its text so far.
        self.tracking = False
        self.path: list[str | int] = []  # per open container: its key or index in use
        self.key = bytearray()  # the open key's bytes
        self.value_id = 0  # counts events: a value starts, a key may start, an item ended
        self.event = "value"  # the last event's kind: "value", "key" or "item_end"
        self.value_path: tuple[str | int, ...] = ()  # where it happened
        self.value_text = bytearray()  # bytes fed since it happened
        self.keys_seen: list[set[str]] = []  # per open object: its keys so far

    def track_values(self) -> None:
        """Follow where values start, where an object's key may start and where an array's
        object item ends, with their paths (:attr:`value_id` counts these events,
        :attr:`event` names the last, :attr:`value_path` and :attr:`value_text` say where it
        was and what followed; :attr:`keys_seen` holds each open object's keys): the value
        reader's view. Call before the first byte."""
        self.tracking = True
        self.value_id = 1  # the top-level value starts at once

    def copy(self) -> JsonShape:
        """An independent copy (to look ahead at bytes the grammar forces)."""
        other = JsonShape.__new__(JsonShape)
        other.__dict__.update(self.__dict__)
        other.stack = [list(item) for item in self.stack]
        other.used = set(self.used)
        other.path = list(self.path)
        other.key = bytearray(self.key)
        other.value_text = bytearray(self.value_text)
        other.keys_seen = [set(keys) for keys in self.keys_seen]
        return other

    def _value_starts(self, path: tuple[str | int, ...], event: str = "value") -> None:
        self.value_id += 1
        self.event = event
        self.value_path = path
        self.value_text = bytearray()

    def feed(self, data: bytes) -> None:
        if self.in_string and not self.escape and b'"' not in data and b"\\" not in data:
            # Plain text inside a string (most tokens of a reply): count its characters.
            self.length += len(data.translate(None, _CONTINUATION))
            if self.tracking:
                self.value_text += data
                if self.is_key:
                    self.key += data
            return
        if self.tracking:
            self._feed_tracking(data)
            return
        self.feed_bytes(data)

    def feed_bytes(self, data: bytes) -> None:
        """:meth:`feed` for any bytes, one at a time."""
        for byte in data:
            if self.in_string:
                if self.escape:
                    self.escape = False
                elif byte == 0x5C:
                    self.escape = True
                elif byte == 0x22:
                    self.in_string = False
                    self.after_value = not self.is_key
                    continue
                if byte & 0xC0 != 0x80:  # count characters, not UTF-8 continuation bytes
                    self.length += 1
                continue
            self.digits = self.digits + 1 if 0x30 <= byte <= 0x39 else 0
            if byte == 0x22:
                self.in_string, self.length = True, 0
                self.is_key = bool(self.stack) and self.stack[-1][0] == 0x7B and self.expect_key
                self.after_value = False
            elif byte in (0x7B, 0x5B):
                self.stack.append([byte, 0])
                self.expect_key = byte == 0x7B
                self.after_value = False
            elif byte in (0x7D, 0x5D):
                if self.stack:
                    self.stack.pop()
                self.after_value = True
            elif byte == 0x2C:
                if self.stack:
                    self.stack[-1][1] += 1
                    self.expect_key = self.stack[-1][0] == 0x7B
                self.after_value = False
            elif byte == 0x3A:
                self.expect_key = False
                self.after_value = False
            else:  # digits, signs, literals' letters: a scalar value being written
                self.after_value = True

    def _feed_tracking(self, data: bytes) -> None:
        """:meth:`feed` byte by byte, following keys, paths and value starts as well."""
        for byte in data:
            was_in_string = self.in_string
            if was_in_string and self.is_key:
                if byte == 0x22 and not self.escape:  # the key ends: the path's last step
                    if self.path:
                        self.path[-1] = self.key.decode("utf-8", "replace")
                        if self.keys_seen:
                            self.keys_seen[-1].add(str(self.path[-1]))
                else:
                    self.key.append(byte)
            self.value_text.append(byte)
            self.feed_bytes(_ONE_BYTE[byte])
            if was_in_string or self.in_string:
                if not was_in_string and self.is_key:
                    self.key = bytearray()  # a key opens
                continue
            if byte == 0x3A and self.path:  # a member's value starts
                self._value_starts(tuple(self.path))
            elif byte == 0x5B:  # an array's first item starts
                self.path.append(0)
                self._value_starts(tuple(self.path))
            elif byte == 0x7B:  # an object opens: a key may start
                self.path.append("")
                self.keys_seen.append(set())
                self._value_starts(tuple(self.path), "key")
            elif byte == 0x7D and self.path:
                self.path.pop()
                if self.keys_seen:
                    self.keys_seen.pop()
                if self.path and isinstance(self.path[-1], int):  # an array's object item ends
                    self._value_starts(tuple(self.path), "item_end")
            elif byte == 0x5D and self.path:
                self.path.pop()
            elif byte == 0x2C and self.path and isinstance(self.path[-1], int):
                self.path[-1] += 1  # the array's next item starts
                self._value_starts(tuple(self.path))
            elif byte == 0x2C and self.path:  # an object's next key may start
                self._value_starts(tuple(self.path), "key")

    def prior_state(self) -> PriorState:
        """What the prior needs of this state (fields the prior ignores here are zeroed)."""
        if self.in_string:
            used = frozenset(self.used) if self.length == 0 and self.used else _NOTHING
            return PriorState(
                True, self.is_key, self.length, self.last_hinted, used, 0, 0, 0, False, 0
            )
        if not self.stack:
            return _TOP
        kind, commas = self.stack[-1]
        depth = len(self.stack)
        if self.after_value:
            return PriorState(
                False, False, 0, False, _NOTHING, depth, kind, commas, True, self.digits
            )
        return PriorState(False, False, 0, False, _NOTHING, depth, kind, min(commas, 1), False, 0)


def string_close(state: PriorState) -> float:
    """The prior for closing the open string of ``state`` (in nats, before ``DECISION_BASE``):
    it grows with the string's length past the typical one."""
    typical = KEY_TYPICAL_LENGTH if state.is_key else STRING_TYPICAL_LENGTH
    close = STRING_CLOSE_SLOPE * (state.length - typical)
    if state.last_hinted:  # a word copied from the prompt is often the whole value
        close += HINT_BONUS
    elif state.length == 0:  # an empty string is valid data, but rarely what is meant
        close -= HINT_BONUS
    return close


def shape_prior(
    state: PriorState,
    classes: TokenClasses,
    hint_word: IntArray,
    copy: FloatArray,
    scores: FloatArray,
) -> FloatArray:
    """``scores`` with the shape prior of ``state`` applied (``classes``' arrays, ``hint_word``
    and ``copy`` are the flags of the scored tokens, position by position).

    Where the prior makes a structural decision (close this string? this container?), the
    tokens that make it get an absolute score (:data:`DECISION_BASE` plus the prior) instead
    of the source's, which knows nothing of JSON; elsewhere the prior is added.
    """
    first = classes.first
    if state.in_string:
        close = string_close(state)
        closing = first == 0x22
        result = np.where(closing, DECISION_BASE + close, scores)
        if close > 0 and not closing.any():
            # The grammar (a format, a pattern) wants something else before the string may
            # end: the separators formats use ('@', '.', '-', ':'...) grow likelier, as
            # closing would.
            rank = classes.separator
            result = np.where(rank > 0, DECISION_BASE + close - 0.5 * rank, result)
        if state.length == 0:
            # A string often copies one prompt word, each word once ("Alice" for the name,
            # then "Paris" for the city): the source's score or the copy's, whichever the
            # mixture makes it; and data starts with a letter or a digit.
            fresh = (hint_word >= 0) & (first != 0x20)
            if state.used:
                # hint_word keys are small: a table says which are used (index -1, no word,
                # reads the table's last entry, which stays False).
                used = np.zeros(max(state.used) + 2, dtype=bool)
                used[list(state.used)] = True
                fresh &= ~used[np.minimum(hint_word, len(used) - 1)]
            at = np.flatnonzero(fresh)
            result[at] = np.logaddexp(result[at], copy[at] + HINT_BONUS)
            result -= np.where(~classes.alnum & (first != 0x22), HINT_BONUS, 0.0)
        return result
    # A value string opens with a bare quote; its text comes from the steps inside it.
    opens_with_text = (first == 0x22) & classes.long
    depth = state.depth
    if not depth:
        return scores - np.where(opens_with_text, STRING_OPEN_PENALTY, 0.0)
    kind, commas = state.kind, state.commas
    closer = 0x5D if kind == 0x5B else 0x7D
    if state.after_value:
        close = CONTAINER_CLOSE_SLOPE * (commas + 1 - TYPICAL_ITEMS)
        more = 0.0
        if state.digits:  # each digit makes the number likelier to end here
            close += NUMBER_END_SLOPE * state.digits
            more += NUMBER_END_SLOPE * state.digits
        result = np.where(first == closer, DECISION_BASE + close, scores)
        result = np.where(first == 0x2C, DECISION_BASE + more, result)
        if state.digits:
            result -= np.where(classes.digits > 0, NUMBER_END_SLOPE * state.digits, 0.0)
        return result
    opens = (first == 0x7B) | (first == 0x5B)
    result = scores - np.where(opens, NESTING_PENALTY * depth, 0.0)
    result -= np.where(opens_with_text, STRING_OPEN_PENALTY, 0.0)
    if commas == 0:  # an empty container is possible, not typical
        result -= np.where(first == closer, CONTAINER_CLOSE_SLOPE * TYPICAL_ITEMS, 0.0)
    shaped: FloatArray = result
    return shaped

"""The candidate tokens of constrained decoding, and what a grammar's mask allows of them.

A reply's *candidates* (:class:`Candidates`) are the tokens it scores explicitly: the
source's support, the data tokens and the prompt's words; every other token of the
vocabulary is a *floor* token (see :mod:`llmpresets.offline.engine.constrained.decoder` for
the smoothing). A mask (the grammar's allowed tokens at one step) is read as a
:class:`MaskView`: the candidates it allows, with the shape prior's flags gathered for them,
and how many floor tokens it allows.

:meth:`Candidates.build` and :meth:`MaskView.build` are the plain maths. The decoder's fast
path finds both again: candidates per (encoding, source vocabulary, prompt words)
(:func:`candidates_for`); mask views per candidates and distinct mask (:func:`mask_view`;
masks repeat: a JSON reply meets a few dozen distinct ones, inside a string the same one at
every step). A mask is found by the words that tell JSON masks apart and confirmed by
comparing all of them. Both caches are registered bounded caches
(:class:`~llmpresets._cache.BoundedCache`).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ...._cache import BoundedCache
from ..frozen import is_frozen
from .json_prior import PROPER_BONUS, TokenClasses, classes_for

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "DATA_MASS",
    "FLOOR_MASS",
    "HINT_MASS",
    "Candidates",
    "MaskView",
    "candidates_for",
    "mask_view",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Words = NDArray[np.uint32]

# Smoothing: the probability mass given to tokens outside the source's support.
FLOOR_MASS = 1e-9
DATA_MASS = 1e-3
HINT_MASS = 0.3

# Every STRIDE-th word of a mask finds its view; the whole mask confirms it.
_STRIDE = 31
# Successors a view remembers (MaskView.follow), at most.
_FOLLOW_LIMIT = 512


@dataclass(eq=False)
class Candidates:
    """The explicit candidates of one reply: the source's support, data tokens and hints."""

    ids: IntArray  # sorted token ids
    source_slot: IntArray  # for each source position, its index in ids
    hole: FloatArray  # score of each candidate when the source gives it nothing
    hint_word: IntArray  # for a prompt word's token, a key of the word (both forms); else -1
    floor: float
    above_floor: float  # the least score above the floor (explicit scores are raised to it)
    total_floor: int  # vocabulary tokens that are not candidates
    copy: FloatArray  # per candidate: log-probability of copying it from the prompt (-inf)
    word_of: IntArray  # each candidate's 32-bit word in llguidance's mask
    bit_of: NDArray[np.uint32]  # and its bit in that word
    classes: TokenClasses  # the shape prior's token flags, per candidate (by slot, not id)
    size: int  # the vocabulary's
    hint_key: dict[int, int]  # token id -> its hint_word, for the prompt words' tokens
    fingerprint: IntArray  # the mask words that tell masks apart (see mask_view)

    @property
    def nbytes(self) -> int:
        """Memory held (what a cache counts; the encoding's shared data ids left out)."""
        arrays: list[NDArray[np.generic]] = [
            value for value in vars(self).values() if isinstance(value, np.ndarray)
        ]
        arrays.extend(
            getattr(self.classes, item.name)
            for item in fields(self.classes)
            if item.name != "data_ids"
        )
        return sum(array.nbytes for array in arrays) + 100 * len(self.hint_key) + 500

    @classmethod
    def build(
        cls, encoding: tiktoken.Encoding, vocab: IntArray | None, hints: IntArray
    ) -> Candidates:
        classes = classes_for(encoding)
        size = encoding.n_vocab
        support = np.arange(size, dtype=np.int64) if vocab is None else vocab
        ids = np.union1d(np.union1d(support, classes.data_ids), hints)
        floor = math.log(FLOOR_MASS / size)
        data_score = math.log(DATA_MASS / len(classes.data_ids))
        hole = np.full(len(ids), floor)
        hole[np.isin(ids, classes.data_ids, assume_unique=True)] = data_score
        hinted = np.isin(ids, hints, assume_unique=True)
        hint_word = np.full(len(ids), -1, dtype=np.int64)
        copy = np.full(len(ids), -np.inf)
        if len(hints):
            keys: dict[str, int] = {}
            for slot in np.flatnonzero(hinted):
                text = encoding.decode([int(ids[slot])]).strip()
                hint_word[slot] = keys.setdefault(text.lower(), len(keys))
                copy[slot] = math.log(HINT_MASS / len(hints))
                if text[:1].isupper():
                    copy[slot] += PROPER_BONUS  # names are what strings copy most
        return cls(
            ids=ids,
            source_slot=np.searchsorted(ids, support),
            hole=hole,
            hint_word=hint_word,
            floor=floor,
            above_floor=float(np.nextafter(floor, 0)),
            total_floor=size - len(ids),
            copy=copy,
            word_of=ids >> 5,
            bit_of=(ids & 31).astype(np.uint32),
            # Gathered once: a mask view reads its allowed slots from these small arrays
            # instead of the vocabulary-sized ones.
            classes=_gather(classes, ids),
            size=size,
            hint_key={
                int(ids[slot]): int(hint_word[slot]) for slot in np.flatnonzero(hint_word >= 0)
            },
            # JSON masks differ where punctuation and short numbers are (the data tokens);
            # every 31st word catches the rest, and the whole mask confirms.
            fingerprint=np.union1d(np.arange(0, size >> 5, _STRIDE), classes.data_ids >> 5),
        )


def _gather(classes: TokenClasses, slots: IntArray) -> TokenClasses:
    return TokenClasses(
        data_ids=classes.data_ids,
        quote=classes.quote[slots],
        first=classes.first[slots],
        digits=classes.digits[slots],
        long=classes.long[slots],
        separator=classes.separator[slots],
        alnum=classes.alnum[slots],
    )


# Candidates per (encoding, vocabulary's contents, hints); and the same by the vocabulary
# array's identity when it is frozen (engine/frozen.py: each entry holds the array, so the id
# is its own), which spares hashing it.
_candidates: BoundedCache[tuple[str, bytes, bytes], Candidates] = BoundedCache(
    "constrained candidates", 64 << 20
)
_candidates_by_identity: BoundedCache[
    tuple[str, int, bytes], tuple[IntArray | None, Candidates]
] = BoundedCache("constrained candidates by vocabulary array", 64 << 20)


def candidates_for(
    encoding: tiktoken.Encoding, vocab: IntArray | None, hints: IntArray | None
) -> Candidates:
    """:meth:`Candidates.build`, kept per (encoding, vocabulary, hints): a request's choices
    and tool calls, and the requests of an agent loop, share one."""
    hints = hints if hints is not None else np.zeros(0, dtype=np.int64)
    hint_key = np.asarray(hints, dtype=np.int64).tobytes()
    # A frozen vocabulary array is known by identity; a writable one may have changed, so it
    # is read again.
    fixed = vocab is None or is_frozen(vocab)
    identity = (encoding.name, id(vocab), hint_key)
    last = _candidates_by_identity.peek(identity) if fixed else None
    if last is not None and last[0] is vocab:
        return last[1]
    key = (
        encoding.name,
        b"" if vocab is None else np.asarray(vocab, dtype=np.int64).tobytes(),
        hint_key,
    )
    cached = _candidates.peek(key)
    if cached is None:
        cached = Candidates.build(encoding, vocab, hints)
        _candidates.put(key, cached, cached.nbytes + len(key[1]) + len(hint_key))
    if fixed:
        _candidates_by_identity.put(identity, (vocab, cached), cached.nbytes)
    return cached


# --------------------------------------------------------------------------- masks


@dataclass(eq=False)
class MaskView:
    """One mask, read for one set of candidates."""

    candidates: Candidates
    words: bytes  # the mask itself
    allowed: IntArray  # the candidate slots it allows, ascending
    allowed_ids: IntArray  # and their token ids
    floor_count: int  # allowed tokens that are not candidates
    classes: TokenClasses  # the shape prior's flags of the allowed candidates
    hint_word: IntArray  # of the allowed candidates
    copy: FloatArray  # of the allowed candidates
    _pool: IntArray | None = field(default=None, repr=False)
    _closing: IntArray | None = field(default=None, repr=False)
    # The views that followed this one, by the token drawn in between: the likely view
    # after that token again (a guess, confirmed against the whole mask; see follow()).
    _next: dict[int, weakref.ref[MaskView]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, candidates: Candidates, words: Words) -> MaskView:
        bits = (words[candidates.word_of] >> candidates.bit_of) & 1
        allowed = np.flatnonzero(bits)
        return cls(
            candidates=candidates,
            words=words.tobytes(),
            allowed=allowed,
            allowed_ids=candidates.ids[allowed],
            floor_count=_popcount(words) - len(allowed),
            classes=_gather(candidates.classes, allowed),
            hint_word=candidates.hint_word[allowed],
            copy=candidates.copy[allowed],
        )

    @property
    def nbytes(self) -> int:
        """Memory held (what the cache counts)."""
        return len(self.words) + 42 * len(self.allowed) + 200

    @property
    def closing(self) -> IntArray:
        """The allowed candidates (slots) whose text starts with a quote: inside a string,
        the tokens that close it."""
        if self._closing is None:
            self._closing = np.flatnonzero(self.classes.first == 0x22)
        return self._closing

    def follow(self, token: int, words: Words, whole: bytes | bytearray) -> MaskView:
        """The view of ``words`` (whole: their bytes), the mask that came after this one
        and ``token``: the view that came after them before when it is the same mask (a
        comparison of the whole mask, which stops at the first difference), else
        :func:`mask_view`'s."""
        known = self._next.get(token)
        view = None if known is None else known()
        if view is not None and view.words == whole:
            return view
        view = mask_view(self.candidates, words, whole)
        if len(self._next) >= _FOLLOW_LIMIT:
            self._next.clear()
        self._next[token] = weakref.ref(view)
        return view

    def floor_pool(self) -> IntArray:
        """The allowed floor tokens' ids, ascending (made when a floor token is first drawn)."""
        if self._pool is None:
            words = np.frombuffer(self.words, dtype=np.uint32)
            everything = _all_allowed(words, self.candidates.size)
            self._pool = np.setdiff1d(everything, self.candidates.ids, assume_unique=True)
        return self._pool


_mask_views: BoundedCache[tuple[int, bytes], list[MaskView]] = BoundedCache(
    "constrained mask views", 32 << 20
)


def mask_view(
    candidates: Candidates, words: Words, whole: bytes | bytearray | None = None
) -> MaskView:
    """``words`` read for ``candidates``: a view made before for the same mask, or a new one
    (kept in a bounded cache). ``whole`` holds the bytes of ``words`` if the caller has them;
    ``words`` may be overwritten after the call."""
    if whole is None:
        whole = words.tobytes()
    fingerprint = candidates.fingerprint
    if len(fingerprint) and fingerprint[-1] >= len(words):  # a shorter mask than the vocabulary
        fingerprint = fingerprint[fingerprint < len(words)]
    key = (id(candidates), words[fingerprint].tobytes())
    views = _mask_views.get(key)
    if views is not None:
        for view in views:
            if view.words == whole and view.candidates is candidates:
                return view
    view = MaskView.build(candidates, words)
    family = [*(views or ()), view][-4:]  # masks alike in every sampled word: rare
    _mask_views.put(key, family, sum(member.nbytes for member in family))
    return view


def _popcount_unpacked(words: Words) -> int:
    return int(np.unpackbits(words.view(np.uint8)).sum())  # numpy < 2.0 has no bitwise_count


def _popcount_counted(words: Words) -> int:
    return int(np.bitwise_count(words).sum(dtype=np.int64))


# Chosen once: the set bits of a mask's words.
_popcount = _popcount_counted if hasattr(np, "bitwise_count") else _popcount_unpacked


def _all_allowed(words: Words, size: int) -> IntArray:
    """Every allowed token id (only when a floor token is drawn: rare, or a sparse mask)."""
    busy = np.flatnonzero(words)
    bits = np.unpackbits(words[busy].view(np.uint8), bitorder="little").reshape(-1, 32)
    rows, columns = np.nonzero(bits)
    ids = (busy[rows] * 32 + columns).astype(np.int64)
    return ids[ids < size]

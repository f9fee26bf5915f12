"""top_p's threshold over a large vocabulary without sorting it, and the blocked sums it uses.

The maths of :mod:`llmpresets.sampling`, split out: sorted descending, top_p's floor is the
weight where the running sum reaches ``top_p * total``. A peaked distribution's nucleus is a
few tokens, found among candidates above a sampled threshold (:func:`nucleus_candidates`); a
flat one's is most of the vocabulary, found from a sorted sample, one exact sum and a sort of a
small window (:func:`cut_large_nucleus`). Sums of many weights are taken in blocks
(:func:`total_weight`, :func:`_running_search`), float32 blocks added in float64.

The limits below are public because exact shortcuts elsewhere mirror them (the offline
engine's in-string constrained steps settle a step only where this search would find the same
tokens): retuning one here is seen there, not copied.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from .scratch import at_least, work_array

__all__ = [
    "BLOCK",
    "DECISION_MARGIN",
    "FIRST_CAP",
    "FLOAT32",
    "SAMPLE",
    "SELECT",
    "SMALL",
    "FloatArray",
    "IntArray",
    "cut_large_nucleus",
    "nucleus_candidates",
    "nucleus_floor",
    "relative_error",
    "row_sums",
    "selected_floor",
    "total_weight",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Side = Literal["left", "right"]

# Bound reduction: the ndarray methods and np.* wrappers add call overhead on small arrays.
_sum = np.add.reduce

FLOAT32 = np.dtype(np.float32)
"""float32, the dtype computed in natively besides float64 (see "Precision" in the package)."""

# The candidate search for top_p (nucleus_candidates).
SMALL = 1024
"""At most this many weights: no candidate search, the weights are sorted."""
FIRST_CAP = 256
"""The first threshold tried, ``total / FIRST_CAP``, admits at most this many tokens."""
SAMPLE = 2048
"""The strided sample that estimates a large vocabulary's nucleus holds about this many."""
BLOCK = 256
"""Sums and searches over many weights go in blocks of this many (see ``prepared.Prepared``)."""
SELECT = 8192
"""Above this many weights, top_p finds its floor by selection, not by sorting them all."""

# Relative safety margin on the candidate mass, far above the rounding error of the sums.
_MASS_MARGIN = 1e-9
DECISION_MARGIN = 1e-9
"""Relative distance from a filter's threshold (top_p's mass, a sum of weights) within which
an exact shortcut must not decide and leaves the step to the plain maths; the rounding of such
sums, in any order, is below 1e-12 of them. The offline engine's shortcuts (the n-gram settler,
constrained string steps) share this one value."""
# top_p's floor among at most this many weights is found by a running sum in Python.
_FEW = 16
# Above SELECT weights, the floor comes from a strided sample of about _FLAT_SAMPLE weights
# (cut_large_nucleus), with a window _CONFIDENCE standard deviations of the sample's error wide.
_FLAT_SAMPLE = 4096
_CONFIDENCE = 4.0
# Candidates for top_p over more than 1/_SHARE of such a vocabulary cost more to gather than
# the flat path's passes over all of it (smaller vocabularies: over half of it).
_SHARE = 8


def nucleus_floor(weight: FloatArray, mass: float) -> float:
    """The smallest weight top_p keeps: that of the last token (in descending order) whose
    exclusive running weight is < ``mass``. Tokens tied with it are kept too."""
    if weight.size > SELECT:
        floor = selected_floor(weight, mass)
        if floor is not None:
            return floor
    ordered = weight.copy()
    ordered.sort()
    return _floor_in(ordered[::-1], mass)


def _floor_in(ordered: FloatArray, mass: float) -> float:
    # Position i stays while the running sum before it is < mass, i.e. up to and including the
    # first position whose inclusive running sum reaches mass (position 0 always stays).
    # Running sums in float64 even for float32 weights: a float32 sum drifts with its length.
    if ordered.size <= _FEW:
        # A few weights (a peaked distribution's nucleus): the same float64 running sum in
        # Python, without the fixed cost of numpy calls on tiny arrays.
        running = 0.0
        for value in ordered.tolist():
            running += value
            if running >= mass:
                return float(value)
        return float(ordered[-1])
    last = _running_search(ordered.astype(np.float64, copy=False), mass, "left")
    return float(ordered[min(last, ordered.size - 1)])


def selected_floor(weight: FloatArray, mass: float) -> float | None:
    """:func:`nucleus_floor` for a large nucleus without sorting it (None: not found)."""
    cut = cut_large_nucleus(weight, total_weight(weight), mass, None)
    return None if cut is None else cut[1]


def cut_large_nucleus(
    weight: FloatArray, total: float, mass: float, min_p: float | None
) -> tuple[FloatArray, float] | None:
    """top_p (and min_p) over a nucleus of most of a large vocabulary, without sorting it:
    the kept weights (a new array, cut tokens 0) and the threshold they were cut at; None
    only when the sample is useless (all zero): then sort everything.

    Sorted descending, top_p's floor is the weight where the running sum reaches ``mass``.

    1. A sorted strided sample (~4,000 weights) estimates it: ``guess``.
    2. One pass keeps the weights >= ``guess`` and sums them exactly.
    3. If that sum falls short of ``mass``, the floor is below ``guess``: the window is the
       weights in [low, guess), where ``low`` is sampled to hold the shortfall with a margin
       of four standard deviations of the sample's error; the window's exact sum must hold it
       (else it widens, at worst to every weight below the guess). Sorted, the window's
       running sum finds the floor; the window's weights at or above it are kept too. If the
       sum exceeds ``mass``, the floor is at or above ``guess``: the window is [guess, high],
       holding more than the excess, and its weights below the floor are cut.

    Only the window is sorted: about 1% of the vocabulary for a flat distribution (the guess
    is typically within a standard deviation of the floor). Each token is kept or cut by
    comparing its weight with the floor, so tied weights are kept or cut together.
    """
    n = weight.size
    stride = max(1, n // _FLAT_SAMPLE)
    ordered = np.sort(weight[::stride])[::-1]
    ordered64 = ordered.astype(np.float64)
    sampled_total = float(_sum(ordered64))
    if not sampled_total > 0.0:
        return None
    per_sampled = total / sampled_total  # the mass one unit of sampled weight stands for
    guess_at = min(_running_search(ordered64, mass / per_sampled, "left"), ordered.size - 1)
    guess = float(ordered[guess_at])
    if min_p is not None and guess < min_p:
        guess = min_p  # min_p cuts everything below it anyway
    if not guess > 0.0:
        return None
    # Work arrays (scratch.py): the kept weights are returned, valid until the next call.
    keep = np.greater_equal(weight, guess, out=work_array("keep", n, bool))
    kept = work_array("kept", n, weight.dtype)
    np.copyto(kept, keep)  # then multiplied in the one dtype: faster than bool * float
    np.multiply(kept, weight, out=kept)
    inside = work_array("inside", n, bool)
    excess = total_weight(kept) - mass
    margin = _mass_margin(weight) * total
    # Sampled weights below the guess (descending) or at/above it (ascending from the guess).
    above = int(np.count_nonzero(ordered >= guess))
    if excess < 0.0:
        if min_p is not None and guess == min_p:
            return kept, guess  # top_p's floor is below min_p's: min_p decides
        side = ordered64[above:]
    else:
        side = ordered64[above - 1 :: -1] if above else ordered64[:0]
    reach = _running_search(side, abs(excess) / per_sampled, "left")
    # The window reaches past the sampled estimate by a margin for the sample's error; a
    # window that turns out too small is widened once, then taken to the end of its side.
    spread = _CONFIDENCE * math.sqrt(reach + 1) + 4
    for end in (reach + int(spread), reach + int(4 * spread), side.size):
        bound = float(side[end]) if end < side.size else None
        if excess < 0.0:
            # The window [bound, guess): weights not kept yet, down to the bound.
            if bound is not None:
                np.greater_equal(weight, bound, out=inside)
            else:
                inside.fill(True)
            np.logical_xor(inside, keep, out=inside)
        elif bound is not None:
            # The window [guess, bound]: kept weights up to the bound.
            np.logical_and(np.less_equal(weight, bound, out=inside), keep, out=inside)
        else:
            inside = keep
        positions = np.flatnonzero(inside)
        values = weight[positions]
        window_mass = float(_sum(values.astype(np.float64)))
        # The window must hold the shortfall (or more than the excess), clear of rounding.
        if bound is None or window_mass > abs(excess) + margin:
            break
    descending = np.sort(values)[::-1]
    if excess < 0.0:
        # (An empty window: nothing lies below the guess, which is then the floor.)
        floor = _floor_in(descending, -excess) if values.size else guess
        threshold = floor if min_p is None else max(floor, min_p)
        chosen = values >= threshold
        kept[positions[chosen]] = values[chosen]
    else:
        threshold = _floor_in(descending, window_mass - excess)
        cut = values < threshold
        kept[positions[cut]] = 0.0
    return kept, threshold


def _running_search(values: FloatArray, target: float, side: Side) -> int:
    """The first position whose inclusive running sum is >= target (side "left") or > target
    (side "right"); ``values.size`` if none.

    A running sum (np.cumsum) is a slow sequential loop, so large arrays are searched in
    blocks: block sums vectorise, and only the block holding the answer is cumulated. When
    rounding makes that block's own running sum fall just short, its last position is the
    answer (the block sums said the target is reached there).
    """
    n = values.size
    start, below = 0, 0.0
    if n > 2 * BLOCK:
        full = n // BLOCK
        running = _sum(values[: full * BLOCK].reshape(full, BLOCK), axis=1).cumsum()
        block = int(running.searchsorted(target, side=side))
        below = float(running[block - 1]) if block else 0.0
        start = block * BLOCK
        if block < full:
            within = values[start : start + BLOCK].cumsum()
            position = int(within.searchsorted(target - below, side=side))
            return start + min(position, BLOCK - 1)
    within = values[start:].cumsum()
    return start + int(within.searchsorted(target - below, side=side))


def row_sums(blocks: FloatArray) -> FloatArray:
    """The sum of each row of a 2-D array (float32 rows by einsum, which sums with vector
    accumulators: two to three times faster than add.reduce along an axis, as accurate)."""
    if blocks.dtype is FLOAT32:
        sums: FloatArray = np.einsum("ij->i", blocks)
        return sums
    sums = _sum(blocks, axis=1)
    return sums


def total_weight(values: FloatArray) -> float:
    """The sum of ``values``; float32 values are summed in blocks of ``BLOCK`` and the block
    sums added in float64: faster than numpy's pairwise float32 sum, and more accurate."""
    if values.size > 2 * BLOCK and values.dtype is FLOAT32:
        full = values.size // BLOCK
        sums = row_sums(values[: full * BLOCK].reshape(full, BLOCK))
        return float(_sum(sums, dtype=np.float64)) + float(_sum(values[full * BLOCK :]))
    return float(_sum(values))


def relative_error(values: FloatArray) -> float:
    """A bound, far above the rounding of one operation, relative to a value's magnitude."""
    return 1e-12 if values.dtype == np.float64 else 1e-5


def _mass_margin(values: FloatArray) -> float:
    """A relative margin on a sum of weights, far above the rounding error of the sum."""
    return _MASS_MARGIN if values.dtype == np.float64 else 1e-4


def nucleus_candidates(
    e: FloatArray, total: float, top_p: float, min_p: float | None
) -> IntArray | None:
    """Indices of a small set of tokens that provably contains top_p's nucleus, or None (all).

    Why pruning by a threshold ``t`` is exact: let ``C`` = {tokens with weight >= t}. Sorted
    descending, every token outside ``C`` comes after all of ``C``, so the mass strictly above
    it is at least ``sum(C)``. When ``sum(C) >= top_p * total`` (checked with a 1e-9 relative
    margin, far above the rounding of either sum), top_p removes every token outside ``C``.
    And with min_p on, ``C`` = {weight >= min_p} is always enough: top_p may keep tokens below
    it, but min_p then removes them all (p_max, the weight-1 token, survives every filter).

    Where ``t`` comes from: on a large vocabulary, from a sorted strided sample of the weights
    (one sort of ~2,000 values), with a deeper retry; on a mid-sized one, ``total / 256``,
    which admits at most 256 tokens as weights are <= 1. Each guess is only kept if the check
    above passes; otherwise, and for a flat distribution (its nucleus holds at least
    ``top_p * total`` tokens, as weights are <= 1), the answer is None: sort everything (or,
    above ``SELECT`` tokens, find the floor by selection). So is a candidate set of more than
    an eighth of such a vocabulary (half of a smaller one): gathering it costs more.
    """
    n = e.size
    most = n // _SHARE if n > SELECT else n // 2
    need = top_p * total * (1.0 + _mass_margin(e))
    floor = min_p or 0.0
    if n <= SMALL or need * 4 > n:
        return _floor_candidates(e, floor)
    if floor > 0.0 and total / FIRST_CAP <= floor:
        return _floor_candidates(e, floor)  # at most FIRST_CAP tokens, and always enough
    stride = n // SAMPLE
    if stride < 4:
        # Not worth sampling: try the threshold that admits at most FIRST_CAP tokens.
        thresholds = [total / max(FIRST_CAP, 4.0 * need)]
    else:
        # Estimate the nucleus floor from every stride-th weight, each standing for ``stride``
        # tokens. The mass the sample misses (``total - stride * sum``) is taken to lie above
        # it: that is where a few standout tokens, too rare to be sampled, sit.
        sampled = e[::stride].copy()
        sampled.sort()
        sampled = sampled[::-1]
        missing = total - stride * float(_sum(sampled))
        reach = _running_search(sampled, (need - missing) / stride, "left")
        # Go a few times deeper than the estimate for safety, deeper still on a second try.
        depths = (2 * reach + 2, 8 * reach + 64)
        thresholds = [
            float(sampled[depth])
            for depth in depths
            if depth < sampled.size and depth * stride <= most
        ]
    for threshold in thresholds:
        if threshold <= floor:
            break  # the min_p set is smaller still, and always enough
        tokens = at_least(e, threshold).nonzero()[0]
        if tokens.size > most:
            break
        if float(_sum(e[tokens])) >= need:
            return tokens
    return _floor_candidates(e, floor)


def _floor_candidates(e: FloatArray, floor: float) -> IntArray | None:
    """min_p's survivors {weight >= min_p} (None when that is more than an eighth of a large
    vocabulary, or half of a smaller one: see :func:`nucleus_candidates`)."""
    if floor <= 0.0:
        return None
    share = _SHARE if e.size > SELECT else 2
    if e.size > SELECT:
        # Skip the pass over the vocabulary when a strided sample says that too many tokens
        # survive, by a wide margin (a flat distribution): None only costs speed, never
        # exactness, as the caller then applies min_p to the whole vocabulary itself.
        sampled = e[:: e.size // _FLAT_SAMPLE]
        if np.count_nonzero(sampled >= floor) * share >= sampled.size * 2:
            return None
    survivors = at_least(e, floor)
    if np.count_nonzero(survivors) * share >= e.size:
        return None
    return survivors.nonzero()[0]

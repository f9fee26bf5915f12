"""A filtered distribution, and the same made ready for draws (what ``sampling`` hands out).

:class:`Filtered` is what the filter of :mod:`llmpresets.sampling` leaves: weights over some
tokens. :class:`Prepared` precomputes its running sums so that a draw is one or two searches,
and can be kept for a read-only array drawn from again and again (``Sampler`` with
``reuse=True``, and the offline engine's cached steps).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .nucleus import BLOCK, FLOAT32, FloatArray, IntArray, row_sums

__all__ = ["Filtered", "Prepared"]

# Bound reduction: the ndarray methods and np.* wrappers add call overhead on small arrays.
_sum = np.add.reduce

# A reused distribution of at most this many tokens is searched as a Python list.
_LISTED = 64


class Filtered(NamedTuple):
    """The filtered distribution, compactly: unnormalised weights over some tokens.

    ``tokens`` None means the whole vocabulary (``weight`` is then vocabulary-sized), else the
    token ids ``weight`` belongs to, ascending. ``weight`` None means uniform over the whole
    vocabulary. Weight 0 = filtered out.
    """

    size: int
    tokens: IntArray | None
    weight: FloatArray | None


class Prepared:
    """A filtered distribution made ready for draws: each draw costs one or two searches.

    ``single`` is the token when only one can be drawn (no random number is used then);
    otherwise ``weight`` over ``tokens`` (None: the whole vocabulary) is searched with its
    running sums precomputed: whole (``cumulative``) when short, else in blocks of ``BLOCK``
    (the float64 running sum of the block sums; then the one block's own running sums, kept
    for every block when the distribution is reused). A fresh and a reused distribution do the
    same arithmetic, so a seed draws the same token from either.
    """

    __slots__ = (
        "blocks",
        "cumulative",
        "has_zero",
        "length",
        "listed",
        "nbytes",
        "recompute",
        "running",
        "single",
        "size",
        "tail",
        "tokens",
        "total",
        "uniform",
        "weight",
    )

    def __init__(
        self,
        filtered: Filtered,
        *,
        recompute: Callable[[], FloatArray | None] | None = None,
    ) -> None:
        size, tokens, weight = filtered
        self.size = size
        self.tokens = tokens
        self.weight = weight
        self.uniform = weight is None
        self.length = 0 if weight is None else weight.size
        self.single: int | None = None
        self.cumulative: FloatArray | None = None
        self.listed: list[float] | None = None
        self.running: FloatArray | None = None
        self.blocks: FloatArray | None = None
        self.tail: FloatArray | None = None
        self.recompute = recompute
        self.has_zero = True
        self.total = 0.0
        self.nbytes = 200
        if tokens is not None and tokens.size == 1:
            self.single = int(tokens[0])
        elif weight is not None:
            if weight.size <= 2 * BLOCK:
                self.cumulative = weight.cumsum()
                if recompute is not None and weight.size <= _LISTED:
                    # Drawn from again and again: the running sums as a list, searched by
                    # bisect (the same comparisons as searchsorted, without numpy's call).
                    self.listed = self.cumulative.tolist()
                    self.has_zero = not bool(weight.min() > 0.0)
            else:
                # The running sum of the block sums (in float64: a float32 running sum over a
                # vocabulary drifts), and the total they add up to, so that a draw's target
                # and the sums it is searched in agree.
                full = weight.size // BLOCK
                blocks = weight[: full * BLOCK].reshape(full, BLOCK)
                sums = row_sums(blocks)
                if sums.dtype is FLOAT32:
                    sums = sums.astype(np.float64)
                self.running = sums.cumsum()
                tail = weight[full * BLOCK :]
                self.total = float(self.running[-1]) + (float(_sum(tail)) if tail.size else 0.0)
                if recompute is not None:
                    # A distribution drawn from again and again: keep each block's running
                    # sums too, and not the weights (recomputed in the rare case they are
                    # needed). Weights are only ever kept up to 2 * BLOCK of them, so never
                    # a reused work array (scratch.SMALLEST and up).
                    self.blocks = blocks.cumsum(axis=1)
                    self.tail = tail.cumsum()
                    self.has_zero = bool(np.count_nonzero(weight) < weight.size)
                    self.weight = None
                    self.nbytes += weight.nbytes + self.running.nbytes
            if self.weight is not None:
                self.nbytes += 2 * weight.nbytes

    def draw(self, u: float) -> int:
        """The token for a uniform number ``u`` in [0, 1)."""
        if self.uniform:  # uniform over the whole vocabulary
            return min(int(u * self.size), self.size - 1)
        listed = self.listed
        cumulative = self.cumulative
        if listed is not None:
            position = bisect.bisect_right(listed, u * listed[-1])
        elif cumulative is not None:
            position = int(cumulative.searchsorted(u * cumulative[-1], side="right"))
        else:
            position = self._block_search(u * self.total)
        # Weight-0 positions are never chosen: the search finds the first running sum > target,
        # which a 0 cannot raise; rounding at the very end takes the last positive weight.
        if position >= self.length or (self.has_zero and self._weight_at(position) == 0.0):
            weight = self._weights()
            position = int(np.flatnonzero(weight[: position + 1])[-1])
        return position if self.tokens is None else int(self.tokens[position])

    def pick(self, rng: np.random.Generator) -> int:
        """A draw with ``rng``: the lone survivor without a random number, else one search."""
        single = self.single
        return single if single is not None else self.draw(rng.random())

    def pick_with(self, u: float) -> int:
        """:meth:`pick` with its uniform number ``u`` already drawn from the generator (by an
        exact shortcut that drew it and then left the step to the sampler); the lone
        survivor ignores it."""
        single = self.single
        return single if single is not None else self.draw(u)

    def _weights(self) -> FloatArray:
        weight = self.weight
        if weight is None:
            assert self.recompute is not None
            weight = self.recompute()
            assert weight is not None
        return weight

    def _weight_at(self, position: int) -> float:
        """The weight at ``position``, or a number with the same zero-ness.

        Without the weights, a running sum that rose at ``position`` proves a weight > 0 there
        (a 0 adds nothing); one that did not (a weight too small to register, or 0) is
        settled by recomputing the weights.
        """
        if self.weight is not None:
            return float(self.weight[position])
        blocks, tail = self.blocks, self.tail
        assert blocks is not None and tail is not None
        block, index = divmod(position, BLOCK)
        sums = blocks[block] if block < blocks.shape[0] else tail
        rise = float(sums[index]) - (float(sums[index - 1]) if index else 0.0)
        return rise if rise > 0.0 else float(self._weights()[position])

    def _block_search(self, target: float) -> int:
        # nucleus._running_search(weight, target, "right"), with the block sums' running sum
        # computed once (and, for a reused distribution, each block's own running sums too).
        running = self.running
        assert running is not None
        block = int(running.searchsorted(target, side="right"))
        below = float(running[block - 1]) if block else 0.0
        start = block * BLOCK
        if block < running.size:
            if self.blocks is not None:
                within = self.blocks[block]
            else:
                assert self.weight is not None
                within = self.weight[start : start + BLOCK].cumsum()
            position = int(within.searchsorted(target - below, side="right"))
            return start + min(position, BLOCK - 1)
        if self.tail is not None:
            within = self.tail
        else:
            assert self.weight is not None
            within = self.weight[start:].cumsum()
        return start + int(within.searchsorted(target - below, side="right"))

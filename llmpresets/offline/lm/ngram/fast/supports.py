"""Every history's support in one n-gram section, built in bulk, and bulk lone-survivor answers.

:mod:`.maths` settles a step from its history's *support* (the positions seen after it) and
the section's unigram tail. Computing a support costs a few Python loops the first time a
history comes up, and a suite of varied prompts meets thousands of histories once each. So
the first time a section is settled, :class:`Supports` computes every history's support at
once with numpy, in compressed rows:

    P(w | h) = U(w) * Lambda(h) + sum_n scaled_n(w | h[-n:]) * (weights of h's longer suffixes)

for ``w`` among the targets of ``h``'s one-token suffix (those of every longer suffix are among
them); ``log P - tie break`` are the support's logits, every other position's is
``log Lambda + log U - tie break``. Per (temperature, top_p), :meth:`Supports.singles` then
answers for every history at once whether top_p keeps one token, with :mod:`.maths`'s rule
and margin (``top_p * total * (1 + DECISION_MARGIN) <= 1``, so the sampler would find the same
lone survivor and use no random number). Histories it cannot answer go to
:func:`.maths.nucleus` with their support from here.

A history whose longer suffixes name a position its one-token suffix does not (never from
training, whose counts are suffix-closed) is marked invalid; its steps take the logits path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ....._cache import BoundedCache
from .....sampling.nucleus import DECISION_MARGIN
from ..tables import history_codes
from .maths import SectionTail

if TYPE_CHECKING:
    from ..tables import Arrays

__all__ = ["SINGLES_BYTES", "Supports"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# Per section, the bulk lone-survivor answers kept per (temperature, top_p): one int per
# history (about 30 KB for a packaged-model section: hundreds of settings; a big corpus's few).
SINGLES_BYTES = 16 << 20


def _spans(starts: IntArray, lengths: IntArray) -> IntArray:
    """The concatenation of ``arange(start, start + length)`` for each pair."""
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    spans: IntArray = np.arange(total, dtype=np.int64) + np.repeat(
        starts - (ends - lengths), lengths
    )
    return spans


class Supports:
    """Every history of one section (the empty one first, then each table's rows in order):
    its support's positions and logits, ``log Lambda``, and its most likely tail position."""

    def __init__(
        self,
        arrays: Arrays,
        section: int,
        order: int,
        unigram: FloatArray,
        tie_break: FloatArray,
        tail: SectionTail,
    ) -> None:
        size = len(unigram)
        table: list[dict[str, Any]] = [{}]
        for n in range(1, order):
            prefix = f"s{section}n{n}"
            histories = arrays[f"{prefix}_histories"].reshape(-1, n)
            keys = history_codes(histories, size)
            sort = np.argsort(keys)  # keys are distinct: any sort is the same order
            table.append(
                {
                    "histories": histories,
                    "lambdas": arrays[f"{prefix}_lambdas"],
                    "offsets": arrays[f"{prefix}_offsets"],
                    "targets": arrays[f"{prefix}_targets"],
                    "scaled": arrays[f"{prefix}_scaled"],
                    "sort": sort,
                    "keys": keys[sort],
                }
            )
        # Context numbering: the empty history is 0; table n's row r is base[n] + r.
        self.base = [0, 1]
        for n in range(1, order - 1):
            self.base.append(self.base[-1] + len(table[n]["lambdas"]))
        contexts = 1 + sum(len(table[n]["lambdas"]) for n in range(1, order))

        # Per context of length n >= 1: its suffix rows in tables 1..n (-1: missing).
        lengths = np.zeros(contexts, dtype=np.int64)
        suffix_rows = np.full((order, contexts), -1, dtype=np.int64)
        for n in range(1, order):
            histories = table[n]["histories"]
            ids = self.base[n] + np.arange(len(histories))
            lengths[ids] = n
            for m in range(1, n + 1):
                keys = history_codes(histories[:, n - m :], size)
                sorted_keys = table[m]["keys"]
                found = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
                hit = sorted_keys[found] == keys
                suffix_rows[m, ids] = np.where(hit, table[m]["sort"][found], -1)
        valid = np.ones(contexts, dtype=bool)
        for m in range(1, order):
            valid &= (lengths < m) | (suffix_rows[m] >= 0)

        # Lambda and, per suffix length m, the weights applied after its counts.
        weights = np.ones((order, contexts))
        for m in range(1, order):
            has = (lengths >= m) & valid
            weights[m, has] = table[m]["lambdas"][suffix_rows[m, has]]
        lam = np.prod(weights, axis=0)
        later = np.ones((order, contexts))  # later[m] = product of weights[m + 1 .. n]
        for m in range(order - 2, 0, -1):
            later[m] = later[m + 1] * weights[m + 1]

        # The support: the targets of the one-token suffix's row.
        first = table[1] if order > 1 else None
        counts = np.zeros(contexts, dtype=np.int64)
        starts = np.zeros(contexts, dtype=np.int64)
        if first is not None:
            usable = (lengths >= 1) & valid
            rows = suffix_rows[1, usable]
            starts[usable] = first["offsets"][rows]
            counts[usable] = first["offsets"][rows + 1] - first["offsets"][rows]
        owner = np.repeat(np.arange(contexts, dtype=np.int64), counts)
        entries = _spans(starts, counts)
        positions = first["targets"][entries] if first is not None else entries
        values = unigram[positions] * lam[owner]
        if first is not None:
            values += first["scaled"][entries] * later[1][owner]
        keys = owner * size + positions
        sort = np.argsort(keys)  # distinct keys
        owner, positions, values, keys = owner[sort], positions[sort], values[sort], keys[sort]
        for m in range(2, order):
            ids = np.flatnonzero((lengths >= m) & valid)
            rows = suffix_rows[m, ids]
            offsets = table[m]["offsets"]
            spans = offsets[rows + 1] - offsets[rows]
            found_entries = _spans(offsets[rows], spans)
            who = np.repeat(ids, spans)
            wanted = who * size + table[m]["targets"][found_entries]
            slot = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
            ok = keys[slot] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
            valid[who[~ok]] = False
            values[slot[ok]] += table[m]["scaled"][found_entries[ok]] * later[m][who[ok]]

        self.offsets: IntArray = np.zeros(contexts + 1, dtype=np.int64)
        np.cumsum(counts, out=self.offsets[1:])
        self.counts = counts
        self.owner = owner
        self.positions: IntArray = positions
        self.logits: FloatArray = np.log(values) - tie_break[positions]
        self.log_lambda: FloatArray = np.log(lam)
        self.valid = valid

        # The most likely unlisted position: the first in unigram order the support lacks.
        # Most supports lack the very first; ask rank by rank, only of the contexts still open.
        self.tail_best: IntArray = np.full(contexts, -1, dtype=np.int64)
        open_ = np.arange(contexts, dtype=np.int64)
        for candidate in tail.order:
            if not len(open_):
                break
            wanted = open_ * size + candidate
            slot = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
            listed_here = keys[slot] == wanted if len(keys) else np.zeros(len(open_), dtype=bool)
            self.tail_best[open_[~listed_here]] = candidate
            open_ = open_[listed_here]
        self._tail = tail
        self._singles: BoundedCache[tuple[float, float], IntArray] = BoundedCache(
            "lm n-gram lone survivors", SINGLES_BYTES
        )

    def context(self, longest: int, row: int) -> int:
        """The context number of table ``longest``'s row ``row`` (0: the empty history)."""
        return 0 if longest == 0 else self.base[longest] + row

    def sparse(self, context: int) -> tuple[dict[int, float], float] | None:
        """The context's support logits by position and ``log Lambda`` (None: invalid)."""
        if not self.valid[context]:
            return None
        begin, end = int(self.offsets[context]), int(self.offsets[context + 1])
        logits = dict(
            zip(self.positions[begin:end].tolist(), self.logits[begin:end].tolist(), strict=True)
        )
        return logits, float(self.log_lambda[context])

    def singles(self, temperature: float, top_p: float) -> IntArray:
        """Per context, the lone token top_p keeps at ``temperature``, or -1 (more may survive,
        too close to call, or an invalid context)."""
        key = (temperature, top_p)
        found = self._singles.peek(key)
        if found is None:
            found = self._compute_singles(temperature, top_p)
            self._singles.put(key, found, nbytes=found.nbytes)
        return found

    def _compute_singles(self, temperature: float, top_p: float) -> IntArray:
        tail, counts, starts = self._tail, self.counts, self.offsets[:-1]
        listed = counts > 0
        logits, positions = self.logits, self.positions
        base = np.array(tail.base)
        row_max = np.full(len(counts), -np.inf)
        if len(logits):
            row_max[listed] = np.maximum.reduceat(logits, starts)[listed]
        has_tail = self.tail_best >= 0
        tail_logit = np.where(
            has_tail, self.log_lambda + base[np.maximum(self.tail_best, 0)], -np.inf
        )
        peak = np.maximum(row_max, tail_logit)
        scale = 1.0 / temperature
        weights = tail.weights(temperature)
        g = np.array(weights.g)
        listed_mass = np.zeros(len(counts))
        listed_g = np.zeros(len(counts))
        if len(logits):
            e = np.exp((logits - np.repeat(peak, counts)) * scale)
            listed_mass[listed] = np.add.reduceat(e, starts)[listed]
            listed_g[listed] = np.add.reduceat(g[positions], starts)[listed]
        rest = weights.total - listed_g
        factor = np.exp((self.log_lambda + tail.peak - peak) * scale)
        total = listed_mass + np.where(has_tail & (rest > 0.0), factor * rest, 0.0)
        single = (
            (top_p * total * (1.0 + DECISION_MARGIN) <= 1.0)
            & (total < 2.0 * (1.0 - DECISION_MARGIN))
            & self.valid
        )
        # The lone token: the support's best (its first maximum), unless the tail's is higher.
        best = np.full(len(counts), -1, dtype=np.int64)
        if len(logits):
            tops = np.flatnonzero(logits == np.repeat(row_max, counts))
            owners, first = np.unique(self.owner[tops], return_index=True)
            best[owners] = positions[tops[first]]
        token = np.where(row_max >= tail_logit, best, self.tail_best)
        result: IntArray = np.where(single, token, -1)
        return result

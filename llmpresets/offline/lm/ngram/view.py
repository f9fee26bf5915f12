"""What the n-gram model and its fast path both read: the tables, the suffix match, a reading.

:class:`NGramView` holds what training derived (the arrays, each section's tables expanded on
first use, the unigrams, the tie break) and finds the longest history the tables know
(:meth:`NGramView.match`). :class:`Reading` is what a prompt decides for its whole reply. The
model (:mod:`llmpresets.offline.lm.ngram.model`) computes logits from them; the shortcut
(:mod:`llmpresets.offline.lm.ngram.fast`) settles steps from them, without the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .tables import Arrays, Table, expand_table

__all__ = ["NGramView", "Reading"]

FloatArray = NDArray[np.float64]


class NGramView:
    """The derived arrays of one model, read-only, and its suffix match."""

    def __init__(self, arrays: Arrays, sections: int, order: int, end_position: int) -> None:
        self.arrays = arrays
        self.order = order
        self.size = len(arrays["vocabulary"])
        # The position of <|endoftext|>: a document's start is padded with it.
        self.end_position = end_position
        self.unigrams: list[FloatArray] = list(arrays["unigrams"])
        # Real models never tie exactly; counts do. A 1e-9 nudge towards the lower position
        # (subtracted from every logit) makes greedy-ish settings pick one continuation.
        self.tie_break: FloatArray = np.arange(self.size, dtype=np.float64) * (1e-9 / self.size)
        # Each section's lookup tables are expanded on its first use (a first reply needs one).
        self._tables: list[list[Table | None] | None] = [None] * sections

    def tables(self, section: int) -> list[Table | None]:
        """The n-gram tables of ``section`` (index n: histories of n positions)."""
        tables = self._tables[section]
        if tables is None:
            tables = [
                None,
                *(
                    expand_table(self.arrays, f"s{section}n{n}", n, self.size)
                    for n in range(1, self.order)
                ),
            ]
            self._tables[section] = tables  # a race only expands the same tables twice
        return tables

    def match(
        self, section: int, positions: Sequence[int]
    ) -> tuple[list[Table | None], list[int], int]:
        """The section's tables, the history's suffix codes, and the longest matched length.

        The history is the last ``order - 1`` positions (padded with end-of-text at a
        document start); ``codes[n]`` is its length-``n`` suffix as one int, the positions as
        digits in base ``size`` (the key of :attr:`Table.index`; ints, not tuples, so looking
        one up allocates nothing the garbage collector must track).
        """
        tables = self._tables[section] or self.tables(section)
        width, size = self.order - 1, self.size
        codes = [0] * (width + 1)
        code, scale, valid = 0, 1, 0
        for n in range(1, width + 1):
            index = len(positions) - n
            position = positions[index] if index >= 0 else self.end_position
            if position < 0:
                break  # a token outside the vocabulary: no longer suffix can match
            code += position * scale
            scale *= size
            codes[n] = code
            valid = n
        for n in range(valid, 0, -1):
            table = tables[n]
            if table is not None and codes[n] in table.index:
                return tables, codes, n
        return tables, codes, 0


class Reading:
    """What a prompt decides for its whole reply: its section and the positions its opening
    favours (ascending; see the model's ``PROMPT_BOOST``). ``serial`` tells one model's
    readings apart in the caches of opening steps; ``factors`` are the dense boost factors,
    made on first use (the shortcut reads ``boosted``; only the logits need the factors)."""

    __slots__ = ("boosted", "boosted_set", "factors", "section", "serial")

    def __init__(self, section: int, boosted: Sequence[int], serial: int) -> None:
        self.section = section
        self.boosted = tuple(boosted)
        self.boosted_set = frozenset(boosted)
        self.serial = serial
        self.factors: FloatArray | None = None

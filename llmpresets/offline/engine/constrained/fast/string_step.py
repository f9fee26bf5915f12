"""A constrained step inside a JSON string, settled from what every length of the string shares.

Inside a string the shape prior changes one thing from step to step: the score of the tokens
that would close it (``DECISION_BASE + string_close(state)``, one score for all of them). The
rest of a step -- the allowed candidates' scores, their weights at the temperature, their total
and the few that top_p's nucleus can hold -- is kept per (mask view, source array,
temperature) as a :class:`StringBase` (:func:`string_base`), and a step at any length is
settled from it with a few dozen numbers (:func:`string_step`) instead of passes over every
candidate. Most fresh steps of a JSON reply are such steps.

It is exactly the dense step of :mod:`llmpresets.offline.engine.constrained.decoder` (the
scores, ``plan_floor_draw``, then ``Sampler``): the kept weights are the same floating-point
expressions of the same scores (``exp((score - max) * (1 / T))``), top_p's threshold comes
from the same running sum in the same descending order, and the draw searches the same
cumulative sums of the same weights. Only the total that top_p's mass is a share of is summed
in another order, so a step whose decision lies within
:data:`~llmpresets.sampling.nucleus.DECISION_MARGIN` (relative) of it is left to the dense
path -- as is one the dense filter would settle another way (a vocabulary too small or too
large for its candidate search, whose limits :mod:`llmpresets.sampling.nucleus` publishes, a
nucleus that reaches past the listed tokens, a floor class that is not negligible).
:func:`string_step` returns None for those.

Two properties of numpy's ``exp`` make "the same expressions" the same numbers: an element's
exp does not depend on where it sits in an array (alone, in a short one or in a long one), and
exp never decreases as its argument grows (so the listed tokens, in score order, are in weight
order). Both hold for numpy's implementations seen here (checked on billions of doubles); this
module checks them once per process on a probe (:func:`_exp_agrees`) and each step's listed
weights for order, and leaves everything to the dense path where they fail.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .....sampling.nucleus import BLOCK, DECISION_MARGIN, FIRST_CAP, SAMPLE, SMALL
from ..floor import NEGLIGIBLE

if TYPE_CHECKING:
    from ..candidates import Candidates, MaskView

__all__ = ["ListDraw", "StringBase", "string_base", "string_step"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# The sampler searches at most this many running sums as one array (more: in blocks).
_LISTED = 2 * BLOCK


@dataclass(eq=False, slots=True)  # (not frozen: made at every fresh string step, and a
class StringBase:  # frozen dataclass sets its fields three times slower; never changed)
    """What the steps of one (mask view, source array, temperature) share inside a string."""

    view: weakref.ref[MaskView]
    logits: weakref.ref[FloatArray]
    size: int  # allowed candidates
    closing: IntArray  # the slots of the tokens that close the string
    peak: float  # the highest score of the other tokens
    total: float  # the sum of their weights, exp((score - peak) / T)
    top: list[int]  # the slots whose weight is at least total / FIRST_CAP, by score, descending
    top_scores: FloatArray  # their scores
    top_weights: list[float]  # and weights (when the highest score is ``peak``)
    in_order: bool  # whether top_weights never increase (see the module docstring)

    @property
    def nbytes(self) -> int:
        """Memory held (what a cache counts)."""
        return 300 + self.closing.nbytes + self.top_scores.nbytes + 80 * len(self.top)


def string_base(
    view: MaskView, model: FloatArray, logits: FloatArray, temperature: float
) -> tuple[StringBase, FloatArray] | None:
    """The shared part of the string steps at ``view`` for the source array ``logits``
    (``model``: its smoothed scores over the candidates), and the scores it was made from
    (the caller's own array: the dense step's, except the closing tokens, at -inf). None when
    such steps are left to the dense path: a vocabulary outside the dense candidate search's
    middle range, or a numpy whose exp this module cannot rely on (:func:`_exp_agrees`). A
    flat distribution gets a base, but its steps go to the dense path (:func:`string_step`)."""
    candidates: Candidates = view.candidates
    size = len(view.allowed)
    if not SMALL < size < 4 * SAMPLE or not _exp_agrees():
        return None  # the dense filter searches its candidates another way there
    scores = model[view.allowed]
    np.maximum(scores, candidates.above_floor, out=scores)
    closing = view.closing
    scores[closing] = -np.inf
    peak = float(scores.max())
    if peak == -np.inf:
        return None
    weights = np.subtract(scores, peak)
    if temperature != 1.0:
        np.multiply(weights, 1.0 / temperature, out=weights)
    np.exp(weights, out=weights)
    total = float(weights.sum())
    # Every other weight is below total / FIRST_CAP, at any length (string_step checks that
    # the nucleus ends above it).
    listed = np.flatnonzero(weights >= total / FIRST_CAP)
    order = listed[np.argsort(-scores[listed], kind="stable")]
    top_weights = weights[order].tolist()
    base = StringBase(
        view=weakref.ref(view),
        logits=weakref.ref(logits),
        size=size,
        closing=closing,
        peak=peak,
        total=total,
        top=order.tolist(),
        top_scores=scores[order],
        top_weights=top_weights,
        in_order=all(map(operator.ge, top_weights, top_weights[1:])),
    )
    return base, scores


def string_step(
    base: StringBase,
    close: float,
    floor: float,
    floor_count: int,
    temperature: float,
    top_p: float,
) -> ListDraw | None:
    """The step at ``base`` whose closing tokens score ``close``, ready to draw (see the
    module docstring); None: take the dense path. ``floor``, ``floor_count``: the floor
    class's score and how many of its tokens the mask allows; top_p in (0, 1)."""
    k = base.closing.size
    peak = base.peak
    top = base.top
    high = close if k and close > peak else peak  # the step's highest score
    floor_mass = 0.0
    if floor_count:  # plan_floor_draw's test, in its arithmetic
        floor_mass = floor_count * math.exp(floor / temperature - high / temperature)
        if floor_mass < NEGLIGIBLE:
            floor_mass = 0.0  # cut by the nucleus, whatever the scores
    # The weights, exp((score - high) * (1 / T)) as numpy computes them for the dense step.
    listed = len(top)
    if high == peak:
        weights = base.top_weights
        shut = _weight(close - high, temperature) if k else 0.0
        in_order = base.in_order
    else:
        values = np.subtract(base.top_scores, high)
        if temperature != 1.0:
            np.multiply(values, 1.0 / temperature, out=values)
        weights = np.exp(values, out=values).tolist()
        shut = 1.0  # the closing tokens hold the highest score
        in_order = all(map(operator.ge, weights, weights[1:]))
    if not in_order:
        return None  # not in weight order (see the module docstring): the dense path sorts
    # top_p's mass, a share of a total summed in another order than the dense step's.
    scale = 1.0 if high == peak else math.exp((peak - high) / temperature)
    total = base.total * scale + k * shut
    if floor_mass:
        # plan_floor_draw: the floor class is cut (it holds less than 1 - top_p of the mass)
        # and top_p is scaled so that the scores keep the same set; else the dense path.
        if not total / (total + floor_mass) > top_p * (1.0 + DECISION_MARGIN):
            return None
        top_p = top_p * (total + floor_mass) / total
        if top_p >= 1.0 - DECISION_MARGIN:
            return None
    mass = top_p * total
    if mass * 4.0 * (1.0 + DECISION_MARGIN) > FIRST_CAP:
        return None  # the dense candidate search would take more tokens than listed
    # The running sum in descending order, as the dense filter's (the closing tokens are
    # tied: one class, placed where its weight falls).
    running = before = 0.0
    index, left = 0, k
    while True:
        if left and (index >= listed or shut >= weights[index]):
            weight = shut
            left -= 1
        elif index < listed:
            weight = weights[index]
            index += 1
        else:
            return None  # the nucleus reaches past the listed tokens
        before = running
        running += weight
        if running >= mass:
            break
    if running < mass * (1.0 + 2.0 * DECISION_MARGIN) or before >= mass * (1.0 - DECISION_MARGIN):
        return None  # too close to call in another summation order
    if weight < total / FIRST_CAP * (1.0 + DECISION_MARGIN):
        # An unlisted token (each weighs less than the base's total / FIRST_CAP, which is
        # at most this total / FIRST_CAP, whatever the length) could reach the threshold,
        # or the dense candidate search could miss part of the nucleus.
        return None
    kept = index
    while kept < listed and weights[kept] >= weight:  # tokens tied with the threshold stay
        kept += 1
    # (Every kept weight is at least total / FIRST_CAP: at most FIRST_CAP listed tokens and
    # the closing class, so the sampler would never search them in blocks; checked anyway.)
    pairs = list(zip(top[:kept], weights[:kept], strict=True))
    if k and shut >= weight:
        pairs.extend((slot, shut) for slot in base.closing.tolist())
    if len(pairs) > _LISTED:
        return None  # the sampler would search it in blocks
    pairs.sort()  # by slot, as the sampler keeps them
    return ListDraw([slot for slot, _ in pairs], list(itertools.accumulate(w for _, w in pairs)))


@functools.cache
def _exp_agrees() -> bool:
    """Whether numpy's exp gives an element the same value wherever it sits (alone, in a
    short array, anywhere in a long one) and never decreases, on a probe of the arguments
    weights take (exp((score - max) / T) <= 1)."""
    rng = np.random.default_rng(0)
    probe = np.sort(rng.uniform(-60.0, 0.0, 4099))
    probe[-40:] = np.linspace(-1e-6, 0.0, 40)
    whole = np.exp(probe)
    if not bool(np.all(whole[1:] >= whole[:-1])):
        return False
    for start in (0, 1, 3, 7, 15, 31, 2048, 4099 - 17, 4099 - 5, 4098):
        for length in (1, 2, 5, 16, 33):
            part = probe[start : start + length]
            if not np.array_equal(np.exp(part), whole[start : start + length]):
                return False
        if float(np.exp(float(probe[start]))) != float(whole[start]):
            return False
    return True


def _weight(difference: float, temperature: float) -> float:
    """exp(difference * (1 / T)) by numpy's exp, as the dense step computes each weight."""
    if temperature != 1.0:
        difference *= 1.0 / temperature
    return float(np.exp(difference))


class ListDraw:
    """A step's draw over a few tokens: the running sums of their weights, in slot order,
    searched as the sampler searches them (``Sampler``'s draw for a distribution of this size:
    the first running sum above ``u`` times the total; the last slot when rounding reaches the
    end; no random number for a lone token)."""

    __slots__ = ("cumulative", "slots")

    def __init__(self, slots: list[int], cumulative: list[float]) -> None:
        self.slots = slots
        self.cumulative = cumulative

    @property
    def nbytes(self) -> int:
        """Memory held (what a cache counts)."""
        return 150 + 64 * len(self.slots)

    def pick(self, rng: np.random.Generator) -> int:
        """A position (slot) in the step's scores."""
        slots = self.slots
        if len(slots) == 1:
            return slots[0]
        cumulative = self.cumulative
        position = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
        return slots[min(position, len(slots) - 1)]

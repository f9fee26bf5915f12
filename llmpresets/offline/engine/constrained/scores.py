"""A constrained step's scores: the source smoothed over the candidates, then prior and bias.

The maths of one step of :mod:`llmpresets.offline.engine.constrained.decoder`, up to the
draw: :func:`model_scores` is the source's log-softmax over its support, scattered onto the
reply's candidate ids with the holes filled (smoothing); :func:`step_scores` gathers the
candidates a mask allows and adds the JSON shape prior, OpenAI's penalties and
``logit_bias``, and raises every score to just above the floor class. The decoder's plain
path and its shortcuts (:mod:`llmpresets.offline.engine.constrained.fast`) both score here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .json_prior import PriorState, shape_prior

if TYPE_CHECKING:
    from ..types import SamplingSettings
    from .candidates import Candidates, MaskView

__all__ = ["Bias", "bias_slots", "model_scores", "step_scores"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# logit_bias over a reply's candidates: (candidate slots, values).
Bias = tuple[IntArray, FloatArray]


def model_scores(logits: FloatArray, candidates: Candidates) -> FloatArray:
    """Log-softmax of the source on its support, holes filled, over the candidate ids."""
    logits = np.asarray(logits, dtype=np.float64)
    scores = candidates.hole.copy()
    slots = candidates.source_slot
    top = float(logits.max())
    shifted = logits - top
    total = float(np.exp(shifted).sum())  # exp(-inf) = 0: impossible tokens weigh nothing
    values = np.subtract(shifted, math.log(total), out=shifted)
    if float(values.min()) == -math.inf:  # some token impossible: a hole to fill
        values = np.where(np.isfinite(values), values, scores[slots])
    scores[slots] = values
    result: FloatArray = scores
    return result


def step_scores(
    view: MaskView,
    model: FloatArray,
    state: PriorState | None,
    candidates: Candidates,
    counts: dict[int, int],
    settings: SamplingSettings,
    bias: Bias,
) -> FloatArray:
    """The allowed candidates' scores (a new array): source, shape prior, penalties and
    bias, floor. ``model``: :func:`model_scores`; ``state``: the JSON shape (None: no prior);
    ``counts``: how often each token id was generated (read only with penalties)."""
    scores = model[view.allowed]
    if state is not None:
        scores = shape_prior(state, view.classes, view.hint_word, view.copy, scores)
    scores = _adjust(scores, candidates.ids, view.allowed, counts, settings, *bias)
    # Every explicit score sits above the floor class (sample_with_floor's assumption);
    # ``scores`` is this step's own array (the gather above made it), so in place.
    floored: FloatArray = np.maximum(scores, candidates.above_floor, out=scores)
    return floored


def bias_slots(settings: SamplingSettings, ids: IntArray) -> Bias:
    """logit_bias as (candidate slots, values); biased tokens outside the candidates (floor
    tokens) are left out."""
    bias = dict(settings.logit_bias)
    slots = np.searchsorted(ids, list(bias)) if bias else np.zeros(0, dtype=np.int64)
    values = np.array(list(bias.values()), dtype=np.float64)
    if bias:
        inside = (slots < len(ids)) & (ids[np.minimum(slots, len(ids) - 1)] == list(bias))
        slots, values = slots[inside], values[inside]
    return slots, values


def _adjust(
    scores: FloatArray,
    ids: IntArray,
    allowed: IntArray,
    counts: dict[int, int],
    settings: SamplingSettings,
    bias_slots: IntArray,
    bias_values: FloatArray,
) -> FloatArray:
    """OpenAI's frequency / presence penalties and logit_bias, on the allowed candidates."""
    frequency, presence = settings.frequency_penalty, settings.presence_penalty
    if not (frequency or presence or len(bias_slots)):
        return scores
    full = np.zeros(len(ids))
    if frequency or presence:
        seen = np.fromiter(counts, dtype=np.int64, count=len(counts))
        times = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        slots = np.searchsorted(ids, seen)
        inside = (slots < len(ids)) & (ids[np.minimum(slots, len(ids) - 1)] == seen)
        full[slots[inside]] -= times[inside] * frequency + presence
    if len(bias_slots):
        full[bias_slots] += bias_values
    adjusted: FloatArray = scores + full[allowed]
    return adjusted

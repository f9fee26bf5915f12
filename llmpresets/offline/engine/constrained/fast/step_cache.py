"""The constrained decoder's fast path: mask views, smoothed scores and steps found again.

:class:`StepCache` answers the three questions the decoder's plain path
(:class:`~llmpresets.offline.engine.constrained.decoder.PlainSteps`) answers -- a step's mask
view, the source's smoothed scores, a step's draw -- with the same results from the same
random numbers. What a step costs is mostly fixed work on a few thousand candidates, and its
inputs repeat: a JSON reply meets a few dozen distinct masks, the n-gram model hands back one
frozen array per context (:mod:`llmpresets.offline.engine.frozen`), and the JSON state is small.
So:

- a mask is read once per distinct mask (:func:`~..candidates.mask_view`), and the view that
  followed a view and a token before is tried first (:meth:`~..candidates.MaskView.follow`);
- a frozen source array's smoothed scores are kept per candidate set (:data:`_score_cache`);
- a step's prepared draw is kept per (mask view, frozen source array, JSON state, settings)
  (:data:`_steps`): a step seen before draws with one search (``PreparedDraw.pick``);
- a new step inside a string is settled from what every length of the string shares
  (:func:`string_ready`, :mod:`.string_step`).

Penalties change the scores with every token, so replies with them only find views and
smoothed scores again. Every cache here is a registered
:class:`~llmpresets._cache.BoundedCache` (``llmpresets._cache.clear_caches()`` empties them).
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ....._cache import BoundedCache, memoize
from .....sampling import GREEDY_TEMPERATURE
from ...frozen import is_frozen
from ..candidates import Candidates, MaskView, mask_view
from ..floor import NEGLIGIBLE, PreparedDraw, plan_floor_draw
from ..json_prior import DECISION_BASE, PriorState, string_close
from ..scores import Bias, model_scores, step_scores
from .string_step import ListDraw, StringBase, string_base, string_step

if TYPE_CHECKING:
    from ...types import SamplingSettings

__all__ = ["StepCache", "string_ready"]

FloatArray = NDArray[np.float64]
Words = NDArray[np.uint32]


@dataclass(eq=False, slots=True)  # (not frozen: one is made at every fresh step)
class _Step:
    """A sampled step's scores (read-only) and how it draws, for the same inputs again."""

    view: weakref.ref[MaskView]
    logits: weakref.ref[FloatArray]
    draw: PreparedDraw | ListDraw


# Steps whose inputs are all fixed objects or values: the mask's view, the source's frozen
# logits for a context, the JSON state and the sampling settings. The entries know the view
# and the logits by weak references: an id in a key is theirs while they live, and the cache
# holds only its own scores (~15 KB a step inside a string).
_steps: BoundedCache[tuple[int, int, PriorState | None, int], _Step] = BoundedCache(
    "constrained steps", 24 << 20
)
# What the string steps of a (mask view, source array, temperature) share (string_step).
_string_bases: BoundedCache[tuple[int, int, float], StringBase] = BoundedCache(
    "constrained string bases", 16 << 20
)
# Smoothed scores of a frozen source array over a candidate set. The entries hold the array
# and the candidates, so the ids in a key stay theirs.
_score_cache: BoundedCache[tuple[int, int], tuple[FloatArray, Candidates, FloatArray]] = (
    BoundedCache("constrained smoothed source scores", 24 << 20)
)

_setting_numbers = itertools.count()


@memoize("constrained step settings", 1 << 20)
def _settings_number(
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    min_p: float | None,
    logit_bias: tuple[tuple[int, float], ...],
) -> int:
    """Each distinct (sampling settings, logit_bias) as an int, for the step cache's keys. A
    number is never given twice (a forgotten setting gets a new one), so a key never means
    two settings."""
    return next(_setting_numbers)


class StepCache:
    """One reply's fast path (see the module docstring): :meth:`view`, :meth:`model` and
    :meth:`choose` answer as ``PlainSteps``' do."""

    def __init__(
        self, candidates: Candidates, settings: SamplingSettings, bias: Bias, shaped: bool
    ) -> None:
        self.candidates = candidates
        self.settings = settings
        self.bias = bias
        # Penalties change the scores with every token: such steps are never the same twice.
        self.repeatable = not (settings.frequency_penalty or settings.presence_penalty)
        self.settings_key = _settings_number(
            settings.temperature,
            settings.top_k,
            settings.top_p,
            settings.min_p,
            settings.logit_bias,
        )
        # Steps inside strings settled by string_step: the settings it handles (top_p alone).
        top_p = settings.top_p
        self.strings = (
            self.repeatable
            and not len(bias[0])
            and shaped
            and settings.top_k is None
            and settings.min_p is None
            and settings.temperature >= GREEDY_TEMPERATURE
            and top_p is not None
            and 0.0 < top_p < 1.0 - NEGLIGIBLE
        )
        self._view: MaskView | None = None
        self._last_logits: FloatArray | None = None
        self._last_model: FloatArray = candidates.hole

    def view(self, words: Words, whole: bytearray, after: int) -> MaskView:
        """The mask ``words`` (``whole``: their bytes) read for the candidates. ``after``:
        the token drawn at the last step (-1: tokens were forced since)."""
        view = self._view
        if view is None:
            view = mask_view(self.candidates, words, whole)
        elif after >= 0:  # the view that followed this one and this token before, if alike
            view = view.follow(after, words, whole)
        elif whole != view.words:
            view = mask_view(self.candidates, words, whole)
        self._view = view
        return view

    def model(self, logits: FloatArray) -> FloatArray:
        """The source's smoothed scores over the candidates (``scores.model_scores``): the
        last step's again for the same frozen array, else kept per frozen array."""
        if logits is not self._last_logits or not is_frozen(logits):
            self._last_logits, self._last_model = (
                logits,
                _kept_model_scores(logits, self.candidates),
            )
        return self._last_model

    def choose(
        self,
        view: MaskView,
        logits: FloatArray,
        state: PriorState | None,
        counts: dict[int, int],
        rng: np.random.Generator,
    ) -> tuple[int, FloatArray | None]:
        """A step's draw: a candidate slot of ``view.allowed`` or -1 for a floor token, and
        the smoothed scores if this step made them (a step found again does without)."""
        settings, candidates = self.settings, self.candidates
        model: FloatArray | None = None
        if not (self.repeatable and is_frozen(logits)):
            # A step never seen again (penalties, or a source's writable array): in full.
            model = self.model(logits)
            scores = step_scores(view, model, state, candidates, counts, settings, self.bias)
            plan = plan_floor_draw(scores, candidates.floor, view.floor_count, settings)
            return plan.draw(scores, rng), model
        key = (id(view), id(logits), state, self.settings_key)
        cached = _steps.peek(key)
        if cached is not None and cached.view() is view and cached.logits() is logits:
            return cached.draw.pick(rng), None
        made: FloatArray | None = None
        if self.strings and state is not None and state.length:
            # Inside a string only the closing tokens' score changes with the length: the
            # step is settled from what the lengths share (None: left to the full computation).
            model = self.model(logits)
            settled, made = string_ready(view, model, logits, state, settings)
            if settled is not None:
                _steps.put(
                    key,
                    _Step(weakref.ref(view), weakref.ref(logits), settled),
                    settled.nbytes + 200,
                )
                return settled.pick(rng), model
        if made is None:
            model = self.model(logits) if model is None else model
            made = step_scores(view, model, state, candidates, counts, settings, self.bias)
        plan = plan_floor_draw(made, candidates.floor, view.floor_count, settings)
        # Kept for the next time these inputs come back: one search then.
        made.flags.writeable = False
        ready = plan.prepare(made)
        entry = _Step(weakref.ref(view), weakref.ref(logits), ready)
        _steps.put(key, entry, made.nbytes + ready.nbytes + 200)
        return ready.pick(rng), model


def string_ready(
    view: MaskView,
    model: FloatArray,
    logits: FloatArray,
    state: PriorState,
    settings: SamplingSettings,
) -> tuple[ListDraw | None, FloatArray | None]:
    """A string step settled by :func:`.string_step.string_step`, or None: the dense path;
    then, when this step made the string base, the step's scores (what
    ``scores.step_scores`` makes: the base's scores with the closing tokens' own), which the
    dense path needs."""
    close = string_close(state)
    if not view.closing.size and close > 0:
        return None, None  # the prior turns to the separators (shape_prior): the dense path
    key = (id(view), id(logits), settings.temperature)
    entry = _string_bases.peek(key)
    scores = None
    if entry is None or entry.view() is not view or entry.logits() is not logits:
        built = string_base(view, model, logits, settings.temperature)
        if built is None:
            return None, None
        entry, scores = built
        _string_bases.put(key, entry, entry.nbytes)
    assert settings.top_p is not None
    candidates = view.candidates
    # The dense step raises every score to just above the floor; a closing score never
    # needs it (it is at least DECISION_BASE - 8 nats), but it is the same expression.
    close = max(DECISION_BASE + close, candidates.above_floor)
    settled = string_step(
        entry, close, candidates.floor, view.floor_count, settings.temperature, settings.top_p
    )
    if settled is not None or scores is None:
        return settled, None
    scores[entry.closing] = close  # shape_prior's closing score, floored as step_scores does
    return None, scores


def _kept_model_scores(logits: FloatArray, candidates: Candidates) -> FloatArray:
    """``scores.model_scores``, kept for a frozen source array (one per n-gram context):
    the requests of an agent loop, and the choices of one, revisit contexts. Other arrays
    are scored afresh every time."""
    if not is_frozen(logits):
        return model_scores(logits, candidates)
    key = (id(logits), id(candidates))
    hit = _score_cache.peek(key)
    if hit is not None and hit[0] is logits and hit[1] is candidates:
        return hit[2]
    model = model_scores(logits, candidates)
    model.flags.writeable = False
    _score_cache.put(key, (logits, candidates, model), logits.nbytes + model.nbytes)
    return model

"""Drawing from explicit scores plus a class of tied floor tokens, as ``sampling.sample`` would.

Constrained decoding (:mod:`llmpresets.offline.engine.constrained.decoder`) scores a few
thousand candidate tokens explicitly; every other token the grammar allows shares one *floor*
score. The floor tokens are tied, so top-k, top-p and min-p keep all of them or none, and
whether they survive is computed from their count and score without building them. The draw
is exactly :func:`llmpresets.sampling.sample` over the concatenated vector (every score
``> floor``; a tie is broken towards the scores, which come first), with the same use of the
random generator.

A draw is decided in two steps: :func:`plan_floor_draw` settles what the settings keep (one
pass over the scores), and :meth:`FloorDraw.draw` draws. A step whose scores come back (the
same mask, source context and JSON state; see
:mod:`llmpresets.offline.engine.constrained.fast.step_cache`) keeps its plan made ready for
those scores (:meth:`FloorDraw.prepare`) and draws again with one search.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ...._cache import BoundedCache
from ....sampling import GREEDY_TEMPERATURE, Sampler

if TYPE_CHECKING:
    from ....sampling.prepared import Prepared
    from ..types import SamplingSettings

__all__ = ["NEGLIGIBLE", "FloorDraw", "PreparedDraw", "plan_floor_draw", "sample_with_floor"]

FloatArray = NDArray[np.float64]

NEGLIGIBLE = 1e-12
"""Below this share of the mass the floor class cannot change what top_p keeps (see
:func:`plan_floor_draw`); the string-step shortcut tests the same bound."""


_samplers: BoundedCache[tuple[float, int | None, float | None, float | None], Sampler] = (
    BoundedCache("constrained samplers per setting", 1 << 20)
)


def _sampler(
    temperature: float, top_k: int | None, top_p: float | None, min_p: float | None
) -> Sampler:
    """A :class:`Sampler` per distinct setting (its checks run once, not per step)."""
    key = (temperature, top_k, top_p, min_p)
    sampler = _samplers.peek(key)
    if sampler is None:
        sampler = Sampler(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)
        _samplers.put(key, sampler, 400)
    return sampler


@dataclass(slots=True)  # (not frozen, like PreparedDraw: made at every fresh dense step)
class FloorDraw:
    """How one step draws: from ``sampler`` over the scores, from the floor class, or first a
    coin between the two (``mass`` of the scores against ``total``, floor included)."""

    sampler: Sampler | None  # None: only the floor class can be drawn
    mass: float = 0.0
    total: float = 0.0  # 0: no coin (the floor class was cut, or there is none)

    def draw(self, scores: FloatArray, rng: np.random.Generator) -> int:
        """A position in ``scores``, or -1 for one of the floor tokens."""
        if _floor_drawn(self.mass, self.total, rng) or self.sampler is None:
            return -1
        return self.sampler.sample(scores, rng)

    def prepare(self, scores: FloatArray) -> PreparedDraw:
        """This draw made ready for ``scores``, which the caller keeps and never changes: the
        same draws as :meth:`draw`, each a coin and one search."""
        prepared = None if self.sampler is None else self.sampler.prepare(scores)
        return PreparedDraw(prepared, self.mass, self.total)


@dataclass(slots=True)
class PreparedDraw:
    """A :class:`FloorDraw` with the sampler's filtered distribution of its scores kept."""

    prepared: Prepared | None
    mass: float
    total: float

    @property
    def nbytes(self) -> int:
        """Memory held (what a cache counts)."""
        return 100 + (0 if self.prepared is None else self.prepared.nbytes)

    def pick(self, rng: np.random.Generator) -> int:
        """A position in the scores, or -1 for one of the floor tokens (see FloorDraw.draw)."""
        if _floor_drawn(self.mass, self.total, rng) or self.prepared is None:
            return -1
        return self.prepared.pick(rng)


def _floor_drawn(mass: float, total: float, rng: np.random.Generator) -> bool:
    """The coin between the scores (``mass``) and the floor class (the rest of ``total``);
    no coin, and no random number, when ``total`` is 0."""
    return bool(total) and rng.random() * total >= mass


def plan_floor_draw(
    scores: FloatArray, floor: float, floor_count: int, settings: SamplingSettings
) -> FloorDraw:
    """What ``settings`` keep of ``scores`` plus ``floor_count`` tokens tied at ``floor``."""
    temperature, top_k, top_p, min_p = (
        settings.temperature,
        settings.top_k,
        settings.top_p,
        settings.min_p,
    )
    if floor_count == 0 or (len(scores) and temperature < GREEDY_TEMPERATURE):
        return FloorDraw(_sampler(temperature, top_k, top_p, min_p))
    if len(scores) == 0:
        return FloorDraw(None)
    peak = float(scores.max()) / temperature
    floor_weight = math.exp(floor / temperature - peak)
    if (
        top_p is not None
        and top_p < 1 - NEGLIGIBLE
        and floor_count * floor_weight < NEGLIGIBLE
        and (top_k is None or top_k > len(scores))
    ):
        # The floor holds less than 1e-12 of the mass (the top token alone weighs 1): the
        # nucleus cuts it, and scaling top_p by 1 + 1e-12 would change nothing.
        return FloorDraw(_sampler(temperature, None, top_p, min_p))
    weights = np.divide(scores, temperature)
    np.subtract(weights, peak, out=weights)
    mass = float(np.exp(weights, out=weights).sum())
    floor_mass = floor_count * floor_weight
    kept_by_k = top_k is None or top_k > len(scores)
    survives = (
        kept_by_k
        and (top_p is None or top_p >= 1 or mass / (mass + floor_mass) < top_p)
        and (min_p is None or floor_weight >= min_p)
    )
    if survives:
        return FloorDraw(_sampler(temperature, None, None, None), mass, mass + floor_mass)
    nucleus = top_p
    if top_p is not None and top_p < 1 and kept_by_k:
        # The floor's mass sits under the nucleus: scale top_p so the scores keep the same set.
        nucleus = top_p * (mass + floor_mass) / mass
        if nucleus >= 1:
            nucleus = None
    return FloorDraw(_sampler(temperature, None if kept_by_k else top_k, nucleus, min_p))


def sample_with_floor(
    scores: FloatArray,
    floor: float,
    floor_count: int,
    settings: SamplingSettings,
    rng: np.random.Generator,
) -> int:
    """Sample from ``scores`` plus ``floor_count`` tokens tied at ``floor``; -1 = a floor token.

    Exactly :func:`llmpresets.sampling.sample` over the concatenated vector (every score is
    assumed > ``floor``; a tie is broken towards ``scores``, which come first).

    >>> import numpy as np
    >>> from llmpresets.offline.engine.types import SamplingSettings
    >>> sample_with_floor(np.array([-1.0, -2.0]), -30.0, 5, SamplingSettings(temperature=0),
    ...     np.random.default_rng(0))
    0
    """
    return plan_floor_draw(scores, floor, floor_count, settings).draw(scores, rng)

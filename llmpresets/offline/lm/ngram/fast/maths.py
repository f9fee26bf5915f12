"""Settling an n-gram step from its few observed continuations, without its logits.

At a chat-like preset (temperature 0.8, top_p 0.9) top_p keeps one token at four steps in five
and a handful at nearly all the others, yet building a step's 1,792 logits and filtering them
costs tens of microseconds. :class:`~llmpresets.offline.lm.ngram.model.NGramModel` first tries to
*settle* the step from the structure of its distribution:

    P(w | h) = Lambda * U(w)          for w outside the history's support S
    P(w | h) = (the interpolation)    for w in S (built in bulk by :mod:`.supports`)

where ``U`` is the section's unigram and ``Lambda`` the product of the interpolation weights
of the matched histories. Outside ``S`` tokens keep the unigram's order, and at temperature
``T`` their weights ``exp((z - max) / T)`` sum to ``c * (G_T - sum_S g)``, with
``g = exp((log U - tie break - peak) / T)`` and its total ``G_T`` computed once per section
and temperature (:class:`SectionTail`). So the softmax total costs ``O(|S|)``, and the tokens
in descending order are a merge of the sorted support with the tail's fixed order.

:func:`weigh` computes the peak and the total; :func:`nucleus` applies
:mod:`llmpresets.sampling`'s top_p rule to that order (at most :data:`NUCLEUS_LIMIT` tokens);
:func:`whole` prepares a draw from the whole distribution (no filter: the API's defaults),
whose running weights in position order come from the tail's prefix sums between the support's
positions; :func:`draw` draws as the sampler does (running weights in position order, the
first above ``u * sum``). Each answers only when every comparison clears the sampler's by a
relative :data:`~llmpresets.sampling.nucleus.DECISION_MARGIN` (1e-9, the one margin the
offline shortcuts share), far above the ulps by which the two computations can differ.
A lone survivor is drawn without a random number, as the sampler does; otherwise one
``rng.random()``. Anything else (a wide nucleus, a comparison too close to call) goes the
usual way: the step's logits and the same sampler, with the same random numbers. Seeded
replies are therefore the same with or without the shortcut (a test compares them, through the
model's ``fast`` switch).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from itertools import accumulate, chain
from operator import itemgetter
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ....._cache import BoundedCache
from .....sampling.nucleus import DECISION_MARGIN

__all__ = [
    "MIN_TEMPERATURE",
    "NUCLEUS_LIMIT",
    "TAIL_BYTES",
    "TIE_MARGIN",
    "Nucleus",
    "Ranked",
    "SectionTail",
    "Weighed",
    "Whole",
    "boosted_nucleus",
    "draw",
    "draw_whole",
    "nucleus",
    "rank",
    "weigh",
    "whole",
    "whole_of",
]

FloatArray = NDArray[np.float64]

# Logits closer than this may be ordered differently by the two computations (see nucleus).
TIE_MARGIN = 1e-13
# Below this temperature rounding grows (divided by T) towards DECISION_MARGIN: leave it to
# the sampler.
MIN_TEMPERATURE = 0.01
# The largest nucleus settled from the sparse form; a larger one is sampled from the logits.
NUCLEUS_LIMIT = 64
# A section tail's softmax weights kept per temperature: two lists of |vocabulary| floats
# (about 115 KB for the packaged model's 1,792 tokens: 35 temperatures).
TAIL_BYTES = 4 << 20
_LOGIT = itemgetter(1)


class _TailWeights(NamedTuple):
    g: list[float]  # exp((base - peak) / T) per position
    total: float  # their sum
    cumulative: list[float]  # their running sums in position order


class SectionTail:
    """A section's unigram logits in order, and their softmax weights per temperature.

    Plain lists: the settler reads a few entries per step, where a numpy call would cost more
    than the arithmetic.
    """

    __slots__ = ("_weights", "base", "order", "peak")

    def __init__(self, unigram: FloatArray, tie_break: FloatArray) -> None:
        # Exactly the logits of an empty history (the model's): log U - tie break.
        base: FloatArray = np.log(unigram)
        np.subtract(base, tie_break, out=base)
        self.base: list[float] = base.tolist()
        self.order: list[int] = np.argsort(-base, kind="stable").tolist()
        self.peak = self.base[self.order[0]]
        self._weights: BoundedCache[float, _TailWeights] = BoundedCache(
            "lm n-gram tail weights", TAIL_BYTES
        )

    def weights(self, temperature: float) -> _TailWeights:
        """``g = exp((base - peak) / T)`` for every position, its sum and running sums."""
        found = self._weights.peek(temperature)
        if found is None:
            g = np.exp((np.array(self.base) - self.peak) * (1.0 / temperature))
            found = _TailWeights(g.tolist(), float(g.sum()), g.cumsum().tolist())
            self._weights.put(temperature, found, nbytes=200 + 64 * len(self.base))
        return found


class Weighed(NamedTuple):
    """A step's distribution at one temperature, as far as the decisions need it."""

    explicit: dict[int, float]  # logits given position by position (support, boosted, excluded)
    log_lambda: float  # every other position's logit is log_lambda + tail.base[position]
    peak: float  # the largest logit
    scale: float  # 1 / T
    total: float  # the sum over the vocabulary of exp((logit - peak) / T)
    tail_factor: float  # an unlisted position's weight is tail_factor * g[position]
    tail: SectionTail
    tail_weights: _TailWeights


def weigh(
    logits: dict[int, float],
    log_lambda: float,
    tail: SectionTail,
    temperature: float,
    boosted: Iterable[int] = (),
    log_boost: float = 0.0,
    exclude: int | None = None,
) -> Weighed:
    """The step's peak and softmax total, from its support and the tail's sums.

    ``boosted`` positions gain ``log_boost`` (a reply's opening favours the prompt's tokens);
    ``exclude`` is a position that can never be drawn (vLLM's ``ignore_eos``), as if its logit
    were -inf.
    """
    base = tail.base
    explicit = logits
    if boosted or exclude is not None:
        explicit = dict(logits)
        for position in boosted:
            before = explicit.get(position)
            explicit[position] = (log_lambda + base[position] if before is None else before) + (
                log_boost
            )
        if exclude is not None:
            explicit[exclude] = -math.inf
    outside = _outside(tail, explicit)
    first = next(outside, -1)
    peak = max(explicit.values(), default=-math.inf)
    if first >= 0:
        peak = max(peak, log_lambda + base[first])
    scale, exp = 1.0 / temperature, math.exp
    weights = tail.weights(temperature)
    g = weights.g
    total = sum([exp((logit - peak) * scale) for logit in explicit.values()])
    rest = weights.total - sum([g[position] for position in explicit])
    factor = exp((log_lambda + tail.peak - peak) * scale)
    if first >= 0 and rest > 0.0:
        total += factor * rest
    return Weighed(explicit, log_lambda, peak, scale, total, factor, tail, weights)


def _outside(tail: SectionTail, explicit: dict[int, float]) -> Iterator[int]:
    """The positions not listed, most likely first (the tail's unigram order)."""
    return (position for position in tail.order if position not in explicit)


class Nucleus(NamedTuple):
    """What top_p keeps of a step: positions ascending, and their running weights.

    Tuples of numbers: kept plans hold nothing the garbage collector must keep tracking.
    """

    positions: tuple[int, ...]
    cumulative: tuple[float, ...]


def nucleus(weighed: Weighed, top_p: float, limit: int = NUCLEUS_LIMIT) -> Nucleus | None:
    """The tokens top_p keeps (at most ``limit``), or None: too many, or too close to call.

    Exactly :mod:`llmpresets.sampling`'s rule: in descending order of weight
    ``exp((logit - max) / T)``, keep tokens up to the first whose running weight reaches
    ``top_p * total``, and every token tied with it.
    """
    explicit = weighed.explicit
    return _walk(
        sorted(explicit.items(), key=_LOGIT, reverse=True),
        _outside(weighed.tail, explicit),
        weighed.log_lambda,
        weighed.tail.base,
        weighed.peak,
        weighed.scale,
        top_p * weighed.total,
        limit,
    )


class Ranked(NamedTuple):
    """A history's support at one temperature, sorted and summed: what a reply's boosted
    opening starts from (:func:`boosted_nucleus`)."""

    logits: dict[int, float]  # the support's logits by position
    log_lambda: float
    ranked: tuple[int, ...]  # the support's positions, most likely first
    peak: float  # the support's largest logit (-inf: empty)
    mass: float  # sum of exp((logit - peak) / T) over the support
    g_mass: float  # sum of the tail weights g over the support


def rank(
    logits: dict[int, float], log_lambda: float, tail: SectionTail, temperature: float
) -> Ranked:
    """The :class:`Ranked` form of a support at ``temperature``."""
    ranked = tuple(sorted(logits, key=logits.__getitem__, reverse=True))
    peak = logits[ranked[0]] if ranked else -math.inf
    scale, exp, g = 1.0 / temperature, math.exp, tail.weights(temperature).g
    mass = sum([exp((logit - peak) * scale) for logit in logits.values()])
    g_mass = sum([g[position] for position in ranked])
    return Ranked(logits, log_lambda, ranked, peak, mass, g_mass)


def boosted_nucleus(
    support: Ranked,
    tail: SectionTail,
    temperature: float,
    top_p: float,
    boosted: Sequence[int],
    boosted_set: AbstractSet[int],
    log_boost: float,
    limit: int = NUCLEUS_LIMIT,
) -> Nucleus | None:
    """:func:`nucleus` of a support whose ``boosted`` positions gain ``log_boost``, from its
    :class:`Ranked` form: only the boosted positions are weighed afresh."""
    logits, log_lambda, base = support.logits, support.log_lambda, tail.base
    peak = support.peak
    changed: list[tuple[int, float, float | None]] = []
    for position in boosted:
        before = logits.get(position)
        after = (log_lambda + base[position] if before is None else before) + log_boost
        changed.append((position, after, before))
        if after > peak:
            peak = after
    outside = (w for w in tail.order if w not in logits and w not in boosted_set)
    first = next(outside, -1)
    if first >= 0:
        peak = max(peak, log_lambda + base[first])
    scale, exp = 1.0 / temperature, math.exp
    weights = tail.weights(temperature)
    g = weights.g
    # The total: the support's mass rescaled to the new peak, each boosted position's change,
    # and the tail without the support and the boosted positions.
    total = exp((support.peak - peak) * scale) * support.mass if support.ranked else 0.0
    rest = weights.total - support.g_mass
    for position, after, before in changed:
        total += exp((after - peak) * scale)
        if before is None:
            rest -= g[position]
        else:
            total -= exp((before - peak) * scale)
    if first >= 0 and rest > 0.0:
        total += exp((log_lambda + tail.peak - peak) * scale) * rest
    ranked = [
        (position, logits[position]) for position in support.ranked if position not in boosted_set
    ]
    ranked.extend((position, after) for position, after, _ in changed)
    ranked.sort(key=_LOGIT, reverse=True)
    return _walk(
        ranked, chain((first,), outside), log_lambda, base, peak, scale, top_p * total, limit
    )


def _walk(
    ranked: list[tuple[int, float]],
    outside: Iterator[int],
    log_lambda: float,
    base: list[float],
    peak: float,
    scale: float,
    mass: float,
    limit: int,
) -> Nucleus | None:
    """top_p's walk: the listed tokens (``ranked``, most likely first) merged with the tail
    (``outside``, in unigram order), until the running weight reaches ``mass``."""
    exp, no_logit = math.exp, -math.inf
    candidate = next(outside, -1)
    candidate_logit = log_lambda + base[candidate] if candidate >= 0 else no_logit
    listed = len(ranked)
    low = mass * (1.0 - DECISION_MARGIN)
    kept: list[tuple[int, float]] = []
    running = 0.0
    logit = no_logit
    index = 0
    while True:
        if index < listed and ranked[index][1] > candidate_logit:
            position, logit = ranked[index]
            index += 1
        elif candidate >= 0:
            position, logit = candidate, candidate_logit
            candidate = next(outside, -1)
            candidate_logit = log_lambda + base[candidate] if candidate >= 0 else no_logit
        else:
            return None  # the whole vocabulary walked: not a small nucleus
        if running >= low:
            return None  # the previous token's running weight was too close to the line
        weight = exp((logit - peak) * scale)
        running += weight
        kept.append((position, weight))
        if running >= mass:
            break
        if len(kept) >= limit:
            return None
    if running < mass * (1.0 + DECISION_MARGIN):
        return None
    # No token may tie with the last one kept (the sampler keeps ties): the next is lighter
    # by more than rounding could hide. Compared as logits, where a tie-break nudge between
    # equal counts (>= 5.6e-13) stands well clear of the two paths' rounding (~1e-14).
    following = max(ranked[index][1] if index < listed else no_logit, candidate_logit)
    if logit - following <= TIE_MARGIN:
        return None
    if len(kept) == 1:
        return Nucleus((kept[0][0],), (kept[0][1],))
    kept.sort()
    return Nucleus(tuple(position for position, _ in kept), tuple(accumulate(w for _, w in kept)))


class Whole(NamedTuple):
    """A draw from the whole distribution (no filter), in position order.

    ``positions`` are the listed positions, ascending; ``bounds`` the running weight at the
    end of each stretch: stretch ``2i`` is the unlisted positions before ``positions[i]``
    (each weighing ``tail_factor * g``; their running sums ``tail_cumulative``), stretch
    ``2i + 1`` is ``positions[i]`` itself, and the last stretch the unlisted positions after
    the last listed one.
    """

    positions: list[int]
    bounds: list[float]
    tail_factor: float
    tail_cumulative: list[float]


def whole(weighed: Weighed) -> Whole:
    """Prepare a draw over the whole vocabulary (temperature only)."""
    explicit, peak, scale, exp = weighed.explicit, weighed.peak, weighed.scale, math.exp
    factor, running_g = weighed.tail_factor, weighed.tail_weights.cumulative
    positions = sorted(explicit)
    bounds = []
    running = 0.0
    last = -1
    for position in (*positions, len(running_g)):
        before = running_g[last] if last >= 0 else 0.0
        if position - 1 > last:
            running += factor * (running_g[position - 1] - before)
        bounds.append(running)
        if position < len(running_g):
            running += exp((explicit[position] - peak) * scale)
            bounds.append(running)
        last = position
    return Whole(positions, bounds, factor, running_g)


def whole_of(
    logits: dict[int, float],
    log_lambda: float,
    tail: SectionTail,
    temperature: float,
    exclude: int | None = None,
    boosted: Iterable[int] = (),
    log_boost: float = 0.0,
) -> Whole:
    """``whole(weigh(logits, log_lambda, tail, temperature, boosted, log_boost, exclude))``
    in one pass, the same numbers bit for bit: the draw needs the peak and the tail factor,
    not the softmax total that :func:`weigh` also sums (about half its cost). What a history
    met once at the API's defaults builds (several a reply at temperature 1, where replies
    wander)."""
    base = tail.base
    explicit = logits
    if boosted or exclude is not None:
        explicit = dict(logits)
        for position in boosted:
            before = explicit.get(position)
            explicit[position] = (log_lambda + base[position] if before is None else before) + (
                log_boost
            )
        if exclude is not None:
            explicit[exclude] = -math.inf
    peak = max(explicit.values(), default=-math.inf)
    for first in tail.order:  # the likeliest unlisted position (weigh's first outside)
        if first not in explicit:
            peak = max(peak, log_lambda + base[first])
            break
    scale, exp = 1.0 / temperature, math.exp
    factor = exp((log_lambda + tail.peak - peak) * scale)
    running_g = tail.weights(temperature).cumulative
    size = len(running_g)
    positions = sorted(explicit)
    bounds = []
    running = 0.0
    last = -1
    before = 0.0
    for position in positions:
        if position - 1 > last:
            running += factor * (running_g[position - 1] - before)
        bounds.append(running)
        running += exp((explicit[position] - peak) * scale)
        bounds.append(running)
        last = position
        before = running_g[position]
    if size - 1 > last:
        running += factor * (running_g[size - 1] - before)
    bounds.append(running)
    return Whole(positions, bounds, factor, running_g)


def draw(plan: Nucleus | Whole, u: float) -> int | None:
    """The position a uniform ``u`` picks, or None when too close to call.

    As the sampler draws: running weights in ascending position order, the first that
    exceeds ``u * sum``; None when ``u * sum`` lies within the margin of a boundary, where
    rounding might tip the sampler the other way.
    """
    if isinstance(plan, Nucleus):
        cumulative = plan.cumulative
        target = u * cumulative[-1]
        index = bisect.bisect_right(cumulative, target)
        if index >= len(cumulative):
            return None
        slack = DECISION_MARGIN * cumulative[-1]
        below = cumulative[index - 1] if index else 0.0
        if cumulative[index] - target <= slack or (index and target - below <= slack):
            return None
        return plan.positions[index]
    return draw_whole(plan, u)


def draw_whole(plan: Whole, u: float) -> int | None:
    """:func:`draw` from a :class:`Whole` (the settler's per-token call at the API's defaults)."""
    bounds = plan.bounds
    total = bounds[-1]
    target = u * total
    slack = DECISION_MARGIN * total
    stretch = bisect.bisect_right(bounds, target)
    if stretch >= len(bounds):
        return None
    start = bounds[stretch - 1] if stretch else 0.0
    if bounds[stretch] - target <= slack or target - start <= slack:
        return None
    positions = plan.positions
    if stretch % 2:
        return positions[stretch // 2]
    # Unlisted positions between the previous listed one and the next: find the first whose
    # running weight exceeds the target, from the tail's running sums.
    first = positions[stretch // 2 - 1] + 1 if stretch else 0
    end = positions[stretch // 2] if stretch // 2 < len(positions) else len(plan.tail_cumulative)
    factor, running_g = plan.tail_factor, plan.tail_cumulative
    before = running_g[first - 1] if first else 0.0
    found = bisect.bisect_right(running_g, before + (target - start) / factor, first, end)
    if found >= end:
        return None
    high = start + factor * (running_g[found] - before)
    low = start + factor * (running_g[found - 1] - before) if found > first else start
    if high - target <= slack or target - low <= slack:
        return None
    return found

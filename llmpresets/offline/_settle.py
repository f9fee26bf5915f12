"""Settling an n-gram step from its few observed continuations, without its logits.

At a chat-like preset (temperature 0.8, top_p 0.9) top_p keeps one token at four steps in five
and a handful at nearly all the others, yet building a step's 1,792 logits and filtering them
costs tens of microseconds. :class:`~llmpresets.offline._ngram.NGramModel` first tries to
*settle* the step from the structure of its distribution:

    P(w | h) = Lambda * U(w)          for w outside the history's support S
    P(w | h) = (the interpolation)    for w in S (:func:`sparse_logits`)

where ``U`` is the section's unigram and ``Lambda`` the product of the interpolation weights
of the matched histories. Outside ``S`` tokens keep the unigram's order, and at temperature
``T`` their weights ``exp((z - max) / T)`` sum to ``c * (G_T - sum_S g)``, with
``g = exp((log U - tie break - peak) / T)`` and its total ``G_T`` computed once per section
and temperature (:class:`SectionTail`). So the softmax total costs ``O(|S|)``, and the tokens
in descending order are a merge of the sorted support with the tail's fixed order.

:func:`nucleus` applies :mod:`llmpresets.sampling`'s top_p rule to that order (at most
:data:`NUCLEUS_LIMIT` tokens) and :func:`draw` its draw (running weights in position order,
the first above ``u * sum``), each answering only when every comparison clears the sampler's
by a relative :data:`MARGIN` of 1e-9, far above the ulps by which the two computations can
differ. A lone survivor is drawn without a random number, as the sampler does; otherwise one
``rng.random()``. Anything else (a wide nucleus, a comparison too close to call) goes the
usual way: the step's logits and the same sampler, with the same random numbers. Seeded
replies are therefore the same with or without the settler (a test compares them).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MARGIN",
    "MIN_TEMPERATURE",
    "NUCLEUS_LIMIT",
    "TIE_MARGIN",
    "Nucleus",
    "SectionTail",
    "Summary",
    "draw",
    "nucleus",
    "sparse_logits",
    "summarize",
]

FloatArray = NDArray[np.float64]

# Relative margin on the total: the decision is never closer than this to the sampler's.
MARGIN = 1e-9
# Logits closer than this may be ordered differently by the two computations (see nucleus).
TIE_MARGIN = 1e-13
# Below this temperature rounding grows (divided by T) towards MARGIN: leave it to the sampler.
MIN_TEMPERATURE = 0.01
# The largest nucleus settled from the sparse form; a larger one is sampled from the logits.
NUCLEUS_LIMIT = 64
_TEMPERATURES_KEPT = 16


class SectionTail:
    """A section's unigram logits in order, and their softmax weights per temperature.

    Plain lists: the settler reads a few entries per step, where a numpy call would cost more
    than the arithmetic.
    """

    __slots__ = ("_lock", "_weights", "base", "order", "peak", "unigram")

    def __init__(self, unigram: FloatArray, tie_break: FloatArray) -> None:
        # Exactly the logits of an empty history (NGramModel._logits): log U - tie break.
        base: FloatArray = np.log(unigram)
        np.subtract(base, tie_break, out=base)
        self.unigram: list[float] = unigram.tolist()
        self.base: list[float] = base.tolist()
        self.order: list[int] = np.argsort(-base, kind="stable").tolist()
        self.peak = self.base[self.order[0]]
        self._weights: dict[float, tuple[list[float], float]] = {}
        self._lock = threading.Lock()

    def weights(self, temperature: float) -> tuple[list[float], float]:
        """``g = exp((base - peak) / T)`` for every token, and its sum."""
        found = self._weights.get(temperature)
        if found is None:
            g = np.exp((np.array(self.base) - self.peak) * (1.0 / temperature))
            found = (g.tolist(), float(g.sum()))
            with self._lock:
                if len(self._weights) >= _TEMPERATURES_KEPT:
                    self._weights.clear()
                self._weights[temperature] = found
        return found


def sparse_logits(
    rows: Sequence[tuple[list[int], list[float], float]],
    unigram: list[float],
    tie_break: list[float],
) -> tuple[dict[int, float], float]:
    """The logits of a history's support, by position, and ``log(Lambda)``.

    ``rows`` are the matched histories' table rows, shortest first: (targets, scaled counts,
    interpolation weight). Unrolled, the interpolation reads ``P(w) = U(w) * Lambda +
    sum_n scaled_n(w) * (the weights of the histories longer than n)``; every position no row
    names has the logit ``log(Lambda) + log U - tie break``. Plain floats: supports are a few
    positions long, where numpy's per-call cost would dominate. (This rounds differently from
    the model's dense path by an ulp or two; :func:`single_token` decides with a margin far
    wider.)
    """
    added: dict[int, float] = {}
    later = 1.0  # the weights of the longer histories, applied after a row's counts
    for targets, scaled, weight in reversed(rows):
        for position, count in zip(targets, scaled, strict=True):
            added[position] = added.get(position, 0.0) + count * later
        later *= weight
    log = math.log
    logits = {
        position: log(unigram[position] * later + extra) - tie_break[position]
        for position, extra in added.items()
    }
    return logits, log(later)


class Summary(NamedTuple):
    """A history's support at one temperature, reduced to what a decision needs."""

    logits: dict[int, float]  # the support's logits by position
    log_lambda: float  # every other position's logit is log_lambda + tail.base[position]
    best: int  # the support's most likely position (-1: empty support)
    peak: float  # its logit (-inf: empty support)
    mass: float  # sum over the support of exp((logit - peak) / T)
    g_mass: float  # sum over the support of the tail weights g (see SectionTail.weights)


def summarize(
    logits: dict[int, float], log_lambda: float, tail: SectionTail, temperature: float
) -> Summary:
    """The :class:`Summary` of a support's logits at ``temperature``."""
    best, peak = -1, -math.inf
    for position, logit in logits.items():
        if logit > peak:
            best, peak = position, logit
    g = tail.weights(temperature)[0]
    scale, exp = 1.0 / temperature, math.exp
    mass = g_mass = 0.0
    for position, logit in logits.items():
        mass += exp((logit - peak) * scale)
        g_mass += g[position]
    return Summary(logits, log_lambda, best, peak, mass, g_mass)


class Nucleus(NamedTuple):
    """What top_p keeps of a step: positions ascending, and their running weights."""

    positions: list[int]
    cumulative: list[float]


def nucleus(
    summary: Summary,
    tail: SectionTail,
    temperature: float,
    top_p: float,
    boosted: Sequence[int] = (),
    log_boost: float = 0.0,
    limit: int = NUCLEUS_LIMIT,
) -> Nucleus | None:
    """The tokens top_p keeps (at most ``limit``), or None: too many, or too close to call.

    Exactly :mod:`llmpresets.sampling`'s rule: in descending order of weight
    ``exp((logit - max) / T)``, keep tokens up to the first whose running weight reaches
    ``top_p * total``, and every token tied with it. ``boosted`` positions gain ``log_boost``
    (a reply's opening favours the prompt's tokens). Valid for ``temperature`` >=
    :data:`MIN_TEMPERATURE` and ``0 < top_p < 1``, with no top_k or min_p.
    """
    log_lambda, base = summary.log_lambda, tail.base
    explicit = summary.logits
    peak = summary.peak
    changed: list[tuple[int, float, float | None]] = []
    if boosted:
        explicit = dict(explicit)
        for position in boosted:
            before = explicit.get(position)
            after = (log_lambda + base[position] if before is None else before) + log_boost
            changed.append((position, after, before))
            explicit[position] = after
            peak = max(peak, after)
    outside = (w for w in tail.order if w not in explicit)
    first_outside = next(outside, -1)
    if first_outside >= 0:
        peak = max(peak, log_lambda + base[first_outside])
    g, g_total = tail.weights(temperature)
    scale, exp = 1.0 / temperature, math.exp
    # The softmax total over the whole vocabulary, from the summary and the tail's sums.
    total = exp((summary.peak - peak) * scale) * summary.mass if summary.logits else 0.0
    rest = g_total - summary.g_mass
    for position, after, before in changed:
        total += exp((after - peak) * scale)
        if before is None:
            rest -= g[position]
        else:
            total -= exp((before - peak) * scale)
    if first_outside >= 0 and rest > 0.0:
        total += exp((log_lambda + tail.peak - peak) * scale) * rest
    # Walk the tokens in descending order: the explicit ones sorted, the tail in unigram order.
    ranked = sorted(explicit.items(), key=_by_logit, reverse=True)
    mass = top_p * total
    kept: dict[int, float] = {}
    running = 0.0
    index, candidate = 0, first_outside
    while True:
        if index < len(ranked) and (
            candidate < 0 or ranked[index][1] > log_lambda + base[candidate]
        ):
            position, logit = ranked[index]
            index += 1
        elif candidate >= 0:
            position, logit = candidate, log_lambda + base[candidate]
            candidate = next(outside, -1)
        else:
            return None  # the whole vocabulary walked: not a small nucleus
        weight = exp((logit - peak) * scale)
        if running >= mass * (1.0 - MARGIN):
            return None  # the previous token's running weight was too close to the line
        running += weight
        kept[position] = weight
        if running >= mass:
            break
        if len(kept) >= limit:
            return None
    if running < mass * (1.0 + MARGIN):
        return None
    # No token may tie with the last one kept (the sampler keeps ties): the next is lighter
    # by more than rounding could hide. Compared as logits, where a tie-break nudge between
    # equal counts (>= 5.6e-13) stands well clear of the two paths' rounding (~1e-14).
    following = -math.inf
    if index < len(ranked):
        following = ranked[index][1]
    if candidate >= 0:
        following = max(following, log_lambda + base[candidate])
    if logit - following <= TIE_MARGIN:
        return None
    positions = sorted(kept)
    cumulative = []
    running = 0.0
    for position in positions:
        running += kept[position]
        cumulative.append(running)
    return Nucleus(positions, cumulative)


def draw(kept: Nucleus, u: float) -> int | None:
    """The position a uniform ``u`` picks from ``kept``, or None when too close to call.

    As the sampler draws: running weights in ascending position order, the first that
    exceeds ``u * sum``; None when ``u * sum`` lies within the margin of a boundary, where
    rounding might tip the sampler the other way.
    """
    cumulative = kept.cumulative
    target = u * cumulative[-1]
    index = bisect.bisect_right(cumulative, target)
    if index >= len(cumulative):
        return None
    slack = MARGIN * cumulative[-1]
    if cumulative[index] - target <= slack or (index and target - cumulative[index - 1] <= slack):
        return None
    return kept.positions[index]


def _by_logit(item: tuple[int, float]) -> float:
    return item[1]

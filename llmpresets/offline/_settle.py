"""Settling an n-gram step without its logits, when the filters can leave only one token.

Most steps of a reply at a chat-like preset (temperature 0.8, top_p 0.9) keep a single token:
the n-gram model is sure of the next one, and top_p cuts everything else. Building the
1,792 logits of such a step and filtering them costs far more than the answer is worth,
so :class:`~llmpresets.offline._ngram.NGramModel` first tries to *settle* the step from the
structure of its distribution:

    P(w | h) = Lambda * U(w)          for w outside the history's support S
    P(w | h) = (the interpolation)    for w in S, computed exactly as the dense path does

where ``U`` is the section's unigram and ``Lambda`` the product of the interpolation weights
of the matched histories. Outside ``S``, tokens keep the unigram's order, and at temperature
``T`` their weights ``exp((z - max) / T)`` sum to ``c * (G_T - sum_S g)``, with
``g = exp((log U - tie break - peak) / T)`` and its total ``G_T`` computed once per section
and temperature (:class:`SectionTail`). So the softmax total over the whole vocabulary costs
``O(|S|)``, and the top token is the best of ``S`` or the first tail token outside ``S``.

top_p keeps only the top token (weight exactly 1 after the shift) when
``1 >= top_p * total``; :func:`single_token` answers that token only when
``top_p * total * (1 + MARGIN) <= 1``, a margin far above the rounding by which this total can
differ from :mod:`llmpresets.sampling`'s (about 1e-15 relative), so it answers exactly when
the sampler would find a lone survivor, which it draws without a random number. Every other
case (a nucleus of two or more tokens, or a margin too close to call) returns ``None`` and the
step goes the usual way: the same logits, the same sampler, the same random numbers.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["MARGIN", "SectionTail", "Summary", "single_token", "sparse_logits", "summarize"]

FloatArray = NDArray[np.float64]

# Relative margin on the total: the decision is never closer than this to the sampler's.
MARGIN = 1e-9
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


def single_token(
    summary: Summary,
    tail: SectionTail,
    temperature: float,
    top_p: float,
    boosted: Sequence[int] = (),
    log_boost: float = 0.0,
) -> int | None:
    """The lone token top_p keeps, or None when more may survive (or it is too close to call).

    ``boosted`` positions gain ``log_boost`` (a reply's opening favours the prompt's tokens).
    Valid for ``temperature`` >= the sampler's greedy limit and ``0 < top_p < 1``, with no
    top_k or min_p.
    """
    logits, log_lambda, base = summary.logits, summary.log_lambda, tail.base
    best, peak = summary.best, summary.peak
    changed: list[tuple[int, float, float | None]] = []
    for position in boosted:
        before = logits.get(position)
        after = (log_lambda + base[position] if before is None else before) + log_boost
        changed.append((position, after, before))
        if after > peak:
            best, peak = position, after
    skip = {position for position, _, before in changed if before is None}
    outside = next(
        (w for w in tail.order if w not in logits and w not in skip),
        -1,
    )
    if outside >= 0 and log_lambda + base[outside] > peak:
        best, peak = outside, log_lambda + base[outside]
    g, g_total = tail.weights(temperature)
    scale, exp = 1.0 / temperature, math.exp
    # Weights as the sampler computes them: exp((logit - max) / T); the max weighs 1.
    total = exp((summary.peak - peak) * scale) * summary.mass if logits else 0.0
    rest = g_total - summary.g_mass
    for position, after, before in changed:
        total += exp((after - peak) * scale)
        if before is None:
            rest -= g[position]
        else:
            total -= exp((before - peak) * scale)
    if outside >= 0 and rest > 0.0:
        total += exp((log_lambda + tail.peak - peak) * scale) * rest
    # A lone survivor: the top token (weight 1) reaches top_p alone, and no other token can tie
    # with it (the runner-up weighs at most total - 1 < 1).
    if top_p * total * (1.0 + MARGIN) > 1.0 or total >= 2.0 * (1.0 - MARGIN):
        return None
    return best

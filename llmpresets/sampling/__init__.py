"""Next-token sampling maths: temperature, top-k, top-p (nucleus) and min-p, exact and fast.

Pure numpy, no I/O. Given logits ``z`` over a vocabulary, in this order (the order and the rules
of HuggingFace transformers' logits warpers and of vLLM; ``docs/offline.md``, "Sampling"):

1. **temperature** ``T``: ``T < 1e-5`` is greedy (all mass on the argmax, the lowest index wins a
   tie); otherwise ``z / T``.
2. **top_k** (``None`` or 0 = off): keep tokens whose logit is >= the k-th largest (ties at the
   boundary are all kept); ``k >=`` vocabulary size changes nothing.
3. **top_p** (``None`` or 1 = off): sorted by probability, descending, keep a token when the
   probability mass strictly above it is ``< top_p``; the token that crosses the threshold is
   kept, and so is at least one token. Tokens tied with a kept token are kept too (the mass
   "strictly above" a token is that of the tokens more probable than it), so the result never
   depends on how a sort orders equal values.
4. **min_p** (``None`` or 0 = off): keep tokens with ``p >= min_p * p_max``.
5. Renormalise after each step; sample from the result. Filtered tokens get probability exactly 0.

Away from exact ties at a boundary the kept set and the probabilities agree with the
transformers/vLLM warpers to floating-point accuracy.

>>> import numpy as np
>>> from llmpresets import sampling
>>> logits = np.log([0.40, 0.25, 0.18, 0.10, 0.05, 0.02])   # "The cat" -> sat walked jumped ...
>>> sampling.probabilities(logits, top_p=0.9).round(4).tolist()
[0.4301, 0.2688, 0.1935, 0.1075, 0.0, 0.0]
>>> sampling.sample(logits, temperature=0.0)
0

How it stays fast on a 200,000-token vocabulary: nothing is sorted unless top_p is on, and then
only the candidates above a threshold; top_k is a selection (``np.partition``), not a sort;
min_p is a threshold. A flat distribution, where the nucleus is most of the vocabulary, finds
top_p's threshold from a sorted sample of the weights, one exact sum over those above the
sample's estimate, and a sort of the window between the estimate and the threshold, about 1% of
the vocabulary (both in :mod:`llmpresets.sampling.nucleus`). For many draws with the
same settings, :class:`Sampler` checks them once and can keep the prepared distribution of a
read-only array, so a repeated context costs one search. A large vocabulary's temporaries live
in per-thread work arrays reused from call to call (:mod:`llmpresets.sampling.scratch`): a fresh
megabyte array costs page faults.

Precision: float64 logits (and anything not float32 or float16) are computed in float64 and
agree with the reference warpers to about 1e-12. float32 logits (what models emit) are computed
in float32 -- exp, the weights and their sums -- which is two to three times faster; sums are
taken in blocks of 256 and the block sums added in float64, and the running sums that decide
top_p's threshold are float64. Probabilities then agree with a
float64 computation on the same float32 values to about 1e-6 relative (1e-4 is what the tests
hold them to), and a filter's kept set can differ only for tokens within float32 rounding of its
threshold (float32 turns near-ties into exact ties, and ties at a boundary are all kept).
:func:`probabilities` always returns float64.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import NamedTuple, overload

import numpy as np
import numpy.typing as npt

from .._cache import BoundedCache
from .nucleus import (
    FLOAT32,
    SELECT,
    FloatArray,
    IntArray,
    cut_large_nucleus,
    nucleus_candidates,
    nucleus_floor,
    relative_error,
    total_weight,
)
from .prepared import Filtered, Prepared
from .scratch import SMALLEST, at_least, work_array

__all__ = [
    "GREEDY_TEMPERATURE",
    "Sampler",
    "SamplingStep",
    "entropy",
    "probabilities",
    "sample",
    "steps",
]

GREEDY_TEMPERATURE = 1e-5
"""A temperature below this is greedy decoding (vLLM's ``_SAMPLING_EPS``)."""

# Bound reductions: the ndarray methods and np.* wrappers add call overhead on small arrays.
_max = np.maximum.reduce
_min = np.minimum.reduce
_sum = np.add.reduce

# The dtypes computed in natively; narrower floats are computed in float32.
_NATIVE = (np.dtype(np.float64), FLOAT32)
_NARROW = (np.dtype(np.float16),)


# --------------------------------------------------------------------------- arguments


class _Params(NamedTuple):
    temperature: float
    top_k: int | None
    top_p: float | None
    min_p: float | None


def _params(
    temperature: float, top_k: int | None, top_p: float | None, min_p: float | None
) -> _Params:
    """Validate the settings; switched-off filters become None."""
    t = _number(temperature)
    if not 0.0 <= t < math.inf:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    k: int | None = None
    if top_k is not None:
        try:
            if isinstance(top_k, bool):
                raise TypeError
            k = operator.index(top_k)
        except TypeError:
            k = -1
        if k < 0:
            raise ValueError(f"top_k must be an integer >= 0 (0 or None = off), got {top_k!r}")
        k = k or None
    p: float | None = None
    if top_p is not None:
        p = _number(top_p)
        if not 0.0 < p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1] (1 or None = off), got {top_p!r}")
        if p == 1.0:
            p = None
    mp: float | None = None
    if min_p is not None:
        mp = _number(min_p)
        if not 0.0 <= mp <= 1.0:
            raise ValueError(f"min_p must be in [0, 1] (0 or None = off), got {min_p!r}")
        mp = mp or None
    return _Params(t, k, p, mp)


def _number(value: object) -> float:
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _logits(logits: npt.ArrayLike) -> tuple[FloatArray, float]:
    """The logits as a 1-D array, and their maximum; rejects NaN, +inf, all -inf.

    float32 logits (what models emit) stay float32, and so does the maths on them (float16
    becomes float32); everything else is computed in float64. See "Precision" in the module
    docstring.
    """
    z = np.asarray(logits)
    if z.dtype not in _NATIVE:
        z = z.astype(np.float32 if z.dtype in _NARROW else np.float64)
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"logits must be a non-empty 1-D array, got shape {z.shape}")
    m = float(_max(z))  # NaN propagates through max, so this one check finds any NaN
    if math.isnan(m):
        raise ValueError("logits contain NaN")
    if m == math.inf:
        raise ValueError("logits contain +inf; use finite values (-inf masks a token)")
    if m == -math.inf:
        raise ValueError("every logit is -inf: no token can be sampled")
    return z, m


# --------------------------------------------------------------------------- the filter


def _scaled_exp(z: FloatArray, m: float, temperature: float) -> FloatArray:
    """exp((z - max) / T); the maximum maps to exactly 1.0. A large result is this thread's
    reused work array (``scratch``): it lasts until the next call."""
    e: FloatArray = (
        np.subtract(z, m)
        if z.size < SMALLEST
        else np.subtract(z, m, out=work_array("weights", z.size, z.dtype))
    )
    if temperature != 1.0:
        # Multiplying by 1/T is much faster than dividing, and differs by an ulp or so.
        np.multiply(e, 1.0 / temperature, out=e)
    return np.exp(e, out=e)


def _kth_largest(values: FloatArray, k: int) -> float:
    """The k-th largest of ``values`` (1 <= k < size), by selection (``np.partition``)."""
    position = values.size - k
    if values.size < SMALLEST:
        return float(np.partition(values, position)[position])
    selected = work_array("selected", values.size, values.dtype)
    np.copyto(selected, values)
    selected.partition(position)
    return float(selected[position])


def _filter(z: FloatArray, m: float, params: _Params) -> Filtered:
    """Apply temperature, top-k, top-p and min-p to the logits (the one implementation)."""
    temperature, k, p, mp = params
    n = z.size
    if temperature < GREEDY_TEMPERATURE:
        return Filtered(n, np.array([int(np.argmax(z))]), np.ones(1))
    if k is not None and k >= n:
        k = None
    if k is None and p is None and mp is None:
        return Filtered(n, None, _scaled_exp(z, m, temperature))
    if z[0] == m and float(_min(z)) == m:
        # All logits equal: every filter keeps every token (they are all tied with the best).
        return Filtered(n, None, None)

    tokens: IntArray | None = None
    if p is not None and k is None:
        # top_p normalises over the whole vocabulary: the full sum is needed anyway.
        e = _scaled_exp(z, m, temperature)
        total = total_weight(e)
        tokens = nucleus_candidates(e, total, p, mp)
        if tokens is None and n > SELECT:
            cut = cut_large_nucleus(e, total, p * total, mp)
            if cut is not None:
                return Filtered(n, None, cut[0])
        weight = e if tokens is None else e[tokens]
    else:
        candidates = z
        if mp is not None:
            # min_p removes every token with exp((z - max) / T) < min_p, i.e. with
            # z < max + T * ln(min_p). The margin (1e-3 in units of z / T, plus a relative term
            # for huge logits) dwarfs the rounding of (z - max) / T and of exp, so each token
            # pruned here is one the exact test below would remove.
            margin = 1e-3 * temperature + relative_error(z) * abs(m)
            floor = m + temperature * math.log(mp) - margin
            tokens = at_least(z, floor).nonzero()[0]
            if tokens.size * 2 < n:
                candidates = z[tokens]
            else:
                # Most tokens survive (a flat distribution): gathering them would cost more
                # than filtering the whole vocabulary.
                tokens = None
        if k is not None and p is not None and tokens is not None and candidates.size < k:
            # Fewer min_p candidates than k: top_p must see top_k's whole set, so select it
            # from the full vocabulary after all.
            tokens, candidates = None, z
        if k is not None and k < candidates.size:
            # Every non-candidate is below every candidate, so with >= k candidates the k-th
            # largest candidate is the k-th largest logit. Ties at the boundary are all kept.
            kth = _kth_largest(candidates, k)
            chosen = at_least(candidates, kth).nonzero()[0]
            tokens = chosen if tokens is None else tokens[chosen]
            candidates = candidates[chosen]
        weight = _scaled_exp(candidates, m, temperature)
        total = total_weight(weight) if p is not None else 0.0  # (only top_p needs the total)

    threshold = mp or 0.0  # min_p: p >= min_p * p_max  <=>  weight >= min_p (max weight is 1)
    if p is not None:
        threshold = max(threshold, nucleus_floor(weight, p * total))
    if threshold > 0.0:
        if tokens is None and threshold >= 1.0:
            # Only the most likely token (weight exactly 1) and its exact ties survive: say
            # which, so that a lone survivor is drawn without a random number.
            tokens = (weight >= threshold).nonzero()[0]
            return Filtered(n, tokens, weight[tokens])
        if tokens is None:  # weight is our own array: zero the cut tokens in place
            np.multiply(weight, at_least(weight, threshold), out=weight)
        else:
            keep = (weight >= threshold).nonzero()[0]
            tokens, weight = tokens[keep], weight[keep]
    return Filtered(n, tokens, weight)


# --------------------------------------------------------------------------- public API


def probabilities(
    logits: npt.ArrayLike,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
) -> FloatArray:
    """The distribution ``sample`` draws from: a float64 array over the vocabulary, summing to 1.

    Filtered tokens have probability exactly 0. Raises ValueError for bad settings (naming the
    parameter and its allowed range) and for logits that are NaN, +inf, or all -inf.

    >>> import numpy as np
    >>> probabilities(np.log([0.5, 0.3, 0.2]), top_k=2).round(6).tolist()
    [0.625, 0.375, 0.0]
    """
    params = _params(temperature, top_k, top_p, min_p)
    z, m = _logits(logits)
    return _dense(_filter(z, m, params))


def _dense(filtered: Filtered) -> FloatArray:
    size, tokens, weight = filtered
    if weight is None:
        return np.full(size, 1.0 / size)
    weight = weight.astype(np.float64, copy=False)  # float32 maths, float64 answer
    if tokens is None:
        dense: FloatArray = weight / _sum(weight)
        return dense
    out = np.zeros(size)
    out[tokens] = weight / _sum(weight)
    return out


@overload
def sample(
    logits: npt.ArrayLike,
    *,
    temperature: float = ...,
    top_k: int | None = ...,
    top_p: float | None = ...,
    min_p: float | None = ...,
    rng: np.random.Generator | int | None = ...,
    size: None = ...,
) -> int: ...
@overload
def sample(
    logits: npt.ArrayLike,
    *,
    temperature: float = ...,
    top_k: int | None = ...,
    top_p: float | None = ...,
    min_p: float | None = ...,
    rng: np.random.Generator | int | None = ...,
    size: int,
) -> IntArray: ...
def sample(
    logits: npt.ArrayLike,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    rng: np.random.Generator | int | None = None,
    size: int | None = None,
) -> int | IntArray:
    """Draw a token index from ``probabilities(logits, ...)``.

    ``rng`` is a ``numpy.random.Generator``, an int seed, or None (fresh entropy); the same seed
    gives the same token. Each draw uses one ``rng.random()`` value; greedy decoding
    (temperature < 1e-5), or filters that leave a single token, use none. ``size=n`` draws ``n``
    tokens at once (an int64 array). For many draws with the same settings, :class:`Sampler`
    checks them once.

    >>> import numpy as np
    >>> logits = np.log([0.40, 0.25, 0.18, 0.10, 0.05, 0.02])
    >>> sample(logits, top_k=1)
    0
    >>> sample(logits, top_p=0.9, rng=7) in (0, 1, 2, 3)
    True
    """
    params = _params(temperature, top_k, top_p, min_p)
    if size is not None:
        return _sample_many(logits, params, rng, size)
    z, m = _logits(logits)
    prepared = Prepared(_filter(z, m, params))
    if prepared.single is not None:
        return prepared.single
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return prepared.draw(generator.random())


def _sample_many(
    logits: npt.ArrayLike, params: _Params, rng: np.random.Generator | int | None, size: int
) -> IntArray:
    z, m = _logits(logits)
    n, tokens, weight = _filter(z, m, params)
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    uniform = generator.random(size)
    if weight is None:  # uniform over the whole vocabulary
        return np.minimum((uniform * n).astype(np.int64), n - 1)
    cumulative = weight.cumsum()
    found: IntArray = cumulative.searchsorted(uniform * cumulative[-1], side="right")
    # u * total can round up to total; such a draw takes the last token with weight > 0.
    positions: IntArray = np.minimum(found, int(np.flatnonzero(weight)[-1]))
    return positions if tokens is None else tokens[positions]


class Sampler:
    """:func:`sample` with its settings fixed: checked once, then token after token.

    ``sampler.sample(logits, rng)`` draws exactly the token ``sample(logits, rng=rng, **settings)``
    would. ``reuse=True`` promises that ``logits`` is never changed after the call (the
    offline model's cached, read-only arrays): its filtered distribution is then kept in a
    bounded cache and the next draw from the same array costs one search.

    >>> import numpy as np
    >>> sampler = Sampler(temperature=0.8, top_p=0.9)
    >>> rng = np.random.default_rng(7)
    >>> [sampler.sample(np.log([0.40, 0.25, 0.18, 0.10, 0.05, 0.02]), rng) for _ in range(3)]
    [1, 2, 2]
    """

    __slots__ = ("_params",)

    def __init__(
        self,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        min_p: float | None = None,
    ) -> None:
        self._params = _params(temperature, top_k, top_p, min_p)

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value!r}" for name, value in self._params._asdict().items())
        return f"Sampler({settings})"

    def sample(
        self,
        logits: npt.ArrayLike,
        rng: np.random.Generator,
        *,
        reuse: bool = False,
        exclude: int | None = None,
    ) -> int:
        """Draw one token index with a ``numpy.random.Generator`` (see the class docstring).

        ``exclude`` is a position that is never drawn (as if its logit were -inf; vLLM's
        ``ignore_eos`` masks ``<|endoftext|>`` this way).
        """
        return self.distribution(logits, reuse=reuse, exclude=exclude).pick(rng)

    def distribution(
        self, logits: npt.ArrayLike, *, reuse: bool = False, exclude: int | None = None
    ) -> Prepared:
        """The filtered distribution :meth:`sample` draws from, ready for draws:
        ``sampler.distribution(logits).pick(rng)`` is ``sampler.sample(logits, rng)``.
        ``reuse`` and ``exclude`` as for :meth:`sample`."""
        if reuse and isinstance(logits, np.ndarray):
            key = (id(logits), exclude, self._params)
            entry = _reusable.peek(key)
            if entry is not None and entry[0] is logits:
                return entry[1]
            prepared = self._prepare(logits, exclude, reused=True)
            _reusable.put(key, (logits, prepared), prepared.nbytes)
            return prepared
        return self._prepare(logits, exclude)

    def prepare(self, logits: FloatArray) -> Prepared:
        """The filtered distribution of ``logits`` made ready for many draws, for a caller
        that keeps it: ``prepared.pick(rng)`` draws what ``sample(logits, rng)`` would, for
        as long as ``logits`` is not changed."""
        return self._prepare(logits, None, reused=True)

    def _prepare(
        self, logits: npt.ArrayLike, exclude: int | None, *, reused: bool = False
    ) -> Prepared:
        filtered = self._filtered(logits, exclude)
        if not reused:
            return Prepared(filtered)
        return Prepared(filtered, recompute=lambda: self._filtered(logits, exclude).weight)

    def _filtered(self, logits: npt.ArrayLike, exclude: int | None) -> Filtered:
        z, m = _logits(logits)
        if exclude is not None and 0 <= exclude < z.size:
            masked = work_array("logits", z.size, z.dtype)
            np.copyto(masked, z)
            z = masked
            z[exclude] = -np.inf
            m = float(_max(z))
            if m == -math.inf:
                raise ValueError("every logit is -inf: no token can be sampled")
        return _filter(z, m, self._params)


# Filtered distributions of arrays the caller promised never to change (Sampler reuse=True),
# keyed by the array's identity; each entry holds the array, so the identity stays its own.
_reusable: BoundedCache[tuple[int, int | None, _Params], tuple[object, Prepared]] = BoundedCache(
    "sampler distributions of reused arrays", 48 << 20
)


# --------------------------------------------------------------------------- explanation


@dataclass(frozen=True, eq=False)
class SamplingStep:
    """One stage of the pipeline, for display: the distribution after it, and what it cut.

    ``name`` is "input" (softmax at T=1), "temperature", "top_k", "top_p" or "min_p"; ``value``
    the parameter (None for input); ``probabilities`` the full-vocabulary float64 distribution
    after this step, renormalised; ``removed`` the tokens this step cut (probability > 0 before,
    0 after); ``kept`` the number of tokens left with probability > 0.
    """

    name: str
    value: float | int | None
    probabilities: FloatArray
    removed: npt.NDArray[np.bool_]
    kept: int
    entropy_bits: float


def entropy(p: npt.ArrayLike) -> float:
    """Shannon entropy of a distribution, in bits (zeros contribute nothing).

    >>> entropy([0.5, 0.5, 0.0])
    1.0
    """
    q = np.asarray(p, dtype=np.float64)
    q = q[q > 0]
    return float(-(q * np.log2(q)).sum()) + 0.0


def steps(
    logits: npt.ArrayLike,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
) -> list[SamplingStep]:
    """The distribution before and after each active step, in the order they apply.

    The first step is "input" (softmax at temperature 1); "temperature" follows unless it is 1,
    then each filter that is on. The last step's probabilities are exactly
    ``probabilities(logits, ...)`` with the same settings.

    >>> import numpy as np
    >>> [(s.name, s.kept) for s in steps(np.log([0.4, 0.25, 0.18, 0.1, 0.05, 0.02]), top_p=0.9)]
    [('input', 6), ('top_p', 4)]
    """
    params = _params(temperature, top_k, top_p, min_p)
    z, m = _logits(logits)
    stages: list[tuple[str, float | int | None, _Params]] = [
        ("input", None, _Params(1.0, None, None, None))
    ]
    temperature_only = _Params(params.temperature, None, None, None)
    if params.temperature != 1.0:
        stages.append(("temperature", params.temperature, temperature_only))
    if params.top_k is not None:
        stages.append(("top_k", params.top_k, temperature_only._replace(top_k=params.top_k)))
    if params.top_p is not None:
        stages.append(("top_p", params.top_p, params._replace(min_p=None)))
    if params.min_p is not None:
        stages.append(("min_p", params.min_p, params))
    result: list[SamplingStep] = []
    previous: FloatArray | None = None
    for name, value, stage_params in stages:
        dense = _dense(_filter(z, m, stage_params))
        removed = (
            np.zeros(dense.size, dtype=bool) if previous is None else (previous > 0) & (dense == 0)
        )
        result.append(
            SamplingStep(name, value, dense, removed, int(np.count_nonzero(dense)), entropy(dense))
        )
        previous = dense
    return result

"""llmpresets.sampling: the temperature / top-k / top-p / min-p maths (DESIGN.md §7).

The fast implementation is checked against ``reference_probabilities`` below, a slow, literal
transcription of HuggingFace transformers' TemperatureLogitsWarper, TopKLogitsWarper,
TopPLogitsWarper and MinPLogitsWarper (full sorts, -inf masking, softmax at the end).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import chisquare

from llmpresets import sampling
from llmpresets.sampling import nucleus

FloatArray = npt.NDArray[np.float64]

THE_CAT = {"sat": 0.40, "walked": 0.25, "jumped": 0.18, "ran": 0.10, "flew": 0.05, "other": 0.02}
THE_CAT_LOGITS = np.log(np.array(list(THE_CAT.values())))


# --------------------------------------------------------------------------- reference


def _softmax(scores: FloatArray) -> FloatArray:
    e = np.exp(scores - scores.max())
    out: FloatArray = e / e.sum()
    return out


def reference_probabilities(
    logits: npt.ArrayLike,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
) -> FloatArray:
    """HF's warpers, literally: scores / T, then top-k, top-p, min-p as -inf masks."""
    scores = np.array(logits, dtype=np.float64)
    if temperature < 1e-5:
        out = np.zeros(scores.size)
        out[np.argmax(scores)] = 1.0
        return out
    scores = scores / temperature
    if top_k:  # TopKLogitsWarper
        kth = np.sort(scores)[::-1][min(top_k, scores.size) - 1]
        scores[scores < kth] = -np.inf
    if top_p is not None and top_p < 1.0:  # TopPLogitsWarper
        order = np.argsort(scores, kind="stable")  # ascending
        cumulative = np.cumsum(_softmax(scores[order]))
        remove = cumulative <= 1 - top_p
        remove[-1] = False  # min_tokens_to_keep = 1
        scores[order[remove]] = -np.inf
    if min_p:  # MinPLogitsWarper
        probs = _softmax(scores)
        scores[probs < min_p * probs.max()] = -np.inf
    return _softmax(scores)


def near_a_boundary(
    logits: FloatArray,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    min_p: float | None,
) -> bool:
    """True when some filter's decision sits within rounding of its threshold (a near tie),
    where two correct implementations may legitimately disagree."""
    gap = 1e-9
    scores = logits / temperature
    if top_k and top_k < scores.size:
        ordered = np.sort(scores)[::-1]
        if abs(ordered[top_k - 1] - ordered[top_k]) <= gap * (1 + abs(ordered[top_k])):
            return True
        scores = np.where(scores < ordered[top_k - 1], -np.inf, scores)
    if top_p is not None and top_p < 1.0:
        cumulative = np.cumsum(np.sort(_softmax(scores)))
        if np.any(np.abs(cumulative - (1 - top_p)) <= gap):
            return True
        kept = reference_probabilities(logits, temperature, top_k, top_p) > 0
        cut = ~kept & np.isfinite(scores)
        if cut.any() and scores[kept].min() - scores[cut].max() <= gap * (1 + abs(scores).max()):
            return True  # a cut token (almost) ties the last kept one
    if min_p:
        probs = reference_probabilities(logits, temperature, top_k, top_p)
        if np.any(np.abs(probs - min_p * probs.max()) <= gap * probs.max()):
            return True
    return False


# --------------------------------------------------------------------------- strategies

finite_logits = hnp.arrays(
    np.float64,
    st.integers(1, 40),
    elements=st.floats(-30, 30, allow_nan=False, allow_infinity=False),
)


@st.composite
def logits_with_masks(draw: st.DrawFn) -> FloatArray:
    """Finite logits, some of them masked with -inf (never all)."""
    z = draw(finite_logits)
    mask = draw(hnp.arrays(np.bool_, z.size))
    mask[draw(st.integers(0, z.size - 1))] = False
    z[mask] = -np.inf
    return z


def sampling_settings(temperature: st.SearchStrategy[float]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "temperature": temperature,
            "top_k": st.one_of(st.none(), st.integers(0, 50)),
            "top_p": st.one_of(st.none(), st.floats(0.01, 1.0)),
            "min_p": st.one_of(st.none(), st.floats(0.0, 1.0)),
        }
    )


settings_strategy = sampling_settings(
    st.one_of(st.just(0.0), st.floats(1e-6, 1e-5), st.floats(0.05, 3.0))
)


def random_logits(seed: int, size: int, scale: float) -> FloatArray:
    """Continuous random logits: distinct, so exact ties essentially never happen."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, scale, size)
    z[rng.integers(0, size, 3)] += rng.uniform(0, 3 * scale, 3)  # a few standouts, LLM-like
    return z


def peaked_logits(size: int, seed: int = 0) -> FloatArray:
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, size)
    z[rng.choice(size, 5, replace=False)] += np.array([14.0, 12.0, 11.0, 10.0, 9.0])
    return z


# --------------------------------------------------------------------------- invariants


@given(logits_with_masks(), settings_strategy)
def test_probabilities_sum_to_one(logits: FloatArray, options: dict[str, Any]) -> None:
    """Whatever the settings, the result is a float64 distribution over the whole vocabulary."""
    p = sampling.probabilities(logits, **options)
    assert p.dtype == np.float64
    assert p.shape == logits.shape
    assert np.all(p >= 0)
    assert math.isclose(p.sum(), 1.0, rel_tol=1e-12)


@given(logits_with_masks(), settings_strategy, st.integers(0, 2**32))
def test_sample_never_returns_a_filtered_token(
    logits: FloatArray, options: dict[str, Any], seed: int
) -> None:
    """A sampled token always has probability > 0 (filtered and -inf tokens are never drawn)."""
    p = sampling.probabilities(logits, **options)
    assert p[sampling.sample(logits, rng=seed, **options)] > 0
    assert np.all(p[sampling.sample(logits, rng=seed, size=50, **options)] > 0)


@given(finite_logits, st.floats(0.0, 0.99e-5), st.data())
def test_temperature_below_1e_5_is_argmax_with_lowest_index_tie_break(
    logits: FloatArray, temperature: float, data: st.DataObject
) -> None:
    """T < 1e-5 puts all mass on the argmax; among tied maxima the lowest index wins."""
    twin = data.draw(st.integers(0, logits.size - 1))
    logits[twin] = logits.max()  # often creates a tie for the maximum
    best = int(np.flatnonzero(logits == logits.max())[0])
    p = sampling.probabilities(logits, temperature=temperature, top_p=0.5)
    assert p[best] == 1.0
    assert np.count_nonzero(p) == 1
    assert sampling.sample(logits, temperature=temperature, rng=1) == best


@given(logits_with_masks(), st.floats(0.05, 3.0))
def test_switched_off_filters_change_nothing(logits: FloatArray, temperature: float) -> None:
    """top_p=1, top_k=None or 0 and min_p=0 (or None) are exact no-ops."""
    plain = sampling.probabilities(logits, temperature=temperature)
    for off in ({"top_p": 1.0}, {"top_k": 0}, {"top_k": None}, {"min_p": 0.0}, {"min_p": None}):
        np.testing.assert_array_equal(
            sampling.probabilities(logits, temperature=temperature, **off), plain
        )


def test_top_k_at_least_the_vocabulary_size_changes_nothing() -> None:
    """top_k >= vocabulary size keeps every token."""
    plain = sampling.probabilities(THE_CAT_LOGITS)
    for k in (6, 7, 1000):
        np.testing.assert_array_equal(sampling.probabilities(THE_CAT_LOGITS, top_k=k), plain)


@given(logits_with_masks(), settings_strategy, st.integers(0, 2**32))
def test_same_seed_gives_same_tokens(
    logits: FloatArray, options: dict[str, Any], seed: int
) -> None:
    """sample is a pure function of (logits, settings, seed), for an int seed or a Generator."""
    assert sampling.sample(logits, rng=seed, **options) == sampling.sample(
        logits, rng=seed, **options
    )
    first = sampling.sample(logits, rng=np.random.default_rng(seed), size=20, **options)
    second = sampling.sample(logits, rng=np.random.default_rng(seed), size=20, **options)
    np.testing.assert_array_equal(first, second)


# --------------------------------------------------------------------------- reference agreement


@settings(max_examples=300)
@given(
    st.integers(0, 2**32),
    st.one_of(st.integers(1, 300), st.integers(1000, 30_000)),
    st.floats(0.5, 8.0),
    sampling_settings(st.floats(0.05, 3.0)),
)
def test_agrees_with_the_reference_warpers_away_from_ties(
    seed: int, size: int, scale: float, options: dict[str, Any]
) -> None:
    """Same kept set and the same probabilities (to 1e-12 relative) as HF's warpers."""
    logits = random_logits(seed, size, scale)
    assume(not near_a_boundary(logits, **options))
    expected = reference_probabilities(logits, **options)
    actual = sampling.probabilities(logits, **options)
    np.testing.assert_array_equal(actual > 0, expected > 0)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(
    "options",
    [
        {"temperature": 0.8, "top_p": 0.9},
        {"temperature": 1.0, "top_p": 0.95, "min_p": 0.05},
        {"temperature": 0.7, "top_k": 40},
        {"temperature": 0.7, "top_k": 40, "top_p": 0.9, "min_p": 0.02},
        {"temperature": 1.3, "min_p": 0.1},
    ],
    ids=repr,
)
def test_peaked_200k_vocabulary_takes_the_fast_path_and_matches_the_reference(
    options: dict[str, Any],
) -> None:
    """On a 200,000-token LLM-like distribution only a few hundred candidates are sorted,
    and the result still equals the full-sort reference."""
    logits = peaked_logits(200_000)
    if "top_p" in options and "top_k" not in options:
        e = np.exp((logits - logits.max()) / options["temperature"])
        candidates = nucleus.nucleus_candidates(
            e, float(e.sum()), options["top_p"], options.get("min_p")
        )
        assert candidates is not None
        assert candidates.size < 1000
    expected = reference_probabilities(logits, **options)
    actual = sampling.probabilities(logits, **options)
    np.testing.assert_array_equal(actual > 0, expected > 0)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32),
    st.integers(2_000, 60_000),
    st.floats(0.6, 2.5),
    st.floats(0.3, 0.99),
    st.one_of(st.none(), st.floats(1e-6, 0.2)),
    st.floats(0.5, 1.5),
)
def test_long_tailed_large_vocabularies_agree_with_the_reference(
    seed: int, size: int, exponent: float, top_p: float, min_p: float | None, temperature: float
) -> None:
    """Zipf-like logits (p ~ rank^-exponent: nuclei from a few tokens to most of the
    vocabulary) exercise every prefilter guess and retry; the result is always the reference's."""
    rng = np.random.default_rng(seed)
    logits = rng.permutation(-exponent * np.log(np.arange(1.0, size + 1)))
    logits += rng.normal(0.0, 0.01, size)
    options: dict[str, Any] = {"temperature": temperature, "top_p": top_p, "min_p": min_p}
    assume(not near_a_boundary(logits, top_k=None, **options))
    expected = reference_probabilities(logits, **options)
    actual = sampling.probabilities(logits, **options)
    np.testing.assert_array_equal(actual > 0, expected > 0)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("top_p", [0.3, 0.9, 0.99])
def test_flat_noisy_distribution_falls_back_to_a_full_sort_and_matches_the_reference(
    top_p: float,
) -> None:
    """Nearly flat logits (nucleus ~ the whole vocabulary) give the reference's kept set."""
    logits = np.random.default_rng(3).normal(0.0, 1e-3, 20_000)
    e = np.exp(logits - logits.max())
    assert nucleus.nucleus_candidates(e, float(e.sum()), top_p, None) is None
    expected = reference_probabilities(logits, top_p=top_p)
    actual = sampling.probabilities(logits, top_p=top_p)
    np.testing.assert_array_equal(actual > 0, expected > 0)
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "options",
    [{}, {"top_p": 0.5}, {"top_k": 3}, {"min_p": 0.9}, {"temperature": 0.5, "top_p": 0.1}],
    ids=repr,
)
def test_all_equal_logits_give_the_uniform_distribution(options: dict[str, Any]) -> None:
    """Every token ties with the best, so every filter keeps all of them."""
    p = sampling.probabilities(np.full(5000, 2.5), **options)
    np.testing.assert_array_equal(p, np.full(5000, 1 / 5000))
    assert 0 <= sampling.sample(np.full(5000, 2.5), rng=0, **options) < 5000


# --------------------------------------------------------------------------- hand-checked cases


def test_the_cat_top_p_0_9_keeps_sat_walked_jumped_ran() -> None:
    """Mass above 'ran' is 0.83 < 0.9, so 'ran' stays; above 'flew' it is 0.93, so it goes."""
    p = sampling.probabilities(THE_CAT_LOGITS, top_p=0.9)
    kept = [word for word, prob in zip(THE_CAT, p, strict=True) if prob > 0]
    assert kept == ["sat", "walked", "jumped", "ran"]
    np.testing.assert_allclose(p[:4], np.array([0.40, 0.25, 0.18, 0.10]) / 0.93, rtol=1e-12)


def test_top_k_keeps_every_token_tied_at_the_boundary() -> None:
    """top_k=2 with the 2nd and 3rd largest tied keeps all three."""
    p = sampling.probabilities(np.array([3.0, 2.0, 2.0, 1.0]), top_k=2)
    np.testing.assert_allclose(p[:3], _softmax(np.array([3.0, 2.0, 2.0])), rtol=1e-12)
    assert p[3] == 0.0


def test_top_p_keeps_tokens_tied_with_the_last_kept_token() -> None:
    """Mass strictly above either 0.3 token is 0.4 < 0.5: both stay, whatever a sort's order."""
    p = sampling.probabilities(np.log([0.3, 0.4, 0.3]), top_p=0.5)
    np.testing.assert_allclose(p, [0.3, 0.4, 0.3], rtol=1e-12)


def test_top_p_always_keeps_the_most_probable_token() -> None:
    """Even a tiny top_p keeps one token."""
    p = sampling.probabilities(THE_CAT_LOGITS, top_p=1e-9)
    assert p.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_min_p_keeps_tokens_at_least_min_p_times_the_best() -> None:
    """min_p=0.25 over the cat: 0.25 * 0.40 = 0.10, so sat, walked, jumped, ran stay."""
    p = sampling.probabilities(THE_CAT_LOGITS, min_p=0.25)
    assert [prob > 0 for prob in p] == [True, True, True, True, False, False]


def test_steps_apply_in_order_temperature_top_k_top_p_min_p() -> None:
    """Each filter sees the previous one's renormalised output."""
    # top_k=5 drops 'other'; renormalised over 0.98, top_p=0.8 then keeps sat..jumped
    # (mass above 'jumped' is 0.65/0.98 = 0.66 < 0.8; above 'ran' 0.83/0.98 = 0.85);
    # min_p=0.5 then keeps 'walked' (0.25 >= 0.2) and drops 'jumped' (0.18 < 0.2).
    result = sampling.steps(THE_CAT_LOGITS, top_k=5, top_p=0.8, min_p=0.5)
    assert [step.name for step in result] == ["input", "top_k", "top_p", "min_p"]
    assert [step.kept for step in result] == [6, 5, 3, 2]
    assert [list(np.flatnonzero(step.removed)) for step in result] == [[], [5], [3, 4], [2]]


def test_top_p_measures_mass_over_top_k_survivors_even_when_min_p_cuts_more() -> None:
    """top_p's threshold is 0.7 of top_k's whole kept mass (0.98), not of what min_p keeps.

    Mass above 'jumped' is 0.65 < 0.7 * 0.98, so it stays (0.7 * 0.83, min_p's set, would cut it).
    """
    p = sampling.probabilities(THE_CAT_LOGITS, top_k=5, top_p=0.7, min_p=0.3)
    np.testing.assert_allclose(p, np.array([0.40, 0.25, 0.18, 0, 0, 0]) / 0.83, rtol=1e-12)


def test_minus_inf_tokens_get_zero_probability_even_when_top_k_reaches_them() -> None:
    """Masked tokens stay at 0 even when k exceeds the number of unmasked tokens."""
    logits = np.array([1.0, -np.inf, 0.5, -np.inf])
    for options in ({}, {"top_k": 3}, {"top_p": 0.999999}, {"min_p": 1e-9}):
        p = sampling.probabilities(logits, **options)
        assert p[1] == 0.0 and p[3] == 0.0
        assert math.isclose(p.sum(), 1.0)


# --------------------------------------------------------------------------- chi-square


@pytest.mark.parametrize(
    ("logits", "options"),
    [
        (THE_CAT_LOGITS, {"temperature": 0.8, "top_p": 0.9}),
        (THE_CAT_LOGITS, {"temperature": 1.5, "top_k": 5, "min_p": 0.05}),
        # Only a few finite tokens spread over 1,000: exercises the block-wise search.
        (
            np.where(np.arange(1000) % 137 == 0, np.arange(1000) / 400.0, -np.inf),
            {"temperature": 1.0},
        ),
    ],
    ids=["cat-T0.8-p0.9", "cat-T1.5-k5-minp0.05", "sparse-1000"],
)
def test_draws_follow_probabilities(logits: FloatArray, options: dict[str, Any]) -> None:
    """10,000 draws (one at a time, and in one batch) match probabilities (chi-square p > 0.001)."""
    p = sampling.probabilities(logits, **options)
    support = np.flatnonzero(p)
    rng = np.random.default_rng(12345)
    singles = [sampling.sample(logits, rng=rng, **options) for _ in range(10_000)]
    batch = sampling.sample(logits, rng=rng, size=10_000, **options)
    for draws in (np.array(singles), batch):
        counts = np.bincount(draws, minlength=p.size)
        assert counts[p == 0].sum() == 0
        assert chisquare(counts[support], 10_000 * p[support]).pvalue > 0.001


# --------------------------------------------------------------------------- steps and entropy


@given(logits_with_masks(), settings_strategy)
def test_last_step_is_exactly_probabilities(logits: FloatArray, options: dict[str, Any]) -> None:
    """steps() shows the very numbers probabilities() returns, bit for bit."""
    result = sampling.steps(logits, **options)
    np.testing.assert_array_equal(
        result[-1].probabilities, sampling.probabilities(logits, **options)
    )
    for before, after in itertools.pairwise(result):
        np.testing.assert_array_equal(
            after.removed, (before.probabilities > 0) & (after.probabilities == 0)
        )
        assert after.kept == np.count_nonzero(after.probabilities)


def test_steps_skip_filters_that_are_off() -> None:
    """Temperature 1 and switched-off filters produce no step; the input step is always there."""
    assert [s.name for s in sampling.steps(THE_CAT_LOGITS)] == ["input"]
    names = [s.name for s in sampling.steps(THE_CAT_LOGITS, temperature=0.7, top_k=0, top_p=1.0)]
    assert names == ["input", "temperature"]


def test_steps_report_entropy_in_bits() -> None:
    """The input step's entropy is the softmax's Shannon entropy in bits."""
    first = sampling.steps(np.zeros(8), top_k=2)[0]
    assert first.name == "input" and first.value is None
    assert first.entropy_bits == pytest.approx(3.0)
    assert not first.removed.any()


def test_entropy_of_uniform_and_certain_distributions() -> None:
    """Uniform over 4 is 2 bits; a certainty is 0 bits (zeros contribute nothing)."""
    assert sampling.entropy([0.25] * 4) == pytest.approx(2.0)
    assert sampling.entropy([0.0, 1.0, 0.0]) == 0.0


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": -0.1}, "temperature must be a finite number >= 0"),
        ({"temperature": math.inf}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_k": -1}, r"top_k must be an integer >= 0"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_k": True}, "top_k"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": math.nan}, "top_p"),
        ({"min_p": -0.1}, r"min_p must be in \[0, 1\]"),
        ({"min_p": 1.01}, "min_p"),
    ],
    ids=repr,
)
def test_bad_settings_raise_naming_the_parameter_and_range(
    options: dict[str, Any], message: str
) -> None:
    """Each bad setting is a ValueError naming the parameter and what is allowed."""
    with pytest.raises(ValueError, match=message):
        sampling.probabilities(THE_CAT_LOGITS, **options)
    with pytest.raises(ValueError, match=message):
        sampling.sample(THE_CAT_LOGITS, **options)


@pytest.mark.parametrize(
    ("logits", "message"),
    [
        ([-np.inf, -np.inf], "every logit is -inf"),
        ([0.0, np.nan], "NaN"),
        ([0.0, np.inf], r"\+inf"),
        ([], "non-empty 1-D"),
        ([[0.0, 1.0]], "non-empty 1-D"),
    ],
    ids=["all-minus-inf", "nan", "plus-inf", "empty", "2-d"],
)
def test_unusable_logits_raise(logits: list[Any], message: str) -> None:
    """NaN, +inf, all -inf, and wrong shapes are ValueErrors that say what is wrong."""
    with pytest.raises(ValueError, match=message):
        sampling.probabilities(logits)
    with pytest.raises(ValueError, match=message):
        sampling.sample(logits, rng=0)


def test_seeded_draws_on_float64_logits_match_the_pinned_outputs() -> None:
    """The same seed gives the same tokens as recorded in tests/data/pinned_outputs.json, for
    every size of vocabulary, shape of distribution and preset pinned there."""
    from pinned_outputs import pinned, sample_outputs

    expected = pinned()["sample"]
    actual = sample_outputs()
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert actual[key] == value, key


@given(logits_with_masks(), settings_strategy, st.integers(0, 2**32), st.booleans())
def test_sampler_draws_what_sample_draws(
    logits: FloatArray, options: dict[str, Any], seed: int, reuse: bool
) -> None:
    """Sampler(**settings).sample(logits, rng) is sample(logits, rng=rng, **settings), token
    for token, whether or not its filtered distribution is reused."""
    sampler = sampling.Sampler(**options)
    logits.setflags(write=False)
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(3):
        assert sampler.sample(logits, ours, reuse=reuse) == sampling.sample(
            logits, rng=theirs, **options
        )


def test_sampler_exclude_never_draws_that_position() -> None:
    """exclude= masks one position as a -inf logit would (vLLM's ignore_eos)."""
    logits = np.log(np.array([0.7, 0.2, 0.1]))
    sampler = sampling.Sampler()
    rng = np.random.default_rng(0)
    assert 0 not in {sampler.sample(logits, rng, exclude=0) for _ in range(200)}
    masked = logits.copy()
    masked[0] = -np.inf
    expected = [sampling.sample(masked, rng=np.random.default_rng(1)) for _ in range(1)]
    assert [sampler.sample(logits, np.random.default_rng(1), exclude=0)] == expected


FLOAT32_CASES = [
    {"temperature": 0.8, "top_p": 0.9},
    {"temperature": 1.0, "top_p": 0.95, "min_p": 0.05},
    {"temperature": 0.7, "top_k": 40},
    {"temperature": 1.3, "min_p": 0.1},
    {"temperature": 0.7, "top_k": 40, "top_p": 0.9, "min_p": 0.02},
]


@pytest.mark.parametrize("options", FLOAT32_CASES, ids=repr)
@pytest.mark.parametrize("shape", ["peaked", "zipf", "flat"])
def test_float32_logits_are_computed_in_float32_within_tolerance(
    options: dict[str, Any], shape: str
) -> None:
    """float32 logits keep float32 maths (the documented precision: probabilities within 1e-4
    relative of the float64 reference on the same values, the kept set equal away from
    float32 near-ties); the answer is still a float64 distribution summing to 1."""
    rng = np.random.default_rng(5)
    size = 200_000
    if shape == "peaked":
        logits = peaked_logits(size, seed=5)
    elif shape == "zipf":
        logits = rng.permutation(-1.5 * np.log(np.arange(1, size + 1)) + rng.normal(0, 0.05, size))
    else:
        logits = rng.normal(0.0, 0.05, size)
    single = logits.astype(np.float32)
    expected = reference_probabilities(single.astype(np.float64), **options)
    actual = sampling.probabilities(single, **options)
    assert actual.dtype == np.float64
    assert math.isclose(actual.sum(), 1.0, rel_tol=1e-12)
    differ = np.flatnonzero((actual > 0) != (expected > 0))
    # Tokens whose decision flips sit at the boundary: within float32 rounding of the last kept.
    boundary = expected[expected > 0].min() if np.any(expected > 0) else 0.0
    assert differ.size <= 4
    for token in differ:
        assert math.isclose(
            max(actual[token], expected[token]), boundary, rel_tol=1e-3
        ) or math.isclose(float(single[token]), float(single[expected > 0].min()), rel_tol=1e-5)
    kept = (actual > 0) & (expected > 0)
    np.testing.assert_allclose(actual[kept], expected[kept], rtol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("top_p", [0.3, 0.9, 0.99])
def test_flat_200k_top_p_finds_its_threshold_by_selection(dtype: Any, top_p: float) -> None:
    """A nucleus of most of a 200,000-token vocabulary is found without a full sort (the
    selection path returns a floor) and equals the reference's kept set."""
    logits = np.random.default_rng(9).normal(0.0, 0.02, 200_000)
    z = logits.astype(dtype)
    weights = np.exp(z - z.max())
    assert nucleus.selected_floor(weights, top_p * float(weights.sum())) is not None
    expected = reference_probabilities(z.astype(np.float64), top_p=top_p)
    actual = sampling.probabilities(z, top_p=top_p)
    assert np.count_nonzero((actual > 0) != (expected > 0)) <= (0 if dtype == np.float64 else 2)


@pytest.mark.parametrize("options", [{}, {"temperature": 0.7}, {"min_p": 1e-4}], ids=repr)
def test_reused_block_distributions_draw_like_fresh_ones_with_masked_tokens(
    options: dict[str, Any],
) -> None:
    """A reused distribution over a large vocabulary keeps only running sums, not weights;
    with many -inf tokens and an excluded one, every draw is still sample()'s."""
    rng = np.random.default_rng(4)
    logits = rng.normal(0.0, 3.0, 5000)
    logits[rng.choice(5000, 3000, replace=False)] = -np.inf
    logits[:256] = -np.inf  # a whole block of zero weights
    logits.setflags(write=False)
    masked = logits.copy()
    masked[np.flatnonzero(np.isfinite(logits))[0]] = -np.inf
    excluded = int(np.flatnonzero(np.isfinite(logits))[0])
    sampler = sampling.Sampler(**options)
    ours, theirs = np.random.default_rng(8), np.random.default_rng(8)
    for _ in range(300):
        assert sampler.sample(logits, ours, reuse=True, exclude=excluded) == sampling.sample(
            masked, rng=theirs, **options
        )

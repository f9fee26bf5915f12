"""llmpresets.sampling on large, nearly flat distributions (DESIGN.md §7).

When top_p's nucleus is most of a large vocabulary, its threshold is found without sorting the
vocabulary: a sorted sample guesses it, one exact sum settles which side of the guess it lies on,
and only the window between the two is sorted (``nucleus.cut_large_nucleus``). Whatever the
sample guesses, the result must be the reference warpers' (and, at exact ties, the definition's:
tied tokens are kept or cut together); fresh and reused distributions must draw the same tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_sampling import near_a_boundary, reference_probabilities

from llmpresets import sampling
from llmpresets.sampling import nucleus

FloatArray = npt.NDArray[np.float64]


def selection(logits: npt.NDArray[Any], options: dict[str, Any]) -> str:
    """How ``probabilities(logits, **options)`` finds top_p's floor: "selected" (by selection),
    "fell back" (the selection gave up: a full sort) or "other" (candidates, or a small array)."""
    z = np.asarray(logits)
    e = sampling._scaled_exp(z, float(z.max()), options.get("temperature", 1.0))
    total = nucleus.total_weight(e)
    top_p, min_p = options["top_p"], options.get("min_p")
    if z.size <= nucleus.SELECT:
        return "other"
    if nucleus.nucleus_candidates(e, total, top_p, min_p) is not None:
        return "other"
    found = nucleus.cut_large_nucleus(e, total, top_p * total, min_p)
    return "fell back" if found is None else "selected"


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(9_000, 40_000),
    st.floats(1e-4, 0.5),
    st.floats(0.05, 0.999),
    st.one_of(st.none(), st.floats(1e-4, 0.5)),
    st.floats(0.5, 2.0),
)
def test_flat_nucleus_by_selection_is_the_reference(
    seed: int, size: int, scale: float, top_p: float, min_p: float | None, temperature: float
) -> None:
    """Nearly flat logits of every spread, any top_p (with or without min_p): the same kept
    set and probabilities (1e-12 relative) as HF's warpers, and no fallback to a full sort."""
    logits = np.random.default_rng(seed).normal(0.0, scale, size)
    options: dict[str, Any] = {"temperature": temperature, "top_p": top_p, "min_p": min_p}
    assume(not near_a_boundary(logits, top_k=None, **options))
    expected = reference_probabilities(logits, **options)
    actual = sampling.probabilities(logits, **options)
    np.testing.assert_array_equal(actual > 0, expected > 0)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-300)
    assert selection(logits, options) != "fell back"


@pytest.mark.parametrize("top_p", [0.2, 0.6, 0.9, 0.99])
def test_a_misleading_sample_still_gives_the_reference(top_p: float) -> None:
    """Every sampled token (every stride-th) sits apart from the rest, so the sample's guess is
    far off: the window widens (or everything is sorted) and the answer is still exact."""
    size = nucleus._FLAT_SAMPLE * 10
    logits = np.random.default_rng(1).normal(0.0, 1e-3, size)
    logits[:: size // nucleus._FLAT_SAMPLE] += 0.05
    options: dict[str, Any] = {"top_p": top_p}
    assert not near_a_boundary(logits, 1.0, None, top_p, None)
    expected = reference_probabilities(logits, **options)
    actual = sampling.probabilities(logits, **options)
    np.testing.assert_array_equal(actual > 0, expected > 0)
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("top_p", [0.3, 0.6, 0.9])
def test_tied_weights_are_kept_or_cut_together(dtype: Any, top_p: float) -> None:
    """Flat logits on four levels (50,000 tokens each, every boundary an exact tie): a token is
    kept exactly when the mass of the tokens more probable than it is < top_p."""
    rng = np.random.default_rng(2)
    logits = (rng.integers(0, 4, 200_000) * 1e-3).astype(dtype)
    weights = np.exp(logits.astype(np.float64) - float(logits.max()))
    levels, counts = np.unique(weights, return_counts=True)
    above = np.concatenate((np.cumsum((levels * counts)[::-1])[::-1][1:], [0.0]))
    kept_levels = levels[above < top_p * weights.sum()]
    expected = np.isin(weights, kept_levels)
    assert selection(logits, {"top_p": top_p}) == "selected"
    actual = sampling.probabilities(logits, top_p=top_p)
    np.testing.assert_array_equal(actual > 0, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "options",
    [{"temperature": 0.8, "top_p": 0.9}, {"temperature": 1.0, "top_p": 0.95, "min_p": 0.05}],
    ids=repr,
)
def test_reused_flat_distributions_draw_like_fresh_ones(
    dtype: Any, options: dict[str, Any]
) -> None:
    """On a 200,000-token flat distribution (the selection path), a reused distribution (only
    running sums kept) draws token for token what sample() draws."""
    logits = np.random.default_rng(6).normal(0.0, 0.05, 200_000).astype(dtype)
    logits.setflags(write=False)
    assert selection(logits, options) == "selected"
    sampler = sampling.Sampler(**options)
    ours, theirs = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(40):
        assert sampler.sample(logits, ours, reuse=True) == sampling.sample(
            logits, rng=theirs, **options
        )


def test_float32_sums_are_block_sums_added_in_float64() -> None:
    """The float32 total is accurate to float32 rounding of the blocks (about 1e-7), not
    the drift of a long float32 running sum."""
    values = np.random.default_rng(4).random(200_003, dtype=np.float32)
    exact = float(values.astype(np.float64).sum())
    assert abs(nucleus.total_weight(values) - exact) <= 1e-7 * exact  # type: ignore[arg-type]

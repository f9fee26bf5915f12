"""llmpresets.sampling's reused work arrays (``llmpresets/sampling/scratch.py``) never leak.

On a large vocabulary the filters work in per-thread arrays kept from call to call (a fresh
megabyte array costs page faults). Nothing a caller keeps may live in them: returned
distributions, reused prepared distributions and other threads' draws must not change when
later calls reuse the arrays.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from llmpresets import sampling
from llmpresets.sampling import nucleus, scratch

SIZE = 200_000
SETTINGS: list[dict[str, Any]] = [
    {},
    {"temperature": 0.8, "top_p": 0.9},
    {"temperature": 1.0, "top_p": 0.95, "min_p": 0.05},
    {"temperature": 0.7, "top_k": 40},
    {"temperature": 1.3, "min_p": 0.1},
]


def logits(seed: int, scale: float, dtype: Any = np.float64) -> npt.NDArray[Any]:
    z: npt.NDArray[Any] = np.random.default_rng(seed).normal(0.0, scale, SIZE).astype(dtype)
    return z


def test_large_vocabularies_use_the_work_arrays() -> None:
    """The premise: a 200,000-token vocabulary is above the size the work arrays start at,
    and the weights a prepared distribution keeps (at most two blocks) are below it."""
    assert SIZE >= scratch.SMALLEST
    assert 2 * nucleus.BLOCK < scratch.SMALLEST


@pytest.mark.parametrize("options", SETTINGS, ids=repr)
def test_returned_distributions_do_not_change_on_later_calls(options: dict[str, Any]) -> None:
    """probabilities() and steps() return arrays of their own, untouched by the next call."""
    first = sampling.probabilities(logits(1, 0.05), **options)
    kept = first.copy()
    shown = sampling.steps(logits(1, 0.05), **options)
    kept_steps = [step.probabilities.copy() for step in shown]
    for seed in (2, 3):
        sampling.probabilities(logits(seed, 0.05), **options)
        sampling.steps(logits(seed, 2.0), **options)
        sampling.sample(logits(seed, 0.05), rng=seed, **options)
    np.testing.assert_array_equal(first, kept)
    for step, expected in zip(shown, kept_steps, strict=True):
        np.testing.assert_array_equal(step.probabilities, expected)


@pytest.mark.parametrize("options", SETTINGS, ids=repr)
def test_reused_distributions_survive_other_calls(options: dict[str, Any]) -> None:
    """A Sampler's kept distribution (reuse=True) draws what sample() draws, with other large
    vocabularies filtered in between (which overwrite the work arrays)."""
    frozen = logits(4, 0.05)
    frozen.setflags(write=False)
    others = [logits(5, 0.05), logits(6, 2.0), logits(7, 0.05, np.float32)]
    sampler = sampling.Sampler(**options)
    ours, theirs = np.random.default_rng(9), np.random.default_rng(9)
    for step in range(12):
        sampling.sample(others[step % 3], rng=step, **options)
        assert sampler.sample(frozen, ours, reuse=True) == sampling.sample(
            frozen, rng=theirs, **options
        )


def test_threads_draw_what_one_thread_draws() -> None:
    """Threads sampling at the same time each get the draws of a single thread."""
    cases = [
        (logits(10 + index, 0.05, dtype), options)
        for index, dtype in enumerate([np.float64, np.float32, np.float64, np.float32])
        for options in SETTINGS[1:3]
    ]

    def draws(z: npt.NDArray[Any], options: dict[str, Any]) -> list[int]:
        rng = np.random.default_rng(11)
        return [sampling.sample(z, rng=rng, **options) for _ in range(15)]

    expected = [draws(z, options) for z, options in cases]
    results: list[list[int] | None] = [None] * len(cases)

    def run(index: int) -> None:
        results[index] = draws(*cases[index])

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected

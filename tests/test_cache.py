"""The package's one cache: byte budgets, recency, the registry behind clear_caches()."""

from __future__ import annotations

import numpy as np

from llmpresets._cache import BoundedCache, approximate_size, cache_report, clear_caches, memoize


def test_a_cache_forgets_its_oldest_entries_to_stay_within_its_byte_budget() -> None:
    """Entries are charged their bytes; the oldest go first when a new one would not fit."""
    cache: BoundedCache[str, int] = BoundedCache("test budget", budget=100)
    for key in "abcd":
        cache.put(key, ord(key), nbytes=30)
    assert list(cache) == ["b", "c", "d"] and cache.used == 90
    cache.put("big", 0, nbytes=101)  # larger than the whole budget: not kept, nothing lost
    assert "big" not in cache and len(cache) == 3


def test_a_hit_on_an_old_entry_keeps_it_and_peek_does_not() -> None:
    """get() refreshes an entry among the older half; peek() (the hot path) never does."""
    cache: BoundedCache[str, int] = BoundedCache("test recency", budget=4)
    for key in "abcd":
        cache.put(key, 1, nbytes=1)
    assert cache.get("a") == 1  # "a" becomes the newest
    cache.put("e", 1, nbytes=1)
    assert list(cache) == ["c", "d", "a", "e"]
    assert cache.peek("c") == 1
    cache.put("f", 1, nbytes=1)
    assert "c" not in cache and cache.peek("c") is None


def test_clear_caches_empties_every_cache_and_the_report_lists_them() -> None:
    """One switch clears every registered cache, wherever it was made."""
    first: BoundedCache[int, str] = BoundedCache("test registry one", budget=1 << 10)
    second: BoundedCache[int, str] = BoundedCache("test registry two", budget=1 << 10)
    first.put(1, "x", nbytes=10)
    second[2] = "y"
    names = {row[0]: row for row in cache_report()}
    assert names["test registry one"][1:] == (1, 10, 1 << 10)
    clear_caches()
    assert len(first) == len(second) == 0 and first.used == second.used == 0
    assert first.peek(1) is None  # peek stays bound to the emptied dict


def test_memoize_caches_results_including_none() -> None:
    """A memoized function runs once per argument tuple, even when it returns None."""
    calls: list[int] = []

    @memoize("test memoize", budget=1 << 10)
    def half(n: int) -> int | None:
        calls.append(n)
        return n // 2 if n % 2 == 0 else None

    assert [half(4), half(4), half(3), half(3)] == [2, 2, None, None]
    assert calls == [4, 3]


def test_approximate_size_counts_arrays_by_their_bytes() -> None:
    """A numpy array is charged its data; containers their items."""
    array = np.zeros(1000)
    assert approximate_size(array) >= 8000
    assert approximate_size([array, array]) >= 16000

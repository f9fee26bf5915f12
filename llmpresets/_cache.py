"""One bounded cache for the whole package, and one switch that empties every cache.

Every cache the package keeps between calls is a :class:`BoundedCache`: a dict with a budget
in *bytes* (never an entry count: ten large schemas must not cost what ten thousand small ones
do) that forgets its least recently used entries first. Each one registers itself when it is
made, so :func:`clear_caches` empties all of them, and :func:`cache_report` lists them with what
they hold (tests and ``benchmarks/`` use both; a user never needs to).

>>> cache: BoundedCache[str, int] = BoundedCache("example", budget=100)
>>> cache.put("a", 1, nbytes=60)
>>> cache.put("b", 2, nbytes=60)  # over the budget: "a", the oldest, is forgotten
>>> cache.get("a") is None, cache.get("b")
(True, 2)
>>> clear_caches()
>>> len(cache)
0

:func:`memoize` puts a pure function of hashable arguments behind a cache of its own.

Not caches in this sense, and so not here: ``functools.cache`` on a function of the SDK's own
types or of a fixed set of names (a lookup table as large as the code makes it, whatever the
requests), and the tokenizers loaded once per process (a registry, never forgotten).
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, ParamSpec, TypeVar

__all__ = [
    "BoundedCache",
    "approximate_size",
    "cache_report",
    "clear_caches",
    "deep_size",
    "key_size",
    "memoize",
]

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")
Params = ParamSpec("Params")
Result = TypeVar("Result")

_SIZE_MASK = (1 << 32) - 1  # an entry's bytes, in its packed meta int (see BoundedCache)

_registry: weakref.WeakSet[BoundedCache[Any, Any]] = weakref.WeakSet()
_registry_lock = threading.Lock()


class BoundedCache(Generic[Key, Value]):
    """A dict with a byte budget that forgets its least recently used entries first, nearly:
    a hit refreshes an entry only once it is among the older half of the entries, so the
    entries in use are the last to be forgotten and most hits change nothing (changes take a
    lock). A value larger than the whole budget is not kept.

    ``name`` says what it holds (for :func:`cache_report`); ``size_of`` measures a value when
    :meth:`put` is not told its size (default: :func:`approximate_size`), and the key's own
    text (:func:`key_size`) is charged beside it, so a cache keyed by a prompt or a schema is
    bounded by what it really holds. A caller that passes ``nbytes`` charges the key itself.
    ``register=False`` keeps it out of :func:`clear_caches` (a store whose entries are state,
    such as the offline Responses store, not a cache).

    :attr:`peek` is the hot path's lookup: the underlying dict's own ``get`` (C speed, about a
    third of :meth:`get`'s cost), which does not refresh the entry, so entries read only
    through it are forgotten oldest-inserted first.
    """

    def __init__(
        self,
        name: str,
        budget: int,
        *,
        size_of: Callable[[Value], int] | None = None,
        register: bool = True,
    ) -> None:
        if not 0 <= budget <= _SIZE_MASK:
            raise ValueError(f"a cache's budget is a number of bytes in [0, 4 GiB), not {budget}")
        self.name = name
        self.budget = budget
        self.used = 0
        self._size_of: Callable[[Value], int] = size_of or approximate_size
        # Two dicts in the same order: the values, and each entry's bytes and stamp (the clock
        # at its last insertion or refresh) packed in one int, ``stamp << 32 | bytes``. Plain
        # ints, not a tuple per entry: a cache that gains an entry per request would otherwise
        # hand the garbage collector an object to track each time.
        self._values: dict[Key, Value] = {}
        # An OrderedDict: forgetting the oldest entry is then O(1). A plain dict's first key
        # sits behind every slot deleted before it, so evicting from the front of a busy cache
        # cost a scan per eviction (100,000 distinct message texts spent 1.7 s there).
        self._meta: OrderedDict[Key, int] = OrderedDict()
        self._clock = 0  # counts insertions and refreshes
        self._lock = threading.Lock()
        self.peek: Callable[[Key], Value | None] = self._values.get
        if register:
            with _registry_lock:
                _registry.add(self)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[Key]:
        """The keys kept, oldest first (a snapshot: the cache may change meanwhile)."""
        return iter(list(self._values))

    def __setitem__(self, key: Key, value: Value) -> None:
        """``cache[key] = value``: :meth:`put`, the value measured by ``size_of``."""
        self.put(key, value)

    def __repr__(self) -> str:
        return (
            f"BoundedCache({self.name!r}, {len(self._values)} entries, "
            f"{self.used:,} of {self.budget:,} bytes)"
        )

    def get(self, key: Key) -> Value | None:
        """The value under ``key`` (made the newest entry when it was among the oldest)."""
        value = self._values.get(key)
        if value is None:
            return None
        meta = self._meta.get(key)
        if meta is not None and 2 * (self._clock - (meta >> 32)) > len(self._meta):
            with self._lock:
                if self._meta.pop(key, None) is not None:
                    del self._values[key]
                    self._clock += 1
                    self._values[key] = value
                    self._meta[key] = self._clock << 32 | (meta & _SIZE_MASK)
        return value

    def put(self, key: Key, value: Value, nbytes: int | None = None) -> None:
        """Keep ``value`` under ``key``, forgetting the oldest entries to stay in budget."""
        size = self._size_of(value) + key_size(key) if nbytes is None else nbytes
        budget = self.budget
        if size > budget:
            return
        with self._lock:
            meta = self._meta
            if key in meta:
                self._forget(key)
            used = self.used + size
            while used > budget and meta:
                self._forget(next(iter(meta)))
                used = self.used + size
            clock = self._clock + 1
            self._clock = clock
            self._values[key] = value
            meta[key] = clock << 32 | size
            self.used = used

    def pop(self, key: Key) -> Value | None:
        """Forget ``key``; its value, or None."""
        with self._lock:
            value = self._values.get(key)
            self._forget(key)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()  # in place: peek stays bound to it
            self._meta.clear()
            self.used = 0

    def _forget(self, key: Key) -> None:
        """Drop ``key`` (the caller holds the lock)."""
        meta = self._meta.pop(key, None)
        if meta is not None:
            del self._values[key]
            self.used -= meta & _SIZE_MASK


def memoize(
    name: str, budget: int, *, size_of: Callable[[Any], int] | None = None
) -> Callable[[Callable[Params, Result]], Callable[Params, Result]]:
    """Cache a pure function of hashable positional arguments in a :class:`BoundedCache`.

    The wrapped function has the cache as its ``cache`` attribute.

    >>> @memoize("example squares", budget=1 << 10)
    ... def square(n: int) -> int:
    ...     return n * n
    >>> square(12), len(square.cache)  # type: ignore[attr-defined]
    (144, 1)
    """

    def decorate(function: Callable[Params, Result]) -> Callable[Params, Result]:
        # Results are kept in 1-tuples, so a function that returns None is cached too.
        cache: BoundedCache[Hashable, tuple[Result]] = BoundedCache(
            name, budget, size_of=None if size_of is None else lambda kept: size_of(kept[0])
        )

        @functools.wraps(function)
        def cached(*args: Params.args, **kwargs: Params.kwargs) -> Result:
            key: Hashable = args if not kwargs else (args, tuple(sorted(kwargs.items())))
            kept = cache.get(key)
            if kept is None:
                kept = (function(*args, **kwargs),)
                cache.put(key, kept)  # charged the key's text too (see BoundedCache)
            return kept[0]

        cached.cache = cache  # type: ignore[attr-defined]
        return cached

    return decorate


def approximate_size(value: object, _depth: int = 0) -> int:
    """Bytes a value holds, roughly: numpy arrays by ``nbytes``, strings and bytes by length,
    containers by their items (three levels deep), anything else by ``sys.getsizeof``."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes + 112
    if isinstance(value, (str, bytes, bytearray)):
        return sys.getsizeof(value)
    size = sys.getsizeof(value)
    if _depth >= 3:
        return size
    if isinstance(value, dict):
        return size + sum(
            approximate_size(k, _depth + 1) + approximate_size(v, _depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, (list, tuple, set, frozenset)):
        return size + sum(approximate_size(item, _depth + 1) for item in value)
    slots = getattr(type(value), "__slots__", None)
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict):
        return size + sum(approximate_size(v, _depth + 1) for v in fields.values())
    if slots:
        return size + sum(
            approximate_size(getattr(value, slot, None), _depth + 1)
            for slot in ((slots,) if isinstance(slots, str) else slots)
        )
    return size


def key_size(key: object, _depth: int = 0) -> int:
    """Bytes of the text a key holds: strings and bytes, also inside tuples (three levels).

    Cheap on purpose (it runs on every :meth:`BoundedCache.put` without ``nbytes``): numbers
    and other small parts count 8 bytes each, as the tuple's slot; only text can be large.

    >>> key_size(("o200k_base", "x" * 1000)) > 1000
    True
    """
    if isinstance(key, (str, bytes)):
        return len(key) + 49
    if isinstance(key, tuple) and _depth < 3:
        return 40 + sum(
            key_size(part, _depth + 1) if isinstance(part, (str, bytes, tuple)) else 8
            for part in key
        )
    return 8


def deep_size(value: object, limit: int = 1 << 24) -> int:
    """Bytes a JSON-like value holds, at any depth (dicts, lists, strings, numbers), roughly.

    For values nested deeper than :func:`approximate_size` looks, such as a stored response
    (``output[0].content[0].logprobs[3].top_logprobs[1].token``). Measured through its JSON
    text (C speed: a walk in Python cost 30 us an item of a 20,000-item input) as the text's
    length plus ``_CONTAINER_BYTES`` per object or array, what a small dict or list costs
    beside its contents; a value JSON cannot write is walked instead, up to ``limit``.

    >>> deep_size({"a": [{"b": "x" * 1000}]}) > 1000
    True
    """
    try:
        text = json.dumps(value, ensure_ascii=False, check_circular=False)
    except (TypeError, ValueError, RecursionError):
        return _walked_size(value, limit)
    return len(text) + _CONTAINER_BYTES * (text.count("{") + text.count("["))


# What an empty dict or list costs, beside the text of its contents (sys.getsizeof: 64-232).
_CONTAINER_BYTES = 200


def _walked_size(value: object, limit: int) -> int:
    """:func:`deep_size` by walking the value (iterative; stops adding past ``limit``)."""
    total = 0
    stack: list[object] = [value]
    getsizeof = sys.getsizeof
    while stack and total <= limit:
        item = stack.pop()
        total += getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return total


def clear_caches() -> None:
    """Empty every cache the package keeps (each :class:`BoundedCache`, wherever it lives)."""
    with _registry_lock:
        caches = list(_registry)
    for cache in caches:
        cache.clear()


def cache_report() -> list[tuple[str, int, int, int]]:
    """``(name, entries, bytes used, byte budget)`` for every live cache, sorted by name."""
    with _registry_lock:
        caches = list(_registry)
    return sorted((c.name, len(c), c.used, c.budget) for c in caches)

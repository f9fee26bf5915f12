"""The frozen-array contract: what lets the engine know a source's array by its identity.

A next-token source may hand out the same logits array again for a context it has seen (the
n-gram model keeps one per context). When such an array is *frozen* -- read-only and owning
its memory -- the source promises never to change it, so everything computed from it (its
filtered distribution, its log-softmax over a reply's candidates, a summary for logprobs, a
constrained step) can be kept under ``id(array)`` and found again with one lookup. Each such
cache holds the array itself in its entry and checks ``entry_array is array`` on a hit, so an
id is never taken for another array's.

A source that returns read-only arrays whose values can still change (a read-only view of
memory it writes) breaks the contract; it should return writable arrays, which the engine
computes afresh every time.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import NDArray

__all__ = ["is_frozen"]


def is_frozen(array: NDArray[Any]) -> bool:
    """Whether ``array`` is under the contract: read-only and owning its data, so it is never
    changed and may be known by identity.

    >>> import numpy as np
    >>> fixed = np.zeros(3)
    >>> fixed.flags.writeable = False
    >>> is_frozen(fixed), is_frozen(np.zeros(3)), is_frozen(fixed[1:])
    (True, False, False)
    """
    flags = array.flags
    return not flags.writeable and bool(flags.owndata)

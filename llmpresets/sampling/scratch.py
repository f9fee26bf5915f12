"""Work arrays for the sampling maths, kept per thread and reused from call to call.

A fresh array of a megabyte (200,000 float32 or float64 weights) is memory that the C allocator
may have handed back to the system since the previous call (glibc trims the top of its heap),
so writing it costs a page fault every 4 KB: on a virtual machine that doubled or quadrupled
the cost of a call, depending on what else the process had allocated in between. The filters'
large temporaries come from here instead: one array per purpose and thread, replaced when a
call needs another size or dtype.

An array from :func:`work_array` is valid until the same thread asks for the same purpose
again: use it within one call, and never return it to a caller that may keep it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

# Smaller arrays are cheap to allocate (and come from the allocator's reused small blocks).
SMALLEST = 16_384


class _Arrays(threading.local):
    def __init__(self) -> None:
        self.by_purpose: dict[str, npt.NDArray[Any]] = {}


_arrays = _Arrays()


def at_least(values: npt.NDArray[Any], threshold: float) -> npt.NDArray[np.bool_]:
    """``values >= threshold``; a large result is this thread's "mask" work array."""
    if values.size < SMALLEST:
        small: npt.NDArray[np.bool_] = values >= threshold
        return small
    mask: npt.NDArray[np.bool_] = np.greater_equal(
        values, threshold, out=work_array("mask", values.size, np.bool_)
    )
    return mask


def work_array(purpose: str, size: int, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """An uninitialised 1-D array of ``size`` ``dtype`` values for ``purpose`` (this thread's
    own, reused: see the module docstring), or a fresh one below :data:`SMALLEST` values."""
    if size < SMALLEST:
        return np.empty(size, dtype)
    arrays = _arrays.by_purpose
    array = arrays.get(purpose)
    if array is None or array.size != size or array.dtype != dtype:
        array = arrays[purpose] = np.empty(size, dtype)
    return array

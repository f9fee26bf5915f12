"""Offline mode selection: ``offline_mode()`` (a reversible block) and ``LLMPRESETS_OFFLINE``."""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from dataclasses import dataclass

from .._errors import ConfigError

__all__ = ["OfflineState", "env_offline", "offline_mode", "offline_override"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True)
class OfflineState:
    """What ``offline_mode`` switched on: its seed."""

    seed: int | None


_offline_override: contextvars.ContextVar[OfflineState | None] = contextvars.ContextVar(
    "llmpresets_offline", default=None
)


def offline_override() -> OfflineState | None:
    """The innermost active ``offline_mode`` block's state, if any."""
    return _offline_override.get()


@contextlib.contextmanager
def offline_mode(seed: int | None = None) -> Iterator[None]:
    """Within the block, every Client made without ``offline=`` runs offline.

    The previous state comes back on exit, even on error, so a test cannot leave it on.

    >>> from llmpresets import Client
    >>> with offline_mode(seed=1):
    ...     Client().complete("Say hi", use_case="chat").text != ""
    True
    """
    token = _offline_override.set(OfflineState(seed))
    try:
        yield
    finally:
        _offline_override.reset(token)


def env_offline() -> bool:
    """``LLMPRESETS_OFFLINE`` read as a boolean; an unreadable value is a ConfigError."""
    raw = os.environ.get("LLMPRESETS_OFFLINE", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(
        f"LLMPRESETS_OFFLINE={raw!r} is not understood; allowed: 1/true/yes/on or 0/false/no/off",
        field="LLMPRESETS_OFFLINE",
    )

"""Shared test set-up: the trained-model cache lives in a temporary directory, never the
user's own cache (set before collection, so every import, every test and every CLI process a
test starts uses it; removed at the end of the run)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_CACHE = tempfile.mkdtemp(prefix="llmpresets-cache-")
os.environ["LLMPRESETS_CACHE_DIR"] = _CACHE


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_CACHE, ignore_errors=True)

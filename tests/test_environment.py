"""The environment cannot break counting or the client with a raw error (issue 23).

A fuzzer found: ``TIKTOKEN_CACHE_DIR`` naming a file or a read-only folder stopped counting
although the verified data is packaged; the speed-up tables file in a shared cache folder was
trusted on a hash written inside it (anyone able to write the folder could change every
count); and ``ALL_PROXY=socks5://...`` made the client raise a bare ImportError. Tokenizers
load once per process, so the counting cases run in a child process.
"""

from __future__ import annotations

import array
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import llmpresets

TEXT = "hello world, the quick brown fox"
COUNT_SCRIPT = (
    "import json, sys\n"
    "from llmpresets.tokens.encodings import get_encoding\n"
    "print(json.dumps({n: get_encoding(n).encode(sys.argv[1]) for n in "
    "('o200k_base', 'cl100k_base')}))\n"
)


def encode_in_child(cache_dir: str) -> dict[str, list[int]]:
    """Each encoding's ids for TEXT in a fresh process with TIKTOKEN_CACHE_DIR=cache_dir."""
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": cache_dir}
    done = subprocess.run(
        [sys.executable, "-c", COUNT_SCRIPT, TEXT],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    result: dict[str, list[int]] = json.loads(done.stdout)
    return result


def genuine() -> dict[str, list[int]]:
    from llmpresets.tokens.encodings import get_encoding

    return {name: get_encoding(name).encode(TEXT) for name in ("o200k_base", "cl100k_base")}


def test_a_cache_dir_that_is_a_file_still_counts_exactly(tmp_path: Path) -> None:
    """TIKTOKEN_CACHE_DIR naming a file: the packaged copy, verified in memory, counts."""
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("I am a file")
    assert encode_in_child(str(not_a_folder)) == genuine()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes read-only folders"
)
def test_a_read_only_cache_dir_still_counts_exactly(tmp_path: Path) -> None:
    """An empty read-only cache folder: counting works, nothing written."""
    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert encode_in_child(str(folder)) == genuine()
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def _tamper(path: Path) -> None:
    """Swap two ranks in a speed-up file and rewrite the hash stored inside it to match."""
    data = path.read_bytes()
    magic_end = data.index(b"\n") + 1
    header_end = data.index(b"\n", magic_end)
    header = json.loads(data[magic_end:header_end])
    body = bytearray(data[header_end + 1 :])
    count = header["count"]
    ranks = array.array("I")
    ranks.frombytes(bytes(body[2 * count : 6 * count]))
    hello = 24912  # "hello" in o200k_base; give its rank to another token and back
    index = ranks.index(hello)
    ranks[index], ranks[index + 1] = ranks[index + 1], ranks[index]
    body[2 * count : 6 * count] = ranks.tobytes()
    header["sha256"] = hashlib.sha256(body).hexdigest()
    path.write_bytes(data[:magic_end] + json.dumps(header).encode() + b"\n" + bytes(body))


def test_a_speed_up_file_rewritten_in_a_shared_cache_is_not_trusted(tmp_path: Path) -> None:
    """A tables file whose inner hash was rewritten to match is ignored: the ids stay exact."""
    cache = tmp_path / "shared-cache"
    cache.mkdir()
    assert encode_in_child(str(cache)) == genuine()  # writes the BPE and the tables files
    tables = [path for path in cache.iterdir() if path.name.endswith(".ranks")]
    assert len(tables) == 2
    for path in tables:
        if "446a9538" in path.name:  # o200k_base
            _tamper(path)
    assert encode_in_child(str(cache)) == genuine()


def test_a_socks_proxy_without_socksio_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """ALL_PROXY=socks5://...: a ConfigError naming the variable and what to install."""
    pytest.importorskip("httpx2")
    import importlib.util

    if importlib.util.find_spec("socksio") is not None:
        pytest.skip("socksio is installed: the proxy works")
    monkeypatch.setenv("ALL_PROXY", "socks5://user:hunter2@127.0.0.1:9")
    for make in (llmpresets.Client, llmpresets.AsyncClient):
        with pytest.raises(llmpresets.ConfigError, match=r"^ALL_PROXY: a SOCKS proxy needs") as e:
            make(api_key="sk-test", max_retries=0)
        assert "hunter2" not in str(e.value)
        assert e.value.field == "ALL_PROXY"


def test_a_socks_proxy_does_not_matter_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline, no proxy is consulted: the client works."""
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:9")
    client = llmpresets.Client(offline=True, seed=1)
    assert client.complete("Say hello").finish_reason in ("stop", "length")

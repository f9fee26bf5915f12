"""Files a user names are read within bounds, and only when they are regular files (issue 23).

A fuzzer found ``llmpresets train /dev/zero`` growing without bound (the whole file was read
before its size was checked), a FIFO as the config file hanging ``validate`` and every client,
and a broken or looping ``./presets.yaml`` silently ignored. Each runs in a child process with
a timeout and an address-space cap, so a regression fails the test instead of hanging or
swapping the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import llmpresets
from llmpresets.config.corpus_file import MAX_CORPUS_BYTES
from llmpresets.config.user_files import FileTooLargeError, NotRegularFileError, read_user_file

needs_posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
# Far above what the CLI needs (numpy, tiktoken, the presets), far below "without bound".
_ADDRESS_SPACE = 3 * 1024**3


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (_ADDRESS_SPACE, _ADDRESS_SPACE))


def run_cli(*argv: str, cwd: Path | None = None) -> tuple[int, str]:
    """``python -m llmpresets ARGV`` in a child with a memory cap and a timeout."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("LLMPRESETS_DEBUG", None)
    env.pop("LLMPRESETS_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "llmpresets", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
        preexec_fn=_limit_memory if sys.platform.startswith("linux") else None,
    )
    return done.returncode, done.stderr.decode()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_training_on_dev_zero_is_refused_before_reading() -> None:
    """train /dev/zero: exit 2 naming the file, within a memory cap (it used to grow forever)."""
    code, stderr = run_cli("train", "/dev/zero")
    assert code == 2, stderr
    assert "/dev/zero: cannot read the corpus: not a regular file" in stderr
    assert "Traceback" not in stderr


@needs_posix
def test_training_on_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    """A FIFO with no writer as the corpus: refused at once, not waited on."""
    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)
    code, stderr = run_cli("train", str(fifo))
    assert code == 2, stderr
    assert "not a regular file (it is a FIFO" in stderr


def test_a_corpus_over_the_limit_is_refused_by_its_size(tmp_path: Path) -> None:
    """A (sparse) corpus past MAX_CORPUS_BYTES is refused without reading it."""
    corpus = tmp_path / "big.txt"
    with corpus.open("wb") as file:
        file.truncate(MAX_CORPUS_BYTES + 1)
    code, stderr = run_cli("train", str(corpus))
    assert code == 2, stderr
    assert f"the corpus has more than {MAX_CORPUS_BYTES:,} bytes" in stderr


@needs_posix
def test_validating_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    """validate FIFO used to hang in open(); now exit 2 with the file's kind."""
    fifo = tmp_path / "presets.yaml"
    os.mkfifo(fifo)
    code, stderr = run_cli("validate", str(fifo))
    assert code == 2, stderr
    assert "not a regular file (it is a FIFO (named pipe)); give a YAML file" in stderr


@needs_posix
def test_a_fifo_found_as_presets_yaml_is_refused_not_waited_on(tmp_path: Path) -> None:
    """A ./presets.yaml that is a FIFO: every command says so (it used to be skipped)."""
    os.mkfifo(tmp_path / "presets.yaml")
    code, stderr = run_cli("presets", cwd=tmp_path)
    assert code == 2, stderr
    assert "presets.yaml: not a regular file" in stderr


@needs_posix
@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: path.symlink_to("nowhere.yaml"), "a broken symbolic link"),
        (lambda path: path.symlink_to(path.name), "a symbolic link loop"),
        (lambda path: path.mkdir(), "is a directory, not a YAML file"),
    ],
    ids=["broken-link", "link-loop", "directory"],
)
def test_a_broken_presets_yaml_found_by_name_is_refused_with_its_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: object, problem: str
) -> None:
    """./presets.yaml is the user's layer (DESIGN §4): unreadable is an error, as bad YAML is."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMPRESETS_CONFIG", raising=False)
    make(tmp_path / "presets.yaml")  # type: ignore[operator]
    with pytest.raises(llmpresets.ConfigError, match=f"^presets.yaml: {problem}") as caught:
        llmpresets.load_presets()
    assert caught.value.file == "presets.yaml"


def test_no_presets_yaml_in_the_folder_is_the_packaged_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing by that name: the packaged defaults, no error."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMPRESETS_CONFIG", raising=False)
    assert llmpresets.load_presets().sources[-1].endswith("presets.yaml")
    assert len(llmpresets.load_presets().sources) == 1


def test_read_user_file_reads_no_more_than_its_limit(tmp_path: Path) -> None:
    """The bounded reader: a file at the limit is read; one byte more is refused."""
    path = tmp_path / "data.txt"
    path.write_bytes(b"x" * 100)
    assert read_user_file(path, 100) == b"x" * 100
    with pytest.raises(FileTooLargeError):
        read_user_file(path, 99)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_read_user_file_refuses_a_device() -> None:
    """A character device is refused by its kind, before a byte is read."""
    with pytest.raises(NotRegularFileError, match="character device"):
        read_user_file(Path("/dev/zero"), 10)

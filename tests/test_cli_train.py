"""``llmpresets train`` and a user's offline model files: every bad path is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmpresets.cli import main
from llmpresets.offline import NGramModel

CORPUS = "### greet: hello hi\nHello there, friend!\n---\nHi! How are you?\n"


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text(CORPUS, encoding="utf-8")
    return path


def _fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run argv, expect exit 2 and exactly one error line; return that line."""
    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("llmpresets: error: ")
    assert captured.err.count("\n") == 1, captured.err
    return captured.err.rstrip("\n")


# --------------------------------------------------------------------------- --output


def test_output_in_a_missing_folder_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--output under a folder that does not exist: exit 2 naming the path and the reason."""
    output = tmp_path / "nonexistent" / "dir" / "m.npz"
    err = _fails(capsys, "train", str(_corpus(tmp_path)), "--output", str(output))
    assert err == f"llmpresets: error: --output {output}: the folder {output.parent} does not exist"
    assert not output.parent.exists()


def test_output_under_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--output whose folder is a file: exit 2 saying it is not a directory."""
    corpus = _corpus(tmp_path)
    err = _fails(capsys, "train", str(corpus), "--output", str(corpus / "m.npz"))
    assert f"the folder {corpus} is not a directory" in err


def test_output_that_is_a_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--output naming an existing directory (model.npz/): exit 2, "is a directory"."""
    folder = tmp_path / "model.npz"
    folder.mkdir()
    err = _fails(capsys, "train", str(_corpus(tmp_path)), "--output", str(folder))
    assert err.endswith(f"--output {folder}: is a directory; give a file name")


def test_output_that_cannot_be_written_reports_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Writing the model fails (permission denied): exit 2 with the path and the OS's reason."""
    output = tmp_path / "m.npz"

    def denied(self: NGramModel, path: object) -> Path:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(NGramModel, "save", denied)
    err = _fails(capsys, "train", str(_corpus(tmp_path)), "--output", str(output))
    assert err == f"llmpresets: error: --output {output}: cannot write (permission denied)"


@pytest.mark.parametrize("order", ["0", "13"])
def test_order_out_of_range_is_refused(
    order: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--order must be 1 to 12: a 0 or a huge order is a usage error, not 1,000 lines."""
    err = _fails(capsys, "train", str(_corpus(tmp_path)), "--order", order)
    assert err.endswith(f"--order must be between 1 and 12, got {order}")


# --------------------------------------------------------------------------- the corpus


def test_a_directory_corpus_is_called_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """train DIR says it is a directory, not "no such file"."""
    err = _fails(capsys, "train", str(tmp_path))
    assert err == f"llmpresets: error: {tmp_path}: is a directory; give the corpus text file"


def test_a_missing_corpus_is_no_such_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """train MISSING: "no such file"."""
    missing = tmp_path / "missing.txt"
    assert _fails(capsys, "train", str(missing)) == f"llmpresets: error: {missing}: no such file"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the corpus is empty (0 bytes)"),
        (b"\n\n---\n\n", "the corpus is empty: no document to train on"),
        (b"\xff\xfeH\x00i\x00", "not a UTF-8 text corpus (invalid start byte at byte 0)"),
        (b"GIF89a\x00\x01\x02", "not a UTF-8 text corpus (it holds NUL bytes: a binary file"),
    ],
    ids=["empty", "blank", "utf-16", "binary"],
)
def test_an_unusable_corpus_names_the_file_and_the_reason(
    data: bytes, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Empty, blank, non-UTF-8 or binary corpus: exit 2, the path and why, one line."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(data)
    assert _fails(capsys, "train", str(corpus)).startswith(f"llmpresets: error: {corpus}: {reason}")


def test_a_good_corpus_still_trains_and_saves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The happy path is unchanged: stats as JSON, and a model file that loads."""
    output = tmp_path / "m.json"
    assert main(["train", str(_corpus(tmp_path)), "--output", str(output), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["output"] == str(output) and stats["documents"] == 2
    assert NGramModel.load(output).stats()["documents"] == 2


# --------------------------------------------------------------------------- offline.corpus


def _use_corpus(tmp_path: Path, corpus: Path) -> str:
    config = tmp_path / "presets.yaml"
    config.write_text(f"offline:\n  corpus: {json.dumps(str(corpus))}\n", encoding="utf-8")
    return str(config)


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Broken offline.corpus files, each with the reason its error must give."""
    good = NGramModel.train(CORPUS).save(tmp_path / "good.npz").read_bytes()
    files: dict[str, tuple[bytes | None, str]] = {
        "folder.txt": (None, "is a directory"),
        "empty.txt": (b"", "the corpus is empty (0 bytes)"),
        "latin1.txt": ("café".encode("latin-1"), "not a UTF-8 text corpus"),
        "nul.txt": (b"a\x00b", "it holds NUL bytes"),
        "folder.npz": (None, "is a directory"),
        "empty.npz": (b"", "the model file is empty (0 bytes)"),
        "text.npz": (b"just text", "not a zip archive"),
        "truncated.npz": (good[: len(good) // 2], "not a readable llmpresets model file"),
        "deep.json": (b"[" * 100_000 + b"]" * 100_000, "not a readable llmpresets model file"),
        "bad.json": (b"{not json", "not a readable llmpresets model file"),
        "binary.json": (b"\xff\xfe{", "not a readable llmpresets model file"),
        "list.json": (b"[1, 2]", "not a valid llmpresets model file"),
    }
    result = {}
    for name, (data, reason) in files.items():
        path = tmp_path / name
        if data is None:
            path.mkdir()
        else:
            path.write_bytes(data)
        result[name] = (path, reason)
    return result


def test_a_broken_offline_corpus_is_a_config_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """offline.corpus that is a directory, empty, not UTF-8, binary, or a corrupt .npz/.json:
    every command that loads it exits 2 with one line naming the file and the reason (a
    directory is caught when the config loads, naming presets.yaml's line as well)."""
    for name, (path, reason) in _bad_files(tmp_path).items():
        err = _fails(capsys, "explain", "--prompt", "hi", "--config", _use_corpus(tmp_path, path))
        assert str(path) in err and reason in err, (name, err)
        if not path.is_dir():
            assert err.startswith(f"llmpresets: error: {path}: "), (name, err)


def test_a_saved_model_works_as_offline_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The model train writes is a valid offline.corpus: explain --prompt reads from it."""
    output = tmp_path / "m.npz"
    assert main(["train", str(_corpus(tmp_path)), "--output", str(output)]) == 0
    capsys.readouterr()
    argv = ["explain", "--prompt", "hello", "--json", "--config", _use_corpus(tmp_path, output)]
    assert main(argv) == 0
    tokens = json.loads(capsys.readouterr().out)["tokens"]
    assert "Hello" in tokens or "Hi" in tokens

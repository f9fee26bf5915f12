"""The CLI ends every bad situation with a line and a documented exit code, never a traceback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest

from llmpresets import cli
from llmpresets.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, _common, main


def run_cli(
    *argv: str, stdout: IO[Any] | int = subprocess.PIPE, stdin: bytes = b""
) -> tuple[int, str]:
    """Run ``python -m llmpresets`` in a child process; (exit code, stderr)."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("LLMPRESETS_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "llmpresets", *argv],
        input=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr.decode()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("argv", [["schema"], ["presets", "--json"], ["models"]])
def test_a_full_disk_is_exit_1_with_one_line(argv: list[str]) -> None:
    """Output to /dev/full: 'cannot write' on stderr, exit 1, no OSError traceback."""
    with open("/dev/full", "wb") as full:
        code, err = run_cli(*argv, stdout=full)
    assert code == EXIT_ERROR, err
    assert "Traceback" not in err
    assert err.startswith("llmpresets: error:") and "No space left on device" in err


def test_deeply_nested_json_on_stdin_is_exit_2() -> None:
    """count --messages - with 100,000 nested lists: one line, exit 2, no RecursionError."""
    code, err = run_cli("count", "--messages", "-", stdin=b"[" * 100_000 + b"]" * 100_000)
    assert code == EXIT_USAGE, err
    assert "Traceback" not in err and "nested" in err


def test_nesting_past_the_bound_is_refused_before_counting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON that parses but nests past MAX_JSON_DEPTH is refused (it could recurse later)."""
    deep: object = "x"
    for _ in range(_common.MAX_JSON_DEPTH + 5):
        deep = {"a": deep}
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "tools": [deep]})
    monkeypatch.setattr("sys.stdin", io.StringIO(body))
    assert main(["count", "--messages", "-"]) == EXIT_USAGE
    assert f"more than {_common.MAX_JSON_DEPTH} levels" in capsys.readouterr().err


def test_input_past_the_size_bound_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Standard input longer than MAX_INPUT_CHARS is refused without reading all of it."""
    monkeypatch.setattr(_common, "MAX_INPUT_CHARS", 100)
    monkeypatch.setattr("sys.stdin", io.StringIO("word " * 1000))
    assert main(["count", "-"]) == EXIT_USAGE
    assert "longer than 100 characters" in capsys.readouterr().err


def test_a_million_spaces_count_on_the_command_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text that crashed tiktoken counts through `llmpresets count`."""
    monkeypatch.setattr("sys.stdin", io.StringIO("x" + " " * 1_100_000 + "y"))
    assert main(["count", "-", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["tokens"] > 0


def test_ctrl_c_while_commands_load_is_exit_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT while the command modules import: exit 130, nothing printed."""

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert main(["presets"]) == EXIT_INTERRUPTED
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_ctrl_c_mid_command_is_exit_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT while a command runs (e.g. mid-stream): exit 130, no traceback."""

    class Interrupting(io.StringIO):
        def read(self, size: int | None = -1) -> str:
            raise KeyboardInterrupt

    monkeypatch.setattr("sys.stdin", Interrupting())
    assert main(["count", "-"]) == EXIT_INTERRUPTED
    assert "Traceback" not in capsys.readouterr().err


def test_an_unexpected_error_is_one_line_unless_debugging(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug surfaces as one 'internal error' line (exit 1); LLMPRESETS_DEBUG=1 re-raises."""
    from llmpresets.cli import _config_cmds

    def broken(*args: object, **kwargs: object) -> None:
        raise AttributeError("boom")

    monkeypatch.setattr(_config_cmds, "load_book", broken)
    monkeypatch.delenv("LLMPRESETS_DEBUG", raising=False)
    assert main(["presets"]) == EXIT_ERROR
    assert "internal error: AttributeError: boom" in capsys.readouterr().err
    monkeypatch.setenv("LLMPRESETS_DEBUG", "1")
    with pytest.raises(AttributeError):
        main(["presets"])


@pytest.mark.parametrize(
    "argv",
    [["count", "a\x00b"], ["validate", "a\x00b"], ["presets", "--config", "a\x00b"]],
)
def test_a_nul_byte_in_a_file_name_is_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A file name with a NUL byte is a usage error naming it (a fuzz find: it was ValueError)."""
    assert main(argv) == EXIT_USAGE
    assert "not a valid file name" in capsys.readouterr().err

"""The command line as a whole: every command has help with an example; exit codes hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmpresets.cli import main

COMMANDS = ["presets", "validate", "schema", "count", "run", "explain", "train"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`llmpresets COMMAND --help` exits 0 and shows at least one example invocation."""
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example" in out.lower() and f"llmpresets {command}" in out


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """`llmpresets --help` lists all commands."""
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Running with no command is a usage error that shows the help."""
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in the command name is a usage error."""
    assert main(["presest"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`schema` prints a parsable JSON Schema."""
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"].startswith("llmpresets")


def test_output_pipes_into_a_closed_reader() -> None:
    """`llmpresets schema | head -1` ends quietly: no BrokenPipeError traceback."""
    producer = subprocess.Popen(
        [sys.executable, "-m", "llmpresets", "schema"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert producer.stdout is not None
    producer.stdout.readline()
    producer.stdout.close()
    _, err = producer.communicate(timeout=60)
    assert b"Traceback" not in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version."""
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("llmpresets 0.")

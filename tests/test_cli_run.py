"""`llmpresets run`, driven as a user would: offline without a key, JSON, stdin, errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from llmpresets.cli import main


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """These runs must go offline: no key in the environment."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("LLMPRESETS_OFFLINE", raising=False)


def test_run_without_a_key_goes_offline_with_a_notice(capsys: pytest.CaptureFixture[str]) -> None:
    """No key: one notice line on stderr, the reply on stdout, exit 0."""
    assert main(["run", "Write a function that adds two numbers", "-u", "code", "--seed", "1"]) == 0
    out, err = capsys.readouterr()
    assert out.strip()
    assert "no OPENAI_API_KEY set; running offline" in err
    assert "[code · gpt-4o · temperature=0.2" in err


def test_run_json_is_parsable_and_carries_params(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the result with the parameters actually sent and the usage."""
    assert main(["run", "Hello there", "--json", "--seed", "2", "--temperature", "0.5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["offline"] is True and data["params"]["temperature"] == 0.5
    assert data["usage"]["total_tokens"] == (
        data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    )
    assert data["budget"]["prompt_tokens"] == data["usage"]["prompt_tokens"]


def test_same_seed_same_reply(capsys: pytest.CaptureFixture[str]) -> None:
    """A seed makes a run repeatable; streaming prints the same text."""
    main(["run", "Tell me a story", "-u", "creative", "--seed", "5"])
    first = capsys.readouterr().out
    main(["run", "Tell me a story", "-u", "creative", "--seed", "5", "--stream"])
    assert capsys.readouterr().out == first


def test_prompt_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-` reads the prompt from stdin."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("What is the capital of France?"))
    assert main(["run", "-", "-u", "factual", "--json", "--seed", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["use_case"] == "factual"


def test_compare_runs_every_preset(capsys: pytest.CaptureFixture[str]) -> None:
    """--compare shows each preset with its samples; --json gives distinct counts."""
    assert (
        main(["run", "Ideas for a picnic", "--compare", "--samples", "2", "--seed", "1", "--json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert set(data["presets"]) == {"brainstorm", "chat", "code", "creative", "factual"}
    assert all(len(entry["texts"]) == 2 for entry in data["presets"].values())
    assert main(["run", "Ideas for a picnic", "--compare", "--samples", "2", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.index("== code") < out.index("== brainstorm")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "hi", "-u", "poetry"], "unknown use case 'poetry'"),
        (["run", "hi", "--temperature", "7"], "temperature"),
        (["run", "   "], "the prompt is empty"),
        (["run", "hi", "--n", "0"], "--n must be at least 1"),
        (["run", "hi", "--temperature", "hot"], "invalid float value"),
        (["run", "hi", "--config", "/nonexistent.yaml"], "no such file"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Usage and configuration errors: exit 2, one clear message, no traceback."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_console_script_runs_as_a_module() -> None:
    """`python -m llmpresets run` works end to end in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-m", "llmpresets", "run", "Say hi", "--seed", "3"],
        capture_output=True,
        text=True,
        env={"PATH": "", "LLMPRESETS_OFFLINE": "1", "HOME": "/tmp"},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() and "Traceback" not in out.stderr


def test_stream_with_several_choices_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """--stream shows one reply: asking for --n 2 as well is a usage error, not a silent drop."""
    assert main(["run", "hi", "--stream", "--n", "2"]) == 2
    assert "drop --n or --stream" in capsys.readouterr().err

"""The README stays true: its commands are CI's, its doctests pass, its pasted output is real."""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_first_two_commands_are_install_and_test_and_ci_runs_them() -> None:
    """README's first command installs and runs the main job, its second tests; CI runs both."""
    install, test = (block.strip() for block in blocks("bash")[:2])
    assert 'pip install ".[dev]"' in install and "llmpresets run" in install
    assert test == "pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install ".[dev]"' in ci
    main_job = install.split("&& ", 3)[-1]
    assert main_job.startswith("llmpresets run") and main_job in ci
    assert re.search(r"^pytest$", ci, flags=re.MULTILINE)


def test_python_examples_in_the_readme_run() -> None:
    """The `>>>` examples in the README produce the output shown."""
    parser = doctest.DocTestParser()
    text = "\n".join(blocks("python"))
    test = parser.get_doctest(text, {}, "README", "README.md", 0)
    assert test.examples
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0


def console_sessions() -> list[tuple[str, str]]:
    sessions = []
    for block in blocks("console"):
        command, _, output = block.partition("\n")
        sessions.append((command.removeprefix("$ ").strip(), output.rstrip("\n")))
    return sessions


@pytest.mark.parametrize(("command", "expected"), console_sessions())
def test_pasted_cli_output_is_what_the_command_prints(command: str, expected: str) -> None:
    """Every `$ llmpresets ...` block shows exactly what the command prints today."""
    args = shlex.split(command)
    quiet = args[-1] == "2>/dev/null"  # the block shows stdout only
    args = args[:-1] if quiet else args
    assert args[0] == "llmpresets"
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "LLMPRESETS_CONFIG")}
    env.update({"NO_COLOR": "1", "COLUMNS": "100"})
    out = subprocess.run(
        [sys.executable, "-m", "llmpresets", *args[1:]],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    shown = (out.stdout if quiet else out.stdout + out.stderr).rstrip("\n")
    assert shown == expected

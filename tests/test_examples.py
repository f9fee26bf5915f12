"""Every example runs offline (no key, no network) and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    "code_completion.py": ["sent: {'model': 'gpt-4o', 'temperature': 0.2", "finish: "],
    "factual_qa.py": ["Q: Who wrote the novel Frankenstein?", "temperature sent: 0.3"],
    "chat_with_history.py": ["history: 82 messages", "fitted:", "budget: Budget(model='gpt-4'"],
    "creative_story.py": ["finish: ", "completion tokens"],
    "brainstorm.py": ["1. ", "4. ", "distinct of 4"],
    "yaml_override.py": [
        "code temperature: 0.2 -> 0.1",
        "'extra_body': {'top_k': 10}",
        "sql reply:",
    ],
    "agent_responses.py": [
        "sent: {'model': 'gpt-5.1', 'reasoning': {'effort': 'low'}",
        'called get_weather({"city":',
        "answer: ",
    ],
    "token_budget.py": ["gpt-4         does not fit", "after truncating the document's middle"],
}


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "LLMPRESETS_CONFIG")}
    env["PYTHONWARNINGS"] = "error"
    return env


def test_every_example_is_covered() -> None:
    """A new example must be added to this test."""
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("test_")}
    assert scripts == set(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs_offline(script: str, tmp_path: Path) -> None:
    """The script exits 0 with no key and prints its promised lines."""
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        env=offline_env(),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    for expected in EXPECTED[script]:
        assert expected in out.stdout, (expected, out.stdout)


def test_application_test_example_passes(tmp_path: Path) -> None:
    """examples/test_my_app.py, the how-to for testing your own code, passes under pytest."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(EXAMPLES / "test_my_app.py"),
        ],
        capture_output=True,
        text=True,
        env=offline_env(),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 passed" in out.stdout


# docs/testing.md's recipes: each is a test file in examples/, run as a user runs it.
# (file, the packages it needs (ecosystem: pip install ".[ecosystem]"), how many tests pass)
RECIPES = [
    ("test_fault_handling.py", (), 4),
    ("test_agent_pydantic_ai.py", ("pydantic_ai",), 4),
    ("test_agent_openai_agents.py", ("agents",), 1),
    ("test_langchain.py", ("langchain_openai",), 3),
    ("test_dspy_serve.py", ("dspy",), 2),
]


def test_every_recipe_is_run() -> None:
    """A new test file in examples/ must be added to RECIPES (or be test_my_app.py)."""
    files = {p.name for p in EXAMPLES.glob("test_*.py")}
    assert files == {name for name, _, _ in RECIPES} | {"test_my_app.py"}


@pytest.mark.parametrize(
    ("recipe", "needs", "count"),
    [
        pytest.param(name, needs, count, marks=[pytest.mark.ecosystem] if needs else [])
        for name, needs, count in RECIPES
    ],
)
def test_recipe_passes(recipe: str, needs: tuple[str, ...], count: int, tmp_path: Path) -> None:
    """Each recipe of docs/testing.md passes under pytest, offline, every test run."""
    for module in needs:
        pytest.importorskip(module)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / recipe)],
        capture_output=True,
        text=True,
        env=offline_env(),
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{count} passed" in out.stdout, out.stdout


@pytest.mark.parametrize(
    ("folder", "passed"),
    [("plain_sdk_app", 3), ("cassette_replay", 2)],
)
def test_intercept_and_cassette_examples_pass(folder: str, passed: int, tmp_path: Path) -> None:
    """examples/plain_sdk_app (an app that builds its own openai.OpenAI(), tested offline with
    no change to it) and examples/cassette_replay (recorded replies replayed, a miss an error)
    pass under pytest with their own pytest.ini, no key and no network."""
    env = {k: v for k, v in offline_env().items() if k != "OPENAI_BASE_URL"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / folder)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{passed} passed" in out.stdout


def test_the_example_cassettes_hold_no_piece_of_the_key() -> None:
    """The key they were recorded with (llmpresets serve --api-key) is nowhere in them."""
    key = "sk-local-demo-9Xc2Vb7Nm4"
    pieces = {key[i : i + 8].lower() for i in range(len(key) - 7)}
    files = sorted((EXAMPLES / "cassette_replay" / "cassettes").rglob("*.yaml"))
    assert len(files) == 2
    for path in files:
        text = path.read_text(encoding="utf-8").lower()
        assert [piece for piece in pieces if piece in text] == [], path

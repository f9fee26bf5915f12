"""``llmpresets explain``: a preset's sampling steps pictured on a next-token distribution."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from llmpresets import sampling
from llmpresets.cli import main

CLASSIC = np.log([0.40, 0.25, 0.18, 0.10, 0.05, 0.02])
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["explain", *argv]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_run(capsys, *argv, "--json"))
    return data


def _fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["explain", *argv]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


def _row(out: str, label: str) -> list[str]:
    """Every row of the picture for a token label, in step order."""
    return [line for line in out.splitlines() if line.startswith(f"{label} ")]


def test_default_pictures_the_chat_preset_on_the_cat(capsys: pytest.CaptureFixture[str]) -> None:
    """No arguments: the chat preset's steps on "The cat", with cuts, kept counts, entropy."""
    out = _run(capsys, "--width", "80")
    assert "Next token after 'The cat'" in out
    assert "use case chat — Natural but focused conversation" in out
    assert "settings: temperature 0.8, top_p 0.9" in out
    titles = re.findall(r"^\d\. .*$", out, flags=re.MULTILINE)
    assert titles == ["1. input (softmax at temperature 1)", "2. temperature 0.8", "3. top_p 0.9"]
    assert "kept 4 of 6, cut 2; entropy 1.98 → 1.76 bits" in out
    assert _row(out, "sat")[0].endswith("40.0%")
    assert _row(out, "flew")[-1].endswith("0% ✗ cut")
    assert "Sampling draws from 4 of 6 tokens; entropy 2.14 → 1.76 bits." in out


def test_use_case_shows_description_and_recommended_ranges(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A use case brings its description, its recommended ranges and every step it turns on
    (temperature 1 changes nothing, so it has no step)."""
    out = _run(capsys, "--use-case", "creative", "--width", "100")
    assert "use case creative — Stories and prose" in out
    assert "recommended: temperature 0.7–1.2, top_p 0.9–0.95, min_p 0.02–0.1" in out
    titles = re.findall(r"^\d\. .*$", out, flags=re.MULTILINE)
    # What run sends to gpt-4o: OpenAI has no min_p, so explain does not apply it either.
    assert titles == ["1. input (softmax at temperature 1)", "2. top_p 0.95"]
    assert "adapted: min_p: OpenAI's API has no min_p" in " ".join(out.split())


def test_explain_applies_what_run_sends_to_the_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """An OpenAI-compatible provider takes min_p; a reasoning model at an effort takes no
    sampling parameter, so explain shows the model's own temperature 1."""
    config = tmp_path / "p.yaml"
    config.write_text("settings:\n  provider: openai-compatible\n", encoding="utf-8")
    out = _run(capsys, "-u", "creative", "--config", str(config), "--width", "100")
    assert "3. min_p 0.05" in out
    out = _run(capsys, "-u", "code", "-m", "gpt-6-sol", "--width", "100")
    assert "settings: temperature 1" in out
    assert "sent to gpt-6-sol: reasoning_effort=medium, verbosity=low" in " ".join(out.split())


def test_flags_override_the_preset_and_say_when_outside_its_range(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--temperature beats the preset's value, and a value outside its range is pointed out."""
    out = _run(capsys, "-u", "creative", "--temperature", "1.5", "--width", "100")
    assert "temperature 1.5 (outside the recommended 0.7–1.2), top_p 0.95" in out
    assert "2. temperature 1.5" in out


def test_values_that_filter_nothing_remove_a_preset_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--top-p 1 and --min-p 0 filter nothing: those steps go; JSON shows them as null."""
    data = _json(capsys, "-u", "creative", "--top-p", "1", "--min-p", "0")
    assert [step["name"] for step in data["steps"]] == ["input"]
    assert data["settings"] == {"temperature": 1.0, "top_k": None, "top_p": None, "min_p": None}


def test_json_numbers_are_the_samplers(capsys: pytest.CaptureFixture[str]) -> None:
    """--json gives each step's numbers, and the last step is sampling.probabilities exactly."""
    data = _json(capsys, "-u", "chat")
    assert data["tokens"] == ["sat", "walked", "jumped", "ran", "flew", "other"]
    assert data["source"]["kind"] == "example"
    last = data["steps"][-1]
    expected = sampling.probabilities(CLASSIC, temperature=0.8, top_p=0.9)
    assert last["probabilities"] == expected.tolist()
    assert last["removed"] == ["flew", "other"]
    assert [step["kept"] for step in data["steps"]] == [6, 6, 4]
    assert data["steps"][0]["entropy_bits"] == pytest.approx(sampling.entropy(np.exp(CLASSIC)))
    assert data["recommended"]["temperature"] == [0.7, 0.9]


def test_probs_explains_your_own_distribution_normalising_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--probs gives the distribution; numbers not summing to 1 are normalised, with a note."""
    out = _run(capsys, "--probs", "yes=6, no=3, maybe=1", "--top-p", "0.8", "--width", "60")
    assert "note: the probabilities summed to 10; normalised to 1" in out
    assert _row(out, "yes")[0].endswith("60.0%")
    assert _row(out, "maybe")[-1].endswith("0% ✗ cut")
    assert "settings: temperature 1, top_p 0.8" in out


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        ("a=0.5,a=0.5", "'a' appears twice"),
        ("a=x,b=1", "'x' is not a number"),
        ("a=-1,b=1", "must be a finite positive number, got -1"),
        ("a=0,b=1", "must be a finite positive number, got 0"),
        ("a=0,b=0", "must be a finite positive number, got 0"),
        ("a=inf,b=1", "must be a finite positive number, got inf"),
        ("a=-inf,b=1", "must be a finite positive number, got -inf"),
        ("a=nan,b=1", "must be a finite positive number, got nan"),
        ("a=1e400,b=1", "1e400 is too large for a float"),
        ("a=1e-400,b=1", "1e-400 is too small for a float"),
        ("a,b=1", "expected NAME=NUMBER"),
        ("=0.5", "expected NAME=NUMBER"),
        (" , ", "no NAME=NUMBER items"),
    ],
)
def test_bad_probs_is_a_usage_error(
    probs: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed --probs exits 2 with a message saying what is wrong."""
    err = _fails(capsys, "--probs", probs)
    assert "--probs" in err and message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--top-p", "1.5"], "--top-p: top_p: 1.5 is out of range; allowed: 0 < top_p ≤ 1"),
        (["--top-p", "0"], "--top-p: top_p: 0.0 is out of range; allowed: 0 < top_p ≤ 1"),
        (["--min-p", "-0.1"], "--min-p: min_p: -0.1 is out of range; allowed: 0 ≤ min_p ≤ 1"),
        (["--min-p", "1.5"], "allowed: 0 ≤ min_p ≤ 1 (or omit --min-p)"),
        (["--temperature", "-1"], "allowed: 0 ≤ temperature ≤ 2 (or omit --temperature)"),
        (["--temperature", "2.5"], "--temperature: temperature: 2.5 is out of range"),
        (["--top-k", "0"], "--top-k: top_k: 0 is out of range; allowed: top_k ≥ 1"),
        (["--top-k", "-3"], "--top-k: top_k: -3 is out of range; allowed: top_k ≥ 1"),
        (["--top-k", "2.5"], "expected a whole number"),
        (["--temperature", "nan"], "expected a finite number"),
        (["--use-case", "nope"], "unknown use case 'nope'"),
        (["--width", "30"], "--width must be from 40 to 400, got 30"),
        (["--width", "1000000"], "--width must be from 40 to 400, got 1000000"),
        (["--probs", "a=1", "--prompt", "hi"], "not allowed with argument"),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value),
)
def test_bad_options_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Out-of-range settings and conflicting options exit 2 with a clear message."""
    assert message in _fails(capsys, *argv)


def test_top_k_zero_is_refused_like_run_refuses_it(capsys: pytest.CaptureFixture[str]) -> None:
    """explain takes the library's per-call ranges: --top-k 0 exits 2 for explain as for run."""
    err = _fails(capsys, "--top-k", "0")
    assert err.startswith("llmpresets: error: --top-k: top_k: 0 is out of range")
    assert err.count("\n") == 1
    assert main(["run", "hi", "--offline", "--top-k", "0"]) == 2
    assert "top_k" in capsys.readouterr().err


def test_huge_finite_weights_are_normalised(capsys: pytest.CaptureFixture[str]) -> None:
    """Weights whose sum overflows a float (1e308 + 1e308) are still normalised: 50% each,
    with a note, and the JSON "sum" is null rather than Infinity."""
    out = _run(capsys, "--probs", "a=1e308,b=1e308", "--width", "100")
    assert "note: the numbers sum past the largest float; normalised to 1" in out
    assert _row(out, "a")[0].endswith("50.0%") and _row(out, "b")[0].endswith("50.0%")
    text = _run(capsys, "--probs", "a=1e308,b=1e308", "--json")
    data = json.loads(text, parse_constant=lambda name: pytest.fail(f"JSON has {name}"))
    assert data["source"]["sum"] is None
    assert data["steps"][0]["probabilities"] == [0.5, 0.5]


def test_weights_far_apart_give_no_warning(capsys: pytest.CaptureFixture[str]) -> None:
    """A weight vanishing next to another (1e-308 beside 1e308) is shown as 0%, with no
    numpy warning on stderr."""
    out = _run(capsys, "--probs", "a=1e308,b=1e-308", "--width", "60")
    assert _row(out, "a")[0].endswith("100.0%")
    assert _row(out, "b")[0].endswith(" 0%")


def test_one_token_is_singular(capsys: pytest.CaptureFixture[str]) -> None:
    """A one-token distribution reads "1 token", not "1 tokens"."""
    out = _run(capsys, "--probs", "only=1", "--width", "60")
    assert "1 token, entropy 0.00 bits" in out
    assert "Sampling draws from 1 of 1 token;" in out
    assert "1 tokens" not in out


def test_greedy_temperature_keeps_only_the_best_token(capsys: pytest.CaptureFixture[str]) -> None:
    """--temperature 0 is greedy: the step says so and keeps one token."""
    out = _run(capsys, "--temperature", "0", "--width", "80")
    assert "2. temperature 0 (greedy)" in out
    assert "Sampling draws from 1 of 6 tokens" in out


def test_big_vocabulary_shows_twelve_rows_and_an_others_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Past 12 tokens the rest are summed in one "(N others)" row per step."""
    probs = ",".join(f"t{i}={20 - i}" for i in range(20))
    out = _run(capsys, "--probs", probs, "--top-k", "5", "--width", "80")
    step = out.split("1. input")[1].split("2. top_k")[0]
    rows = [line for line in step.splitlines() if "%" in line]
    assert len(rows) == 13
    assert rows[-1].startswith("(8 others)")
    assert _row(out, "(8 others)")[-1].endswith("0% ✗ cut")


@pytest.mark.parametrize("width", [40, 57, 120])
def test_every_line_fits_the_width(width: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Down to 40 columns, nothing spills: headers wrap, labels shorten, bars shrink."""
    probs = ",".join(f"a-rather-long-token-{i}={i + 1}" for i in range(15))
    for argv in (["-u", "creative"], ["--probs", probs, "--min-p", "0.5"]):
        out = _run(capsys, *argv, "--width", str(width))
        assert max(len(line) for line in out.splitlines()) <= width


def test_bars_are_sized_to_the_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --width the terminal's columns are used."""
    for columns in (70, 120):
        monkeypatch.setenv("COLUMNS", str(columns))
        out = _run(capsys)
        assert columns - 6 <= max(len(line) for line in out.splitlines()) <= columns


def test_a_very_wide_terminal_is_capped_at_400_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A terminal of 5,000 columns gets a 400-column picture, not 5,000-cell bars."""
    monkeypatch.setenv("COLUMNS", "5000")
    out = _run(capsys)
    assert 390 <= max(len(line) for line in out.splitlines()) <= 400


def test_no_colour_when_output_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """Piped or captured output carries no ANSI escape codes."""
    assert not ANSI.search(_run(capsys, "-u", "creative"))


def test_no_color_is_respected_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a terminal the picture is coloured, unless NO_COLOR is set."""
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = _run(capsys, "--width", "60")
    assert ANSI.search(coloured)
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _run(capsys, "--width", "60")
    assert not ANSI.search(plain)
    assert plain == ANSI.sub("", coloured)


def test_prompt_uses_the_offline_models_next_token_distribution(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--prompt pictures the offline model's first reply token, over its whole vocabulary."""
    from llmpresets.offline import next_token_distribution

    out = _run(capsys, "-u", "code", "--prompt", "Write a Python function", "--width", "80")
    assert "First reply token to 'Write a Python function' (offline model, gpt-4o)" in out
    assert _row(out, "def")
    data = _json(capsys, "-u", "code", "--prompt", "Write a Python function")
    pairs = next_token_distribution("Write a Python function", top=None)
    assert data["tokens"] == [token for token, _ in pairs]
    assert data["steps"][0]["probabilities"] == pytest.approx([p for _, p in pairs], rel=1e-12)
    assert data["steps"][-1]["kept"] >= 1

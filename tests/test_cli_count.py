"""``llmpresets count``: tokens of a text or chat request against the model's limits."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from llmpresets import count_message_tokens, count_tokens
from llmpresets.cli import main
from llmpresets.tokens import fit as _fit

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What's the weather in Paris?"},
]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def _json_out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert main(argv) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_counts_a_text_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A text file: its token count, the model's limits, percent used and what remains."""
    path = tmp_path / "note.txt"
    path.write_text("hello world", encoding="utf-8")

    assert main(["count", str(path), "--model", "gpt-4o"]) == 0
    out = capsys.readouterr().out
    assert "gpt-4o (o200k_base)" in out
    assert "tokens     2\n" in out
    assert "context window 128,000, max input 128,000, max output 16,384" in out
    assert "of the 127,999-token prompt limit" in out
    assert "127,997 prompt tokens (16,384 kept for output)" in out


def test_reads_standard_input_without_a_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no FILE and piped input, stdin is counted."""
    _stdin(monkeypatch, "tiktoken is great!")

    assert _json_out(capsys, ["count", "--json", "--model", "gpt-4"])["tokens"] == 6


def test_dash_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """FILE '-' reads stdin too."""
    _stdin(monkeypatch, "hello world")

    assert _json_out(capsys, ["count", "-", "--json"])["tokens"] == 2


def test_default_model_comes_from_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --model the configured default model (gpt-4o) is used."""
    _stdin(monkeypatch, "hello")

    assert _json_out(capsys, ["count", "--json"])["model"] == "gpt-4o"


def test_messages_list_is_counted_with_chat_framing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--messages with a JSON list counts exactly what count_message_tokens counts."""
    _stdin(monkeypatch, json.dumps(CHAT))

    result = _json_out(capsys, ["count", "--messages", "--json", "--model", "gpt-4o"])
    assert result["tokens"] == count_message_tokens(CHAT, "gpt-4o")
    assert result["messages"] == 2


def test_messages_object_with_tools(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """{"messages": [...], "tools": [...]} counts the tools as well."""
    _stdin(monkeypatch, json.dumps({"messages": CHAT, "tools": [TOOL]}))

    result = _json_out(capsys, ["count", "--messages", "--json", "--model", "gpt-4"])
    assert result["tokens"] == count_message_tokens(CHAT, "gpt-4", tools=[TOOL])


def test_request_body_supplies_model_and_output_limit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A whole request body: its model and max_completion_tokens are used."""
    body = {"model": "gpt-5", "messages": CHAT, "max_completion_tokens": 2000}
    _stdin(monkeypatch, json.dumps(body))

    result = _json_out(capsys, ["count", "--messages", "--json"])
    assert (result["model"], result["reserved_output_tokens"]) == ("gpt-5", 2000)
    assert result["prompt_limit"] == 272000


def test_json_output_fields(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints every number a script needs."""
    _stdin(monkeypatch, "hello world")

    result = _json_out(
        capsys, ["count", "--json", "--model", "gpt-4o", "--max-output-tokens", "1000"]
    )
    assert result == {
        "model": "gpt-4o",
        "encoding": "o200k_base",
        "tokens": 2,
        "exact": True,
        "messages": None,
        "context_window": 128000,
        "max_input_tokens": 128000,
        "max_output_tokens": 16384,
        "reserved_output_tokens": 1000,
        "prompt_limit": 127000,
        "remaining": 126998,
        "percent_used": 0.0,
        "fits": True,
        "input_cost_usd": 2 * 2.5 / 1_000_000,  # gpt-4o: $2.50 per 1M input tokens
    }


def test_over_the_limit_exits_1_and_says_by_how_much(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Input that does not fit the model exits 1 and shows the overflow."""
    text = " hello" * 9000
    _stdin(monkeypatch, text)

    assert main(["count", "--model", "gpt-4"]) == 1
    over = count_tokens(text, "gpt-4") - 8191
    assert f"over the limit by {over:,} tokens" in capsys.readouterr().out


def test_unknown_model_prints_a_note_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown model is counted; its limits are unknown and stderr says how to declare it."""
    monkeypatch.setattr(_fit, "_warned_models", set())
    _stdin(monkeypatch, "hello world")

    assert main(["count", "--model", "cli-unknown-model"]) == 0
    captured = capsys.readouterr()
    assert "context window unknown" in captured.out
    assert "llmpresets: warning: model 'cli-unknown-model' is not in the model registry" in (
        captured.err
    )
    assert "models:\n  cli-unknown-model:" in captured.err


def test_invalid_json_exits_2_with_line_and_column(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad JSON: one line naming the source, line and column; no traceback."""
    _stdin(monkeypatch, '[\n  {"role": "user",, "content": "hi"}\n]')

    assert main(["count", "--messages"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmpresets: error: <stdin>: invalid JSON at line 2, column 19")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ('{"role": "user"}', 'expected a list of messages or an object with "messages"'),
        ('{"messages": {}}', '"messages" must be a list'),
        ('{"messages": [], "tools": {}}', '"tools" must be a list'),
        ('[{"role": "user", "content": 5}]', "message 0: 'content' must be a string"),
        ('[{"role": "user", "content": "hi"}, {"content": "x"}]', "message 1: missing 'role'"),
    ],
)
def test_bad_message_shape_exits_2(
    payload: str,
    error: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wrong shape names the file, the message and the field, and exits 2."""
    path = tmp_path / "chat.json"
    path.write_text(payload, encoding="utf-8")

    assert main(["count", str(path), "--messages"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"llmpresets: error: {path}: ")
    assert error in err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown file is a one-line error, exit 2."""
    missing = tmp_path / "nope.txt"

    assert main(["count", str(missing)]) == 2
    assert capsys.readouterr().err == f"llmpresets: error: {missing}: no such file\n"


def test_no_input_on_a_terminal_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No FILE and stdin is a terminal: say how to give input instead of waiting."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())

    assert main(["count"]) == 2
    assert "no input" in capsys.readouterr().err


def test_bad_output_limit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--max-output-tokens must be a whole number >= 1."""
    assert main(["count", "-", "--max-output-tokens", "0"]) == 2
    assert "must be at least 1" in capsys.readouterr().err


def _strict_json(text: str) -> dict[str, Any]:
    """Parse JSON as the standard defines it: Infinity and NaN are not JSON."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"not JSON: {name}")

    result: dict[str, Any] = json.loads(text, parse_constant=refuse)
    return result


@pytest.mark.parametrize(("reserved", "verb"), [("9000", "exceed"), ("8192", "fill")])
def test_output_reserved_past_the_window_says_there_is_no_room(
    reserved: str,
    verb: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Reserving the whole window (or more) for output: one line says no prompt can fit, with
    the numbers; exit 1; no "inf%" and no negative limit."""
    _stdin(monkeypatch, json.dumps(CHAT))

    argv = ["count", "--messages", "--model", "gpt-4", "--max-output-tokens", reserved]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert (
        f"none: the {int(reserved):,} tokens reserved for output {verb} the 8,192-token "
        "context window, leaving no room for a prompt"
    ) in out
    assert "inf%" not in out and "used" not in out
    assert not re.search(r"-\d", out.replace("gpt-4", ""))


def test_output_reserved_over_the_models_max_output_is_noted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output reservation above the model's max output gets a note row."""
    _stdin(monkeypatch, "hi")

    main(["count", "--model", "gpt-4", "--max-output-tokens", "9000"])
    assert "note       9,000 reserved for output is over gpt-4's max output" in (
        capsys.readouterr().out
    )


def test_no_room_json_is_valid_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json with no room for a prompt: strict JSON (no Infinity), prompt_limit 0, remaining
    minus the prompt, percent_used null, fits false; exit 1."""
    _stdin(monkeypatch, json.dumps(CHAT))

    argv = ["count", "--messages", "--json", "--model", "gpt-4", "--max-output-tokens", "9000"]
    assert main(argv) == 1
    result = _strict_json(capsys.readouterr().out)
    tokens = count_message_tokens(CHAT, "gpt-4")
    assert (result["prompt_limit"], result["remaining"]) == (0, -tokens)
    assert (result["percent_used"], result["fits"]) == (None, False)
    assert result["reserved_output_tokens"] == 9000


def test_one_message_is_singular(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One message reads "in 1 message", not "in 1 messages"."""
    _stdin(monkeypatch, json.dumps(CHAT[:1]))

    assert main(["count", "--messages", "--model", "gpt-4o"]) == 0
    out = capsys.readouterr().out
    assert " in 1 message\n" in out


def test_over_by_one_token_is_singular(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A prompt one token over the limit reads "over the limit by 1 token"."""
    text = "hello world"  # 2 tokens
    _stdin(monkeypatch, text)

    assert main(["count", "--model", "gpt-4", "--max-output-tokens", "8191"]) == 1
    assert "none: over the limit by 1 token\n" in capsys.readouterr().out

"""Presets: layering (one test per pair of layers) and every class of bad configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import llmpresets
from llmpresets import ConfigError, UnknownPresetError, load_presets, resolve_params
from llmpresets.cli import main
from llmpresets.config.presets import config_json_schema, packaged_presets_path

USE_CASES = ["brainstorm", "chat", "code", "creative", "factual"]


def write(tmp_path: Path, text: str, name: str = "user.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests here choose their layers explicitly: no $LLMPRESETS_CONFIG, no ./presets.yaml."""
    monkeypatch.delenv("LLMPRESETS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


# --------------------------------------------------------------------------- defaults


def test_defaults_define_the_five_use_cases() -> None:
    """The packaged file has exactly the five documented use cases, each described."""
    book = load_presets()
    assert book.names() == USE_CASES
    assert all(book[name].description for name in USE_CASES)


@pytest.mark.parametrize(
    ("use_case", "low", "high"),
    [
        ("code", 0.1, 0.3),
        ("factual", 0.1, 0.5),
        ("chat", 0.7, 0.9),
        ("creative", 0.7, 1.2),
        ("brainstorm", 1.2, 2.0),
    ],
)
def test_default_temperatures_sit_in_the_design_ranges(
    use_case: str, low: float, high: float
) -> None:
    """Each default temperature lies in DESIGN §4's range and the file records that range."""
    preset = load_presets()[use_case]
    assert preset.temperature is not None
    assert low <= preset.temperature <= high
    assert preset.recommended["temperature"] == [low, high]


def test_packaged_file_is_found_and_valid() -> None:
    """The packaged presets.yaml exists where the loader looks and validates on its own."""
    path = packaged_presets_path()
    assert path.name == "presets.yaml"
    assert main(["validate", str(path)]) == 0


# --------------------------------------------------------------------------- layering


def test_user_file_overrides_one_field_and_keeps_the_rest(tmp_path: Path) -> None:
    """packaged < user file: one field of one preset changes; its siblings stay packaged."""
    path = write(tmp_path, "presets:\n  code:\n    temperature: 0.1\n")
    book = load_presets(path)
    assert book["code"].temperature == 0.1
    assert book["code"].top_p == load_presets()["code"].top_p
    assert book["chat"] == load_presets()["chat"]


def test_call_override_beats_user_file(tmp_path: Path) -> None:
    """user file < per-call override."""
    book = load_presets(write(tmp_path, "presets:\n  chat:\n    temperature: 0.75\n"))
    assert resolve_params("chat", "gpt-4o", config=book)["temperature"] == 0.75
    assert resolve_params("chat", "gpt-4o", config=book, temperature=0.5)["temperature"] == 0.5


def test_call_override_beats_packaged_default() -> None:
    """packaged < per-call override, and None removes the parameter."""
    assert resolve_params("chat", "gpt-4o", top_p=0.5)["top_p"] == 0.5
    assert "top_p" not in resolve_params("chat", "gpt-4o", top_p=None)


def test_later_user_file_beats_earlier(tmp_path: Path) -> None:
    """Several user files layer in order: the later one wins, field by field."""
    first = write(tmp_path, "presets:\n  chat:\n    temperature: 0.7\n    top_p: 0.8\n", "a.yaml")
    second = write(tmp_path, "presets:\n  chat:\n    temperature: 0.9\n", "b.yaml")
    book = load_presets([first, second])
    assert (book["chat"].temperature, book["chat"].top_p) == (0.9, 0.8)


def test_env_config_beats_local_presets_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$LLMPRESETS_CONFIG is used instead of ./presets.yaml."""
    write(tmp_path, "presets:\n  chat:\n    temperature: 0.71\n", "presets.yaml")
    assert load_presets()["chat"].temperature == 0.71
    env_file = write(tmp_path, "presets:\n  chat:\n    temperature: 0.72\n", "env.yaml")
    monkeypatch.setenv("LLMPRESETS_CONFIG", str(env_file))
    assert load_presets()["chat"].temperature == 0.72


def test_explicit_path_beats_env_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit path wins over $LLMPRESETS_CONFIG."""
    monkeypatch.setenv(
        "LLMPRESETS_CONFIG", str(write(tmp_path, "presets: {chat: {top_p: 0.7}}", "e.yaml"))
    )
    assert load_presets(write(tmp_path, "presets: {chat: {top_p: 0.6}}"))["chat"].top_p == 0.6


def test_user_file_adds_a_preset_and_models(tmp_path: Path) -> None:
    """A user file may add a preset, add a model and override a model's field."""
    path = write(
        tmp_path,
        "presets:\n  sql:\n    description: SQL\n    temperature: 0\n"
        "models:\n  my-llama:\n    context_window: 8192\n    max_output_tokens: 2048\n"
        "  gpt-4o:\n    max_output_tokens: 4096\n",
    )
    book = load_presets(path)
    assert "sql" in book.names() and book["sql"].temperature == 0
    assert book.model("my-llama").context_window == 8192
    assert book.model("gpt-4o").max_output_tokens == 4096
    assert book.model("gpt-4o").context_window == 128000


def test_null_in_user_file_unsets_a_preset_field(tmp_path: Path) -> None:
    """`top_k: null` removes a packaged value."""
    book = load_presets(write(tmp_path, "presets:\n  code:\n    top_k: null\n"))
    assert book["code"].top_k is None


# --------------------------------------------------------------------------- bad configuration


def error_for(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_presets(path)
    return info.value


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    """A YAML syntax error gives file:line:column."""
    error = error_for(tmp_path, "presets:\n  code:\n    temperature: [0.2\n")
    assert "user.yaml:4:1" in str(error) and "YAML syntax error" in str(error)
    assert error.line == 4


def test_unknown_key_suggests_the_nearest_name(tmp_path: Path) -> None:
    """An unknown key is an error naming the field path, line and the nearest valid name."""
    error = error_for(tmp_path, "presets:\n  code:\n    temprature: 0.3\n")
    message = str(error)
    assert "user.yaml:3" in message
    assert "presets.code.temprature" in message
    assert "did you mean 'temperature'" in message
    assert error.field == "presets.code.temprature"


def test_unknown_top_level_section_lists_valid_ones(tmp_path: Path) -> None:
    """A misspelt section name lists the valid sections."""
    message = str(error_for(tmp_path, "preset:\n  code: {}\n"))
    assert "did you mean 'presets'" in message and "settings" in message


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("temperature", "2.5", "0 ≤ temperature ≤ 2"),
        ("top_p", "0", "0 < top_p ≤ 1"),
        ("top_p", "1.5", "0 < top_p ≤ 1"),
        ("top_k", "0", "top_k ≥ 1"),
        ("min_p", "-0.1", "0 ≤ min_p ≤ 1"),
        ("frequency_penalty", "2.5", "-2 ≤ frequency_penalty ≤ 2"),
        ("presence_penalty", "-3", "-2 ≤ presence_penalty ≤ 2"),
        ("max_output_tokens", "0", "max_output_tokens ≥ 1"),
    ],
)
def test_out_of_range_value_states_the_allowed_range(
    tmp_path: Path, field: str, value: str, allowed: str
) -> None:
    """Each sampling field's range is enforced and quoted in the error, with file and line."""
    message = str(error_for(tmp_path, f"presets:\n  chat:\n    {field}: {value}\n"))
    assert f"user.yaml:3: presets.chat.{field}: {value}" in message
    assert allowed in message


def test_wrong_type_is_an_error_not_a_coercion(tmp_path: Path) -> None:
    """A quoted number is not silently taken as a number."""
    message = str(error_for(tmp_path, "presets:\n  chat:\n    temperature: '0.5'\n"))
    assert "presets.chat.temperature" in message and "str '0.5'" in message


def test_bad_enum_value_lists_allowed_values(tmp_path: Path) -> None:
    """A settings value outside its choices lists them."""
    message = str(error_for(tmp_path, "settings:\n  unsupported_params: loud\n"))
    assert "user.yaml:2: settings.unsupported_params: 'loud'" in message
    assert "'warn', 'error' or 'silent'" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Several problems in one file are all listed, each with its line."""
    message = str(error_for(tmp_path, "presets:\n  chat:\n    temperature: 9\n    top_p: 9\n"))
    assert message.startswith("2 problems:")
    assert "user.yaml:3:" in message and "user.yaml:4:" in message


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    """An empty file is reported, not treated as 'no changes'."""
    assert "the file is empty" in str(error_for(tmp_path, "# only a comment\n"))


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A user file that does not exist is named."""
    with pytest.raises(ConfigError, match="no such file"):
        load_presets(tmp_path / "nope.yaml")


def test_non_mapping_file_is_an_error(tmp_path: Path) -> None:
    """A YAML list at the top level is rejected with what is expected."""
    assert "expected a mapping" in str(error_for(tmp_path, "- a\n- b\n"))


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    """PyYAML would keep the last of two equal keys; we report both lines."""
    message = str(
        error_for(tmp_path, "presets:\n  chat:\n    temperature: 0.7\n    temperature: 0.8\n")
    )
    assert "duplicate key" in message and "line 3" in message


def test_model_limits_must_fit_the_window_after_merging(tmp_path: Path) -> None:
    """A user window smaller than the packaged max output is caught and blamed on the user file."""
    error = error_for(tmp_path, "models:\n  gpt-4o:\n    context_window: 1000\n")
    assert "user.yaml:2" in str(error) and "max_output_tokens (16384)" in str(error)


def test_bad_regex_in_scripted_rule_is_an_error(tmp_path: Path) -> None:
    """Scripted candidates are validated like everything else."""
    message = str(
        error_for(
            tmp_path,
            "offline:\n  scripted:\n    - match: '(['\n      regex: true\n"
            "      completions: [{text: a, probability: 1}]\n",
        )
    )
    assert "offline.scripted.0" in message and "invalid regex" in message


def test_unknown_use_case_lists_valid_names() -> None:
    """At call time, a use case with no preset names the valid ones."""
    with pytest.raises(UnknownPresetError) as info:
        resolve_params("poetry", "gpt-4o")
    assert str(info.value).startswith("unknown use case 'poetry'")
    assert "brainstorm, chat, code, creative, factual" in str(info.value)
    assert isinstance(info.value, KeyError) and isinstance(info.value, llmpresets.LLMPresetsError)


# --------------------------------------------------------------------------- CLI + schema


def test_validate_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`validate` exits 0 for a good file and 2 with the message (no traceback) for a bad one."""
    good = write(tmp_path, "presets:\n  chat:\n    temperature: 0.7\n", "good.yaml")
    assert main(["validate", str(good)]) == 0
    assert "valid" in capsys.readouterr().out
    bad = write(tmp_path, "presets:\n  chat:\n    temperature: 7\n", "bad.yaml")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmpresets: error: ") and "bad.yaml:3" in err
    assert "Traceback" not in err


def test_presets_cli_shows_the_resolved_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`presets --config FILE` shows the layered values; --json is parsable."""
    path = write(tmp_path, "presets:\n  code:\n    temperature: 0.15\n")
    assert main(["presets", "--config", str(path)]) == 0
    table = capsys.readouterr().out
    assert all(name in table for name in USE_CASES) and "0.15" in table
    assert main(["presets", "--config", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["presets"]["code"]["temperature"] == 0.15


def test_schema_describes_the_file() -> None:
    """The published JSON Schema carries the sections and the ranges."""
    schema = config_json_schema()
    assert set(schema["properties"]) == {
        "settings",
        "presets",
        "models",
        "families",
        "offline",
        "out_of_scope",
    }
    preset = schema["$defs"]["PresetFields"]["properties"]
    temperature = preset["temperature"]["anyOf"][0]
    assert (temperature["minimum"], temperature["maximum"]) == (0, 2)
    assert schema["$defs"]["PresetFields"]["additionalProperties"] is False


def test_alias_clash_is_an_error(tmp_path: Path) -> None:
    """An alias may not take another model's name."""
    message = str(error_for(tmp_path, "models:\n  mine:\n    aliases: [gpt-4o]\n"))
    assert "user.yaml:3: models.mine.aliases: 'gpt-4o' is already a model's name" in message


def test_missing_offline_corpus_is_caught_when_loading(tmp_path: Path) -> None:
    """offline.corpus must exist (relative to the file); `validate` says so with the line."""
    message = str(error_for(tmp_path, "offline:\n  corpus: nope.txt\n"))
    assert "user.yaml:2: offline.corpus: 'nope.txt' no such file" in message
    (tmp_path / "mine.txt").write_text("hello\n", encoding="utf-8")
    book = load_presets(write(tmp_path, "offline:\n  corpus: mine.txt\n", "ok.yaml"))
    assert book.offline.corpus == str(tmp_path / "mine.txt")


def test_yaml_number_pitfalls_get_a_hint(tmp_path: Path) -> None:
    """1e-5 (text in YAML 1.1) and a quoted number each get a hint that fixes them."""
    message = str(error_for(tmp_path, "presets:\n  code:\n    temperature: 1e-5\n"))
    assert "YAML reads 1e-5 as text; write 1.0e-5" in message
    message = str(error_for(tmp_path, "presets:\n  code:\n    temperature: '0.5'\n"))
    assert "remove the quotes" in message


def test_empty_preset_entry_says_it_is_empty(tmp_path: Path) -> None:
    """`chat:` with nothing under it is reported in plain words."""
    message = str(error_for(tmp_path, "presets:\n  chat:\n"))
    assert "presets.chat: is empty; expected a mapping" in message

"""Presets files: bounded reading (size, depth, aliases, numbers) and meanings checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmpresets import ConfigError, load_presets
from llmpresets.config import yaml_file as _yaml


def write(tmp_path: Path, text: str, name: str = "presets.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path | str, match: str) -> ConfigError:
    with pytest.raises(ConfigError, match=match) as caught:
        load_presets(path)
    return caught.value


# --------------------------------------------------------------------------- bounds


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """Nine levels of nine aliases (387 million values) stop at the expansion bound."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(8):
        prev, name = chr(97 + level), chr(98 + level)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    error = refused(write(tmp_path, "\n".join(lines) + "\n"), "aliases are expanded")
    assert error.file is not None and error.file.endswith("presets.yaml")


def test_ordinary_anchors_still_work(tmp_path: Path) -> None:
    """A few anchors and merges, as users write them, load as before."""
    text = (
        "presets:\n"
        "  code: &base {temperature: 0.2, top_p: 0.1}\n"
        "  strict:\n    <<: *base\n    top_k: 5\n"
    )
    book = load_presets(write(tmp_path, text))
    assert book["strict"].temperature == 0.2 and book["strict"].top_k == 5


@pytest.mark.parametrize(
    "text",
    [
        "presets: " + "[" * 5000 + "]" * 5000 + "\n",
        "presets: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
        "".join("  " * depth + f"k{depth}:\n" for depth in range(300)) + "  " * 300 + "x: 1\n",
    ],
    ids=["flow sequences", "flow mappings", "block mappings"],
)
def test_deep_nesting_is_refused_with_a_line(tmp_path: Path, text: str) -> None:
    """Thousands of nested levels are a ConfigError with a line, not a RecursionError."""
    error = refused(write(tmp_path, text), f"nested more than {_yaml.MAX_DEPTH} levels")
    assert error.line is not None


def test_a_huge_integer_is_refused_with_its_line(tmp_path: Path) -> None:
    """A 5,000-digit number is refused (Python's int limit would raise ValueError)."""
    text = "presets:\n  code:\n    top_k: " + "9" * 5000 + "\n"
    error = refused(write(tmp_path, text), "5000 digits")
    assert error.line == 3


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    """A file past MAX_FILE_BYTES is refused by its size."""
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (_yaml.MAX_FILE_BYTES + 10) + b"\n")
    refused(path, "larger than")


def test_dev_zero_is_refused() -> None:
    """An endless device is not a presets file: refused before any byte is read."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    refused("/dev/zero", "not a regular file")


# --------------------------------------------------------------------------- meanings


@pytest.mark.parametrize(
    ("recommended", "match"),
    [
        ("[.nan, 1.0]", "two finite numbers"),
        ("[0.1, .inf]", "two finite numbers"),
        ("[0.9, 0.1]", "low <= high"),
        ("[0.5, 3.0]", "outside the field's own range"),
        ("[-1, 0.5]", "outside the field's own range"),
        ("[0.5]", r"\[low, high\]"),
    ],
)
def test_recommended_ranges_are_finite_ordered_and_inside_the_field(
    tmp_path: Path, recommended: str, match: str
) -> None:
    """explain shows recommended ranges, so nonsense ones are refused at load."""
    text = f"presets:\n  code:\n    recommended:\n      temperature: {recommended}\n"
    refused(write(tmp_path, text), match)


@pytest.mark.parametrize("alias", ['""', '" "', '"gpt\\u0007x"', '"a b"'])
def test_aliases_must_be_model_names(tmp_path: Path, alias: str) -> None:
    """An empty, blank or control-character alias is refused."""
    text = f"models:\n  my-model:\n    context_window: 1000\n    aliases: [{alias}]\n"
    refused(write(tmp_path, text), "is not a model name")


@pytest.mark.parametrize("name", ['" "', '"\\t"', '"gpt-4o\\n"', '"-x"'])
def test_default_model_must_be_a_model_name(tmp_path: Path, name: str) -> None:
    """A blank default_model would be sent as the model; it is refused at load."""
    refused(write(tmp_path, f"settings:\n  default_model: {name}\n"), "not a model name")


@pytest.mark.parametrize(
    ("filename", "content", "match"),
    [
        ("corpus.txt", b"\x00\x01\x02binary", "NUL bytes"),
        ("corpus.txt", b"caf\xe9 latin-1", "not a UTF-8 text corpus"),
        ("corpus.txt", b"", "empty"),
        ("model.npz", b"not a zip", "not a zip archive"),
        ("model.json", b"\xff\xfe{", "binary, not JSON text"),
    ],
)
def test_a_bad_corpus_is_caught_when_the_file_is_validated(
    tmp_path: Path, filename: str, content: bytes, match: str
) -> None:
    """offline.corpus is checked at load (so `validate` sees it), not at the first run."""
    (tmp_path / filename).write_bytes(content)
    text = f"offline:\n  corpus: {filename}\n"
    error = refused(write(tmp_path, text), match)
    assert error.field == "offline.corpus" and error.line == 2


def test_a_text_corpus_passes(tmp_path: Path) -> None:
    """A UTF-8 text corpus is accepted and made absolute."""
    (tmp_path / "corpus.txt").write_text("# chat\nHello there. How are you?\n")
    book = load_presets(write(tmp_path, "offline:\n  corpus: corpus.txt\n"))
    assert book.offline.corpus == str(tmp_path / "corpus.txt")


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(\\w*x?)*", r"(x)\\1"])
def test_regexes_that_backtrack_exponentially_are_refused_at_load(
    tmp_path: Path, pattern: str
) -> None:
    """Nested repeats and back-references in a scripted regex are refused with its field."""
    text = (
        "offline:\n  scripted:\n"
        f'    - match: "{pattern}"\n      regex: true\n'
        "      completions: [{text: hi, probability: 1.0}]\n"
    )
    refused(write(tmp_path, text), "exponential time")


def test_a_slow_regex_that_passes_the_check_is_stopped_at_match_time() -> None:
    """What the load check cannot see ends with a ConfigError after the time bound."""
    from llmpresets.config.presets import ScriptedCompletion, ScriptedRule

    rule = ScriptedRule(
        match=r"(a|aa)+$",
        regex=True,
        completions=[ScriptedCompletion(text="hi", probability=1.0)],
    )
    assert rule.matches("aaa")
    with pytest.raises(ConfigError, match="took more than"):
        rule.matches("a" * 60 + "b")


def test_control_characters_are_a_config_error(tmp_path: Path) -> None:
    """YAML's reader refuses control characters: a ConfigError, not a ReaderError (fuzz find)."""
    refused(write(tmp_path, "\x1fpresets:\n"), "YAML error")


def test_packaged_file_fast_path_matches_the_checked_loader() -> None:
    """libyaml's parse of the packaged file gives the same data and the same line map."""
    from llmpresets.config.presets import packaged_presets_path
    from llmpresets.config.yaml_file import load_yaml_file

    path = packaged_presets_path()
    assert load_yaml_file(path, packaged=True) == load_yaml_file(path)


def test_packaged_fast_path_falls_back_to_the_exact_checked_error() -> None:
    """Anything libyaml refuses, or a duplicate key, is reported by the checked loader."""
    from llmpresets.config.yaml_file import load_yaml_text

    for text in ("a: 1\na: 2\n", "a: [1, 2\n", "x: " + "[" * 70 + "]" * 70 + "\n"):
        with pytest.raises(ConfigError) as fast:
            load_yaml_text(text, "f.yaml", packaged=True)
        with pytest.raises(ConfigError) as checked:
            load_yaml_text(text, "f.yaml")
        assert str(fast.value) == str(checked.value)

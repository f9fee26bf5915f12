"""The public face: __all__ is honest, sorted, lazy, and typed."""

from __future__ import annotations

import importlib.resources
import inspect
import subprocess
import sys

import pytest

import llmpresets

DESIGN_NAMES = {
    "load_presets",
    "PresetBook",
    "Preset",
    "get_model",
    "ModelSpec",
    "resolve_params",
    "count_tokens",
    "count_message_tokens",
    "check_context",
    "fit_messages",
    "Client",
    "AsyncClient",
    "OfflineTransport",
    "sampling",
    "LLMPresetsError",
    "ConfigError",
    "UnknownPresetError",
    "UnknownModelError",
    "ContextWindowExceeded",
    "intercept_openai",
    "Cassette",
}


def test_all_is_sorted_and_every_name_resolves() -> None:
    """Every name in __all__ exists; the list is sorted so diffs stay readable."""
    assert llmpresets.__all__ == sorted(llmpresets.__all__)
    for name in llmpresets.__all__:
        assert getattr(llmpresets, name) is not None, name


def test_design_contract_names_are_public() -> None:
    """DESIGN.md §3's names are all exported."""
    assert set(llmpresets.__all__) >= DESIGN_NAMES


def test_error_tree_matches_the_contract() -> None:
    """ConfigError is a ValueError; the Unknown* errors are KeyErrors; all share one base."""
    assert issubclass(llmpresets.ConfigError, ValueError)
    assert issubclass(llmpresets.UnknownPresetError, KeyError)
    assert issubclass(llmpresets.UnknownModelError, KeyError)
    for name in llmpresets.__all__:
        value = getattr(llmpresets, name)
        is_error = isinstance(value, type) and issubclass(value, Exception)
        if is_error and not issubclass(value, Warning):
            assert issubclass(value, llmpresets.LLMPresetsError), name


def test_import_is_lazy() -> None:
    """`import llmpresets` loads none of openai, numpy, pydantic, httpx2, tiktoken, yaml."""
    code = (
        "import sys, llmpresets; heavy = ('openai', 'numpy', 'pydantic', 'httpx2', 'tiktoken',"
        " 'yaml'); print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_package_is_typed() -> None:
    """py.typed ships, so type checkers use our annotations."""
    assert importlib.resources.files("llmpresets").joinpath("py.typed").is_file()


def test_unknown_attribute_is_an_attribute_error() -> None:
    """A typo in a public name fails like any module attribute."""
    with pytest.raises(AttributeError, match="load_preset"):
        llmpresets.load_preset  # noqa: B018


def test_offline_testing_names_are_public() -> None:
    """DESIGN.md §3 "testing beyond sampling": what a responder gets, answers and raises."""
    import llmpresets.offline as offline

    assert {"OfflineRequest", "ToolCall", "ResponderError"} <= set(offline.__all__)
    assert offline.ToolCall("f", {"a": 1}).arguments == {"a": 1}
    assert "responder" in inspect.signature(offline.OfflineTransport).parameters
    assert issubclass(llmpresets.ModelNameWarning, UserWarning)

"""Model limits across the whole registry: where a model's window holds its output too, the
input cap is what the output leaves of it."""

from __future__ import annotations

import pytest

from llmpresets import get_model, load_presets


def _window_includes_output(name: str) -> bool:
    """GPT-5.x and GPT-6 reasoning models: a 400,000 (or 1,050,000) window that holds the
    reply (reasoning included), so a prompt may use only what the largest reply leaves
    (gpt-5: 272,000 of 400,000). The ``-chat-latest`` aliases are ChatGPT's chat models,
    with a window of their own."""
    spec = get_model(name)
    return (
        name.startswith(("gpt-5", "gpt-6"))
        and not name.endswith("chat-latest")
        and bool(spec.efforts("chat") or spec.efforts("responses"))
    )


MODELS = [name for name in load_presets([]).models if _window_includes_output(name)]


def test_the_class_is_not_empty() -> None:
    """The rule below is checked over a real set of models."""
    assert {"gpt-5", "gpt-5.1", "gpt-5.5", "gpt-6-sol"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_max_input_is_the_window_less_the_max_output(name: str) -> None:
    """max input = window - max output, for every model whose window includes its output."""
    spec = get_model(name)
    assert spec.context_window is not None and spec.max_output_tokens is not None
    assert spec.max_input_tokens == spec.context_window - spec.max_output_tokens


def test_gpt5_takes_272000_input_tokens() -> None:
    """The figure the model page gives."""
    spec = get_model("gpt-5.1")
    assert (spec.context_window, spec.max_input_tokens, spec.max_output_tokens) == (
        400_000,
        272_000,
        128_000,
    )

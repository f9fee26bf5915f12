"""Did you mean: a misspelt model name is named with its likely fix wherever a name is read."""

from __future__ import annotations

import warnings
from typing import Any

import openai
import pytest
from offline_sdk import sdk

import llmpresets
from llmpresets import ModelNameWarning, UnknownModelError
from llmpresets.cli import main
from llmpresets.config.suggest import closest_model
from llmpresets.offline import OfflineTransport

HELLO: Any = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-6-sool", "gpt-6-sol"),  # an extra letter
        ("gtp-4o", "gpt-4o"),  # two letters swapped
        ("GPT-4O", "gpt-4o"),  # only the case differs
        ("gpt4o", "gpt-4o"),  # a missing dash
        ("gpt-6-lunaa", "gpt-6-luna"),
        ("gpt-6.9-sol", None),  # another version, not a typo
        ("gpt-6.3-sol", None),
        ("gpt-7", None),  # too far from anything
        ("claude-opus", None),
    ],
)
def test_closest_model(name: str, expected: str | None) -> None:
    """A small edit away (not only in version numbers): suggested; else nothing."""
    known = llmpresets.load_presets().models
    assert closest_model(name, known) == expected


def test_strict_lookup_names_the_suggestion() -> None:
    """get_model(strict=True): UnknownModelError says which model was probably meant."""
    with pytest.raises(UnknownModelError, match=r"did you mean 'gpt-6-sol'\?") as caught:
        llmpresets.get_model("gpt-6-sool", strict=True)
    assert caught.value.suggestion == "gpt-6-sol"


def test_resolve_params_warns_about_a_typo() -> None:
    """resolve_params of a misspelt name warns ModelNameWarning (and still resolves)."""
    with pytest.warns(ModelNameWarning, match=r"did you mean 'gpt-6-sol'\?"):
        params = llmpresets.resolve_params("chat", "gpt-6-sool", config=llmpresets.load_presets())
    assert params["model"] == "gpt-6-sool"


def test_get_model_warns_about_a_typo() -> None:
    """get_model of a misspelt name warns; the spec takes its family's rules as before."""
    with pytest.warns(ModelNameWarning, match="gpt-6-sol"):
        spec = llmpresets.get_model("gpt-6-sool", config=llmpresets.load_presets())
    assert not spec.known


def test_an_unknown_name_far_from_any_is_quiet() -> None:
    """A new model name that misspells nothing is not a typo: no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        llmpresets.resolve_params("chat", "gpt-7-nova", config=llmpresets.load_presets())


def test_client_warns_with_the_suggestion() -> None:
    """Client(model=...) with a typo: the warning on its first call names the fix."""
    client = llmpresets.Client(model="gpt-6-sool", offline=True, config=llmpresets.load_presets())
    with pytest.warns(UserWarning, match="gpt-6-sol") as caught:
        client.complete("Hi", max_tokens=3)
    assert any(issubclass(w.category, ModelNameWarning) for w in caught)
    client.close()


@pytest.mark.parametrize(
    "argv",
    [
        ["models", "gpt-6-sool"],
        ["presets", "--model", "gpt-6-sool"],
        ["run", "--model", "gpt-6-sool", "--offline", "Hi"],
    ],
)
def test_cli_exits_2_with_the_suggestion(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI refuses a misspelt model (exit 2, no traceback) and names the fix."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "did you mean 'gpt-6-sol'?" in err
    assert "Traceback" not in err


def test_offline_404_names_the_suggestion_after_the_api_wording() -> None:
    """Strict models: the 404 keeps the API's sentence and adds the suggestion after it."""
    client = sdk(OfflineTransport(strict_models=True))
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-6-sool", messages=HELLO)
    assert caught.value.code == "model_not_found"
    assert caught.value.body == {
        "message": "The model `gpt-6-sool` does not exist or you do not have access to it. "
        "Did you mean `gpt-6-sol`?",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }


def test_offline_404_without_a_close_name_is_the_api_wording() -> None:
    """A name close to nothing gets exactly the API's message."""
    client = sdk(OfflineTransport(strict_models=True))
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="my-model", input="Hi")
    assert caught.value.message.endswith(
        "The model `my-model` does not exist or you do not have access to it."
    )


def test_fixtures_refuse_unknown_models_by_default(llm_offline_openai: openai.OpenAI) -> None:
    """The plugin's fixtures use strict model names: a typo fails in the test."""
    with pytest.raises(openai.NotFoundError, match="Did you mean `gpt-6-sol`"):
        llm_offline_openai.chat.completions.create(model="gpt-6-sool", messages=HELLO)


@pytest.mark.llm_strict_models(False)
def test_marker_turns_strict_models_off(llm_offline_openai: openai.OpenAI) -> None:
    """@pytest.mark.llm_strict_models(False): any model name is answered."""
    reply = llm_offline_openai.chat.completions.create(
        model="my-fine-tune", messages=HELLO, max_tokens=3
    )
    assert reply.choices[0].message.content

"""The offline model writes in the style of the request's use case and the prompt's words."""

from __future__ import annotations

import pytest

from llmpresets import Client
from llmpresets.offline import default_language_model


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(offline=True, seed=1, unsupported_params="silent")


def test_prompt_words_shape_the_opening_even_when_inflected(client: Client) -> None:
    """'reverses a string' opens with the corpus's reverse_string: stems count, not just ids."""
    text = client.complete("Write a Python function that reverses a string", use_case="code").text
    assert text.startswith("def reverse_string(")


def test_use_case_settles_an_ambiguous_prompt(client: Client) -> None:
    """A prompt the word classifier reads as factual still gets code under the code preset."""
    text = client.complete(
        "Write a function that checks whether a number is prime", use_case="code"
    ).text
    assert text.startswith("def ")


def test_use_case_is_a_prior_not_an_override(client: Client) -> None:
    """A clear brainstorming prompt stays a list of ideas under the code preset."""
    text = client.complete("Ideas for a team offsite", use_case="code").text
    assert not text.startswith("def ") and "1." in text


def test_section_for_uses_the_style_as_a_head_start() -> None:
    """section_for: the creative use case maps to the stories section."""
    model = default_language_model()
    ids = model.encoding.encode("something")
    assert model.sections[model.section_for(ids, style="creative")].name == "stories"
    assert model.sections[model.section_for([], style="code")].name == "code"

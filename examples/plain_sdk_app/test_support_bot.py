"""Testing an app that builds its own ``openai.OpenAI()``, offline, with no change to it.

``llm_intercept = true`` in this folder's pytest.ini routes every OpenAI client the app builds
(even the one support_bot.py builds at import, during collection) to llmpresets' offline
backend, a fresh seeded one per test; a request that would leave the machine raises instead.
Run: pytest examples/plain_sdk_app
"""

from __future__ import annotations

import httpx2
import openai
import pytest
import support_bot

from llmpresets import NetworkBlockedError
from llmpresets.pytest_plugin import ScriptedCandidates


def test_triage_with_a_scripted_label(llm_scripted: ScriptedCandidates) -> None:
    """Scripted candidates reach the app's own client like the fixtures' clients."""
    llm_scripted.add("charged twice", {"billing": 1.0})
    assert support_bot.triage("I was charged twice this month") == "billing"


def test_a_streamed_draft_is_sampled_offline() -> None:
    """With no script, the offline backend samples a reply, streamed like the API's."""
    draft = support_bot.draft_answer("The export button does nothing")
    assert isinstance(draft, str) and draft.strip()


def test_nothing_leaves_the_machine() -> None:
    """A client with an HTTP client of its own cannot reach the real API from a test."""
    rogue = openai.OpenAI(api_key="sk-real-looking", http_client=httpx2.Client())
    with pytest.raises(NetworkBlockedError, match="would leave this machine"):
        rogue.models.list()

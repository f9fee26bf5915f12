"""Testing a dspy program offline, through a local server (what ``llmpresets serve`` runs).

dspy talks to models through litellm, which takes a base URL rather than an SDK client, so the
offline backend runs behind a real local HTTP server. docs/testing.md walks through it. Needs
``pip install "llmpresets[ecosystem]"``; run: ``pytest examples/test_dspy_serve.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from llmpresets.offline import OfflineApp, OfflineRequest, OfflineTransport, ServerThread

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm: no price download
dspy = pytest.importorskip("dspy")

pytestmark = pytest.mark.ecosystem


class Triage(dspy.Signature):  # type: ignore[misc,name-defined]
    """Sort a support ticket."""

    ticket: str = dspy.InputField()
    category: str = dspy.OutputField(desc="one of: billing, bug, feature, other")


def triage(ticket: str) -> str:
    """The application's dspy program."""
    return str(dspy.Predict(Triage)(ticket=ticket).category)


def label_tickets(request: OfflineRequest) -> str:
    """A responder speaking dspy's ChatAdapter format: each output field under its marker."""
    text = (request.last_user_text or "").lower()
    category = "billing" if "charged" in text else "other"
    return f"[[ ## category ## ]]\n{category}\n\n[[ ## completed ## ]]"


@pytest.fixture
def scripted_server() -> Iterator[str]:
    """A local server (loopback, a free port) answering with the offline backend and a
    responder; the same thing as ``llmpresets serve`` in another process."""
    transport = OfflineTransport(seed=0, responder=label_tickets)
    server = ServerThread(OfflineApp(transport), host="127.0.0.1", port=0)
    server.start()
    yield server.base_url
    server.stop()


def use_server(base_url: str) -> None:
    lm = dspy.LM("openai/gpt-4o", api_base=base_url, api_key="offline", cache=False)
    dspy.configure(lm=lm)


def test_triage_with_a_scripted_server(scripted_server: str) -> None:
    """The responder decides the label; dspy parses it from the reply as it would online."""
    use_server(scripted_server)
    assert triage("I was charged twice this month") == "billing"
    assert triage("The app crashes on start") == "other"


def test_triage_sampled(llm_server_url: str) -> None:
    """Sampled by the plugin's shared server: dspy gets a reply it can parse into the field."""
    use_server(llm_server_url)
    category: Any = triage("I was charged twice this month")
    assert isinstance(category, str)

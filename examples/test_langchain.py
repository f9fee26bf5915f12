"""Testing langchain code offline: a ChatOpenAI over the offline transport.

docs/testing.md walks through it. Needs ``pip install "llmpresets[ecosystem]"``; run:
``pytest examples/test_langchain.py``.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from pydantic import BaseModel, SecretStr

from llmpresets.offline import OfflineRequest, OfflineTransport
from llmpresets.pytest_plugin import OFFLINE_BASE_URL, ScriptedCandidates

pytest.importorskip("langchain_openai")
from langchain_openai import ChatOpenAI

pytestmark = pytest.mark.ecosystem


class Person(BaseModel):
    name: str
    age: int


def chat_model(transport: OfflineTransport) -> ChatOpenAI:
    """langchain's ChatOpenAI takes httpx2 clients: give it the test's offline transport."""
    return ChatOpenAI(
        model="gpt-4o",
        api_key=SecretStr("offline"),
        base_url=OFFLINE_BASE_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
        http_async_client=httpx2.AsyncClient(transport=transport),
    )


def test_scripted_answer(
    llm_scripted: ScriptedCandidates, llm_offline_transport: OfflineTransport
) -> None:
    """A scripted rule decides what the chain sees."""
    llm_scripted.add("capital of france", {"Paris.": 1.0})
    reply = chat_model(llm_offline_transport).invoke("What is the capital of France?")
    assert reply.content == "Paris."


def test_structured_output_from_a_responder(llm_offline_transport: OfflineTransport) -> None:
    """with_structured_output: the responder's dict must fit the schema langchain sends."""

    def respond(request: OfflineRequest) -> Any:
        assert request.schema is not None
        return {"name": "Alice", "age": 31}

    llm_offline_transport.responder = respond
    person = chat_model(llm_offline_transport).with_structured_output(Person).invoke("Alice, 31")
    assert person == Person(name="Alice", age=31)


def test_sampled_structured_output_is_valid(llm_offline_transport: OfflineTransport) -> None:
    """Sampled (no script): the constrained decoder still gives a valid Person."""
    person = chat_model(llm_offline_transport).with_structured_output(Person).invoke("Alice is 31.")
    assert isinstance(person, Person)

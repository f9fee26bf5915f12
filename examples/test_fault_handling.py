"""Testing how your code handles a failing API: scripted faults and error answers, offline.

docs/testing.md walks through it. Run: ``pytest examples/test_fault_handling.py``.
"""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest

import llmpresets
from llmpresets import Client
from llmpresets.offline import OfflineRequest, OfflineTransport, ResponderError
from llmpresets.pytest_plugin import OFFLINE_BASE_URL


# ---- the application: retries a flaky API, falls back when it stays down ------------------
def summarise(client: openai.OpenAI, text: str) -> str:
    """Summarise ``text``; on a persistent server error, fall back to its first sentence."""
    try:
        reply = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": f"Summarise: {text}"}],
            max_tokens=30,
        )
    except openai.InternalServerError:
        return text.split(".")[0] + "."
    return reply.choices[0].message.content or ""


def retrying_client(transport: OfflineTransport, retries: int) -> openai.OpenAI:
    """The SDK's own retries, as the app configures them."""
    return openai.OpenAI(
        api_key="offline",
        base_url=OFFLINE_BASE_URL,
        max_retries=retries,
        http_client=httpx2.Client(transport=transport),
    )


# ---- tests ----------------------------------------------------------------------------------
def test_one_rate_limit_is_retried(llm_offline_transport: OfflineTransport) -> None:
    """A 429 with a short Retry-After: the SDK waits, retries, and the app gets its answer."""
    rule = llm_offline_transport.faults.add("rate_limit", times=1, retry_after=0.01)
    summary = summarise(retrying_client(llm_offline_transport, retries=2), "Rain. Then sun.")
    assert summary
    assert llm_offline_transport.faults.fired(rule) == 1


def test_persistent_server_error_falls_back(llm_offline_transport: OfflineTransport) -> None:
    """Every attempt fails with a 500: the app's fallback answers."""
    llm_offline_transport.faults.add("server_error", times=None)
    client = retrying_client(llm_offline_transport, retries=0)
    assert summarise(client, "Rain in the morning. Sun later.") == "Rain in the morning."


def test_a_responder_answers_with_an_api_error(llm_offline_transport: OfflineTransport) -> None:
    """A responder can refuse a request the way the API does (status, message, code)."""

    def refuse_long_inputs(request: OfflineRequest) -> Any:
        if len(request.last_user_text or "") > 40:
            raise ResponderError(400, "Input too long for this test.", code="too_long")
        return None  # let the sampler answer

    llm_offline_transport.responder = refuse_long_inputs
    client = retrying_client(llm_offline_transport, retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        summarise(client, "A very long text " * 5)
    assert caught.value.code == "too_long"
    assert summarise(client, "Short.")


def test_client_translates_the_error(llm_offline_transport: OfflineTransport) -> None:
    """llmpresets.Client turns the SDK's status errors into its own (status code kept)."""
    llm_offline_transport.faults.add("server_error", times=None)
    client = Client(offline=True, transport=llm_offline_transport, max_retries=0)
    with pytest.raises(llmpresets.APIStatusError) as caught:
        client.complete("Hello")
    assert caught.value.status_code == 500

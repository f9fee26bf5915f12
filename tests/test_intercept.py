"""intercept_openai(): clients an app builds itself answer offline; nothing leaves the machine."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from llmpresets import NetworkBlockedError, OfflineTransport, intercept_openai
from llmpresets.offline import make_rule
from llmpresets.testing.intercept import active_transport

pytest_plugins = ["pytester"]

HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]


def _ask(client: openai.OpenAI) -> str:
    reply = client.chat.completions.create(model="gpt-4o", max_tokens=5, messages=HI)
    return reply.choices[0].message.content or ""


def test_a_client_built_inside_answers_offline_with_no_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """openai.OpenAI() with no key and no http_client is answered by the yielded transport."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with intercept_openai(OfflineTransport(seed=0)) as transport:
        assert isinstance(transport, OfflineTransport)
        transport.scripted.append(make_rule("hi", {"Hello from the transport.": 1.0}))
        assert _ask(openai.OpenAI()) == "Hello from the transport."
        assert _ask(openai.OpenAI(api_key="sk-whatever")) == "Hello from the transport."
    assert "OPENAI_API_KEY" not in os.environ  # the placeholder key is gone again


def test_a_client_built_before_the_block_is_routed_while_it_is_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A module-level client (built at import, before the test) is routed at use time."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-built-early")
    client = openai.OpenAI()
    with intercept_openai(OfflineTransport(seed=0)):
        assert _ask(client) != ""
    assert os.environ["OPENAI_API_KEY"] == "sk-built-early"  # a user's key is left alone


def test_async_and_azure_clients_and_streams_answer_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)

    async def stream() -> str:
        client = openai.AsyncOpenAI()
        chunks = await client.chat.completions.create(
            model="gpt-4o",
            max_tokens=5,
            messages=HI,
            stream=True,
        )
        return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])

    with intercept_openai(OfflineTransport(seed=0)):
        assert asyncio.run(stream()) != ""
        azure = openai.AzureOpenAI(
            azure_endpoint="https://example-resource.openai.azure.com", api_version="2024-10-21"
        )
        assert _ask(azure) != ""


def test_a_request_that_would_leave_the_machine_raises_and_is_not_retried() -> None:
    """A client with its own network http_client is refused before any connection."""
    calls: list[str] = []

    def count(request: httpx2.Request) -> None:
        calls.append(str(request.url))

    own = httpx2.Client(event_hooks={"request": [count]})
    client = openai.OpenAI(api_key="sk-x", http_client=own, max_retries=2)
    with intercept_openai(OfflineTransport(seed=0)), pytest.raises(NetworkBlockedError) as err:
        _ask(client)
    assert "POST https://api.openai.com/v1/chat/completions would leave this machine" in str(
        err.value
    )
    assert len(calls) == 1  # raised once, not retried

    async def async_call() -> None:
        aclient = openai.AsyncOpenAI(api_key="sk-x", http_client=httpx2.AsyncClient())
        await aclient.models.list()

    with intercept_openai(OfflineTransport(seed=0)), pytest.raises(NetworkBlockedError):
        asyncio.run(async_call())


def test_loopback_stays_reachable(llm_server_url: str) -> None:
    """A local server (here the plugin's) stays reachable through a client's own http_client."""
    with intercept_openai(OfflineTransport(seed=0)) as transport:
        with openai.OpenAI(
            api_key="x", base_url=llm_server_url, http_client=httpx2.Client()
        ) as direct:
            assert _ask(direct) != ""
        # The SDK's own client is routed whatever its base URL: the transport answers (here
        # with the fault scripted on it), not the server.
        transport.faults.add("server_error", times=1)
        with (
            openai.OpenAI(api_key="x", base_url=llm_server_url, max_retries=0) as sdk,
            pytest.raises(openai.InternalServerError),
        ):
            _ask(sdk)


def test_blocks_nest_and_everything_is_restored_even_on_error() -> None:
    outer, inner = OfflineTransport(seed=0), OfflineTransport(seed=1)
    original = httpx2.HTTPTransport.handle_request

    def fail_inside_inner() -> None:
        with intercept_openai(inner):
            assert active_transport() is inner
            raise RuntimeError("boom")

    with intercept_openai(outer):
        with pytest.raises(RuntimeError):
            fail_inside_inner()
        assert active_transport() is outer
    assert active_transport() is None
    assert httpx2.HTTPTransport.handle_request is original
    assert "_transport_for_url" not in vars(openai.DefaultHttpxClient)


def test_threads_see_the_open_block() -> None:
    """A client used in a worker thread while a block is open is routed as well."""
    seen: list[str] = []
    with intercept_openai(OfflineTransport(seed=0)):
        worker = threading.Thread(target=lambda: seen.append(_ask(openai.OpenAI(api_key="k"))))
        worker.start()
        worker.join()
    assert seen and seen[0] != ""


def test_a_transport_that_is_not_one_is_refused() -> None:
    bad: Any = object()
    with pytest.raises(TypeError, match=r"intercept_openai\(transport=...\)"):
        intercept_openai(bad)


def test_fixture_and_ini_option_in_a_users_suite(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """llm_intercept = true: an app module that builds its client at import is answered
    offline, per test from that test's transport (llm_scripted applies)."""
    pytester.makeini("[pytest]\nllm_intercept = true\n")
    pytester.makepyfile(
        app="""
        import openai

        client = openai.OpenAI()  # built at import, with no key in the environment

        def weather_advice(city):
            reply = client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": f"What should I wear in {city}?"}],
            )
            return reply.choices[0].message.content
        """,
        test_app="""
        import app

        def test_scripted(llm_scripted):
            llm_scripted.add("what should i wear", {"A coat.": 1.0})
            assert app.weather_advice("Oslo") == "A coat."

        def test_sampled():
            assert app.weather_advice("Rome")
        """,
    )
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)

"""Scripted faults, as the real openai SDK's retry, timeout and stream logic sees them.

Each test uses max_retries of 0-2, Retry-After of a few milliseconds and sub-second timeouts,
so the SDK's own backoff is the only wait (about half a second when no Retry-After applies).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from offline_sdk import BASE_URL

from llmpresets import load_presets
from llmpresets.client.loopback import no_proxy_for_loopback
from llmpresets.offline import FaultPlan, OfflineApp, OfflineTransport, ServerThread, make_fault
from llmpresets.offline.faults import FaultKind

MESSAGES: Any = [{"role": "user", "content": "a flaky question"}]


def in_process(transport: OfflineTransport, *, retries: int, timeout: float = 5) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="offline",
        base_url=BASE_URL,
        max_retries=retries,
        timeout=timeout,
        http_client=httpx2.Client(transport=transport),
    )


@pytest.fixture(scope="module", autouse=True)
def _loopback_not_proxied() -> Iterator[None]:
    """The clients here reach their local servers directly, whatever HTTP_PROXY says (as the
    llm_server fixture arranges for its users)."""
    with no_proxy_for_loopback():
        yield


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    thread = ServerThread(OfflineApp(OfflineTransport(seed=0)))
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture(params=["in-process", "server"])
def setup(
    request: pytest.FixtureRequest, server: ServerThread
) -> Iterator[tuple[FaultPlan, object]]:
    """(the fault plan, a factory of SDK clients) through the transport or the real server."""
    if request.param == "in-process":
        transport = OfflineTransport(seed=0)

        def make(retries: int, timeout: float = 5) -> openai.OpenAI:
            return in_process(transport, retries=retries, timeout=timeout)

        yield transport.faults, make
        return
    plan = server.app.transport.faults

    def make_remote(retries: int, timeout: float = 5) -> openai.OpenAI:
        return openai.OpenAI(
            api_key="offline", base_url=server.base_url, max_retries=retries, timeout=timeout
        )

    yield plan, make_remote
    plan.clear()


def ask(client: openai.OpenAI) -> str:
    reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=3)
    return reply.choices[0].message.content or ""


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("rate_limit", openai.RateLimitError),
        ("server_error", openai.InternalServerError),
        ("unavailable", openai.InternalServerError),
    ],
)
def test_status_faults_are_retried_then_succeed(
    setup: tuple[FaultPlan, object], fault: FaultKind, error: type[Exception]
) -> None:
    """Two faults and two retries: the third attempt answers; one retry is not enough."""
    plan, make = setup
    rule = plan.add(fault, match="flaky", times=2, retry_after=0.01)
    assert ask(make(2))  # type: ignore[operator]
    assert plan.fired(rule) == 2
    plan.add(fault, match="flaky", times=2, retry_after=0.01)
    with pytest.raises(error) as caught:
        ask(make(1))  # type: ignore[operator]
    assert caught.value.status_code in (429, 500, 503)  # type: ignore[attr-defined]


def test_rate_limit_carries_retry_after(setup: tuple[FaultPlan, object]) -> None:
    """A 429 has Retry-After (seconds) and retry-after-ms, and the API's error body."""
    plan, make = setup
    plan.add("rate_limit", retry_after=2.5)
    with pytest.raises(openai.RateLimitError) as caught:
        ask(make(0))  # type: ignore[operator]
    response = caught.value.response
    assert response.headers["retry-after"] == "3"
    assert response.headers["retry-after-ms"] == "2500"
    assert caught.value.code == "rate_limit_exceeded"


def test_stall_trips_the_client_timeout_then_the_retry_answers(
    setup: tuple[FaultPlan, object],
) -> None:
    """A stall longer than the read timeout is an APITimeoutError; the SDK's retry succeeds."""
    plan, make = setup
    plan.add("stall", times=1, stall_seconds=30)
    assert ask(make(1, 0.3))  # type: ignore[operator]
    plan.add("stall", times=1, stall_seconds=30)
    with pytest.raises(openai.APITimeoutError):
        ask(make(0, 0.3))  # type: ignore[operator]


def test_reset_is_a_connection_error_and_retried(setup: tuple[FaultPlan, object]) -> None:
    """A dropped connection is an APIConnectionError without retries, and survives one."""
    plan, make = setup
    plan.add("reset", times=1)
    with pytest.raises(openai.APIConnectionError):
        ask(make(0))  # type: ignore[operator]
    plan.add("reset", times=1)
    assert ask(make(1))  # type: ignore[operator]


def test_cut_stream_stops_after_n_events(setup: tuple[FaultPlan, object]) -> None:
    """A cut stream yields its first N chunks, then the reader gets the dropped connection."""
    plan, make = setup
    plan.add("cut_stream", after_events=3)
    client = make(0)  # type: ignore[operator]
    received: list[object] = []
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, max_tokens=20, stream=True
    )
    with pytest.raises((httpx2.RemoteProtocolError, openai.APIConnectionError)):
        received.extend(stream)
    assert len(received) == 3
    # A plain (non-streamed) request does not match a cut_stream rule.
    plan.add("cut_stream", after_events=0)
    assert ask(client)


def test_rules_filter_by_text_and_endpoint() -> None:
    """match and endpoint narrow a rule; times counts only the requests it answered."""
    transport = OfflineTransport(seed=0)
    rule = transport.faults.add("server_error", match="flaky", endpoint="chat/completions")
    client = in_process(transport, retries=0)
    client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "steady"}], max_tokens=2
    )
    client.embeddings.create(model="text-embedding-3-small", input="a flaky text")
    assert transport.faults.fired(rule) == 0
    with pytest.raises(openai.InternalServerError):
        ask(client)
    assert transport.faults.remaining(rule) == 0
    assert ask(client)


def test_faults_from_presets_yaml(tmp_path: Path) -> None:
    """offline.faults in a presets file reaches the transport (and so the server)."""
    path = tmp_path / "presets.yaml"
    path.write_text(
        "offline:\n"
        "  faults:\n"
        "    - {fault: unavailable, match: flaky, times: 1, retry_after: 0.01}\n"
    )
    transport = OfflineTransport(config=load_presets(path))
    assert [rule.fault for rule in transport.faults] == ["unavailable"]
    with pytest.raises(openai.InternalServerError):
        ask(in_process(transport, retries=0))


def test_bad_fault_rules_are_config_errors(tmp_path: Path) -> None:
    """An unknown fault kind or a negative count names the field and what is allowed."""
    from llmpresets import ConfigError

    path = tmp_path / "presets.yaml"
    path.write_text("offline:\n  faults:\n    - {fault: explode}\n")
    with pytest.raises(ConfigError, match=r"offline\.faults\.0\.fault"):
        load_presets(path)
    with pytest.raises(ConfigError, match="times"):
        make_fault("reset", times=0)


def test_regex_rules_match_and_dangerous_patterns_are_refused() -> None:
    """regex: true matches any text of the body; a pattern that backtracks is a ConfigError."""
    from llmpresets import ConfigError

    transport = OfflineTransport(seed=0)
    transport.faults.add("server_error", match=r"fl[a-z]+y", regex=True)
    with pytest.raises(openai.InternalServerError):
        ask(in_process(transport, retries=0))
    with pytest.raises(ConfigError, match="match"):
        make_fault("reset", match=r"(a+)+$", regex=True)
    with pytest.raises(ConfigError, match="regex: true needs a match"):
        make_fault("reset", regex=True)


def test_async_sdk_sees_the_same_faults() -> None:
    """The async entry point injects faults too: retried 429, stall timeout, cut stream."""
    import asyncio

    transport = OfflineTransport(seed=0)
    client = openai.AsyncOpenAI(
        api_key="offline",
        base_url=BASE_URL,
        max_retries=1,
        timeout=0.3,
        http_client=httpx2.AsyncClient(transport=transport),
    )

    async def scenario() -> int:
        transport.faults.add("rate_limit", times=1, retry_after=0.01)
        await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=2)
        transport.faults.add("stall", times=2, stall_seconds=30)
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=2)
        transport.faults.add("cut_stream", after_events=2)
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, max_tokens=10, stream=True
        )
        received: list[object] = []

        async def drain() -> None:
            async for chunk in stream:
                received.append(chunk)

        with pytest.raises((httpx2.RemoteProtocolError, openai.APIConnectionError)):
            await drain()
        return len(received)

    assert asyncio.run(scenario()) == 2

"""Testing a pydantic-ai agent offline: scripted turn by turn, and sampled.

docs/testing.md walks through it. Needs ``pip install "llmpresets[ecosystem]"``; run:
``pytest examples/test_agent_pydantic_ai.py``. The fixtures come from llmpresets' pytest plugin.
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from llmpresets.offline import OfflineRequest, OfflineTransport, ToolCall
from llmpresets.pytest_plugin import ScriptedCandidates

pytest.importorskip("pydantic_ai")
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.usage import UsageLimits

pytestmark = pytest.mark.ecosystem


# ---- the application: a travel agent with two tools --------------------------------------
def travel_agent(client: openai.AsyncOpenAI, log: list[tuple[str, Any]]) -> Agent[None, str]:
    """The app builds its agent around an OpenAI client it is given (tests give an offline one)."""
    model = OpenAIChatModel("gpt-4o", provider=OpenAIProvider(openai_client=client))
    agent = Agent(model, instructions="You help travellers plan their day.")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        log.append(("get_weather", {"city": city}))
        return f"Sunny in {city}, 21 C"

    @agent.tool_plain
    def convert_currency(amount: float, currency: str) -> str:
        """Convert an amount of euros into another currency."""
        log.append(("convert_currency", {"amount": amount, "currency": currency}))
        return f"{amount * 1.1:.2f} {currency}"

    return agent


# ---- a responder scripts the model, turn by turn -------------------------------------------
def weather_then_answer(request: OfflineRequest) -> Any:
    """Turn 0: call get_weather for Lyon; turn 1 (after the tool's result): answer with it."""
    if request.turn == 0:
        return ToolCall("get_weather", {"city": "Lyon"})
    return f"Good news: {request.tool_results[-1]['content']}."


class TestScriptedByAResponder:
    @pytest.fixture
    def llm_responder(self) -> Any:
        """Overriding the plugin's fixture gives every test here this responder."""
        return weather_then_answer

    def test_agent_calls_the_tool_once_and_answers(
        self, llm_offline_async_openai: openai.AsyncOpenAI
    ) -> None:
        """The agent ends in two model turns, the tool got the scripted arguments, and the
        answer is built from the tool's result."""
        log: list[tuple[str, Any]] = []
        agent = travel_agent(llm_offline_async_openai, log)
        result = asyncio.run(agent.run("What's the weather in Lyon?"))
        assert log == [("get_weather", {"city": "Lyon"})]
        assert result.usage.requests == 2
        assert result.output == "Good news: Sunny in Lyon, 21 C."


def test_responder_sees_each_turn(llm_offline_transport: OfflineTransport) -> None:
    """What the responder is asked: the turn, the tools offered, the tool just answered."""
    seen: list[tuple[int, tuple[str, ...], str | None]] = []

    def responder(request: OfflineRequest) -> Any:
        seen.append((request.turn, request.tool_names, request.after_tool))
        return weather_then_answer(request)

    llm_offline_transport.responder = responder
    client = offline_async_client(llm_offline_transport)
    asyncio.run(travel_agent(client, []).run("What's the weather in Lyon?"))
    assert seen == [
        (0, ("get_weather", "convert_currency"), None),
        (1, ("get_weather", "convert_currency"), "get_weather"),
    ]


# ---- or scripted rules: replies in order, no code ------------------------------------------
def test_rule_with_replies_scripts_two_turns(
    llm_scripted: ScriptedCandidates, llm_offline_async_openai: openai.AsyncOpenAI
) -> None:
    """A rule's replies are used in order, one per turn: a call, then the answer."""
    llm_scripted.add(
        "in dollars",
        replies=[ToolCall("convert_currency", {"amount": 20, "currency": "USD"}), "About 22 USD."],
    )
    log: list[tuple[str, Any]] = []
    result = asyncio.run(
        travel_agent(llm_offline_async_openai, log).run("How much is 20 euros in dollars?")
    )
    assert log == [("convert_currency", {"amount": 20.0, "currency": "USD"})]
    assert result.output == "About 22 USD."


# ---- sampled: no script, the offline model decides ----------------------------------------
def test_sampled_agent_ends_within_its_request_limit(
    llm_offline_async_openai: openai.AsyncOpenAI,
) -> None:
    """With no responder the sampler answers: the agent calls a tool, reads the result and
    ends with text well within its request limit (no loop)."""
    log: list[tuple[str, Any]] = []
    agent = travel_agent(llm_offline_async_openai, log)
    result = asyncio.run(
        agent.run("What's the weather in Lyon?", usage_limits=UsageLimits(request_limit=5))
    )
    assert isinstance(result.output, str)
    assert result.output
    assert result.usage.requests <= 3
    assert [name for name, _ in log] in (["get_weather"], [])


def offline_async_client(transport: OfflineTransport) -> openai.AsyncOpenAI:
    """An AsyncOpenAI over ``transport`` (what the llm_offline_async_openai fixture builds)."""
    import httpx2

    return openai.AsyncOpenAI(
        api_key="offline",
        base_url="http://offline.test/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    )

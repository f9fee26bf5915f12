"""Agent and structured-output frameworks run their real code paths offline (no network).

The ``ecosystem`` group: install with ``pip install ".[ecosystem]"`` and run ``pytest -m
ecosystem``; without the packages these tests are skipped. Each framework gets the real openai
SDK over an :class:`~llmpresets.offline.OfflineTransport`, through its chat-completions model
class (pydantic-ai ``OpenAIChatModel``, openai-agents ``OpenAIChatCompletionsModel``,
langchain-openai ``ChatOpenAI``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import openai
import pytest
from pydantic import BaseModel, SecretStr

from llmpresets.offline import OfflineTransport

pytestmark = pytest.mark.ecosystem
BASE_URL = "http://offline.test/v1"
PROMPT = "What's the weather in Paris?"


class Weather(BaseModel):
    city: str
    summary: str


def async_client(seed: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="offline",
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=OfflineTransport(seed=seed)),
    )


def test_pydantic_ai_agent_calls_its_tool_and_returns_the_output_type() -> None:
    """pydantic-ai: an agent with one tool and a structured output type calls the tool, then
    finishes through its output tool with a validated Weather."""
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel("gpt-4o", provider=OpenAIProvider(openai_client=async_client()))
    agent = Agent(model, output_type=Weather)
    calls: list[str] = []

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append(city)
        return f"Sunny in {city}, 21 C"

    result = asyncio.run(agent.run(PROMPT))  # run_sync would leave its event loop open
    assert len(calls) == 1
    assert isinstance(result.output, Weather)


def test_pydantic_ai_runs_are_reproducible_with_a_seeded_transport() -> None:
    """The same seeded transport gives the same agent run."""
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    def run() -> Any:
        model = OpenAIChatModel(
            "gpt-4o", provider=OpenAIProvider(openai_client=async_client(seed=5))
        )
        return asyncio.run(Agent(model, output_type=Weather).run(PROMPT)).output

    assert run() == run()


def test_openai_agents_agent_calls_its_tool_and_returns_the_output_type() -> None:
    """openai-agents: an agent with one function tool and an output type calls the tool, then
    answers with a Weather (structured output on chat completions)."""
    pytest.importorskip("agents")
    from agents import (
        Agent,
        OpenAIChatCompletionsModel,
        Runner,
        function_tool,
        set_tracing_disabled,
    )

    set_tracing_disabled(True)
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append(city)
        return f"Sunny in {city}, 21 C"

    agent = Agent(
        name="weather",
        instructions="Answer questions about the weather.",
        tools=[get_weather],
        output_type=Weather,
        model=OpenAIChatCompletionsModel(model="gpt-4o", openai_client=async_client()),
    )
    result = asyncio.run(Runner.run(agent, PROMPT))
    assert len(calls) == 1
    assert isinstance(result.final_output, Weather)


def chat_openai() -> Any:
    pytest.importorskip("langchain_openai")
    from langchain_openai import ChatOpenAI

    transport = OfflineTransport(seed=0)
    return ChatOpenAI(
        model="gpt-4o",
        api_key=SecretStr("offline"),
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
        http_async_client=httpx2.AsyncClient(transport=transport),
    )


class Person(BaseModel):
    name: str
    age: int


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_langchain_with_structured_output(method: str) -> None:
    """langchain-openai with_structured_output gives a Person (schema or function calling)."""
    llm = chat_openai()
    person = llm.with_structured_output(Person, method=method).invoke("Alice is 31.")
    assert isinstance(person, Person)


def test_langchain_bind_tools_returns_a_tool_call() -> None:
    """langchain-openai bind_tools: the reply carries a tool call with arguments for the tool."""
    pytest.importorskip("langchain_openai")
    from langchain_core.tools import tool

    llm = chat_openai()

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return "Sunny"

    message = llm.bind_tools([get_weather]).invoke(PROMPT)
    (call,) = message.tool_calls
    assert call["name"] == "get_weather" and set(call["args"]) == {"city"}

"""Testing an openai-agents agent offline, scripted by a responder.

docs/testing.md walks through it. Needs ``pip install "llmpresets[ecosystem]"``; run:
``pytest examples/test_agent_openai_agents.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from llmpresets.offline import OfflineRequest, ToolCall

pytest.importorskip("agents")
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)

pytestmark = pytest.mark.ecosystem


class Forecast(BaseModel):
    city: str
    summary: str


def forecaster(client: openai.AsyncOpenAI, log: list[str]) -> Agent[Any]:
    """The application's agent: one tool, a structured output type."""
    set_tracing_disabled(True)  # tracing would upload to OpenAI

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        log.append(city)
        return f"Sunny in {city}, 21 C"

    return Agent(
        name="forecaster",
        instructions="Answer questions about the weather.",
        tools=[get_weather],
        output_type=Forecast,
        model=OpenAIChatCompletionsModel(model="gpt-4o", openai_client=client),
    )


@pytest.fixture
def llm_responder() -> Any:
    """Turn 0: the tool; then the structured answer (a dict: JSON valid for Forecast)."""

    def respond(request: OfflineRequest) -> Any:
        if request.turn == 0:
            return ToolCall("get_weather", {"city": "Oslo"})
        assert request.schema is not None  # the agent asks for its output type's schema
        return {"city": "Oslo", "summary": request.tool_results[-1]["content"]}

    return respond


def test_agent_runs_its_tool_and_returns_the_output_type(
    llm_offline_async_openai: openai.AsyncOpenAI,
) -> None:
    """Two model turns: the call with the scripted city, then a validated Forecast."""
    log: list[str] = []
    result = asyncio.run(Runner.run(forecaster(llm_offline_async_openai, log), "Oslo weather?"))
    assert log == ["Oslo"]
    assert result.final_output == Forecast(city="Oslo", summary="Sunny in Oslo, 21 C")

"""A small tool-using agent on the Responses API: the model calls functions until it can answer.

The loop: send the question with the tools; run every function call the model makes; send the
outputs back (``previous_response_id`` carries the conversation, stored by the API); stop at a
response with no calls. Offline by default (the offline backend calls the tool whose name
matches the question, then answers in text); online when OPENAI_API_KEY is set.

Run: python examples/agent_responses.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from llmpresets import Client

MODEL = "gpt-5.1"


def get_weather(city: str) -> str:
    """A stand-in for a real weather service."""
    return json.dumps({"city": city, "temperature_c": 21, "sky": "sunny"})


TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city's name"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]
FUNCTIONS: dict[str, Callable[..., str]] = {"get_weather": get_weather}


def run_agent(client: Client, question: str, max_turns: int = 4) -> str:
    """Answer ``question``, calling tools as the model asks; return the final text."""
    result = client.respond(
        question,
        use_case="factual",
        instructions="Use the tools to look things up, then answer in one sentence.",
        tools=TOOLS,
    )
    shown = {k: v for k, v in result.params.items() if k not in ("tools", "instructions")}
    print("sent:", shown)
    for turn in range(1, max_turns + 1):
        tokens = result.usage.total_tokens if result.usage else 0
        print(f"turn {turn}: {result.status}, {tokens} tokens, reasoning {result.reasoning_tokens}")
        if not result.function_calls:
            return result.text
        outputs = []
        for call in result.function_calls:
            output = FUNCTIONS[call.name](**json.loads(call.arguments))
            print(f"  called {call.name}({call.arguments}) -> {output}")
            outputs.append(
                {"type": "function_call_output", "call_id": call.call_id, "output": output}
            )
        result = client.respond(
            outputs, use_case="factual", tools=TOOLS, previous_response_id=result.id
        )
    raise RuntimeError(f"no answer after {max_turns} turns")


def main() -> None:
    online = bool(os.environ.get("OPENAI_API_KEY"))
    client = Client(model=MODEL, offline=not online, seed=3)
    answer = run_agent(client, "What's the weather in Paris right now?")
    print("answer:", " ".join(answer.split()))


if __name__ == "__main__":
    main()

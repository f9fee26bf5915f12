"""Type-checked (by mypy --strict, not run): the public API used the way the README shows it."""

from __future__ import annotations

import llmpresets
from llmpresets import (
    Budget,
    ChatResult,
    Client,
    ModelSpec,
    Preset,
    PresetBook,
    ResponseResult,
)


def typed_usage() -> None:
    book: PresetBook = llmpresets.load_presets()
    preset: Preset = book["code"]
    temperature: float | None = preset.temperature
    spec: ModelSpec = llmpresets.get_model("gpt-4o")
    window: int | None = spec.context_window
    params: dict[str, object] = llmpresets.resolve_params("code", "gpt-4o")
    tokens: int = llmpresets.count_tokens("hello", "gpt-4o")
    budget: Budget = llmpresets.check_context([{"role": "user", "content": "hi"}], "gpt-4o")
    client = Client(offline=True, seed=1)
    result: ChatResult = client.complete("hi", use_case="code")
    text: str = result.text
    response: ResponseResult = client.respond("hi", use_case="code")
    cost: float | None = response.cost
    print(temperature, window, params, tokens, budget, text, response.text, cost)


def typed_responder() -> None:
    from llmpresets.offline import OfflineRequest, OfflineTransport, ResponderError, ToolCall

    def respond(request: OfflineRequest) -> str | ToolCall | None:
        if request.turn == 0 and "get_weather" in request.tool_names:
            return ToolCall("get_weather", {"city": "Paris"})
        if request.endpoint == "responses":
            raise ResponderError(400, "not here")
        return None

    transport = OfflineTransport(seed=0, responder=respond)
    transport.responder = None

"""A long chat whose history is fitted to the model's context before each call.

`fit_messages` drops the oldest turns first, keeps the system message and the newest user turn,
and leaves room for the reply. Offline by default; online when OPENAI_API_KEY is set.
Run: python examples/chat_with_history.py
"""

from __future__ import annotations

import os

from llmpresets import Client, count_message_tokens, fit_messages

MODEL = "gpt-4"  # 8,192-token window: small enough that fitting matters


def long_history(turns: int) -> list[dict[str, str]]:
    history = [{"role": "system", "content": "You are a friendly travel assistant."}]
    for turn in range(turns):
        history.append({"role": "user", "content": f"Tell me about city number {turn}. " * 20})
        history.append(
            {"role": "assistant", "content": "It has a river, a market and a museum. " * 20}
        )
    return history


def main() -> None:
    client = Client(
        MODEL, offline=not os.environ.get("OPENAI_API_KEY"), seed=3, unsupported_params="silent"
    )
    history = long_history(40)
    history.append({"role": "user", "content": "Which of them would you visit first?"})
    fitted = fit_messages(history, MODEL, reserve_output_tokens=512)
    print(f"history: {len(history)} messages, {count_message_tokens(history, MODEL)} tokens")
    print(f"fitted:  {len(fitted)} messages, {count_message_tokens(fitted, MODEL)} tokens")
    result = client.chat(fitted, use_case="chat", max_tokens=512)
    print("reply:", result.text)
    print("budget:", result.budget)


if __name__ == "__main__":
    main()

"""Factual Q&A with the `factual` preset and a system message.

Offline by default; online when OPENAI_API_KEY is set.  Run: python examples/factual_qa.py
"""

from __future__ import annotations

import os

from llmpresets import Client

QUESTIONS = [
    "What is the boiling point of water at sea level?",
    "Who wrote the novel Frankenstein?",
]


def main() -> None:
    client = Client(
        offline=not os.environ.get("OPENAI_API_KEY"), seed=2, unsupported_params="silent"
    )
    for question in QUESTIONS:
        result = client.chat(
            [
                {"role": "system", "content": "Answer in one or two sentences."},
                {"role": "user", "content": question},
            ],
            use_case="factual",
        )
        print(f"Q: {question}\nA: {result.text}\n")
    print("temperature sent:", result.params["temperature"])


if __name__ == "__main__":
    main()

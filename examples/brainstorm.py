"""Brainstorming: several choices at once (`n`) with the high-temperature `brainstorm` preset.

Offline by default; online when OPENAI_API_KEY is set.  Run: python examples/brainstorm.py
"""

from __future__ import annotations

import os

from llmpresets import Client


def main() -> None:
    client = Client(
        offline=not os.environ.get("OPENAI_API_KEY"), seed=5, unsupported_params="silent"
    )
    result = client.complete(
        "Brainstorm names for a coffee shop.", use_case="brainstorm", n=4, max_tokens=60
    )
    for index, text in enumerate(result.texts, 1):
        print(f"{index}. {' '.join(text.split())}")
    print(f"-- {len(set(result.texts))} distinct of {len(result.texts)}")


if __name__ == "__main__":
    main()

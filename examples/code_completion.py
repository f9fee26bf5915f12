"""Code completion with the `code` preset (low temperature, narrow nucleus).

Offline by default; online when OPENAI_API_KEY is set.  Run: python examples/code_completion.py
"""

from __future__ import annotations

import os

from llmpresets import Client


def main() -> None:
    client = Client(
        "gpt-4o", offline=not os.environ.get("OPENAI_API_KEY"), seed=1, unsupported_params="silent"
    )
    result = client.complete(
        "Write a Python function that returns the unique items of a list, in order.",
        use_case="code",
    )
    print(result.text)
    print("--")
    print("sent:", result.params)
    usage = result.usage
    assert usage is not None
    print(
        f"finish: {result.finish_reason} | {usage.prompt_tokens} prompt + "
        f"{usage.completion_tokens} completion tokens"
    )


if __name__ == "__main__":
    main()

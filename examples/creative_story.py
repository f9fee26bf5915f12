"""A short story, streamed, with the `creative` preset.

Offline by default; online when OPENAI_API_KEY is set.  Run: python examples/creative_story.py
"""

from __future__ import annotations

import os
import sys

from llmpresets import Client


def main() -> None:
    client = Client(
        offline=not os.environ.get("OPENAI_API_KEY"), seed=4, unsupported_params="silent"
    )
    stream = client.stream(
        [{"role": "user", "content": "Write a short story about a lighthouse keeper."}],
        use_case="creative",
        max_tokens=200,
    )
    for delta in stream:
        sys.stdout.write(delta)
        sys.stdout.flush()
    print("\n--")
    usage = stream.result.usage
    assert usage is not None
    print(
        f"finish: {stream.result.finish_reason} | {usage.prompt_tokens} prompt + "
        f"{usage.completion_tokens} completion tokens"
    )


if __name__ == "__main__":
    main()

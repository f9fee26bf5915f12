"""Layer your own presets.yaml over the packaged defaults, then use it.

See my-presets.yaml beside this file. Offline by default; online when OPENAI_API_KEY is set.
Run: python examples/yaml_override.py
"""

from __future__ import annotations

import os
from pathlib import Path

from llmpresets import Client, load_presets, resolve_params

HERE = Path(__file__).resolve().parent


def main() -> None:
    defaults = load_presets()
    mine = load_presets(HERE / "my-presets.yaml")
    print("code temperature:", defaults["code"].temperature, "->", mine["code"].temperature)
    print("code top_p kept: ", mine["code"].top_p)
    print("use cases:", ", ".join(mine.names()))
    print("my-vllm-model window:", mine.model("my-vllm-model").context_window)
    # The same preset, adapted per target: OpenAI never gets top_k; a vLLM server does.
    print("to OpenAI:", resolve_params("code", "gpt-4o", config=mine))
    print(
        "to vLLM:  ",
        resolve_params("code", "my-vllm-model", config=mine, base_url="http://localhost:8000/v1"),
    )
    client = Client(offline=not os.environ.get("OPENAI_API_KEY"), seed=6, config=mine)
    result = client.complete("Select the ten newest orders.", use_case="sql")
    print("sql reply:", result.text)
    print("sent:", result.params)


if __name__ == "__main__":
    main()

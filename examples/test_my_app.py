"""How to test your own application code with llmpresets' pytest fixtures — no key, no network.

The fixtures come from the plugin installed with llmpresets. Run: pytest examples/test_my_app.py
"""

from __future__ import annotations

import openai

from llmpresets import Client
from llmpresets.pytest_plugin import ScriptedCandidates


# ---- your application code -------------------------------------------------------------
def suggest_outfit(client: Client, weather: str) -> str:
    """Ask the model what to wear; the app relies on a short, single answer."""
    reply = client.complete(f"What should I wear? The weather is {weather}.", use_case="chat")
    return reply.text.strip()


def summarise(openai_client: openai.OpenAI, text: str) -> str:
    """Code written directly against the OpenAI SDK works the same way."""
    response = openai_client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": f"Summarise: {text}"}],
        max_tokens=40,
    )
    return response.choices[0].message.content or ""


# ---- your tests ----------------------------------------------------------------------------
def test_outfit_is_one_of_the_scripted_answers(
    llm_scripted: ScriptedCandidates, llm_offline_client: Client
) -> None:
    """Scripted candidates make the model's answer a known distribution: 70 / 20 / 10."""
    llm_scripted.add("what should I wear", {"Sunglasses.": 0.7, "A hat.": 0.2, "A jacket.": 0.1})
    assert suggest_outfit(llm_offline_client, "sunny") in {"Sunglasses.", "A hat.", "A jacket."}


def test_greedy_sampling_picks_the_most_likely_answer(
    llm_scripted: ScriptedCandidates, llm_offline_client: Client
) -> None:
    """With temperature 0 the sampler is greedy: always the 70% answer."""
    llm_scripted.add("what should I wear", {"Sunglasses.": 0.7, "A hat.": 0.2, "A jacket.": 0.1})
    replies = {
        llm_offline_client.complete("What should I wear?", temperature=0).text for _ in range(5)
    }
    assert replies == {"Sunglasses."}


def test_summary_through_the_plain_sdk(llm_offline_openai: openai.OpenAI) -> None:
    """The offline model answers plain SDK calls with real, bounded text."""
    summary = summarise(llm_offline_openai, "The meeting moved to Tuesday.")
    assert summary

"""Token budgeting for a long document: count, check against each model, fit by truncation.

Everything here is local and exact (tiktoken's ids, offline). Run: python examples/token_budget.py
"""

from __future__ import annotations

from llmpresets import ContextWindowExceeded, check_context, count_tokens, fit_messages

PARAGRAPH = (
    "The committee reviewed the quarterly figures, noting that shipping costs rose while "
    "returns fell. It asked for a breakdown by region before the next meeting. "
)


def main() -> None:
    document = PARAGRAPH * 400
    print(
        f"document: {len(document):,} characters, {count_tokens(document, 'gpt-4o'):,} tokens "
        f"(o200k_base), {count_tokens(document, 'gpt-4'):,} tokens (cl100k_base)"
    )
    messages = [
        {"role": "system", "content": "Summarise the document."},
        {"role": "user", "content": document},
    ]
    for model in ("gpt-4o", "gpt-4.1-mini", "gpt-4"):
        try:
            budget = check_context(messages, model, max_output_tokens=1000)
        except ContextWindowExceeded as exc:
            print(f"{model:13} does not fit: {exc}")
        else:
            print(
                f"{model:13} fits: {budget.prompt_tokens:,} prompt tokens, "
                f"{budget.remaining:,} left after reserving 1,000 for the reply"
            )
    fitted = fit_messages(messages, "gpt-4", reserve_output_tokens=1000, truncate=True)
    budget = check_context(fitted, "gpt-4", max_output_tokens=1000)
    print(f"gpt-4 after truncating the document's middle: {budget.prompt_tokens:,} prompt tokens")


if __name__ == "__main__":
    main()

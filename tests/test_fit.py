"""Context pre-flight (check_context) and fitting a conversation (fit_messages)."""

from __future__ import annotations

import copy
import doctest
import sys
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionMessage

from llmpresets import (
    Budget,
    ContextWindowExceeded,
    UnknownModelLimitsWarning,
    check_context,
    count_message_tokens,
    fit_messages,
    load_presets,
)
from llmpresets.config.presets import PresetBook
from llmpresets.tokens import fit as _fit
from llmpresets.tokens.counting import MessageLike

# " hello" is one token in both encodings, so " hello" * n is n tokens; a message of it is n + 7
# with the priming (3 per message, 1 for the role, 3 for the reply).


def _user(n: int) -> dict[str, Any]:
    return {"role": "user", "content": " hello" * n}


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> PresetBook:
    """The defaults plus small models whose limits are easy to reach."""
    path = tmp_path_factory.mktemp("config") / "presets.yaml"
    path.write_text(
        "models:\n"
        "  tiny:\n"
        "    context_window: 200\n"
        "    max_output_tokens: 50\n"
        "    encoding: o200k_base\n"
        "  tiny-wide:\n"
        "    context_window: 200\n"
        "    max_output_tokens: 200\n"
        "    encoding: o200k_base\n"
        "  tiny-capped:\n"
        "    context_window: 200\n"
        "    max_input_tokens: 120\n"
        "    max_output_tokens: 100\n"
        "    encoding: cl100k_base\n"
        "  window-unknown:\n"
        "    encoding: cl100k_base\n"
    )
    return load_presets(path)


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the once-per-model warning afresh."""
    monkeypatch.setattr(_fit, "_warned_models", set())


def test_docstring_examples_run() -> None:
    """The runnable examples in the check and fit docstrings hold."""
    failed, attempted = doctest.testmod(_fit)
    assert attempted > 0
    assert failed == 0


# --------------------------------------------------------------------------- check_context


def test_budget_without_output_limit_clamps_the_reservation() -> None:
    """gpt-4o, 9 prompt tokens: reserve min(16,384, 128,000 - 9); 127,999 - 9 prompt left."""
    budget = check_context([_user(2)], "gpt-4o")

    assert budget == Budget(
        model="gpt-4o",
        prompt_tokens=9,
        max_input_tokens=128000,
        context_window=128000,
        reserved_output_tokens=16384,
        remaining=127990,
        max_output_tokens=16384,
        encoding="o200k_base",
    )


def test_gpt_4_is_not_refused_for_lack_of_its_full_max_output() -> None:
    """gpt-4 (8,192 window, 8,192 max output): a short prompt passes, the rest is reserved."""
    budget = check_context([_user(2)], "gpt-4")

    assert budget.reserved_output_tokens == 8192 - 9
    assert budget.remaining == 8191 - 9


def test_explicit_output_limit_is_reserved_in_full() -> None:
    """With max_output_tokens=1,000 the prompt may use at most 128,000 - 1,000."""
    budget = check_context([_user(2)], "gpt-4o", max_output_tokens=1000)

    assert budget.reserved_output_tokens == 1000
    assert budget.remaining == 127000 - 9


def test_gpt_5_input_cap_holds_inside_its_window() -> None:
    """gpt-5: 272,000 prompt tokens pass, 272,001 fail although the window is 400,000."""
    assert check_context([_user(272000 - 7)], "gpt-5").remaining == 0

    with pytest.raises(ContextWindowExceeded) as caught:
        check_context([_user(272001 - 7)], "gpt-5")
    message = str(caught.value)
    assert "272,001 tokens, over gpt-5's input limit of 272,000 by 1" in message
    assert "context window 400,000" in message
    assert (caught.value.prompt_tokens, caught.value.max_input_tokens) == (272001, 272000)


def test_gpt_5_window_holds_with_an_explicit_output_limit() -> None:
    """gpt-5: 272,000 prompt + 128,000 output = 400,000 fits; one more output token does not
    (it is over the model's maximum output before it is over the window)."""
    messages = [_user(272000 - 7)]
    assert check_context(messages, "gpt-5", max_output_tokens=128000).remaining == 0

    with pytest.raises(ContextWindowExceeded, match=r"maximum output of 128,000 tokens"):
        check_context(messages, "gpt-5", max_output_tokens=128001)


def test_prompt_plus_output_must_fit_the_window() -> None:
    """gpt-4: 8,192 window; a legal output limit that leaves too little room is refused."""
    messages = [_user(200 - 7)]
    assert check_context(messages, "gpt-4", max_output_tokens=7992).remaining == 0
    with pytest.raises(ContextWindowExceeded, match=r"context window of 8,192 by 8\b"):
        check_context(messages, "gpt-4", max_output_tokens=8000)


def test_output_limit_over_the_models_maximum_is_refused() -> None:
    """An explicit output limit above the model's maximum output never passes the pre-flight."""
    with pytest.raises(ContextWindowExceeded, match=r"more than gpt-4o's maximum output of 16,384"):
        check_context([_user(10)], "gpt-4o", max_output_tokens=100000)


def test_prompt_filling_the_window_leaves_no_room_for_output(book: PresetBook) -> None:
    """Without an output limit the check fails only when not one output token fits."""
    assert check_context([_user(199 - 7)], "tiny", config=book).reserved_output_tokens == 1

    with pytest.raises(ContextWindowExceeded, match=r"leaves no room for output in tiny's"):
        check_context([_user(200 - 7)], "tiny", config=book)


def test_error_carries_the_numbers(book: PresetBook) -> None:
    """ContextWindowExceeded keeps model, prompt, limits and the reservation as attributes."""
    with pytest.raises(ContextWindowExceeded) as caught:
        check_context([_user(120 - 7)], "tiny-capped", max_output_tokens=90, config=book)
    error = caught.value

    assert (error.model, error.prompt_tokens, error.max_input_tokens) == ("tiny-capped", 120, 120)
    assert (error.context_window, error.reserved_output_tokens) == (200, 90)
    assert "120 tokens and 90 are reserved for output: 210" in str(error)


def test_tools_count_toward_the_prompt(book: PresetBook) -> None:
    """The tool definitions are part of the prompt the check measures."""
    tool = {"type": "function", "function": {"name": "lookup", "description": " x" * 60}}
    assert check_context([_user(10)], "tiny-capped", config=book).fits
    with pytest.raises(ContextWindowExceeded):
        check_context([_user(50)], "tiny-capped", tools=[tool], config=book)


def test_non_strict_check_returns_the_overflow(book: PresetBook) -> None:
    """strict=False returns the budget with a negative remaining instead of raising."""
    budget = check_context([_user(130 - 7)], "tiny-capped", config=book, strict=False)

    assert (budget.fits, budget.remaining, budget.prompt_limit) == (False, -10, 120)


def test_percent_used_is_of_the_prompt_limit(book: PresetBook) -> None:
    """percent_used: prompt tokens over the most the check allows (here 60 of 120)."""
    assert check_context([_user(60 - 7)], "tiny-capped", config=book).percent_used == 50.0


def test_snapshot_uses_its_familys_limits() -> None:
    """A dated snapshot is checked against its family's limits under its own name."""
    budget = check_context([_user(2)], "gpt-5-2025-08-07")

    assert (budget.model, budget.max_input_tokens, budget.context_window) == (
        "gpt-5-2025-08-07",
        272000,
        400000,
    )


@pytest.mark.parametrize("bad", [0, -5, True, 1.5])
def test_invalid_output_limit_is_a_value_error(bad: Any) -> None:
    """max_output_tokens must be an int >= 1 (or None)."""
    with pytest.raises(ValueError, match="max_output_tokens must be an int >= 1"):
        check_context([_user(2)], "gpt-4o", max_output_tokens=bad)


def test_unknown_model_is_not_checked_and_warns_how_to_declare_it() -> None:
    """An unknown model: None limits, prompt still counted, a warning with a YAML snippet."""
    with pytest.warns(UnknownModelLimitsWarning) as record:
        budget = check_context([_user(2)], "my-local-model", max_output_tokens=500)

    assert (budget.context_window, budget.max_input_tokens, budget.remaining) == (None,) * 3
    assert (budget.prompt_tokens, budget.reserved_output_tokens, budget.fits) == (9, 500, True)
    text = str(record[0].message)
    assert "my-local-model" in text
    assert "models:\n  my-local-model:\n    context_window:" in text
    assert "max_output_tokens:" in text
    assert "encoding: o200k_base" in text


def test_unknown_model_warns_once_per_name() -> None:
    """The second check of the same unknown model is silent; another name warns again."""
    with pytest.warns(UnknownModelLimitsWarning):
        check_context([_user(2)], "my-local-model")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_context([_user(2)], "my-local-model")
    with pytest.warns(UnknownModelLimitsWarning, match="other-model"):
        check_context([_user(2)], "other-model")


def test_warning_points_at_the_callers_line() -> None:
    """The warning is attributed to the code that called check_context."""
    with pytest.warns(UnknownModelLimitsWarning) as record:
        check_context([_user(2)], "my-local-model")
    assert record[0].filename == __file__


def test_wrapper_can_attribute_the_warning_to_its_caller() -> None:
    """stacklevel=2 from a wrapper (like the Client) names the wrapper's caller."""

    def wrapper() -> Budget:
        return check_context([_user(2)], "my-local-model", stacklevel=2)

    line = sys._getframe().f_lineno + 2
    with pytest.warns(UnknownModelLimitsWarning) as record:
        wrapper()
    assert (record[0].filename, record[0].lineno) == (__file__, line)


def test_declared_model_without_window_warns(book: PresetBook) -> None:
    """A registry model lacking context_window is not checked either, and says so."""
    with pytest.warns(UnknownModelLimitsWarning, match="has no context_window"):
        budget = check_context([_user(2)], "window-unknown", config=book)
    assert budget.encoding == "cl100k_base"


# --------------------------------------------------------------------------- fit_messages

SYSTEM = {"role": "system", "content": "Be brief."}  # 3 + 1 + 3 = 7 tokens
DEVELOPER = {"role": "developer", "content": "Answer in English."}


def _tool_chain(call_id: str, size: int) -> list[dict[str, Any]]:
    """An assistant tool call and its tool reply (reply of ``size`` hellos)."""
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "search", "arguments": '{"q": "x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": " hello" * size},
    ]


def _conversation() -> list[dict[str, Any]]:
    return [
        SYSTEM,
        _user(20),
        *_tool_chain("call_1", 30),
        {"role": "assistant", "content": " hello" * 10},
        DEVELOPER,
        _user(20),
        {"role": "assistant", "content": " hello" * 10},
        _user(15),
        *_tool_chain("call_2", 5),
    ]


def _check_tool_pairs(messages: list[dict[str, Any]]) -> None:
    calls = {c["id"] for m in messages for c in m.get("tool_calls") or []}
    replies = {m["tool_call_id"] for m in messages if m["role"] == "tool"}
    assert calls == replies


def test_messages_that_fit_come_back_unchanged(book: PresetBook) -> None:
    """Nothing is dropped when the request already fits; the result is a new list."""
    messages = _conversation()[:3]
    fitted = fit_messages(messages, "gpt-4o")

    assert fitted == messages
    assert fitted is not messages


def test_oldest_turns_go_first_and_pinned_messages_stay(book: PresetBook) -> None:
    """Dropping stops as soon as it fits: the first turn goes, the second stays."""
    messages = _conversation()
    total = count_message_tokens(messages, "tiny")
    first_turn = count_message_tokens(messages[1:5], "tiny") - 3
    fitted = fit_messages(
        messages, "tiny-wide", reserve_output_tokens=200 - (total - first_turn), config=book
    )

    assert fitted == [messages[0], *messages[5:]]
    _check_tool_pairs(fitted)


def test_minimum_keeps_system_developer_and_the_newest_turn(book: PresetBook) -> None:
    """Under pressure every older turn goes; system, developer and the newest turn remain."""
    messages = _conversation()
    fitted = fit_messages(messages, "tiny-wide", reserve_output_tokens=130, config=book)

    assert fitted == [SYSTEM, DEVELOPER, *messages[-3:]]
    assert fitted[-1]["role"] == "tool"
    _check_tool_pairs(fitted)


def test_result_passes_the_context_check(book: PresetBook) -> None:
    """The fitted messages pass check_context with the same reservation."""
    fitted = fit_messages(_conversation(), "tiny-capped", reserve_output_tokens=90, config=book)

    assert check_context(fitted, "tiny-capped", max_output_tokens=90, config=book).fits


@settings(max_examples=40, deadline=None)
@given(reserve=st.integers(min_value=0, max_value=199))
def test_tool_calls_and_replies_are_never_separated(book: PresetBook, reserve: int) -> None:
    """For any reservation, a fitted result keeps each tool call with its reply, and fits."""
    try:
        fitted = fit_messages(
            _conversation(), "tiny-wide", reserve_output_tokens=reserve, config=book
        )
    except ContextWindowExceeded:
        assert reserve > 200 - count_message_tokens([SYSTEM, DEVELOPER, *_conversation()[-3:]])
        return
    _check_tool_pairs(fitted)
    assert count_message_tokens(fitted, "tiny-wide", config=book) <= 200 - reserve


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(["tiny", "tiny-wide", "tiny-capped"]),
    reserve=st.integers(min_value=0, max_value=260),
    turns=st.integers(min_value=1, max_value=12),
    truncate=st.booleans(),
)
def test_fit_and_check_agree_for_every_reserve(
    book: PresetBook, model: str, reserve: int, turns: int, truncate: bool
) -> None:
    """Whatever the reserve, fit_messages either refuses or returns what check_context passes.

    A reserve of 0 is checked as check_context without max_output_tokens (room for one token);
    a reserve above the model's max output is refused by both.
    """
    messages = [SYSTEM, *[_user(9 + turn) for turn in range(turns)]]
    output = reserve or None
    try:
        fitted = fit_messages(
            messages, model, reserve_output_tokens=reserve, truncate=truncate, config=book
        )
    except ContextWindowExceeded:
        with pytest.raises(ContextWindowExceeded):
            check_context([SYSTEM, messages[-1]], model, max_output_tokens=output, config=book)
        return
    assert check_context(fitted, model, max_output_tokens=output, config=book).fits


def test_impossible_fit_raises_with_the_numbers(book: PresetBook) -> None:
    """When even the minimum is too big, ContextWindowExceeded explains and suggests truncate."""
    messages = [SYSTEM, _user(150)]
    with pytest.raises(ContextWindowExceeded) as caught:
        fit_messages(messages, "tiny", reserve_output_tokens=50, config=book)

    message = str(caught.value)
    assert "even after dropping every older turn" in message
    assert "truncate=True" in message
    assert "context window of 200" in message
    assert caught.value.prompt_tokens == count_message_tokens(messages, "tiny")


def test_truncate_cuts_the_middle_of_the_longest_message(book: PresetBook) -> None:
    """truncate=True keeps both ends of the longest message and marks the cut."""
    long = {"role": "user", "content": "START" + " hello" * 300 + " END"}
    messages = [SYSTEM, long]
    fitted = fit_messages(messages, "tiny", reserve_output_tokens=50, truncate=True, config=book)

    content = fitted[1]["content"]
    assert content.startswith("START hello") and content.endswith("hello END")
    assert "tokens omitted" in content
    assert fitted[0] is SYSTEM
    assert count_message_tokens(fitted, "tiny", config=book) <= 150
    assert long["content"].count("hello") == 300  # the original is untouched


def test_truncate_cannot_shrink_tools(book: PresetBook) -> None:
    """If the tool definitions alone are too big, even truncation fails clearly."""
    tool = {"type": "function", "function": {"name": "f", "description": " x" * 190}}
    with pytest.raises(ContextWindowExceeded, match="with the longest message cut"):
        fit_messages(
            [_user(5)], "tiny", reserve_output_tokens=10, tools=[tool], truncate=True, config=book
        )


def test_truncated_pydantic_message_keeps_its_type(book: PresetBook) -> None:
    """A pydantic message that is cut comes back as the same model type."""
    reply = ChatCompletionMessage(role="assistant", content=" hello" * 300)
    messages: list[MessageLike] = [_user(5), reply]
    fitted = fit_messages(messages, "tiny", reserve_output_tokens=50, truncate=True, config=book)

    cut = fitted[1]
    assert isinstance(cut, ChatCompletionMessage)
    assert "tokens omitted" in (cut.content or "")


def test_fitting_does_not_change_the_input(book: PresetBook) -> None:
    """The caller's list and messages are left as they were."""
    messages = _conversation()
    snapshot = copy.deepcopy(messages)
    fit_messages(messages, "tiny-wide", reserve_output_tokens=100, config=book)

    assert messages == snapshot


def test_default_reservation_is_capped_by_the_model(book: PresetBook) -> None:
    """Without reserve_output_tokens: min(4,096, max output, half the window) is kept free."""
    messages = [_user(20)] * 10  # ten turns of 24 tokens, plus 3 for the priming
    fitted = fit_messages(messages, "tiny", config=book)  # reserve min(4096, 50, 100) = 50

    assert count_message_tokens(fitted, "tiny", config=book) == 6 * 24 + 3  # <= 200 - 50
    assert len(fitted) == 6


def test_unknown_model_is_returned_unchanged_with_a_warning() -> None:
    """fit_messages cannot fit an unknown model: the messages come back, with one warning."""
    messages = _conversation()
    with pytest.warns(UnknownModelLimitsWarning, match="my-local-model"):
        assert fit_messages(messages, "my-local-model") == messages


def test_negative_reservation_is_a_value_error() -> None:
    """reserve_output_tokens must be >= 0."""
    with pytest.raises(ValueError, match="reserve_output_tokens must be >= 0"):
        fit_messages([_user(2)], "gpt-4o", reserve_output_tokens=-1)

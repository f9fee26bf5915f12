"""dspy runs offline through ``llmpresets serve``: its adapters' formats are read from the
prompt, so every module parses its fields.

The ``ecosystem`` group (``pytest -m ecosystem``; skipped without dspy). dspy talks to models
through litellm, which speaks HTTP, so these tests use the plugin's running local server
(:func:`~llmpresets.pytest_plugin.llm_server_url`). ChatAdapter's ``[[ ## field ## ]]``
markers (with typed fields and the ``[[ ## completed ## ]]`` end marker), JSONAdapter's
object and XMLAdapter's tags each come back in the adapter's form, with a label from the
closed set, a number, a list; ``Predict``, ``ChainOfThought``, ``ReAct`` with a tool and
``streamify`` finish with their outputs filled.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Literal

import pytest

pytestmark = [
    pytest.mark.ecosystem,
    # dspy and litellm warn about their own dependencies at import and on each call.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]
LABELS = ("billing", "bug", "feature", "other")
TICKET = "I was charged twice for my subscription this month."


@pytest.fixture
def dspy_lm(llm_server_url: str) -> Any:
    """dspy's LM (litellm) pointed at the running offline server, uncached."""
    dspy = pytest.importorskip("dspy")
    return dspy.LM(
        "openai/gpt-4o", api_base=llm_server_url, api_key="offline", cache=False, num_retries=0
    )


@functools.cache
def classify_signature() -> Any:
    import dspy

    class Classify(dspy.Signature):  # type: ignore[misc]
        """Classify the support ticket."""

        ticket: str = dspy.InputField()
        label: Literal["billing", "bug", "feature", "other"] = dspy.OutputField()
        confidence: float = dspy.OutputField()
        tags: list[str] = dspy.OutputField()

    return Classify


@pytest.mark.parametrize("adapter", ["ChatAdapter", "JSONAdapter", "XMLAdapter"])
def test_dspy_adapter_fills_typed_fields(dspy_lm: Any, adapter: str) -> None:
    """Predict with a Literal, a float and a list[str] output under each adapter: the label is
    one of the four, the confidence a float, the tags a list of strings."""
    import dspy

    with dspy.context(lm=dspy_lm, adapter=getattr(dspy, adapter)()):
        result = dspy.Predict(classify_signature())(ticket=TICKET)
    assert result.label in LABELS
    assert isinstance(result.confidence, float)
    assert isinstance(result.tags, list) and all(isinstance(tag, str) for tag in result.tags)


def test_dspy_predict_answers(dspy_lm: Any) -> None:
    """Predict("question -> answer"): the answer is text, not empty."""
    import dspy

    with dspy.context(lm=dspy_lm):
        result = dspy.Predict("question -> answer")(question="What is the capital of France?")
    assert isinstance(result.answer, str) and result.answer.strip()


def test_dspy_chain_of_thought_gives_reasoning_and_a_typed_answer(dspy_lm: Any) -> None:
    """ChainOfThought adds a reasoning field; an int answer parses as an int."""
    import dspy

    with dspy.context(lm=dspy_lm):
        result = dspy.ChainOfThought("question -> answer: int")(question="What is 2 + 3?")
    assert isinstance(result.reasoning, str) and result.reasoning.strip()
    assert isinstance(result.answer, int)


def test_dspy_react_calls_its_tool_with_its_arguments(dspy_lm: Any) -> None:
    """ReAct with one tool: every step names a tool it has (lookup_order or finish) with
    arguments for that tool, so no step fails on its arguments, and the run answers."""
    import dspy

    calls: list[str] = []

    def lookup_order(order_id: str) -> str:
        """Look up an order's status by its id."""
        calls.append(order_id)
        return f"Order {order_id} shipped on Monday."

    with dspy.context(lm=dspy_lm):
        react = dspy.ReAct("question -> answer", tools=[lookup_order], max_iters=3)
        result = react(question="Where is order A-10293?")
    trajectory = result.trajectory
    names = [value for key, value in trajectory.items() if key.startswith("tool_name_")]
    assert names and set(names) <= {"lookup_order", "finish"}
    for key, value in trajectory.items():
        if key.startswith("tool_args_"):
            step = key.removeprefix("tool_args_")
            wanted = {"order_id"} if trajectory[f"tool_name_{step}"] == "lookup_order" else set()
            assert set(value) == wanted
        if key.startswith("observation_"):
            assert "Execution error" not in str(value)
    assert isinstance(result.answer, str) and result.answer.strip()


def test_dspy_streamify_ends_with_the_prediction(dspy_lm: Any) -> None:
    """streamify(Predict): the stream's last item is the Prediction, its answer filled
    (ChatAdapter's markers streamed and parsed)."""
    import dspy

    program = dspy.streamify(dspy.Predict("question -> answer"))

    async def run() -> list[Any]:
        return [chunk async for chunk in program(question="What is the capital of France?")]

    with dspy.context(lm=dspy_lm):
        chunks = asyncio.run(run())
    assert isinstance(chunks[-1], dspy.Prediction)
    assert chunks[-1].answer.strip()

"""Frameworks that put the output format in the prompt, or in a tool, run offline and parse.

The ``ecosystem`` group (``pip install ".[ecosystem]"``, ``pytest -m ecosystem``; skipped
without the packages): instructor's modes, pydantic-ai's output modes on chat completions and
the Responses API, langchain's output parser and JSON mode, each through the real openai SDK
over an :class:`~llmpresets.offline.OfflineTransport`. The offline backend reads the format
the prompt states (docs/offline.md, "Reading the prompt"), so each reply parses into the
framework's object with its fields present.
The values come from the conversation too (John Smith, 42, the email, the order id): the
tests assert them, not only the types.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable
from typing import Any

import httpx2
import openai
import pytest
from pydantic import BaseModel, SecretStr

from llmpresets.offline import OfflineTransport

pytestmark = pytest.mark.ecosystem
BASE_URL = "http://offline.test/v1"
PROMPT = "John Smith is 42 years old, email john@example.com"


class Person(BaseModel):
    name: str
    age: int
    email: str


def sync_client(seed: int = 0) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="offline",
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=OfflineTransport(seed=seed)),
    )


def async_client(seed: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="offline",
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=OfflineTransport(seed=seed)),
    )


def is_john(person: Any) -> bool:
    return (person.name, person.age, person.email) == ("John Smith", 42, "john@example.com")


# --------------------------------------------------------------------------- instructor

INSTRUCTOR_MODES = ("TOOLS", "JSON", "MD_JSON", "JSON_SCHEMA")


@functools.cache
def instructor_person(mode: str) -> Any:
    instructor = pytest.importorskip("instructor")
    client = instructor.from_openai(sync_client(), mode=getattr(instructor.Mode, mode))
    return client.chat.completions.create(
        model="gpt-4o",
        response_model=Person,
        messages=[{"role": "user", "content": PROMPT}],
        max_retries=0,
    )


@pytest.mark.parametrize("mode", INSTRUCTOR_MODES)
def test_instructor_mode_parses_into_the_response_model(mode: str) -> None:
    """instructor TOOLS (a forced tool), JSON (json_object, the schema in the system prompt),
    MD_JSON (the schema in the prompt, a ```json block asked for: read from the prompt) and
    JSON_SCHEMA (response_format) each give a validated Person on the first attempt."""
    person = instructor_person(mode)
    assert isinstance(person, Person)
    assert isinstance(person.age, int)


@pytest.mark.parametrize("mode", INSTRUCTOR_MODES)
def test_instructor_mode_fills_the_fields_from_the_prompt(mode: str) -> None:
    """The Person holds the name, age and email the prompt states."""
    assert is_john(instructor_person(mode))


def test_instructor_md_json_reply_is_a_fenced_json_block() -> None:
    """MD_JSON asks for "a ```json codeblock": the raw reply is one, which instructor reads."""
    instructor = pytest.importorskip("instructor")
    client = instructor.from_openai(sync_client(), mode=instructor.Mode.MD_JSON)
    person, completion = client.chat.completions.create_with_completion(
        model="gpt-4o",
        response_model=Person,
        messages=[{"role": "user", "content": PROMPT}],
        max_retries=0,
    )
    text = completion.choices[0].message.content
    assert text.startswith("```json\n{") and text.endswith("}\n```")
    assert isinstance(person, Person)


@functools.cache
def instructor_people(mode: str) -> list[Any]:
    instructor = pytest.importorskip("instructor")
    client = instructor.from_openai(sync_client(), mode=getattr(instructor.Mode, mode))
    prompt = (
        "Extract every person: John Smith is 42 years old, email john@example.com; "
        "Mary Jones is 31 years old, email mary@example.com."
    )
    messages = [{"role": "user", "content": prompt}]
    if mode == "PARALLEL_TOOLS":
        return list(
            client.chat.completions.create(
                model="gpt-4o",
                response_model=Iterable[Person],
                messages=messages,
                max_retries=0,
            )
        )
    return list(
        client.chat.completions.create_iterable(
            model="gpt-4o", response_model=Person, messages=messages, max_retries=0
        )
    )


def test_instructor_create_iterable_gives_people() -> None:
    """create_iterable (TOOLS): every item validates as a Person."""
    people = instructor_people("TOOLS")
    assert all(isinstance(person, Person) for person in people)


@pytest.mark.parametrize("mode", ["TOOLS", "PARALLEL_TOOLS"])
def test_instructor_iterables_hold_both_people(mode: str) -> None:
    """create_iterable and PARALLEL_TOOLS give the two people the prompt names (an array the
    prompt gives items for is not empty; the tool fits the prompt, so it is called)."""
    people = instructor_people(mode)
    assert [person.name for person in people] == ["John Smith", "Mary Jones"]


def test_instructor_responses_tools_parses_into_the_response_model() -> None:
    """RESPONSES_TOOLS: a forced function tool on /responses (sent without ``strict``, which
    the API accepts) gives a Person."""
    instructor = pytest.importorskip("instructor")
    client = instructor.from_openai(sync_client(), mode=instructor.Mode.RESPONSES_TOOLS)
    person = client.responses.create(
        model="gpt-4o", response_model=Person, input=PROMPT, max_retries=0
    )
    assert isinstance(person, Person)


# --------------------------------------------------------------------------- pydantic-ai

PYDANTIC_AI_CASES = [
    (api, mode)
    for api in ("chat", "responses")
    for mode in ("ToolOutput", "NativeOutput", "PromptedOutput")
]


@functools.cache
def pydantic_ai_person(api: str, mode: str) -> Any:
    pydantic_ai = pytest.importorskip("pydantic_ai")
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model_class = OpenAIChatModel if api == "chat" else OpenAIResponsesModel
    model = model_class("gpt-4o", provider=OpenAIProvider(openai_client=async_client()))
    agent = pydantic_ai.Agent(model, output_type=getattr(pydantic_ai, mode)(Person))
    return asyncio.run(agent.run(PROMPT)).output  # run_sync would leave its loop open


@pytest.mark.parametrize(("api", "mode"), PYDANTIC_AI_CASES)
def test_pydantic_ai_output_mode_gives_the_output_type(api: str, mode: str) -> None:
    """pydantic-ai ToolOutput, NativeOutput and PromptedOutput (its schema in the
    instructions, read from the prompt) on chat completions and on the Responses API each
    end the run with a validated Person."""
    assert isinstance(pydantic_ai_person(api, mode), Person)


@pytest.mark.parametrize(("api", "mode"), PYDANTIC_AI_CASES)
def test_pydantic_ai_output_mode_fills_the_fields_from_the_prompt(api: str, mode: str) -> None:
    """The Person holds the prompt's name, age and email."""
    assert is_john(pydantic_ai_person(api, mode))


def test_pydantic_ai_tool_receives_the_identifier_from_the_prompt() -> None:
    """An agent with two tools calls the one that fits (the order lookup, not the
    escalation) with the order id the prompt gives, then answers."""
    pydantic_ai = pytest.importorskip("pydantic_ai")
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel("gpt-4o", provider=OpenAIProvider(openai_client=async_client()))
    agent = pydantic_ai.Agent(model)
    looked_up: list[str] = []
    escalated: list[str] = []

    @agent.tool_plain
    def lookup_order(order_id: str) -> str:
        """Look up an order's status by its id."""
        looked_up.append(order_id)
        return f"Order {order_id} shipped on Monday."

    @agent.tool_plain
    def escalate_to_human(reason: str) -> str:
        """Hand the conversation to a human agent."""
        escalated.append(reason)
        return "Escalated."

    result = asyncio.run(agent.run("Where is my order A-10293?"))
    assert looked_up == ["A-10293"] and escalated == []
    assert isinstance(result.output, str) and result.output


# --------------------------------------------------------------------------- langchain


def chat_openai() -> Any:
    pytest.importorskip("langchain_openai")
    from langchain_openai import ChatOpenAI

    transport = OfflineTransport(seed=0)
    return ChatOpenAI(
        model="gpt-4o",
        api_key=SecretStr("offline"),
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
        http_async_client=httpx2.AsyncClient(transport=transport),
    )


class Named(BaseModel):
    name: str
    age: int


@functools.cache
def langchain_parsed() -> Any:
    llm = chat_openai()
    from langchain_core.output_parsers import PydanticOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    parser = PydanticOutputParser(pydantic_object=Named)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Extract the person.\n{format_instructions}"), ("user", "{text}")]
    ).partial(format_instructions=parser.get_format_instructions())
    return (prompt | llm | parser).invoke({"text": "Alice Martin is 31 years old."})


def test_langchain_pydantic_output_parser_in_a_chain() -> None:
    """prompt | ChatOpenAI | PydanticOutputParser: the parser's format instructions (an
    example schema, then the real one) are read, and the reply parses."""
    assert isinstance(langchain_parsed(), Named)


def test_langchain_pydantic_output_parser_fills_the_fields() -> None:
    """The parsed object holds the prompt's name and age."""
    assert (langchain_parsed().name, langchain_parsed().age) == ("Alice Martin", 31)


@functools.cache
def langchain_json_mode() -> Any:
    llm = chat_openai()
    return llm.with_structured_output(None, method="json_mode").invoke(
        "It is 21 degrees in Paris. Reply in JSON with the keys city and temperature_c."
    )


def test_langchain_json_mode_uses_the_keys_the_prompt_names() -> None:
    """with_structured_output(method="json_mode") (response_format json_object): the JSON
    has exactly the keys the prompt names."""
    reply = langchain_json_mode()
    assert isinstance(reply, dict) and set(reply) == {"city", "temperature_c"}
    assert isinstance(reply["temperature_c"], (int, float))


def test_langchain_json_mode_fills_the_keys_from_the_prompt() -> None:
    """The JSON holds the city and temperature the prompt states."""
    assert langchain_json_mode() == {"city": "Paris", "temperature_c": 21}


# --------------------------------------------------------------------------- closed labels


def test_a_system_prompt_with_labels_gets_one_label() -> None:
    """ "Reply with exactly one word: billing, bug, feature or other": the reply is one of
    them, at every seed, and the header says what was read."""
    for seed in range(4):
        raw = sync_client(seed).chat.completions.with_raw_response.create(
            model="gpt-4o",
            messages=[
                {
                    "role": "system",
                    "content": "Reply with exactly one word: billing, bug, feature or other.",
                },
                {"role": "user", "content": "I was charged twice for my subscription."},
            ],
            temperature=0.8,
        )
        label = raw.parse().choices[0].message.content
        assert label in ("billing", "bug", "feature", "other")
        assert raw.headers["x-llmpresets-read-prompt"] == "labels(billing|bug|feature|other)"

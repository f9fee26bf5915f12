"""The offline backend reads the output contract a conversation states, and follows it.

When a request fixes no format (``response_format`` text, or none), the system, developer and
latest user turns are read for one (docs/offline.md, "Reading the prompt"); the reply is
drawn under its grammar with the request's sampling, the ``x-llmpresets-read-prompt`` header
says what was read, and ``offline.read_prompt: false`` / ``OfflineTransport(read_prompt=False)``
turn it off.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from offline_sdk import sdk

from llmpresets import load_presets
from llmpresets.offline import Contract, OfflineTransport, PromptText, read_contract

HEADER = "x-llmpresets-read-prompt"
LABELS = "Reply with exactly one word: billing, bug, feature or other."
TICKET = "I was charged twice for my subscription."

# The instructions frameworks write, as they write them (instructor Mode.JSON / MD_JSON,
# pydantic-ai PromptedOutput, langchain PydanticOutputParser: an example schema first).
PERSON_SCHEMA = {
    "properties": {
        "name": {"title": "Name", "type": "string"},
        "age": {"title": "Age", "type": "integer"},
    },
    "required": ["name", "age"],
    "title": "Person",
    "type": "object",
}
INSTRUCTOR = (
    "As a genius expert, your task is to understand the content and provide\n"
    "the parsed objects in json that match the following json_schema:\n\n"
    f"{json.dumps(PERSON_SCHEMA, indent=2)}\n\n"
    "Make sure to return an instance of the JSON, not the schema itself"
)
PYDANTIC_AI = (
    "Always respond with a JSON object that's compatible with this schema:\n\n"
    f"{json.dumps(PERSON_SCHEMA)}\n\nDon't include any text or Markdown fencing before or after."
)
LANGCHAIN = (
    "Do not wrap the JSON in Markdown or code fences (no ``` or ```json).\n"
    'As an example, for the schema {"properties": {"foo": {"title": "Foo", "description": '
    '"a list of strings", "type": "array", "items": {"type": "string"}}}, "required": '
    '["foo"]} the object {"foo": ["bar", "baz"]} is a well-formatted instance of the schema.\n'
    "Here is the output schema:\n```\n"
    '{"properties": {"name": {"title": "Name", "type": "string"}, "age": {"title": "Age", '
    '"type": "integer"}}, "required": ["name", "age"]}\n```'
)
DSPY_SYSTEM = """Your input fields are:
1. `ticket` (str):
Your output fields are:
1. `label` (Literal['billing', 'bug', 'feature', 'other']): 
2. `confidence` (float): 
3. `tags` (list[str]):
All interactions will be structured in the following way, with the appropriate values filled in.

[[ ## ticket ## ]]
{ticket}

[[ ## label ## ]]
{label}        # note: the value you produce must exactly match (no extra characters) one of: billing; bug; feature; other

[[ ## confidence ## ]]
{confidence}        # note: the value you produce must be a single float value

[[ ## tags ## ]]
{tags}        # note: the value you produce must adhere to the JSON schema: {"type": "array", "items": {"type": "string"}}

[[ ## completed ## ]]
In adhering to this structure, your objective is: 
        Classify the ticket."""  # noqa: E501, W291

READ = [
    (LABELS, "labels(billing|bug|feature|other)"),
    (
        "Classify the sentiment as positive, negative or neutral.",
        "labels(positive|negative|neutral)",
    ),
    ("Answer with one of: A, B, C or D.", "labels(A|B|C|D)"),
    ("Is Paris in France? Answer yes or no.", "yes_no(yes|no)"),
    ("Is it raining? Reply with Yes or No only.", "yes_no(Yes|No)"),
    ("Reply with only a number from 1 to 10.", "number(1..10)"),
    ("How many legs does a spider have? Reply with just the number.", "number"),
    ("How many moons does Mars have? Answer as an integer.", "number(integer)"),
    ("Rate the film: reply with a score between 1 and 5.", "number(1..5)"),
    ("Reply in JSON with the keys city and temperature_c.", "json_keys(keys=city,temperature_c)"),
    ("Return a JSON object with fields name, age and email.", "json_keys(keys=name,age,email)"),
    ('Respond in this format: {"city": "Paris", "days": 3}', "json_example(keys=city,days)"),
    ("Describe Paris. Reply in JSON.", "json"),
    (INSTRUCTOR, "json_schema(keys=name,age)"),
    (
        INSTRUCTOR + "\n\nReturn the correct JSON response within a ```json codeblock. not the "
        "JSON_SCHEMA",
        "json_schema+fenced(keys=name,age)",
    ),
    (PYDANTIC_AI, "json_schema(keys=name,age)"),
    (LANGCHAIN, "json_schema(keys=name,age)"),
    ("List three colours as a comma-separated list.", "list(items=3)"),
    ("Give me 4 ideas for a party as a numbered list.", "numbered_list(items=4)"),
    ("Wrap your final answer in <answer></answer> tags.", "xml_tags(tags=answer)"),
    (DSPY_SYSTEM, "dspy_chat(fields=label,confidence,tags)"),
    (
        "Think in <thinking> tags, then put your final answer in <answer></answer> tags.",
        "xml_tags(tags=thinking,answer)",
    ),
]


@pytest.mark.parametrize(("prompt", "summary"), READ)
def test_each_contract_is_read(prompt: str, summary: str) -> None:
    """Each family of contracts is read from the way prompts write it."""
    contract = read_contract([{"role": "system", "content": prompt}])
    assert contract is not None and contract.summary == summary


@pytest.mark.parametrize(
    "prompt",
    [
        "Tell me a story about a dragon.",
        "Write a Python function that returns the largest item in a list.",
        "Is 7 a prime number?",
        "Ideas for a birthday party",
        "What is the weather in Paris and in Rome?",
        "Say something.",
        'Here is the JSON data: {"city": "Paris", "days": 3}. Summarize it in a sentence.',
        "The file is in JSON format. What does it hold?",
        "Use one of the tools, or ask the user for the order id.",
        "Provide a number of suggestions for a team lunch.",
        "Answer in one word.",
        "The user may answer yes or no to the survey; summarise their answers.",
        "Explain what the <div> tag does.",
        "This JSON has the fields name and age. Which one is missing?",
        "Write HTML using <div> tags for the layout.",
    ],
)
def test_a_prompt_that_states_no_form_reads_nothing(prompt: str) -> None:
    """A question is not a contract: "Is 7 a prime number?" is answered in prose."""
    assert read_contract([{"role": "user", "content": prompt}]) is None


def chat(transport: OfflineTransport, messages: Any, **fields: Any) -> Any:
    return sdk(transport).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=messages, **fields
    )


def ticket_messages() -> Any:
    return [{"role": "system", "content": LABELS}, {"role": "user", "content": TICKET}]


def test_the_reply_is_one_of_the_labels_at_every_seed_and_temperature() -> None:
    """The reply is a label of the closed set, whatever the seed and the temperature."""
    transport = OfflineTransport()
    for temperature in (0.0, 0.8, 1.5):
        for seed in range(3):
            raw = chat(transport, ticket_messages(), seed=seed, temperature=temperature)
            assert raw.parse().choices[0].message.content in ("billing", "bug", "feature", "other")
            assert raw.headers[HEADER] == "labels(billing|bug|feature|other)"


@pytest.mark.parametrize(
    ("prompt", "pattern"),
    [
        ("Is Paris in France? Answer yes or no.", r"(yes|no)"),
        ("Rate this film. Reply with only a number from 1 to 10.", r"([1-9]|10)"),
        ("How many moons does Mars have? Reply with just the number.", r"-?\d+(\.\d+)?"),
        ("List three colours as a comma-separated list.", r"[A-Za-z ]+(, [A-Za-z ]+){2}"),
        ("Give me 4 ideas for a party as a numbered list.", r"1\. .+\n2\. .+\n3\. .+\n4\. .+"),
        (
            "What is 2+2? Wrap your final answer in <answer></answer> tags.",
            r"<answer>[^<]+</answer>",
        ),
    ],
)
def test_the_reply_takes_the_form_the_prompt_asks_for(prompt: str, pattern: str) -> None:
    """Yes/no, a number (in its range), a list of the asked length, tags: the whole reply."""
    for seed in range(3):
        raw = chat(OfflineTransport(), [{"role": "user", "content": prompt}], seed=seed)
        assert re.fullmatch(pattern, raw.parse().choices[0].message.content), prompt


@pytest.mark.parametrize("prompt", [INSTRUCTOR, PYDANTIC_AI, LANGCHAIN])
def test_a_schema_in_the_prompt_gives_json_valid_for_it(prompt: str) -> None:
    """instructor's, pydantic-ai's and langchain's schema prompts: JSON valid for the schema."""
    messages = [{"role": "system", "content": prompt}, {"role": "user", "content": "Alice is 31."}]
    for seed in range(3):
        text = chat(OfflineTransport(), messages, seed=seed).parse().choices[0].message.content
        jsonschema.validate(json.loads(text), PERSON_SCHEMA)


def test_a_fenced_block_asked_for_is_a_fenced_block() -> None:
    """ "within a ```json codeblock" (instructor MD_JSON): the JSON inside a ```json fence."""
    prompt = INSTRUCTOR + "\n\nReturn the correct JSON response within a ```json codeblock."
    text = chat(OfflineTransport(), [{"role": "user", "content": prompt}], seed=0)
    content = text.parse().choices[0].message.content
    assert content.startswith("```json\n") and content.endswith("\n```")
    jsonschema.validate(json.loads(content[8:-4]), PERSON_SCHEMA)


def test_json_object_takes_the_keys_the_prompt_names() -> None:
    """response_format json_object: exactly the keys "reply in JSON with the keys ..." names
    (langchain's with_structured_output(method="json_mode"))."""
    messages = [{"role": "user", "content": "Reply in JSON with the keys city and temperature_c."}]
    for seed in range(3):
        raw = chat(OfflineTransport(), messages, seed=seed, response_format={"type": "json_object"})
        reply = json.loads(raw.parse().choices[0].message.content)
        assert set(reply) == {"city", "temperature_c"}
        assert raw.headers[HEADER] == "json_keys(keys=city,temperature_c)"


def test_the_requests_own_schema_beats_the_prompt() -> None:
    """response_format json_schema decides the grammar; nothing is read (no header)."""
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    raw = chat(
        OfflineTransport(),
        ticket_messages(),
        seed=0,
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
    )
    assert set(json.loads(raw.parse().choices[0].message.content)) == {"ok"}
    assert HEADER not in raw.headers


def test_a_required_tool_call_is_still_made() -> None:
    """Tools decide whether to call: tool_choice required calls, whatever the prompt says."""
    tool = {
        "type": "function",
        "function": {"name": "route_ticket", "parameters": {"type": "object", "properties": {}}},
    }
    raw = chat(OfflineTransport(), ticket_messages(), seed=0, tools=[tool], tool_choice="required")
    assert raw.parse().choices[0].message.tool_calls[0].function.name == "route_ticket"


def test_dspy_chat_adapter_reply_has_each_marker_and_typed_values() -> None:
    """dspy's ChatAdapter: each output field's marker, a label, a float, a JSON list, and the
    completed marker last."""
    messages = [
        {"role": "system", "content": DSPY_SYSTEM},
        {"role": "user", "content": f"[[ ## ticket ## ]]\n{TICKET}\n\nRespond ..."},
    ]
    text = chat(OfflineTransport(), messages, seed=1).parse().choices[0].message.content
    match = re.fullmatch(
        r"\[\[ ## label ## \]\]\n(\w+)\n\n\[\[ ## confidence ## \]\]\n(\S+)\n\n"
        r"\[\[ ## tags ## \]\]\n(.+)\n\n\[\[ ## completed ## \]\]",
        text,
        re.S,
    )
    assert match is not None, text
    assert match.group(1) in ("billing", "bug", "feature", "other")
    float(match.group(2))
    assert all(isinstance(tag, str) for tag in json.loads(match.group(3)))


def test_streamed_and_plain_replies_match_under_a_contract() -> None:
    """Streamed == non-streamed, and a seeded request repeats: reading is part of the
    request, not of the run."""
    transport = OfflineTransport()
    plain = chat(transport, ticket_messages(), seed=3, temperature=1.0).parse()
    again = chat(transport, ticket_messages(), seed=3, temperature=1.0).parse()
    stream = sdk(transport).chat.completions.create(
        model="gpt-4o", messages=ticket_messages(), seed=3, temperature=1.0, stream=True
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert plain.choices[0].message.content == again.choices[0].message.content == streamed


def test_responses_read_the_instructions_and_report_it() -> None:
    """/responses reads ``instructions`` and input alike, and says so in the header."""
    raw = sdk(OfflineTransport()).responses.with_raw_response.create(
        model="gpt-4o", instructions=LABELS, input=TICKET
    )
    assert raw.parse().output_text in ("billing", "bug", "feature", "other")
    assert raw.headers[HEADER] == "labels(billing|bug|feature|other)"


def test_read_prompt_false_on_the_transport_turns_reading_off() -> None:
    """OfflineTransport(read_prompt=False): free text, no header."""
    raw = chat(OfflineTransport(read_prompt=False), ticket_messages(), seed=0)
    assert HEADER not in raw.headers
    assert raw.parse().choices[0].message.content not in ("billing", "bug", "feature", "other")


def test_read_prompt_false_in_presets_yaml_turns_reading_off(tmp_path: Path) -> None:
    """``offline: {read_prompt: false}`` in a presets file: the same as the transport's switch."""
    config = tmp_path / "presets.yaml"
    config.write_text("offline:\n  read_prompt: false\n", encoding="utf-8")
    transport = OfflineTransport(config=load_presets(config))
    assert transport.read_prompt is False
    assert HEADER not in chat(transport, ticket_messages(), seed=0).headers


def test_a_reader_of_your_own_is_tried_first() -> None:
    """OfflineTransport(readers=[...]): a user's convention ("TICKET-ID ONLY") becomes a
    grammar; the packaged readers still read what it leaves."""

    def ticket_ids(text: PromptText) -> Contract | None:
        if "TICKET-ID ONLY" not in text.joined:
            return None
        return Contract("ticket_id", lark="start: /T-[0-9]{4}/\n")

    transport = OfflineTransport(readers=[ticket_ids])
    raw = chat(transport, [{"role": "user", "content": "Which ticket? TICKET-ID ONLY."}], seed=0)
    assert re.fullmatch(r"T-\d{4}", raw.parse().choices[0].message.content)
    assert raw.headers[HEADER] == "ticket_id"
    assert chat(transport, ticket_messages(), seed=0).headers[HEADER].startswith("labels(")


def test_a_scripted_answer_beats_what_was_read() -> None:
    """A scripted rule is the user's explicit answer: a contract read from the prompt does
    not mask it (a request's own response_format does)."""
    from llmpresets.offline import make_rule

    rule = make_rule("charged twice", {"Refunded.": 1.0})
    transport = OfflineTransport(scripted=[rule])
    reply = chat(transport, ticket_messages(), seed=0).parse()
    assert reply.choices[0].message.content == "Refunded."


def test_a_contract_has_one_grammar() -> None:
    """A Contract is a JSON Schema or a Lark grammar, never both or neither."""
    with pytest.raises(ValueError, match="exactly one"):
        Contract("broken")


def test_explain_says_what_is_read_from_a_prompt(capsys: pytest.CaptureFixture[str]) -> None:
    """``llmpresets explain --prompt TEXT --system TEXT`` notes the contract read (JSON too),
    and --system without --prompt is a usage error (exit 2)."""
    from llmpresets.cli import main

    assert main(["explain", "--json", "--prompt", TICKET, "--system", LABELS]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert "reading the prompt: labels(billing|bug|feature|other)" in notes
    assert main(["explain", "--json", "--prompt", "Tell me about the sea."]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert "reading the prompt: no output contract (free text)" in notes
    assert main(["explain", "--system", LABELS]) == 2
    assert "--system" in capsys.readouterr().err

"""A reply is finished only when its grammar accepts it; grammars no text satisfies are the
API's 400; grammars past llguidance's parser limits are bounded (a subprocess check)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import openai
import pytest
from offline_sdk import sdk

from llmpresets.offline import OfflineTransport
from llmpresets.offline.engine.constrained.decoder import generate_constrained
from llmpresets.offline.engine.constrained.grammar import (
    GrammarError,
    json_schema_grammar,
    lark_grammar,
)
from llmpresets.offline.engine.types import SamplingSettings
from llmpresets.tokens.encodings import get_encoding

# Schemas whose every value would need itself again: no JSON text satisfies them.
CYCLES: dict[str, dict[str, Any]] = {
    "required self": {
        "type": "object",
        "properties": {"child": {"$ref": "#"}},
        "required": ["child"],
        "additionalProperties": False,
    },
    "two definitions": {
        "$ref": "#/$defs/a",
        "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
    },
    "after a forced key": {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/a"}},
        "required": ["a"],
        "additionalProperties": False,
        "$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}]}},
    },
}


def client() -> Any:
    return sdk(OfflineTransport(seed=9))


@pytest.mark.parametrize("name", sorted(CYCLES))
@pytest.mark.parametrize("stream", [False, True])
def test_chat_refuses_a_schema_no_value_satisfies(name: str, stream: bool) -> None:
    """A ``$ref`` cycle with no way out: the 400 refusing the schema, not invalid JSON that
    says ``finish_reason="stop"``."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "json please"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "loop", "schema": CYCLES[name]},
            },
            stream=stream,
        )
    assert caught.value.param == "response_format"
    body: Any = caught.value.body
    assert body["message"].startswith("Invalid schema for response_format 'loop': ")
    assert "no JSON value satisfies the schema" in body["message"]


@pytest.mark.parametrize("name", sorted(CYCLES))
@pytest.mark.parametrize("stream", [False, True])
def test_responses_refuses_a_schema_no_value_satisfies(name: str, stream: bool) -> None:
    """The same on ``/responses``, named ``text.format``."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().responses.create(
            model="gpt-4o",
            input="json please",
            text={"format": {"type": "json_schema", "name": "loop", "schema": CYCLES[name]}},
            stream=stream,
        )
    assert caught.value.param == "text.format"
    body: Any = caught.value.body
    assert body["message"].startswith("Invalid schema for text.format 'loop': ")


def test_a_tool_whose_parameters_no_value_satisfies_is_refused() -> None:
    """Tool parameters with the same cycle: the 400 names the tool's parameters."""
    with pytest.raises(openai.BadRequestError) as caught:
        client().chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "go"}],
            tools=[
                {
                    "type": "function",
                    "function": {"name": "loop", "parameters": CYCLES["required self"]},
                }
            ],
        )
    assert caught.value.param == "tools[0].function.parameters"


def test_a_reply_whose_grammar_dead_ends_is_cut_not_finished() -> None:
    """A grammar that allows nothing more short of acceptance, mid-reply (after ``b`` the
    rule ``x`` has no way out, which its first mask cannot show): ``length``, not ``stop``."""
    encoding = get_encoding("o200k_base")
    grammar = lark_grammar(encoding, 'start: "a" | "b" x\nx: x "c"')
    favoured = encoding.encode("b")[0]

    def prefers_b(ids: Any) -> Any:
        logits = np.zeros(encoding.n_vocab)
        logits[favoured] = 50.0
        return logits

    settings = SamplingSettings(temperature=0, max_tokens=50)
    reply = generate_constrained(
        prefers_b, None, encoding, grammar, settings, np.random.default_rng(0)
    )
    assert (reply.text, reply.finish_reason) == ("b", "length")


def test_a_complete_reply_still_stops() -> None:
    """A reply its grammar accepts ends with ``stop`` and is valid JSON."""
    encoding = get_encoding("o200k_base")
    schema = {
        "type": "object",
        "properties": {"next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
        "required": ["next"],
        "additionalProperties": False,
    }
    grammar = json_schema_grammar(encoding, schema)
    reply = generate_constrained(
        lambda ids: np.zeros(encoding.n_vocab),
        None,
        encoding,
        grammar,
        SamplingSettings(temperature=0, max_tokens=200),
        np.random.default_rng(0),
    )
    assert reply.finish_reason == "stop"
    json.loads(reply.text)


def test_grammar_error_names_the_dead_end() -> None:
    """Compiling a schema no value satisfies raises GrammarError saying so."""
    with pytest.raises(GrammarError, match="no JSON value satisfies the schema"):
        json_schema_grammar(get_encoding("o200k_base"), CYCLES["two definitions"])


# A run of one request with a pathological pattern, in a subprocess: its answer, its time and
# its peak memory above the process's baseline (the tokenizer and model already loaded).
_PATHOLOGICAL = textwrap.dedent(
    """
    import json, resource, sys, time
    import httpx2, openai
    from llmpresets.offline import OfflineTransport

    client = openai.OpenAI(api_key="offline", base_url="http://offline.test/v1", max_retries=0,
        http_client=httpx2.Client(transport=OfflineTransport(seed=1)))
    def ask(pattern):
        schema = {"type": "object", "additionalProperties": False, "required": ["s"],
                  "properties": {"s": {"type": "string", "pattern": pattern}}}
        try:
            reply = client.chat.completions.create(model="gpt-4o", max_tokens=200,
                messages=[{"role": "user", "content": "json"}],
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "p", "schema": schema, "strict": True}})
            return reply.choices[0].finish_reason
        except openai.BadRequestError as error:
            return "400 " + str(error.param)
    ask("^a$")  # warm: tokenizer, model
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = {}
    for pattern in sys.argv[1:]:
        start = time.perf_counter()
        answer = ask(pattern)
        results[pattern] = [answer, time.perf_counter() - start]
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({"results": results, "grown_kb": grown}))
    """
)
PATHOLOGICAL_PATTERNS = [
    "((a{1,50}){1,50}){1,50}",
    "^((a{1,50}){1,50}){1,50}$",
    "(([a-z ]{1,50}){1,50}){1,50}",
    "((\\w{1,50}){1,50}){1,50}",
    "^(((a{1,50}){1,50}){1,50}){1,50}$",
    "^((a|b|c){1,50}(d|e){1,50}){1,50}$",
]


def test_pathological_patterns_are_bounded_in_a_subprocess() -> None:
    """Nested counted repeats: each request answers (a reply, finished or cut, or the 400
    refusing the schema) within the parser limits; the subprocess's peak memory grows by far
    less than the hundreds of MB llguidance's default lexer limit allows. The generous
    timeout is the bound's backstop, not a measurement."""
    done = subprocess.run(
        [sys.executable, "-c", _PATHOLOGICAL, *PATHOLOGICAL_PATTERNS],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for pattern, (answer, _seconds) in report["results"].items():
        assert answer in ("stop", "length", "400 response_format"), (pattern, answer)
    assert report["grown_kb"] < 150 * 1024, report


def test_a_grammar_past_its_limits_mid_reply_does_not_stop_the_next_replies() -> None:
    """Copies of a compiled grammar share its lexer: once one reply reaches a parser limit,
    the grammar is compiled afresh for the next, whose reply still gets under way (before,
    every later reply with that schema came back empty)."""
    encoding = get_encoding("o200k_base")
    pattern = "(([a-z ]{1,50}){1,50}){1,50}"
    schema = {
        "type": "object",
        "properties": {"s": {"type": "string", "pattern": pattern}},
        "required": ["s"],
        "additionalProperties": False,
    }
    texts = []
    for seed in range(3):
        reply = generate_constrained(
            lambda ids: np.zeros(encoding.n_vocab),
            None,
            encoding,
            json_schema_grammar(encoding, schema),
            SamplingSettings(temperature=1, max_tokens=50),
            np.random.default_rng(seed),
        )
        assert reply.finish_reason in ("stop", "length")
        texts.append(reply.text)
    assert all(text.startswith('{"s":"') for text in texts), texts

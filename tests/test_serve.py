"""``llmpresets serve``'s app over real HTTP: an httpx2 client against a running server."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest

from llmpresets.client.loopback import no_proxy_for_loopback
from llmpresets.offline import Latency, OfflineApp, OfflineTransport, ServerThread

KEY = "sk-local-0123456789"
CHAT = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Tell me a story"}],
    "max_tokens": 12,
    "seed": 3,
}


@pytest.fixture(scope="module", autouse=True)
def _loopback_not_proxied() -> Iterator[None]:
    """The clients here reach their local servers directly, whatever HTTP_PROXY says (as the
    llm_server fixture arranges for its users)."""
    with no_proxy_for_loopback():
        yield


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    thread = ServerThread(OfflineApp(OfflineTransport(seed=0), max_body_bytes=4096))
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerThread]:
    thread = ServerThread(OfflineApp(OfflineTransport(seed=0), api_key=KEY))
    thread.start()
    yield thread
    thread.stop()


def stream_text(client: httpx2.Client, url: str) -> tuple[str, list[str]]:
    """The text of a streamed chat completion, and its raw SSE data lines."""
    lines = []
    with client.stream("POST", f"{url}/chat/completions", json={**CHAT, "stream": True}) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        for line in reply.iter_lines():
            if line.startswith("data: "):
                lines.append(line[6:])
    pieces = [
        json.loads(line)["choices"][0]["delta"].get("content") or ""
        for line in lines
        if line != "[DONE]" and json.loads(line)["choices"]
    ]
    return "".join(pieces), lines


def test_chat_completion_over_http(server: ServerThread) -> None:
    """The SDK, given only the base URL, gets a chat.completion; streaming gives the same text."""
    client = openai.OpenAI(api_key="anything", base_url=server.base_url, max_retries=0)
    reply = client.chat.completions.create(**CHAT)  # type: ignore[call-overload]
    assert reply.object == "chat.completion"
    with httpx2.Client() as http:
        text, lines = stream_text(http, server.base_url)
    assert text == reply.choices[0].message.content
    assert lines[-1] == "[DONE]"


def test_many_simultaneous_streams(server: ServerThread) -> None:
    """16 concurrent streams all finish, each with the text a lone request gets."""
    with httpx2.Client() as http:
        expected, _ = stream_text(http, server.base_url)
    results: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with httpx2.Client(timeout=60) as http:
                results.append(stream_text(http, server.base_url)[0])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert results == [expected] * 16


def test_routes_are_whatever_the_transport_answers(server: ServerThread) -> None:
    """Models, embeddings, completions, and the transport's own 404 for an unknown path."""
    with httpx2.Client(base_url=server.base_url) as http:
        models = http.get("/models").json()
        assert "gpt-4o" in [entry["id"] for entry in models["data"]]
        embedding = http.post(
            "/embeddings", json={"model": "text-embedding-3-small", "input": "hi"}
        )
        assert embedding.status_code == 200
        legacy = http.post("/completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": "Hi"})
        assert legacy.json()["object"] == "text_completion"
        missing = http.get("/no/such/endpoint")
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == "Invalid URL (GET /v1/no/such/endpoint)"


def test_body_limit_is_a_413_in_the_api_shape(server: ServerThread) -> None:
    """A body over the limit, declared or streamed without a length, gets a 413."""
    big = json.dumps({**CHAT, "padding": "x" * 5000}).encode()
    with httpx2.Client(base_url=server.base_url) as http:
        declared = http.post("/chat/completions", content=big)

        def chunks() -> Iterator[bytes]:
            yield big[:3000]
            yield big[3000:]

        undeclared = http.post("/chat/completions", content=chunks())
    for reply in (declared, undeclared):
        assert reply.status_code == 413
        error = reply.json()["error"]
        assert error["code"] == "request_too_large"
        assert "at most 4096 bytes" in error["message"]


def test_api_key_is_checked(keyed: ServerThread) -> None:
    """Missing key: the API's 401; wrong key: invalid_api_key; right key: answered."""
    with httpx2.Client(base_url=keyed.base_url) as http:
        missing = http.get("/models")
        wrong = http.get("/models", headers={"Authorization": "Bearer sk-wrong-key-123"})
        right = http.get("/models", headers={"Authorization": f"Bearer {KEY}"})
    assert missing.status_code == wrong.status_code == 401
    assert "You didn't provide an API key" in missing.json()["error"]["message"]
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert "sk-wrong" not in wrong.text
    assert right.status_code == 200
    client = openai.OpenAI(api_key="sk-nope", base_url=keyed.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_one_access_log_line_per_request_without_secrets(
    keyed: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request logs one line (client, method, path, status); no key, no query string."""
    # A path no other test asks the shared server for; the line is written once the answer is
    # sent, so it may land just after the client has it: wait for it (bounded).
    path = "/models/gpt-4o-mini"
    with caplog.at_level(logging.INFO, logger="llmpresets.serve"), httpx2.Client() as http:
        http.get(
            f"{keyed.base_url}{path}?api-key=secret", headers={"Authorization": f"Bearer {KEY}"}
        )
        http.get(f"{keyed.base_url}{path}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = [
                r.getMessage()
                for r in caplog.records
                if r.name == "llmpresets.serve" and f"/v1{path}" in r.getMessage()
            ]
            if len(lines) >= 2:
                break
            time.sleep(0.01)
    assert len(lines) == 2
    assert f'"GET /v1{path}" 200' in lines[0] and f'"GET /v1{path}" 401' in lines[1]
    assert not any(KEY in line or "secret" in line for line in lines)
    assert KEY not in repr(keyed.app)


def test_fixture_gives_a_running_server(llm_server_url: str) -> None:
    """The pytest plugin's llm_server_url is a live loopback base URL."""
    assert llm_server_url.startswith("http://127.0.0.1:") and llm_server_url.endswith("/v1")
    client = openai.OpenAI(api_key="x", base_url=llm_server_url, max_retries=0)
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"


def test_latency_streams_the_same_events() -> None:
    """Simulated latency delays events but changes none of them (no clock is asserted)."""
    app = OfflineApp(OfflineTransport(seed=0), latency=Latency(0.01, 2000))
    with ServerThread(app) as url, httpx2.Client() as http:
        slow, _ = stream_text(http, url)
    with ServerThread(OfflineApp(OfflineTransport(seed=0))) as url, httpx2.Client() as http:
        fast, _ = stream_text(http, url)
    assert slow == fast


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.2", Latency(0.2, None)), ("0,50", Latency(0.0, 50.0)), ("1.5, 10", Latency(1.5, 10.0))],
)
def test_latency_parses(text: str, expected: Latency) -> None:
    """--latency is SECONDS or SECONDS,TOKENS_PER_SECOND."""
    assert Latency.parse(text) == expected


@pytest.mark.parametrize("text", ["fast", "-1", "0.1,0", "0.1,x", "1000"])
def test_bad_latency_says_what_is_allowed(text: str) -> None:
    """A bad --latency is a ValueError naming the expected form."""
    with pytest.raises(ValueError, match="SECONDS,TOKENS_PER_SECOND"):
        Latency.parse(text)


def test_responses_api_over_http(server: ServerThread) -> None:
    """The Responses API (create, retrieve, delete) works through the server unchanged."""
    client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
    response = client.responses.create(model="gpt-4o", input="Say hi", max_output_tokens=16)
    assert response.object == "response"
    assert client.responses.retrieve(response.id).id == response.id
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_readme_curl_example_is_answered(server: ServerThread) -> None:
    """The JSON body of the README's curl example gets a chat.completion from the server."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    body = readme.split("curl http://127.0.0.1:8000/v1/chat/completions", 1)[1]
    data = body.split("-d '", 1)[1].split("'", 1)[0]
    reply = httpx2.post(
        f"{server.base_url}/chat/completions",
        content=data.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 200
    assert reply.json()["object"] == "chat.completion"


def test_warm_up_leaves_a_seeded_sequence_alone() -> None:
    """warm_up() loads the model without taking a turn of the transport's seeded sequence."""
    body = {k: v for k, v in CHAT.items() if k != "seed"}

    def first_reply(warm: bool) -> str:
        app = OfflineApp(OfflineTransport(seed=5))
        if warm:
            app.warm_up()
        request = httpx2.Request("POST", "http://x/v1/chat/completions", json=body)
        request.read()
        return str(json.loads(app.transport.answer(request).content)["choices"][0])

    assert first_reply(warm=True) == first_reply(warm=False)


def test_client_leaving_mid_stream_frees_the_server() -> None:
    """A client that disconnects mid-stream ends that stream; the server keeps answering."""
    app = OfflineApp(OfflineTransport(seed=0), latency=Latency(0, 200))
    with ServerThread(app) as url:
        with (
            httpx2.Client() as http,
            http.stream(
                "POST", f"{url}/chat/completions", json={**CHAT, "stream": True, "max_tokens": 200}
            ) as reply,
        ):
            next(reply.iter_lines())
        with httpx2.Client() as http:
            assert http.get(f"{url}/models").status_code == 200

"""Cassette: a reply recorded from a live server (llmpresets serve with an API key, standing in
for the API) replays byte for byte with the server gone; misses behave as configured; no piece
of the key reaches the file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import yaml
from openai.types.chat import ChatCompletionMessageParam

from llmpresets import (
    Cassette,
    CassetteMissError,
    CassetteMissWarning,
    ConfigError,
    intercept_openai,
)
from llmpresets.offline import OfflineApp, OfflineTransport, ServerThread
from llmpresets.testing.cassette_file import request_key

pytest_plugins = ["pytester"]

KEY = "sk-proj-Zq7Xw3Vb9Ny1Mt5Lk8Jh2Gf6Dd4Ss0Aa"
ORG = "org-Pw3Qe8Rt5Yu1Io7Pa"
PROJECT = "proj_Kd9Fh2Jk6Lm4Nb8Vc"
CHAT: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture(scope="module")
def live() -> Iterator[str]:
    """A live server that wants the key (a client without it gets a 401)."""
    server = ServerThread(OfflineApp(OfflineTransport(seed=3), api_key=KEY))
    yield server.start()
    server.stop()


def _client(transport: Cassette, base_url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=key,
        organization=ORG,
        project=PROJECT,
        base_url=base_url,
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )


def _exchanges(client: openai.OpenAI) -> dict[str, Any]:
    """A whole body, a chat stream's raw chunks and a Responses event stream."""
    whole = client.chat.completions.with_raw_response.create(
        model="gpt-4o",
        messages=CHAT,
        max_tokens=12,
    )
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o",
        messages=CHAT,
        max_tokens=12,
        stream=True,
    ) as streamed:
        chunks = list(streamed.http_response.iter_raw())
    events = [
        event.model_dump_json()
        for event in client.responses.create(
            model="gpt-4o", input="Say hello", max_output_tokens=16, stream=True
        )
    ]
    return {"body": whole.http_response.content, "chunks": chunks, "events": events}


@pytest.fixture(scope="module")
def recorded(live: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("cassettes") / "colour.yaml"
    with Cassette(path, mode="record") as cassette, _client(cassette, live) as client:
        seen = _exchanges(client)
    assert cassette.recorded == 3
    return path, seen


def test_replay_gives_the_same_bytes_and_chunks_with_the_server_gone(
    recorded: tuple[Path, dict[str, Any]],
) -> None:
    path, seen = recorded
    # Nothing listens on port 9: any request that left the cassette would fail.
    cassette = Cassette(path, mode="replay", on_miss="error")
    with _client(cassette, "http://127.0.0.1:9/v1", key="another-key") as client:
        again = _exchanges(client)
    assert again["body"] == seen["body"]
    assert again["chunks"] == seen["chunks"]
    assert len(seen["chunks"]) > 2
    assert again["events"] == seen["events"]


def test_async_replay(recorded: tuple[Path, dict[str, Any]]) -> None:
    path, seen = recorded

    async def replay() -> bytes:
        client = openai.AsyncOpenAI(
            api_key="k",
            base_url="http://127.0.0.1:9/v1",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=Cassette(path, mode="replay")),
        )
        async with client:
            raw = await client.chat.completions.with_raw_response.create(
                model="gpt-4o",
                messages=CHAT,
                max_tokens=12,
            )
            return raw.http_response.content

    assert asyncio.run(replay()) == seen["body"]


def test_no_piece_of_the_key_or_ids_reaches_the_file(recorded: tuple[Path, dict[str, Any]]) -> None:
    text = recorded[0].read_text(encoding="utf-8")
    for secret in (KEY, ORG, PROJECT):
        pieces = {secret[i : i + 8] for i in range(len(secret) - 7)}
        assert [piece for piece in pieces if piece.lower() in text.lower()] == []


def test_the_file_is_readable_yaml_with_parsed_bodies(
    recorded: tuple[Path, dict[str, Any]],
) -> None:
    data = yaml.safe_load(recorded[0].read_text(encoding="utf-8"))
    first, second, third = data["interactions"]
    assert first["request"]["body"]["messages"] == CHAT
    assert first["response"]["body"]["object"] == "chat.completion"
    assert "authorization" not in json.dumps(data).lower()
    stream = second["response"]["stream"]
    assert stream[0]["data"]["object"] == "chat.completion.chunk"
    assert stream[-1]["text"] == "data: [DONE]\n\n"
    assert all(entry["t"] >= 0 for entry in stream)
    assert third["response"]["stream"][0]["event"] == "response.created"


def test_matching_ignores_what_does_not_shape_the_reply() -> None:
    body = {"model": "gpt-4o", "messages": CHAT, "temperature": 0.5}
    same = {
        "temperature": 0.5,
        "messages": [{"content": "  Name a\n colour. ", "role": "user"}],
        "model": "gpt-4o",
        "user": "u-42",
        "metadata": {"run": "7"},
        "prompt_cache_key": "abc",
    }
    other = {**body, "temperature": 0.7}
    key = request_key("POST", "/v1/chat/completions", json.dumps(body).encode())
    assert key == request_key("POST", "/v1/chat/completions", json.dumps(same).encode())
    assert key != request_key("POST", "/v1/chat/completions", json.dumps(other).encode())
    assert key != request_key("POST", "/v1/responses", json.dumps(body).encode())


def _ask(cassette: Cassette, text: str) -> str:
    """The reply's ``object`` (a miss answered offline is a chat completion too)."""
    with _client(cassette, "http://127.0.0.1:9/v1", key="offline") as client:
        reply = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": text}], max_tokens=5
        )
    return reply.object


def test_a_miss_is_answered_offline_with_a_warning_naming_it(
    recorded: tuple[Path, dict[str, Any]],
) -> None:
    cassette = Cassette(recorded[0], mode="replay")
    with pytest.warns(CassetteMissWarning) as caught:
        assert _ask(cassette, "Something never recorded") == "chat.completion"
    message = str(caught[0].message)
    assert "no recording of POST /v1/chat/completions" in message
    assert "'Something never recorded'" in message
    assert str(recorded[0]) in message
    assert cassette.misses == [message.split("no recording of ")[1].split(";")[0]]


def test_a_refused_miss_names_the_request_and_the_cassette(
    recorded: tuple[Path, dict[str, Any]],
) -> None:
    cassette = Cassette(recorded[0], mode="auto", on_miss="error")
    with pytest.raises(CassetteMissError) as err:
        _ask(cassette, "Something never recorded")
    assert err.value.cassette == str(recorded[0])
    assert "model 'gpt-4o', last message 'Something never recorded'" in err.value.request


def test_auto_records_only_with_the_environments_key(
    live: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "auto.yaml"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CassetteMissWarning)
        cassette = Cassette(path, mode="auto")
        with _client(cassette, live) as client:
            client.models.list()
    assert cassette.recorded == 0 and not path.exists()  # no key set: offline, not the server

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with Cassette(path, mode="auto") as cassette, _client(cassette, live) as client:
        client.models.list()
        client.models.list()  # the same request again: the recording replays
    assert cassette.recorded == 1
    assert KEY[:12] not in path.read_text(encoding="utf-8")


def test_bad_arguments_and_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mode='tape'\); allowed: auto, new, record, replay"):
        Cassette(tmp_path / "x.yaml", mode="tape")
    with pytest.raises(ConfigError, match=r"on_miss='skip'\); allowed: offline, error"):
        Cassette(tmp_path / "x.yaml", on_miss="skip")
    broken = tmp_path / "broken.yaml"
    broken.write_text("interactions:\n- request: {method: POST\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML") as err:
        Cassette(broken)
    assert err.value.line is not None
    malformed = tmp_path / "malformed.yaml"
    malformed.write_text("interactions:\n- request: {method: POST}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"interactions\[0\] is malformed"):
        Cassette(malformed)


def test_serve_replays_a_cassette_for_any_client(
    recorded: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """llmpresets serve --cassette: the recorded body over HTTP; a miss is a 404 with
    --on-miss error."""
    path, seen = recorded
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmpresets",
            "serve",
            "--port",
            "0",
            "--quiet",
            "--cassette",
            str(path),
            "--on-miss",
            "error",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"serving the cassette {path} at http://127.0.0.1:" in line, line
        base_url = line.split(" at ")[1].split()[0]
        with httpx2.Client(base_url=base_url, trust_env=False, timeout=30) as http:
            body = {"model": "gpt-4o", "messages": CHAT, "max_tokens": 12}
            assert http.post("/chat/completions", json=body).content == seen["body"]
            missed = http.post("/chat/completions", json={**body, "max_tokens": 3})
        assert missed.status_code == 404
        assert missed.json()["error"]["code"] == "cassette_miss"
        assert "max_tokens" not in missed.json()["error"]["message"]  # names it, briefly
        assert str(path) in missed.json()["error"]["message"]
    finally:
        process.terminate()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_serve_cassette_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "llmpresets", "serve", "--cassette", str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert "none.yaml: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_fixture_records_then_replays(
    pytester: pytest.Pytester, live: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--llm-record=new writes tests/cassettes/<module>/<test>.yaml; a plain run replays it
    with the server's key gone from the environment."""
    monkeypatch.setenv("LIVE_URL", live)
    monkeypatch.setenv("LIVE_KEY", KEY)
    pytester.makepyfile(
        test_app="""
        import os
        import httpx2, openai

        def test_colour(llm_cassette):
            client = openai.OpenAI(
                api_key=os.environ.get("LIVE_KEY", "offline"),
                base_url=os.environ.get("LIVE_URL", "http://127.0.0.1:9/v1"),
                max_retries=0,
                http_client=httpx2.Client(transport=llm_cassette),
            )
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Name a colour."}]
            )
            print("REPLY:", reply.choices[0].message.content)
        """
    )
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--llm-record=new")
    first.assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_app" / "test_colour.yaml"
    assert cassette.exists()
    monkeypatch.delenv("LIVE_URL")
    monkeypatch.delenv("LIVE_KEY")
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "-W", "error")
    again.assert_outcomes(passed=1)
    replies = [
        line.split("REPLY:")[1] for line in first.outlines + again.outlines if "REPLY:" in line
    ]
    assert len(replies) == 2 and replies[0] == replies[1]


def test_an_apps_own_client_records_through_intercept_openai(live: str, tmp_path: Path) -> None:
    """intercept_openai(Cassette(...)): the client an app builds itself is recorded, then
    replayed with the server gone."""
    path = tmp_path / "app.yaml"
    with Cassette(path, mode="record") as recording, intercept_openai(recording) as cassette:
        with openai.OpenAI(api_key=KEY, base_url=live, max_retries=0) as client:
            recorded = client.chat.completions.create(model="gpt-4o", messages=CHAT, max_tokens=8)
        assert cassette.recorded == 1
    replay = Cassette(path, mode="replay", on_miss="error")
    with (
        intercept_openai(replay),
        openai.OpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0) as c,
    ):
        replayed = c.chat.completions.create(model="gpt-4o", messages=CHAT, max_tokens=8)
    assert replayed.model_dump() == recorded.model_dump()


def test_bodies_of_any_shape_replay_byte_for_byte(tmp_path: Path) -> None:
    """Indented JSON with a final newline, non-ASCII escapes, SSE chunks that split events
    and bytes that are not UTF-8 all come back exactly; `realtime` changes only the pace."""
    bodies = {
        "/v1/models": (json.dumps({"data": [{"id": "gpt-é"}]}, indent=2) + "\n").encode(),
        "/v1/batches": b'{"mixed": [1,2], "spacing": true}',
        "/v1/files": b"\xff\xfe not utf-8",
    }
    chunks = [b'data: {"a": 1}\n\ndata: {"b"', b": 2}\n\n", b"data: [DONE]\n\n"]

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v1/chat/completions":
            return httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, stream=_Chunks(chunks)
            )
        return httpx2.Response(200, content=bodies[request.url.path])

    path = tmp_path / "shapes.yaml"
    inner = httpx2.MockTransport(handler)
    with httpx2.Client(transport=Cassette(path, mode="record", inner=inner)) as http:
        for url, body in bodies.items():
            assert http.get(f"http://api.test{url}").content == body
        with http.stream("POST", "http://api.test/v1/chat/completions", json={}) as reply:
            assert list(reply.iter_raw()) == chunks
    for realtime in (False, True):
        replay = Cassette(path, mode="replay", on_miss="error", realtime=realtime)
        with httpx2.Client(transport=replay) as http:
            for url, body in bodies.items():
                assert http.get(f"http://elsewhere.test{url}").content == body
            with http.stream("POST", "http://x.test/v1/chat/completions", json={}) as reply:
                assert list(reply.iter_raw()) == chunks
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["interactions"][0]["response"]["json_style"] == "indented-ascii+newline"
    assert data["interactions"][1]["response"]["text"] == '{"mixed": [1,2], "spacing": true}'
    assert "base64" in data["interactions"][2]["response"]
    assert [sorted(entry) for entry in data["interactions"][3]["response"]["stream"]] == [
        ["t", "text"],
        ["t", "text"],
        ["t", "text"],
    ]


class _Chunks(httpx2.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks


def test_async_recording_replays_in_a_sync_client(live: str, tmp_path: Path) -> None:
    """An AsyncOpenAI recording (a whole body and a stream) replays in a sync client."""
    path = tmp_path / "async.yaml"

    async def record() -> tuple[bytes, list[bytes]]:
        cassette = Cassette(path, mode="record")
        client = openai.AsyncOpenAI(
            api_key=KEY,
            base_url=live,
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=cassette),
        )
        async with client:
            whole = await client.chat.completions.with_raw_response.create(
                model="gpt-4o", messages=CHAT, max_tokens=12
            )
            async with client.chat.completions.with_streaming_response.create(
                model="gpt-4o", messages=CHAT, max_tokens=12, stream=True
            ) as streamed:
                chunks = [chunk async for chunk in streamed.http_response.aiter_raw()]
        await cassette.aclose()
        return whole.http_response.content, chunks

    body, chunks = asyncio.run(record())
    with _client(Cassette(path, mode="replay", on_miss="error"), "http://127.0.0.1:9/v1") as c:
        again = c.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=CHAT, max_tokens=12
        )
        with c.chat.completions.with_streaming_response.create(
            model="gpt-4o", messages=CHAT, max_tokens=12, stream=True
        ) as streamed:
            assert list(streamed.http_response.iter_raw()) == chunks
    assert again.http_response.content == body

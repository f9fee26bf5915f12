"""Loopback traffic never goes through a proxy named in the environment.

Each test sets HTTP_PROXY, HTTPS_PROXY and ALL_PROXY to a dead port and removes NO_PROXY, so
only the library's own handling of loopback addresses keeps the requests working. (CI also
runs the whole suite once under a dead proxy.)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from llmpresets import AsyncClient, Cassette, Client
from llmpresets.client.loopback import is_loopback_url, no_proxy_for_loopback
from llmpresets.offline import OfflineApp, OfflineTransport, ServerThread

pytest_plugins = ["pytester"]

DEAD = "http://127.0.0.1:9"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


@pytest.fixture
def dead_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, DEAD)
    for name in ("NO_PROXY", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with ServerThread(OfflineApp(OfflineTransport(seed=0))) as url:
        yield url


@pytest.mark.usefixtures("dead_proxy")
def test_a_dead_proxy_is_really_used_for_loopback_by_plain_sdk_clients(server: str) -> None:
    """The premise: without help, the SDK's own client sends loopback traffic to the proxy."""
    with (
        openai.OpenAI(api_key="x", base_url=server, max_retries=0) as client,
        pytest.raises(openai.APIConnectionError),
    ):
        client.models.list()


@pytest.mark.usefixtures("dead_proxy")
def test_the_library_client_reaches_a_loopback_server_directly(server: str) -> None:
    with Client(api_key="sk-local", base_url=server, max_retries=0) as client:
        assert client.complete("Hi", max_tokens=3).text is not None

    async def run() -> str | None:
        async with AsyncClient(api_key="sk-local", base_url=server, max_retries=0) as client:
            return (await client.complete("Hi", max_tokens=3)).text

    assert asyncio.run(run()) is not None


@pytest.mark.usefixtures("dead_proxy")
def test_a_cassette_records_from_a_loopback_server_directly(server: str, tmp_path: Path) -> None:
    import httpx2

    cassette = Cassette(tmp_path / "c.yaml", mode="record")
    with openai.OpenAI(
        api_key="x",
        base_url=server,
        max_retries=0,
        http_client=httpx2.Client(transport=cassette),
    ) as client:
        client.models.list()
    assert cassette.recorded == 1


@pytest.mark.usefixtures("dead_proxy")
def test_a_users_clients_for_llm_server_url_skip_the_proxy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import openai

        def test_server(llm_server_url):
            client = openai.OpenAI(api_key="x", base_url=llm_server_url, max_retries=0)
            assert client.models.list().data
            client.close()
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_no_proxy_lists_loopback_inside_and_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "corp.example,localhost")
    monkeypatch.delenv("no_proxy", raising=False)
    with no_proxy_for_loopback():
        assert os.environ["NO_PROXY"] == "corp.example,localhost,127.0.0.1,::1"
        assert os.environ["no_proxy"] == os.environ["NO_PROXY"]
    assert os.environ["NO_PROXY"] == "corp.example,localhost"
    assert "no_proxy" not in os.environ


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000/v1", True),
        ("http://127.8.9.1/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://localhost/v1", True),
        ("http://api.localhost/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.1/v1", False),
        ("http://localhost.example.com/v1", False),
    ],
)
def test_what_counts_as_loopback(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback

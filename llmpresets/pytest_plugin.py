"""pytest fixtures for testing code that calls OpenAI, with no API key and no network.

Installed with llmpresets (entry point ``pytest11``); nothing is autouse and this module imports
nothing heavy until a fixture is used. The fixtures of one test share one
:class:`~llmpresets.OfflineTransport`, seeded by ``llm_offline_seed`` (0; override the fixture
to change it), so a test's replies are the same on every run.

- ``llm_offline_client``: an offline :class:`llmpresets.Client`.
- ``llm_offline_openai`` / ``llm_offline_async_openai``: an ``openai.OpenAI`` /
  ``openai.AsyncOpenAI`` wired to the offline transport (base URL :data:`OFFLINE_BASE_URL`).
- ``llm_offline_transport``: the transport itself, to wire into your own client;
  ``llm_offline_transport.faults.add("rate_limit", times=2)`` scripts faults for this test.
- ``llm_scripted``: scripted candidates for this test only, ahead of any in ``presets.yaml``.
- ``llm_server_url``: the base URL (``http://127.0.0.1:PORT/v1``) of a real local HTTP server
  answering with the offline backend, for code that only takes a URL (or is not Python).
  One server per test session (a free port, loopback only, stopped at the end);
  ``llm_server`` is its :class:`~llmpresets.offline.ServerThread` (``.app.transport.faults``
  scripts faults on it). While it runs, ``NO_PROXY`` lists the loopback addresses, so clients
  built for its URL never go through a proxy named in the environment.
- ``llm_intercept``: :func:`llmpresets.intercept_openai` around the test: every OpenAI client
  the code under test builds itself answers offline (from ``llm_offline_transport``, or from
  ``llm_cassette`` when the test uses it too); a request for another machine raises.
  ``llm_intercept = true`` in the ``[pytest]`` ini section does this for every test, and for
  collection too (app modules that build a client at import).
- ``llm_cassette``: a :class:`llmpresets.Cassette` at
  ``<test dir>/cassettes/<test module>/<test name>.yaml``; ``--llm-record=none`` (default:
  replay, a miss answered offline with a warning), ``new`` (record what is missing) or
  ``all`` (record everything again). ``llm_cassette_on_miss = error`` (ini) refuses misses.

Example (a user's test file)::

    def test_outfit_advice(llm_scripted, llm_offline_openai):
        llm_scripted.add("what should I wear", {"Sunglasses.": 0.7, "A hat.": 0.3})
        reply = llm_offline_openai.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "What should I wear?"}]
        )
        assert reply.choices[0].message.content in ("Sunglasses.", "A hat.")
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import httpx2
    import openai

    from llmpresets import Client
    from llmpresets.config.presets import ScriptedRule
    from llmpresets.offline import OfflineTransport, ServerThread
    from llmpresets.testing import Cassette

__all__ = [
    "OFFLINE_BASE_URL",
    "ScriptedCandidates",
    "cassette_path",
    "llm_cassette",
    "llm_intercept",
    "llm_offline_async_openai",
    "llm_offline_client",
    "llm_offline_openai",
    "llm_offline_seed",
    "llm_offline_transport",
    "llm_scripted",
    "llm_server",
    "llm_server_url",
]

OFFLINE_BASE_URL = "http://offline.llmpresets.invalid/v1"


class ScriptedCandidates:
    """The scripted rules of one test: yours first, then those of the configuration.

    ``rules`` is the very list the offline transport reads at every request, so rules added
    after a client was made still apply.

    >>> candidates = ScriptedCandidates([])
    >>> candidates.add("what should I wear", {"Sunglasses.": 0.7, "A hat.": 0.3})
    >>> candidates.rules[0].completions[0].text
    'Sunglasses.'
    """

    def __init__(self, configured: Sequence[ScriptedRule]) -> None:
        self._configured = list(configured)
        self._added: list[ScriptedRule] = []
        self.rules: list[ScriptedRule] = list(self._configured)

    def add(
        self,
        match: str,
        completions: Mapping[str, float] | Sequence[tuple[str, float]],
        *,
        regex: bool = False,
    ) -> None:
        """Answer prompts whose last user message matches with one of ``completions``."""
        from llmpresets.offline import make_rule

        self._added.append(make_rule(match, completions, regex=regex))
        self._refresh()

    def load(self, path: str | os.PathLike[str]) -> None:
        """Add the rules of a scripted-candidates YAML file (``scripted: [...]``)."""
        from llmpresets.offline import load_scripted

        self._added.extend(load_scripted(path))
        self._refresh()

    def clear(self) -> None:
        """Forget the rules added in this test (the configured ones stay)."""
        self._added.clear()
        self._refresh()

    def _refresh(self) -> None:
        self.rules[:] = [*self._added, *self._configured]


@pytest.fixture
def llm_offline_seed() -> int:
    """The seed of the offline transport; override this fixture to change it."""
    return 0


@pytest.fixture
def llm_scripted() -> ScriptedCandidates:
    """Scripted candidates for this test: ``.add(match, {text: probability})``, ``.load(path)``."""
    from llmpresets.config.presets import default_book

    return ScriptedCandidates(default_book().offline.scripted)


@pytest.fixture
def llm_offline_transport(
    llm_offline_seed: int, llm_scripted: ScriptedCandidates
) -> OfflineTransport:
    """The offline transport the other fixtures of this test share."""
    from llmpresets.offline import OfflineTransport

    return OfflineTransport(seed=llm_offline_seed, scripted=llm_scripted.rules)


@pytest.fixture
def llm_offline_client(
    llm_offline_transport: OfflineTransport, llm_offline_seed: int
) -> Iterator[Client]:
    """An offline :class:`llmpresets.Client` (seeded, sharing this test's transport)."""
    from llmpresets import Client

    client = Client(offline=True, seed=llm_offline_seed, transport=llm_offline_transport)
    yield client
    client.close()


@pytest.fixture
def llm_offline_openai(llm_offline_transport: OfflineTransport) -> Iterator[openai.OpenAI]:
    """An ``openai.OpenAI`` answered by the offline transport."""
    import httpx2
    import openai

    client = openai.OpenAI(
        api_key="offline",
        base_url=OFFLINE_BASE_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=llm_offline_transport),
    )
    yield client
    client.close()


@pytest.fixture
def llm_offline_async_openai(
    llm_offline_transport: OfflineTransport,
) -> openai.AsyncOpenAI:
    """An ``openai.AsyncOpenAI`` answered by the offline transport (it holds no connections)."""
    import httpx2
    import openai

    return openai.AsyncOpenAI(
        api_key="offline",
        base_url=OFFLINE_BASE_URL,
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=llm_offline_transport),
    )


@pytest.fixture(scope="session")
def llm_server() -> Iterator[ServerThread]:
    """A running local server with the offline backend (seed 0), shared by the session."""
    from llmpresets.client.loopback import no_proxy_for_loopback
    from llmpresets.offline import OfflineApp, OfflineTransport, ServerThread

    app = OfflineApp(OfflineTransport(seed=0))
    app.warm_up()
    server = ServerThread(app, host="127.0.0.1", port=0)
    server.start()
    # Clients the tests build for its URL reach it directly, whatever HTTP_PROXY says.
    with no_proxy_for_loopback():
        yield server
    server.stop()


@pytest.fixture(scope="session")
def llm_server_url(llm_server: ServerThread) -> str:
    """The base URL of :func:`llm_server`: ``http://127.0.0.1:PORT/v1``."""
    return llm_server.base_url


# ---------------------------------------------------------------------- interception, cassettes

_RECORD_MODES = {"none": "replay", "new": "new", "all": "record"}
_SESSION_INTERCEPT = pytest.StashKey[contextlib.AbstractContextManager[object]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmpresets", "llmpresets (offline OpenAI backend)")
    group.addoption(
        "--llm-record",
        choices=tuple(_RECORD_MODES),
        default=None,
        help="llm_cassette: none (replay; the default), new (record requests a cassette "
        "lacks), all (record every request again)",
    )
    parser.addini(
        "llm_intercept",
        type="bool",
        default=False,
        help="llmpresets: every OpenAI client the code under test builds answers offline, in "
        "every test and during collection (the llm_intercept fixture for all)",
    )
    parser.addini(
        "llm_cassette_on_miss",
        default="offline",
        help="llmpresets: what a request llm_cassette lacks gets: offline (answered by the "
        "offline backend, with a warning) or error",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getini("llm_intercept"):
        return
    from llmpresets.offline import OfflineTransport
    from llmpresets.testing.intercept import intercept_openai

    # Open for collection too (an app module may build its client at import); each test then
    # runs inside its own block (llm_intercept), with its own seeded transport.
    session = intercept_openai(OfflineTransport(seed=0))
    session.__enter__()
    config.stash[_SESSION_INTERCEPT] = session
    config.addinivalue_line("usefixtures", "llm_intercept")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION_INTERCEPT, None)
    if session is not None:
        del config.stash[_SESSION_INTERCEPT]
        session.__exit__(None, None, None)


def cassette_path(node_path: Path, test_name: str) -> Path:
    """Where ``llm_cassette`` keeps a test's cassette.

    >>> cassette_path(Path("tests/test_app.py"), "test_summary[short]").as_posix()
    'tests/cassettes/test_app/test_summary-short.yaml'
    """
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-.") or "test"
    return node_path.parent / "cassettes" / node_path.stem / f"{name}.yaml"


@pytest.fixture
def llm_cassette(
    request: pytest.FixtureRequest, llm_offline_transport: OfflineTransport
) -> Iterator[Cassette]:
    """This test's cassette (``--llm-record`` chooses replay or recording; misses go offline)."""
    from llmpresets.testing.cassette import Cassette

    record = request.config.getoption("--llm-record") or "none"
    on_miss = str(request.config.getini("llm_cassette_on_miss")).strip() or "offline"
    cassette = Cassette(
        cassette_path(Path(request.path), request.node.name),
        mode=_RECORD_MODES[record],
        on_miss=on_miss,
        offline=llm_offline_transport,
    )
    yield cassette
    cassette.close()


@pytest.fixture
def llm_intercept(
    request: pytest.FixtureRequest, llm_offline_transport: OfflineTransport
) -> Iterator[httpx2.BaseTransport]:
    """Every OpenAI client the code under test builds answers offline (or from
    ``llm_cassette`` when the test uses it); a request for another machine raises."""
    from llmpresets.testing.intercept import intercept_openai

    transport: httpx2.BaseTransport = llm_offline_transport
    if "llm_cassette" in request.fixturenames:
        transport = request.getfixturevalue("llm_cassette")
    with intercept_openai(transport):
        yield transport

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
- ``llm_scripted``: scripted candidates for this test only, ahead of any in ``presets.yaml``;
  ``llm_scripted.add(match, replies=[ToolCall(...), "text"])`` scripts an agent turn by turn.
- ``llm_responder``: the responder of this test's transport (None by default): override the
  fixture in a module, class or conftest.py; ``llm_offline_transport.responder = fn`` sets
  it inside one test. ``fn(request: OfflineRequest)`` returns text, a JSON value,
  ``ToolCall`` (s) or None (let the sampler answer); see docs/testing.md.
- Strict model names: the transport answers 404 ``model_not_found`` (with a "did you mean")
  for a model the registry lacks, so a typo fails in the test rather than in production.
  Turn it off for a suite with the ini option ``llm_strict_models = false``, or for one test
  with ``@pytest.mark.llm_strict_models(False)``.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx2
    import openai

    from llmpresets import Client
    from llmpresets.config.presets import ScriptedRule
    from llmpresets.offline import OfflineRequest, OfflineTransport, ServerThread
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
    "llm_responder",
    "llm_scripted",
    "llm_server",
    "llm_server_url",
    "pytest_addoption_strict_models",
    "pytest_configure_strict_models",
]

OFFLINE_BASE_URL = "http://offline.llmpresets.invalid/v1"


# Hook implementations named for what they do (pluggy's ``specname``; pytest reads only names
# starting with pytest_), so other implementations of the same hooks can sit beside them here.
@pytest.hookimpl(specname="pytest_addoption")
def pytest_addoption_strict_models(parser: pytest.Parser) -> None:
    parser.addini(
        "llm_strict_models",
        "llmpresets fixtures: answer 404 model_not_found for a model the registry lacks "
        "(default: true)",
        type="bool",
        default=True,
    )


@pytest.hookimpl(specname="pytest_configure")
def pytest_configure_strict_models(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llm_strict_models(strict=True): whether this test's offline transport refuses models "
        "the registry lacks (llmpresets; default: the llm_strict_models ini option)",
    )


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
        match: str | None,
        completions: Mapping[str, float] | Sequence[tuple[str, float]] = (),
        *,
        regex: bool = False,
        replies: Sequence[Any] = (),
        **conditions: Any,
    ) -> None:
        """Answer prompts whose last user message matches with one of ``completions``, or
        with ``replies`` in order, one per turn (texts, ``ToolCall`` s, ``{"json": value}``).

        ``conditions``: ``times``, ``after_tool``, ``tools_offered``, ``model``, ``turn``, as in
        a YAML rule (:func:`llmpresets.offline.make_rule`).
        """
        from llmpresets.offline import make_rule

        self._added.append(
            make_rule(match, completions, regex=regex, replies=replies, **conditions)
        )
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
def llm_responder() -> Callable[[OfflineRequest], Any] | None:
    """The responder of this test's transport: None (the sampler answers). Override this
    fixture (in a test module, a class or a conftest.py) to script the model, or set
    ``llm_offline_transport.responder = fn`` inside one test."""
    return None


def _strict_models(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("llm_strict_models")
    if marker is not None:
        strict = marker.args[0] if marker.args else marker.kwargs.get("strict", True)
        if not isinstance(strict, bool):
            raise pytest.UsageError(
                "llm_strict_models marker: give True or False, e.g. "
                "@pytest.mark.llm_strict_models(False)"
            )
        return strict
    return bool(request.config.getini("llm_strict_models"))


@pytest.fixture
def llm_offline_transport(
    request: pytest.FixtureRequest,  # for the llm_strict_models marker and ini option
    llm_offline_seed: int,
    llm_scripted: ScriptedCandidates,
    llm_responder: Callable[[OfflineRequest], Any] | None,
) -> OfflineTransport:
    """The offline transport the other fixtures of this test share (strict model names,
    this test's scripted rules and responder)."""
    from llmpresets.offline import OfflineTransport

    return OfflineTransport(
        seed=llm_offline_seed,
        scripted=llm_scripted.rules,
        strict_models=_strict_models(request),
        responder=llm_responder,
    )


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
def llm_server(request: pytest.FixtureRequest) -> Iterator[ServerThread]:
    """A running local server with the offline backend (seed 0), shared by the session
    (strict model names unless the ``llm_strict_models`` ini option is false)."""
    from llmpresets.client.loopback import no_proxy_for_loopback
    from llmpresets.offline import OfflineApp, OfflineTransport, ServerThread

    strict = bool(request.config.getini("llm_strict_models"))
    app = OfflineApp(OfflineTransport(seed=0, strict_models=strict))
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
    session = intercept_openai(
        OfflineTransport(seed=0, strict_models=bool(config.getini("llm_strict_models")))
    )
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

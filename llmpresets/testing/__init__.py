"""Testing code that calls OpenAI beyond sampling: intercepting the clients an app builds
itself, and recording and replaying real replies.

- :func:`intercept_openai` (:mod:`.intercept`): every ``openai.OpenAI`` / ``AsyncOpenAI`` /
  ``AzureOpenAI`` built inside answers offline; a request that would leave the machine raises.
- :class:`Cassette` (:mod:`.cassette`): an httpx2 transport that records exchanges with a real
  API to a readable file and replays them (streams chunk by chunk), secrets scrubbed; the file
  format, the request matching and the scrubbing live in :mod:`.cassette_file`.

The pytest fixtures over them (``llm_intercept``, ``llm_cassette``, ``--llm-record``) are in
:mod:`llmpresets.pytest_plugin`; ``llmpresets serve --cassette FILE`` replays a cassette for
any client. This layer sits above the client (it reuses its secret scrubbing and loopback
rules) and below the CLI and the pytest plugin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cassette import Cassette, CassetteMissWarning
    from .intercept import intercept_openai

__all__ = ["Cassette", "CassetteMissWarning", "intercept_openai"]

_HOMES = {
    "Cassette": "cassette",
    "CassetteMissWarning": "cassette",
    "intercept_openai": "intercept",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

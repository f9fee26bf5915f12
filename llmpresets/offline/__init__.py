"""The offline backend: a local sampler that answers in OpenAI's exact wire format.

Public names:

- :class:`OfflineTransport` — an ``httpx2`` transport (sync and async) for the OpenAI SDK.
- :class:`NextTokenSource` — the protocol of a next-token source (``next_logits(context_ids)``);
  :class:`CallableSource` wraps a plain function; :class:`SourceBase` is the base class that
  declares a source's optional capabilities (``vocabulary``, ``encoding_name``, ``bind``
  returning a :class:`Stepper`).
- :class:`NGramModel` — the default local language model; ``NGramModel.train(texts)``,
  ``.save(path)`` / ``NGramModel.load(path)``, ``.stats()``.
- :func:`default_language_model` — the packaged-corpus model for an encoding (cached).
- :func:`next_token_distribution` — ``(token text, probability)`` pairs of the default model's
  first reply token for a prompt, for ``llmpresets explain --prompt``.
- :func:`load_scripted` / :func:`make_rule` — scripted candidates from YAML or from code.
- :class:`OfflineRequest`, :class:`ToolCall`, :class:`ResponderError` — what a responder
  (``OfflineTransport(responder=fn)``) is asked, answers with, and raises for an API error.
- :func:`render_prompt` — the prompt text a source sees for a list of messages.
- :class:`OfflineApp` — the ASGI app of ``llmpresets serve``; :class:`ServerThread` runs it on a
  background thread; :class:`Latency` simulates model latency; :class:`ConnectionLimits` bounds
  slow clients (timeouts, connections).
- :func:`embed` — the offline embedding vectors ``POST /embeddings`` answers with.
- :func:`make_fault` / :class:`FaultPlan` — scripted faults (``transport.faults.add(...)``).
- :func:`read_contract` — the output contract a conversation states (what the backend reads
  from the prompt when a request fixes no format); :class:`Contract` and :class:`PromptText`
  are what a reader of your own takes and returns (``OfflineTransport(readers=[...])``).

>>> from llmpresets.offline import next_token_distribution
>>> next_token_distribution("Write a Python function", top=1)[0][0]
'def'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api.embeddings import embed
    from .backend.responder import OfflineRequest, ResponderError, ToolCall
    from .backend.scripted_rules import load_scripted, make_rule
    from .engine.reading import Contract, PromptText, read_contract
    from .faults import FaultPlan, make_fault
    from .lm.corpus import corpus_documents
    from .lm.default import default_language_model, next_token_distribution
    from .lm.ngram.model import NGramModel
    from .lm.prompt import render_prompt
    from .lm.protocol import NextTokenSource, SourceBase, Stepper
    from .lm.sources import CallableSource
    from .server.asgi import Latency, OfflineApp
    from .server.run import ConnectionLimits, ServerThread
    from .transport import OfflineTransport

# Imported on first use, so a client's chat requests do not pay for the server, the ASGI app
# or embeddings (a fresh process's first offline call is measured by benchmarks/bench_suite.py).
_HOMES = {
    "Latency": "server.asgi",
    "OfflineApp": "server.asgi",
    "corpus_documents": "lm.corpus",
    "embed": "api.embeddings",
    "FaultPlan": "faults",
    "make_fault": "faults",
    "default_language_model": "lm.default",
    "NGramModel": "lm.ngram.model",
    "load_scripted": "backend.scripted_rules",
    "make_rule": "backend.scripted_rules",
    "ServerThread": "server.run",
    "ConnectionLimits": "server.run",
    "CallableSource": "lm.sources",
    "SourceBase": "lm.protocol",
    "Stepper": "lm.protocol",
    "NextTokenSource": "lm.protocol",
    "next_token_distribution": "lm.default",
    "render_prompt": "lm.prompt",
    "OfflineTransport": "transport",
    "OfflineRequest": "backend.responder",
    "ResponderError": "backend.responder",
    "ToolCall": "backend.responder",
    "Contract": "engine.reading",
    "PromptText": "engine.reading",
    "read_contract": "engine.reading",
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


__all__ = [
    "CallableSource",
    "ConnectionLimits",
    "Contract",
    "FaultPlan",
    "Latency",
    "NGramModel",
    "NextTokenSource",
    "OfflineApp",
    "OfflineRequest",
    "OfflineTransport",
    "PromptText",
    "ResponderError",
    "ServerThread",
    "SourceBase",
    "Stepper",
    "ToolCall",
    "corpus_documents",
    "default_language_model",
    "embed",
    "load_scripted",
    "make_fault",
    "make_rule",
    "next_token_distribution",
    "read_contract",
    "render_prompt",
]

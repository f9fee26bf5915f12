"""Which endpoint answers a request: routing on the path's tail, so any ``base_url`` works.

``POST .../chat/completions`` (:mod:`.chat`), ``.../responses`` and its sub-routes
(:mod:`.responses.endpoint`), legacy ``POST .../completions`` (:mod:`.completions`),
``POST .../embeddings`` (:mod:`.embeddings`), ``GET .../models`` and ``GET .../models/{id}``
(:mod:`.models`). Another path is the API's 404 and another method its 405. Every
:class:`~.errors.WireError` an endpoint raises becomes its error answer here, the one place
(as does a :class:`~..backend.responder.ResponderError`: a user's responder answering with an
error, or a reply it gave that the request cannot take, a 500).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..backend.responder import ResponderError
from .chat.endpoint import answer_chat
from .completions import LEGACY_MODELS, answer_completions
from .embeddings import EMBEDDING_MODELS, embeddings_payload, parse_embeddings_request
from .errors import WireError, invalid_url, only, parse_body
from .models import model_entry, model_list
from .providers import apply_provider_rules
from .reply import Reply
from .responses.endpoint import ResponsesEndpoint, is_responses_path

if TYPE_CHECKING:
    from ..backend.backend import OfflineBackend

__all__ = ["Router"]

_OTHER_MODELS = frozenset({*EMBEDDING_MODELS, *LEGACY_MODELS})


class Router:
    """Answers every route of the API for one backend (``responses`` keeps its own store)."""

    def __init__(self, backend: OfflineBackend) -> None:
        self.backend = backend
        self.responses = ResponsesEndpoint(backend)

    def answer(
        self,
        method: str,
        path: str,
        content: bytes,
        use_case: str | None = None,
        query: Mapping[str, str] | None = None,
        host: str | None = None,
    ) -> Reply:
        """The reply to one request whose body has been read (``host``: the request URL's,
        so a provider's base URL gets that provider's rules, :mod:`.providers`)."""
        try:
            return self._route(method, path, content, use_case, query or {}, host)
        except WireError as error:
            return Reply.json(error.status, error.body(), error=True)
        except ResponderError as refusal:  # a user's responder (or rule) answered an error
            answer = WireError(
                refusal.status,
                refusal.message,
                param=refusal.param,
                code=refusal.code,
                type=refusal.type,
            )
            return Reply.json(answer.status, answer.body(), error=True)

    def _route(
        self,
        method: str,
        path: str,
        content: bytes,
        use_case: str | None,
        query: Mapping[str, str],
        host: str | None = None,
    ) -> Reply:
        tail = path.rstrip("/")
        if tail.endswith("/chat/completions") or tail == "chat/completions":
            only(method, "POST", path)
            content = apply_provider_rules(self.backend, host, content)
            return answer_chat(self.backend, content, use_case)
        if tail.endswith("/completions") or tail == "completions":
            only(method, "POST", path)
            return answer_completions(self.backend, content, use_case)
        if is_responses_path(tail):
            return self.responses.handle(method, path, content, use_case, query)
        if tail.endswith("/embeddings") or tail == "embeddings":
            only(method, "POST", path)
            request = parse_embeddings_request(parse_body(content))
            return Reply.json(200, embeddings_payload(request))
        if tail.endswith("/models") and method == "GET":
            return Reply.json(200, model_list(self.backend, _OTHER_MODELS))
        models_at = tail.rfind("/models/")
        if models_at >= 0 and method == "GET":
            name = tail[models_at + len("/models/") :]
            return Reply.json(200, model_entry(self.backend, name, _OTHER_MODELS))
        raise invalid_url(method, path)

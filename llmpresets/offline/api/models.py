"""``GET /models`` and ``GET /models/{id}``, and the model lookup every endpoint shares.

The list holds the registry's models and the embedding and legacy models the backend serves;
with strict models (``offline.strict_models``) a model the registry lacks is the API's 404
``model_not_found``, on every endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...config.suggest import closest_model
from ..backend.randomness import OFFLINE_EPOCH
from .errors import model_not_found

if TYPE_CHECKING:
    from collections.abc import Collection

    from ...config.models import ModelSpec
    from ..backend.backend import OfflineBackend

__all__ = ["known_spec", "model_entry", "model_list"]


def known_spec(backend: OfflineBackend, model: str) -> ModelSpec:
    """The model's facts; the API's 404 for a model the backend does not know."""
    if not backend.knows(model):
        raise model_not_found(model, _suggestion(backend, model))
    return backend.spec(model)


def model_list(backend: OfflineBackend, also: Collection[str] = ()) -> dict[str, Any]:
    """The body of ``GET /models``: the registry's models and ``also`` (the embedding and
    legacy models the other endpoints serve)."""
    names = {*backend.config.models, *also}
    return {"object": "list", "data": [_model_object(name) for name in sorted(names)]}


def model_entry(backend: OfflineBackend, name: str, also: Collection[str] = ()) -> dict[str, Any]:
    """The body of ``GET /models/{name}``; a 404 for a model this backend does not serve."""
    if not backend.spec(name).known and name not in also and name not in backend.config.models:
        raise model_not_found(name, _suggestion(backend, name))
    return _model_object(name)


def _suggestion(backend: OfflineBackend, model: str) -> str | None:
    config = backend.config
    return closest_model(model, [*config.models, *config.aliases])


def _model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": OFFLINE_EPOCH, "owned_by": "llmpresets"}

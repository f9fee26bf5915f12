"""``POST /chat/completions``: a body parsed and checked, run by the backend, answered.

Every check comes before any generation: the body (:func:`.parse.parse_request`: fields,
values, model rules, with strict models the 404), the prompt counted against the model's
window (``context_length_exceeded``; a message or tool the counter cannot read is a 400
naming it), the grammars of ``response_format`` and the tools compiled (a schema that cannot
compile is a 400), ``logit_bias`` checked against the tokenizer's vocabulary; only then does
the backend generate. A reasoning model's reasoning tokens come first and count against the
explicit output cap, as online (the request is prepared with what they leave the text).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ...backend.backend import GenerationFailed
from ...backend.randomness import make_identity
from ...engine.types import Generation, SchemaError
from ..errors import parse_body, schema_refusal, server_error
from ..model_rules import request_effort
from ..models import known_spec
from ..prompt_checks import check_logit_bias, counted_prompt
from ..reply import Reply, read_prompt_headers
from .parse import parse_request
from .payloads import Usage, chunk_payloads, completion_payload

if TYPE_CHECKING:
    from ...backend.backend import OfflineBackend

__all__ = ["answer_chat"]


def answer_chat(backend: OfflineBackend, content: bytes, use_case: str | None) -> Reply:
    """The answer to a ``/chat/completions`` body; raises
    :class:`~llmpresets.offline.api.errors.WireError` for an error answer."""
    chat = parse_request(parse_body(content), lambda model: known_spec(backend, model))
    spec = backend.spec(chat.model)
    prompt_tokens = counted_prompt(chat, spec, backend.config)
    # A reasoning model's reasoning comes first, from the explicit cap; the text (free, JSON or
    # tool calls) gets what is left, within the per-choice cap it already has.
    effort = request_effort(chat.body, spec, "chat") if spec.efforts("chat") else None
    budget = backend.reasoning_budget(effort, chat.explicit_max_tokens)
    if budget.reasoning and budget.text is not None and not budget.exhausted:
        chat = dataclasses.replace(chat, max_tokens=min(budget.text, chat.max_tokens))
    try:
        prepared = backend.prepare(chat, spec, "chat/completions")
    except SchemaError as error:
        raise schema_refusal(error, "chat") from None
    check_logit_bias(chat, prepared.encoding)
    entropy, reproducible = backend.entropy(chat.body, chat.seed)
    if budget.exhausted:  # the reasoning used the cap up: no text, as online
        generations = [Generation(finish_reason="length") for _ in range(chat.n)]
    else:
        try:
            generations = backend.run(prepared, entropy, use_case)
        except GenerationFailed as exc:
            raise server_error(exc) from exc
    reasoning = budget.reasoning * len(generations)
    usage = Usage(
        prompt_tokens, sum(g.completion_tokens for g in generations) + reasoning, reasoning
    )
    identity = make_identity(entropy, reproducible)
    headers = read_prompt_headers(prepared.contract)  # what was read from the conversation
    if chat.stream:
        return Reply.stream(chunk_payloads(chat, generations, usage, identity), headers)
    return Reply(200, completion_payload(chat, generations, usage, identity), headers=headers)

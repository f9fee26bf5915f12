"""The offline ``/responses`` endpoints: create (plain or streamed), retrieve, delete, input items
and input-token counts, over the backend chat completions use and a bounded store.

Routes (on the path's tail, as :mod:`~llmpresets.offline.api.router` routes the rest):
``POST /responses``, ``POST /responses/input_tokens``, ``GET`` / ``DELETE /responses/{id}``,
``GET /responses/{id}/input_items``. A create runs:

1. :func:`~.parse.parse_responses_request` (the API's 400s), the model lookup (404 with
   strict models), the model rules on this endpoint, and the grammars of ``text.format`` and
   the tools compiled (a schema that cannot compile is a 400 naming ``text.format`` or
   ``tools[i].parameters``, before any work);
2. the conversation: the stored chain of ``previous_response_id`` (400
   ``previous_response_not_found`` when unknown), then this request's items; counted with the
   model's tokenizer as ``usage.input_tokens`` (the same count ``input_tokens`` returns) and
   checked against the context window;
3. reasoning (the backend's
   :meth:`~llmpresets.offline.backend.backend.OfflineBackend.reasoning_budget`, the rule
   chat completions uses too: tokens by effort, spent first from ``max_output_tokens``; a
   budget they exhaust ends ``incomplete`` with no text);
4. the output, made by the backend as for chat completions (same sources, sampler and
   constrained decoder, see :mod:`~llmpresets.offline.engine.structured`): function calls
   under the tool
   policy (``tool_choice`` ``required`` or a named function: a call; ``auto``: a call when
   the conversation ends with a user message that shares a word with a tool's name or
   description, so after a ``function_call_output`` the model answers in text and agent
   loops end), arguments decoded under the function's JSON schema; else JSON for
   ``text.format`` json_schema / json_object; else text, under the request's temperature /
   top_p (and vLLM-style top_k / min_p);
5. the response object (and its event stream), stored unless ``store`` is false.

Randomness is the backend's (see :mod:`~llmpresets.offline.backend.backend`): the request hash
leaves out what only cuts, streams, stores or tags a response, so streamed and plain answers
for the same seed are identical, usage included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ....tokens.messages import chat_tools, conversation_messages
from ...backend.backend import GenerationFailed
from ...backend.randomness import RESPONSES_NOT_SHAPING, make_identity
from ...backend.reasoning import summary_text
from ...engine.types import ChatRequest, SchemaError
from ..errors import (
    WireError,
    invalid_url,
    invalid_value,
    only,
    parse_body,
    quoted_list,
    schema_refusal,
    server_error,
    wrong_method,
)
from ..limits import choice_token_limit
from ..model_rules import check_model_rules, check_output_limit, request_effort
from ..models import known_spec
from ..reply import Reply, read_prompt_headers
from .parse import ResponsesRequest, parse_responses_request
from .payloads import FunctionCall, Outcome, item_id, response_events, response_object
from .store import ResponseStore, StoredResponse

if TYPE_CHECKING:
    from ....config.models import ModelSpec
    from ...backend.backend import OfflineBackend, Prepared

__all__ = ["ResponsesEndpoint", "is_responses_path"]

# Without max_output_tokens, text stops at end-of-text or after this many tokens, by verbosity.
DEFAULT_TEXT_TOKENS = {"low": 96, "medium": 256, "high": 512}
_RESPONSES_AT = re.compile(r"(?:^|/)responses(?:/|$)")


def is_responses_path(tail: str) -> bool:
    """Whether a request path (without its trailing slash) is a ``/responses`` route."""
    return _RESPONSES_AT.search(tail) is not None


class ResponsesEndpoint:
    """Answers the ``/responses`` routes for one backend, with a store of its own."""

    def __init__(self, backend: OfflineBackend, store: ResponseStore | None = None) -> None:
        self.backend = backend
        self.store = store if store is not None else ResponseStore()

    # ------------------------------------------------------------------ routing

    def handle(
        self, method: str, path: str, content: bytes, use_case: str | None, query: Mapping[str, str]
    ) -> Reply:
        """A JSON body (200) or the SSE events of a stream; WireError for an error answer."""
        tail = path.rstrip("/")
        rest = tail[_RESPONSES_AT.search(tail).end() :] if is_responses_path(tail) else ""  # type: ignore[union-attr]
        parts = [part for part in rest.split("/") if part]
        if not parts:
            only(method, "POST", path)
            return self.create(parse_body(content), use_case)
        if parts == ["input_tokens"]:
            only(method, "POST", path)
            return Reply.json(200, self.count_input_tokens(parse_body(content)))
        if len(parts) == 1:
            if method == "GET":
                return Reply.json(200, self.store.get(parts[0]).response)
            if method == "DELETE":
                self.store.delete(parts[0])
                deleted = {"id": parts[0], "object": "response.deleted", "deleted": True}
                return Reply.json(200, deleted)
            raise wrong_method(method, path)
        if len(parts) == 2 and parts[1] == "input_items":
            only(method, "GET", path)
            return Reply.json(200, self.input_items(parts[0], query))
        raise invalid_url(method, path)

    # ------------------------------------------------------------------ create

    def create(self, body: dict[str, Any], use_case: str | None) -> Reply:
        request = parse_responses_request(body)
        spec = known_spec(self.backend, request.model)
        check_model_rules(body, spec, "responses")
        check_output_limit(request.max_output_tokens, "max_output_tokens", spec, "responses")
        messages, input_tokens = self._conversation(request, spec)
        if request.output_format.kind == "json_object" and not _mentions_json(messages):
            raise WireError(
                400,
                "Response input messages must contain the word 'json' in some form to use "
                "'text.format' of type 'json_object'.",
                param="input",
            )
        effort = request_effort(body, spec, "responses")
        budget = self.backend.reasoning_budget(effort, request.max_output_tokens)
        chat = self._chat_request(request, messages, spec, budget.text)
        try:
            prepared = self.backend.prepare(chat, spec, "responses")
        except SchemaError as error:
            raise schema_refusal(error, "responses") from None
        entropy, reproducible = self.backend.entropy(
            {"endpoint": "responses", **body}, None, RESPONSES_NOT_SHAPING
        )
        identity = make_identity(entropy, reproducible, prefix="resp_")
        outcome = Outcome(
            request=request,
            response_id=identity.id,
            created_at=identity.created,
            input_tokens=input_tokens,
            effort=effort,
            reasoning_tokens=budget.reasoning,
        )
        if effort not in (None, "none") and request.summary is not None:
            outcome.summary_text = summary_text(effort, request.summary)
        if budget.exhausted:
            # The reasoning used up max_output_tokens: incomplete before any text, as online.
            outcome.text_finished = False
        else:
            try:
                self._answer(outcome, prepared, entropy, use_case)
            except WireError as error:
                if not (request.stream and error.status >= 500):
                    raise
                outcome.failure = error.message  # streamed: the stream says response.failed
        final = response_object(outcome)
        if request.store:
            self.store.put(
                StoredResponse(
                    final, self._stored_inputs(request, identity.id), request.previous_response_id
                )
            )
        headers = read_prompt_headers(prepared.contract)  # what was read from the conversation
        if request.stream:
            return Reply.stream(response_events(outcome, final), headers)
        return Reply.json(200, final, headers=headers)

    def _conversation(
        self, request: ResponsesRequest, spec: ModelSpec
    ) -> tuple[list[dict[str, Any]], int]:
        from ....tokens.counting import count_message_tokens

        prior = (
            self.store.conversation(request.previous_response_id)
            if request.previous_response_id is not None
            else []
        )
        messages = conversation_messages(request.instructions, [*prior, *request.items])
        tools = chat_tools(request.tools) or None
        try:
            count = count_message_tokens(messages, request.model, tools, config=self.backend.config)
        except (ValueError, TypeError) as exc:  # MessageFormatError is both
            raise WireError(400, f"Invalid 'input': {exc}", param="input") from None
        limit = spec.max_input_tokens or spec.context_window
        if limit is not None and count > limit:
            raise WireError(
                400,
                f"Your input exceeds the context window of this model ({count} tokens of "
                f"{limit}). Please adjust your input and try again.",
                param="input",
                code="context_length_exceeded",
            )
        return messages, count

    def _chat_request(
        self,
        request: ResponsesRequest,
        messages: list[dict[str, Any]],
        spec: ModelSpec,
        text_cap: int | None,
    ) -> ChatRequest:
        """The request the backend runs: this one's conversation, settings, format and tools.

        ``text_cap``: what ``max_output_tokens`` leaves the text after the reasoning (None:
        no ``max_output_tokens``, so the verbosity's default); it is set before the grammars
        are compiled, so a JSON answer and tool arguments are held to it as free text is, and
        within the per-request cap (:func:`~llmpresets.offline.api.limits.choice_token_limit`).
        """
        cap = DEFAULT_TEXT_TOKENS[request.verbosity or "medium"]
        if spec.max_output_tokens is not None:
            cap = min(cap, spec.max_output_tokens)
        if text_cap is not None:
            cap = max(text_cap, 1)
        return ChatRequest(
            model=request.model,
            messages=messages,
            max_tokens=choice_token_limit(cap),
            explicit_max_tokens=request.max_output_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            top_k=request.top_k,
            min_p=request.min_p,
            ignore_eos=request.ignore_eos,
            tools=chat_tools(request.tools) or None,
            output=request.output_format,
            tool_list=request.tool_list,
            tool_choice=request.tool_choice_spec,
            parallel_tool_calls=request.parallel_tool_calls,
        )

    def _answer(
        self, outcome: Outcome, prepared: Prepared, entropy: list[int], use_case: str | None
    ) -> None:
        request = outcome.request
        try:
            generation = self.backend.run(prepared, entropy, use_case)[0]
        except GenerationFailed as exc:
            raise server_error(exc) from exc
        cut = generation.finish_reason == "length" and request.max_output_tokens is not None
        outcome.text_finished = not cut
        if generation.tool_calls:
            outcome.calls = [
                FunctionCall(call.name, list(call.pieces), call.id)
                for call in generation.tool_calls
            ]
            outcome.call_tokens = generation.completion_tokens
            return
        outcome.text_pieces = list(generation.pieces)
        outcome.text_tokens = generation.completion_tokens

    def _stored_inputs(self, request: ResponsesRequest, response_id: str) -> list[dict[str, Any]]:
        """This request's input items as ``input_items`` lists them: with ids and statuses."""
        stored = []
        for index, item in enumerate(request.items):
            kind = item["type"]
            entry = {key: value for key, value in item.items() if value is not None}
            prefix = {"message": "msg", "function_call": "fc", "reasoning": "rs"}.get(kind, "fco")
            entry.setdefault("id", item_id(prefix, response_id, 1000 + index))
            if kind == "message":
                text_type = "output_text" if item["role"] == "assistant" else "input_text"
                content = item["content"]
                if isinstance(content, str):
                    part: dict[str, Any] = {"type": text_type, "text": content}
                    if text_type == "output_text":
                        part["annotations"] = []
                    content = [part]
                entry["content"] = content
                entry["status"] = "completed"
            elif kind in ("function_call", "function_call_output"):
                entry.setdefault("status", "completed")
            stored.append(entry)
        return stored

    # ------------------------------------------------------------------ other routes

    def count_input_tokens(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /responses/input_tokens``: the ``usage.input_tokens`` a create would report."""
        body = {key: value for key, value in body.items() if key != "conversation"}
        request = parse_responses_request(body)
        spec = known_spec(self.backend, request.model)
        _, count = self._conversation(request, spec)
        return {"object": "response.input_tokens", "input_tokens": count}

    def input_items(self, response_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """``GET /responses/{id}/input_items``: a page of the items a response was given."""
        from openai.types.responses import ResponseItemList

        items = list(self.store.get(response_id).input_items)
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise invalid_value("order", order, quoted_list(("asc", "desc")))
        if order == "desc":
            items.reverse()
        after = query.get("after")
        if after is not None:
            ids = [item["id"] for item in items]
            if after in ids:
                items = items[ids.index(after) + 1 :]
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 100:
            raise WireError(
                400,
                "Invalid 'limit': expected an integer between 1 and 100, got "
                f"{query.get('limit')}.",
                param="limit",
                code="invalid_value",
            )
        page = items[:limit]
        body = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
        return ResponseItemList.model_validate(body).model_dump(
            mode="json", by_alias=True, exclude_unset=True
        )


def _mentions_json(messages: list[dict[str, Any]]) -> bool:
    return any("json" in str(message.get("content") or "").lower() for message in messages)

"""What one offline request runs: model facts, seeds, scripted replies, the engine's loops.

:class:`OfflineBackend` is shared by every endpoint of the api layer (chat completions,
``/responses``, legacy ``/completions``) through its public methods; it knows nothing of HTTP
or of the API's error bodies (it raises :class:`GenerationFailed` when a next-token source
misbehaves, and the engine's ``SchemaError`` when a schema cannot compile; the api layer turns
each into the API's answer). A request runs in two steps:

1. :meth:`OfflineBackend.prepare`: the next-token source and its tokenizer, the grammars of
   ``response_format`` and the tools compiled (so a schema that cannot compile is refused
   before any work), the output contract read from the conversation when the request fixes
   none (:mod:`~llmpresets.offline.engine.reading`; ``read_prompt=False`` turns reading off,
   ``readers`` adds a user's own, tried first); then who answers: the user's responder
   (:mod:`.responder`) when it returns a reply, else the scripted rule that matches
   (:mod:`.scripted_rules`: a fixed reply for this turn, or a table to sample), else the source;
2. :meth:`OfflineBackend.run`: each choice from its own random stream. How a reasoning
   model's reasoning and its text share an explicit output cap is
   :meth:`OfflineBackend.reasoning_budget`: both endpoints ask it first, and prepare the
   request with the cap it leaves the text.

Randomness, per choice ``i`` of a request (``n`` choices are independent streams), from
:meth:`OfflineBackend.entropy`:

- the request has ``seed``: ``SeedSequence([seed, hash(request), i])``, a pure function of the
  seed and the request. The hash covers what shapes the tokens (model, messages, sampling
  settings, tools...) and leaves out (:data:`~.randomness.NOT_SHAPING`) what only cuts, counts
  or reports them (``stream``, ``stream_options``, ``stop``, ``max_tokens``,
  ``max_completion_tokens``, ``n``, ``logprobs``, ``top_logprobs``) and what only routes,
  caches or tags a request (``prompt_cache_key``, ``safety_identifier``, ``user``,
  ``metadata``, ``service_tier``, ``store``): a streamed and a plain request give the same
  choices and usage, a lower ``max_tokens`` gives a prefix of the longer reply, choice 0 of
  ``n`` is the ``n=1`` reply, and a framework's random ``prompt_cache_key`` changes nothing;
- else the backend has a seed: ``SeedSequence([backend seed, k, hash(request), i])`` for the
  backend's k-th request (a counter under a lock), the same sequence on every run;
- else fresh OS entropy.

Requests share no mutable state but caches of pure values, so concurrent threads and tasks get
exactly what they would get one at a time.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..._cache import BoundedCache
from ..._errors import LLMPresetsError
from ...tokens.encodings import get_encoding
from ..engine.reading import DEFAULT_READERS, Contract, Reader
from ..engine.scripted import (
    FixedReply,
    ScriptedTable,
    fixed_generation,
    fixed_problem,
    scripted_allowed,
    scripted_reply,
)
from ..engine.structured import StructuredPlan, make_plan
from ..engine.text import generate
from ..engine.types import Generation
from ..lm.default import source_for_model
from ..lm.prompt import render_prompt
from ..lm.protocol import SourceBase
from ..lm.sources import make_stepper, make_token_stepper
from .randomness import NOT_SHAPING, request_digest, seeded_generator
from .reasoning import reasoning_tokens
from .responder import (
    Responder,
    ResponderFailed,
    call_responder,
    make_offline_request,
    reply_from_answer,
)
from .scripted_rules import find_rule, fixed_reply, rule_reply

if TYPE_CHECKING:
    import tiktoken

    from ...config.models import ModelSpec
    from ...config.presets import PresetBook, ScriptedRule
    from ..engine.types import ChatRequest

__all__ = ["GenerationFailed", "OfflineBackend", "Prepared", "ReasoningBudget"]

_MASK64 = (1 << 64) - 1


class GenerationFailed(Exception):
    """A next-token source misbehaved (or left nothing to sample): the server's fault."""


@dataclass
class Prepared:
    """A validated request made ready to run: its source, tokenizer, grammars and script."""

    chat: ChatRequest
    spec: ModelSpec
    source: SourceBase
    encoding: tiktoken.Encoding
    plan: StructuredPlan | None  # the compiled grammars (None: plain text)
    table: ScriptedTable | None  # the scripted rule that answers it, as a table
    fixed: FixedReply | None = None  # a reply decided already (a responder's, a rule's)

    @property
    def contract(self) -> Contract | None:
        """The output contract read from the conversation (None: none read, or reading off)."""
        return self.plan.contract if self.plan is not None else None


@dataclass(frozen=True)
class ReasoningBudget:
    """How a request's reasoning and its text share an explicit output cap
    (:meth:`OfflineBackend.reasoning_budget`)."""

    reasoning: int  # the reasoning tokens spent (the whole cap, when they exhaust it)
    text: int | None  # what the cap leaves the text (None: no explicit cap)
    exhausted: bool  # the reasoning used the cap up: the reply ends with no text


class OfflineBackend:
    """The offline backend's model facts, randomness, scripted rules and decoding, per request.

    ``config``: the presets and model registry; ``seed``: the backend's seed (see the module
    docstring); ``source``: a next-token source for every model (default: the model's own,
    :func:`~llmpresets.offline.lm.default.source_for_model`); ``scripted``: the scripted rules,
    read at every request (so rules appended later apply); ``strict_models``: whether a model
    the registry lacks is unknown to the API; ``responder``: a function that may decide the
    reply of a chat or ``/responses`` request (:mod:`.responder`), asked before the rules;
    ``read_prompt``: read an output contract from the conversation when a request fixes none;
    ``readers``: a user's own readers (``(PromptText) -> Contract | None``, pure), tried
    before the packaged ones.
    """

    def __init__(
        self,
        config: PresetBook,
        *,
        seed: int | None = None,
        source: SourceBase | None = None,
        scripted: list[ScriptedRule] | None = None,
        strict_models: bool = False,
        responder: Responder | None = None,
        read_prompt: bool = True,
        readers: Sequence[Reader] = (),
    ) -> None:
        self.config = config
        self.responder = responder
        self.read_prompt = read_prompt
        self.readers: tuple[Reader, ...] = (*readers, *DEFAULT_READERS)
        self.seed = seed
        self.source = source
        self.scripted: list[ScriptedRule] = [] if scripted is None else scripted
        self.strict_models = strict_models
        self._counter = 0
        self._lock = threading.Lock()
        # A scripted rule's table per (rule, encoding); the rule is kept to check identity.
        self._tables: BoundedCache[tuple[int, str], tuple[ScriptedRule, ScriptedTable]] = (
            BoundedCache("offline scripted tables", 16 << 20)
        )

    # ------------------------------------------------------------------ model facts

    def spec(self, model: str) -> ModelSpec:
        """The registry's facts about ``model`` (inferred from its family when not listed)."""
        return self.config.model(model)

    def knows(self, model: str) -> bool:
        """Whether ``model`` exists for this backend: listed, or any name without strictness."""
        return not self.strict_models or self.config.model(model).known

    def source_for(self, model: str) -> SourceBase:
        """The next-token source that answers for ``model``."""
        return self.source if self.source is not None else source_for_model(self.config, model)

    def encoding_for(self, source: SourceBase, spec: ModelSpec) -> tiktoken.Encoding:
        """The tokenizer the source works in: its own, else the model's."""
        return get_encoding(source.encoding_name or spec.encoding)

    # ------------------------------------------------------------------ randomness

    def entropy(
        self, body: Mapping[str, Any], seed: int | None, ignore: frozenset[str] = NOT_SHAPING
    ) -> tuple[list[int], bool]:
        """The numbers every choice's random stream is derived from, and whether they repeat
        on another run (a seed was given, to the request or the backend).

        ``ignore``: the body's fields that do not shape the reply (:data:`.randomness.NOT_SHAPING`,
        or :data:`.randomness.RESPONSES_NOT_SHAPING` for a ``/responses`` body).
        """
        digest = int.from_bytes(request_digest(body, ignore)[:16], "big")
        if seed is not None:
            return [0, seed & _MASK64, digest], True
        if self.seed is not None:
            with self._lock:
                number = self._counter
                self._counter += 1
            return [1, self.seed & _MASK64, number, digest], True
        return [2, secrets.randbits(128), digest], False

    # ------------------------------------------------------------------ one request

    def prepare(self, chat: ChatRequest, spec: ModelSpec, endpoint: str | None = None) -> Prepared:
        """Make ``chat`` ready to run: raises the engine's ``SchemaError`` for a schema or
        tool grammar that cannot compile, before anything is generated.

        ``endpoint`` (``"chat/completions"`` or ``"responses"``) lets the responder answer;
        it raises :class:`~.responder.ResponderError` for an error answer, and
        :class:`~.responder.ResponderFailed` (a 500) for a reply the request cannot take.
        """
        source = self.source_for(chat.model)
        encoding = self.encoding_for(source, spec)
        plan = make_plan(
            chat, encoding, self.readers if self.read_prompt else (), read_values=self.read_prompt
        )
        fixed = table = None
        if self.responder is not None and endpoint is not None:
            request = make_offline_request(chat, endpoint)
            who = "the offline responder"
            fixed = reply_from_answer(call_responder(self.responder, request), who)
            if fixed is not None:
                _check_fixed(chat, _unread(plan, chat), fixed, encoding, who)
        if fixed is None and self.scripted:
            tool_names = [tool.name for tool in chat.tool_list]
            found = find_rule(self.scripted, chat.messages, chat.model, tool_names)
            if found is not None:
                rule, position = found
                if rule.replies:
                    fixed = fixed_reply(rule_reply(rule, position))
                    who = f"scripted rule {rule.label} (reply {position + 1})"
                    _check_fixed(chat, _unread(plan, chat), fixed, encoding, who)
                else:
                    table = self._table(rule, encoding)
        return Prepared(chat, spec, source, encoding, plan, table, fixed)

    def run(
        self, prepared: Prepared, entropy: Sequence[int], use_case: str | None = None
    ) -> list[Generation]:
        """Every choice of a prepared request; ``use_case`` is the preset the client named."""
        chat, encoding = prepared.chat, prepared.encoding
        table, plan = prepared.table, prepared.plan
        steppers = _Steppers(prepared, use_case)
        # Which scripted candidates this request can take is the same for every choice. A
        # script is the user's explicit answer: a contract read from a text request's prompt
        # does not mask it (the request's own format and tools do).
        allowed = scripted_allowed(_unread(plan, chat), table) if table is not None else None
        kinds = {tool.name: tool.kind for tool in chat.tool_list}
        generations = []
        for index in range(chat.n):
            rng = seeded_generator([*entropy, index])
            if prepared.fixed is not None:
                generations.append(
                    fixed_generation(prepared.fixed, encoding, chat.settings, rng, kinds)
                )
                continue
            if table is not None:
                scripted = scripted_reply(table, allowed, encoding, chat.settings, rng)
                if scripted is not None:
                    generations.append(scripted)
                    continue
            try:
                made = None
                if plan is not None:
                    made = plan.generate(steppers.by_tokens, steppers.by_text, rng)
                if made is None:
                    step, vocab = steppers.by_text()
                    made = generate(step, vocab, encoding, chat.settings, rng)
                generations.append(made)
            except (LLMPresetsError, ValueError) as exc:
                raise GenerationFailed(str(exc)) from exc
        return generations

    def reasoning_budget(self, effort: str | None, cap: int | None) -> ReasoningBudget:
        """The reasoning tokens a choice spends at ``effort`` and what an explicit output
        ``cap`` leaves its text.

        The rule of :mod:`.reasoning` (zero at effort none or ``None``, growing with the
        effort). The tokens are spent first, from the cap: a cap they reach is exhausted (the
        reply ends with no text, as online); otherwise the text gets what is left.
        """
        thinking = reasoning_tokens(effort)
        if cap is None:
            return ReasoningBudget(thinking, None, exhausted=False)
        if thinking and cap <= thinking:
            return ReasoningBudget(cap, 0, exhausted=True)
        return ReasoningBudget(thinking, cap - thinking, exhausted=False)

    def _table(self, rule: ScriptedRule, encoding: tiktoken.Encoding) -> ScriptedTable:
        key = (id(rule), encoding.name)
        cached = self._tables.get(key)
        if cached is not None and cached[0] is rule:
            return cached[1]
        table = ScriptedTable.build(rule, encoding.encode_ordinary)
        self._tables.put(key, (rule, table))
        return table


def _unread(plan: StructuredPlan | None, chat: ChatRequest) -> StructuredPlan | None:
    """``plan`` without the contract read from a text request's prompt: a responder's or a
    rule's reply is the user's explicit answer, which a format the prompt asks for does not
    mask (the request's own format and tools do)."""
    if plan is not None and plan.contract is not None and chat.output.kind == "text":
        return dataclasses.replace(plan, answer=None)
    return plan


def _check_fixed(
    chat: ChatRequest,
    plan: StructuredPlan | None,
    fixed: FixedReply,
    encoding: tiktoken.Encoding,
    who: str,
) -> None:
    problem = fixed_problem(chat, plan, fixed, encoding)
    if problem is not None:
        raise ResponderFailed(f"{who} cannot answer this request: {problem}")


class _Steppers:
    """A request's two steppers over its source, each made on first use: one by positions in
    the source's vocabulary (free text), one by token ids (constrained decoding)."""

    def __init__(self, prepared: Prepared, use_case: str | None) -> None:
        self._prepared = prepared
        self._use_case = use_case
        self._prompt_ids: list[int] | None = None
        self._made: dict[str, Any] = {}

    def by_text(self) -> Any:
        return self._make("text", make_stepper)

    def by_tokens(self) -> Any:
        return self._make("tokens", make_token_stepper)

    def _make(self, kind: str, make: Callable[..., Any]) -> Any:
        made = self._made.get(kind)
        if made is None:
            prepared = self._prepared
            if self._prompt_ids is None:
                self._prompt_ids = prepared.encoding.encode_ordinary(
                    render_prompt(prepared.chat.messages)
                )
            made = make(prepared.source, self._prompt_ids, prepared.encoding, style=self._use_case)
            self._made[kind] = made
        return made

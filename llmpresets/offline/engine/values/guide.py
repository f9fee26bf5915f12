"""The value guide: at each JSON value a reply starts, the conversation's value for it, drawn.

The constrained decoder (``generate_constrained(..., values=)`` in
:mod:`llmpresets.offline.engine.constrained.decoder`) asks :meth:`ValueGuide.continuation`
once per value the reply starts, at the first step where it would draw a token inside it
(the grammar may have forced the value's first bytes, such as a string's opening quote).
The guide finds the field at the value's path in the schema (:func:`~.matching.describe`),
scores the conversation's spans for it (:func:`~.matching.candidates`) and draws one with
the request's sampling settings: the candidates' scores, with the JSON prior's own draw as
one more option scored :data:`~.matching.NONE_SCORE`, times :data:`CONFIDENCE`, are logits for
:func:`llmpresets.sampling.sample` (temperature, top-k, top-p, min-p as for any token;
temperature 0 takes the best, the earlier span on a tie).

A drawn value is written as compact JSON; its tokens (after what the reply already holds of
it) are returned only if the grammar accepts all of them (``accepts``), so the reply stays
valid for its schema: a value the grammar refuses (a pattern, a length, an enum) is dropped
and the draw repeated among the rest, at most :data:`MAX_TRIES` times. Declining, the
decoder samples the value as before (the JSON shape prior, the prompt's words as hints).

A reply's fields do not share a value when another fits (``used``: a value taken once is
penalised for the other fields); a record's values (an object in an array) stand near each
other in the conversation (``NEARBY_PENALTY`` per span from the one its last field took: the
second person of a list gets the second person's age); an array of objects gets one item per
record the conversation gives (:meth:`ValueGuide.records`); an object gets the optional keys
the conversation holds values for; and the calls of one tool in a reply, or after earlier
calls of it, do not repeat one (``exclude``, per path).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ....sampling import GREEDY_TEMPERATURE
from .matching import (
    NONE_SCORE,
    Candidate,
    Field,
    branches,
    candidates,
    describe,
    enum_candidates,
    resolve,
    value_key,
)

if TYPE_CHECKING:
    import tiktoken

    from ..constrained.json_prior import JsonShape
    from ..types import SamplingSettings
    from .spans import Span

__all__ = [
    "CONFIDENCE",
    "MAX_RECORDS",
    "MAX_TRIES",
    "RECORD_SCORE",
    "LabelGuide",
    "Path",
    "ValueGuide",
]

MAX_TRIES = 4
# Scores are nats of evidence; a model copying a value the prompt states is surer than that:
# logits are the scores times CONFIDENCE (a clear match is all but certain at temperature 1,
# values alike still vary).
CONFIDENCE = 2.0
_REQUIRED_NONE_SCORE = NONE_SCORE - 1.5  # a required string is rarely left to chance
Path = tuple[str | int, ...]
Accepts = Callable[[list[int]], bool]
RECORD_SCORE = 3.0  # a candidate this good counts as a record's value (and a key's reason)
MAX_RECORDS = 8
NEARBY_PENALTY = 1.0  # per span between a record's value and the one its last field took
_NOT_A_SPAN = 1 << 28  # candidates made of the turn itself (a sentence) stand nowhere


class ValueGuide:
    """Proposes the conversation's values for one reply (see the module docstring)."""

    def __init__(
        self,
        spans: tuple[Span, ...],
        latest_text: str,
        schema: Mapping[str, Any] | None,
        encoding: tiktoken.Encoding,
        settings: SamplingSettings,
        *,
        exclude: Mapping[Path, set[str]] | None = None,
        context: frozenset[str] = frozenset(),
    ) -> None:
        self.spans = spans
        self.context = context
        self.latest_text = latest_text
        self.schema: Mapping[str, Any] = schema if isinstance(schema, Mapping) else {}
        self.typed = isinstance(schema, Mapping)
        self.encoding = encoding
        self.settings = settings
        self.exclude: Mapping[Path, set[str]] = exclude or {}
        self.used: set[str] = set()
        self.chosen: dict[Path, str] = {}  # path (indices as -1) -> the value taken, as JSON
        self._decided = 0  # the last value_id answered
        self._fields: dict[Path, Field | None] = {}
        self._records: dict[Path, int] = {}
        self._anchors: dict[Path, int] = {}  # per object (its path): the span its last value took

    def continuation(
        self,
        shape: JsonShape | None,
        pending: bytes,
        accepts: Callable[[list[int]], bool],
        rng: np.random.Generator,
    ) -> list[int] | None:
        """The tokens that write the conversation's value for the value ``shape`` is at
        (``pending``: bytes the grammar forces next, not yet tokens), or None to let the
        decoder draw. Answers once per value."""
        if shape is None:
            return None
        if shape.value_id == self._decided and not pending:
            return None
        view = shape
        if pending:
            view = shape.copy()
            view.feed(pending)
        if view.value_id == self._decided:
            return None
        if view.event != "value":
            self._decided = view.value_id
            if view.event == "key":
                return self._offer_key(view, pending, accepts)
            return self._offer_item_end(view, pending, accepts)
        # An array's first item starts with the array: the array is offered first ("[" each).
        path = view.value_path
        opened = 0
        while opened < len(path) and path[len(path) - 1 - opened] == 0:
            opened += 1
        for depth in range(opened, -1, -1):
            value_id = view.value_id - depth
            if value_id <= self._decided:
                continue
            self._decided = value_id
            prefix = b"[" * depth + bytes(view.value_text)
            where = path[: len(path) - depth]
            tokens = self._offer(where, prefix, pending, accepts, rng)
            if tokens is not None:
                return tokens
        self._decided = view.value_id
        return None

    def _offer(
        self,
        where: Path,
        prefix: bytes,
        pending: bytes,
        accepts: Callable[[list[int]], bool],
        rng: np.random.Generator,
    ) -> list[int] | None:
        """The tokens of a value drawn for the field at ``where`` (its path, with indices),
        whose text so far is ``prefix`` (with ``pending``, the bytes the grammar forces
        next), or None."""
        path = _generic(where)
        field = self.field_at(path)
        if field is None:
            return None
        if "array" in field.types and field.items is not None and "object" in field.items.types:
            # An array of records: opened when the conversation gives some ("[{").
            return self._tokens(b"[{", prefix, pending, accepts) if self.records(path) else None
        options = candidates(
            field,
            self.spans,
            used=self.used,
            exclude=self.exclude.get(path, set()),
            latest_text=self.latest_text,
        )
        if not options:
            return None
        anchor = self._anchors.get(where[:-1])
        if anchor is not None:
            # A record's values stand together: the spans near the one its last field took.
            options = sorted(
                (
                    Candidate(
                        option.value,
                        option.score - NEARBY_PENALTY * min(abs(option.order - anchor), 4)
                        if option.order < _NOT_A_SPAN
                        else option.score,
                        option.order,
                    )
                    for option in options
                ),
                key=lambda option: (-option.score, option.order),
            )
        none_score = _REQUIRED_NONE_SCORE if field.required and field.holds_text else NONE_SCORE
        for _ in range(MAX_TRIES):
            pick = self.draw(options, none_score, rng)
            if pick < 0:
                return None
            chosen = options.pop(pick)
            value = chosen.value
            literal = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
            if isinstance(value, list) and value and len(value) < field.min_items:
                literal = literal[:-1] + b","  # the items given, and the decoder adds more
            if not literal.startswith(prefix) or literal == prefix:
                continue
            try:
                text = (pending + literal[len(prefix) :]).decode()
            except UnicodeDecodeError:
                continue
            tokens = self.encoding.encode_ordinary(text)
            if tokens and accepts(tokens):
                key = value_key(value)
                self.used.add(key)
                self.chosen[path] = key
                if chosen.order < _NOT_A_SPAN and len(where) >= 2 and isinstance(where[-2], int):
                    self._anchors[where[:-1]] = chosen.order  # a record: an array's object
                return tokens
            if not options:
                break
        return None

    def field_at(self, path: Path) -> Field | None:
        """The field at ``path`` (indices as -1), or None where no value is proposed: an
        object (its members are), an array's items, a path the schema does not allow."""
        if path in self._fields:
            return self._fields[path]
        field = self._field_at(path)
        self._fields[path] = field
        return field

    def _node_at(self, path: Path) -> tuple[Any, str, bool] | None:
        """The schema at ``path`` (indices as -1), its name and whether it is required; None
        where the schema allows no such path (or there is no schema)."""
        root = self.schema
        node: Any = root
        name, required = "", False
        for step in path:
            options = branches(resolve(node, root), root)
            if isinstance(step, int):
                holder = next((option for option in options if "items" in option), None)
                if holder is None:
                    return None
                node = holder["items"]
                continue
            holder = next(
                (
                    option
                    for option in options
                    if isinstance(option.get("properties"), Mapping)
                    and step in option["properties"]
                ),
                None,
            )
            if holder is None:
                return None
            node = holder["properties"][step]
            name = step
            required = step in (holder.get("required") or ())
        return node, name, required

    def _field_at(self, path: Path) -> Field | None:
        if path and path[-1] == -1:
            return None  # an array's items: the array's value is proposed whole, or not
        if self.typed:
            found = self._node_at(path)
            if found is None:
                return None
            node, name, required = found
        else:
            node, required = {}, False
            name = next((step for step in reversed(path) if isinstance(step, str)), "")
        field = describe(node, name, self.schema, required=required, context=self.context)
        if "object" in field.types and field.enum is None:
            return None
        if not path and not field.name:
            return None  # the whole reply: its members are proposed, not it
        return field

    def _properties(self, path: Path) -> list[str]:
        """The property names of the object schema at ``path``, in order (none untyped)."""
        found = self._node_at(path) if self.typed else None
        if found is None:
            return []
        names: list[str] = []
        for option in branches(resolve(found[0], self.schema), self.schema):
            properties = option.get("properties")
            if isinstance(properties, Mapping):
                names.extend(str(name) for name in properties if name not in names)
        return names

    def records(self, path: Path) -> int:
        """How many items the conversation gives for the array of objects at ``path``: the
        most distinct values, each a good fit, that one of the item's fields has (two names,
        two emails: two people)."""
        if path in self._records:
            return self._records[path]
        most = 0
        for name in self._properties((*path, -1))[:32]:
            field = self.field_at((*path, -1, name))
            if field is None or field.enum is not None:
                continue
            found = candidates(field, self.spans, latest_text=self.latest_text)
            most = max(most, sum(option.score >= RECORD_SCORE for option in found))
        self._records[path] = min(most, MAX_RECORDS)
        return self._records[path]

    def _offer_key(self, view: JsonShape, pending: bytes, accepts: Accepts) -> list[int] | None:
        """At a place an object's key may start: the first of its properties not written yet
        that the conversation holds a value for, as ``"key":``."""
        path = _generic(view.value_path[:-1])
        seen = view.keys_seen[-1] if view.keys_seen else set()
        for name in self._properties(path):
            if name in seen:
                continue
            field = self.field_at((*path, name))
            if field is None:
                continue
            if "array" in field.types and field.items is not None and "object" in field.items.types:
                wanted = self.records((*path, name)) > 0
            else:
                found = candidates(field, self.spans, used=self.used, latest_text=self.latest_text)
                wanted = bool(found) and found[0].score >= RECORD_SCORE
            if wanted:
                literal = json.dumps(name, ensure_ascii=False).encode() + b":"
                return self._tokens(literal, bytes(view.value_text), pending, accepts)
        return None

    def _offer_item_end(
        self, view: JsonShape, pending: bytes, accepts: Accepts
    ) -> list[int] | None:
        """After an array's object item: another item while the conversation gives more
        records than written, else the array's end."""
        path = _generic(view.value_path[:-1])
        records = self.records(path)
        if not records:
            return None
        index = view.value_path[-1]
        written = index + 1 if isinstance(index, int) else 1
        literal = b"," if written < records else b"]"
        return self._tokens(literal, bytes(view.value_text), pending, accepts)

    def _tokens(
        self, literal: bytes, prefix: bytes, pending: bytes, accepts: Accepts
    ) -> list[int] | None:
        """The tokens that write ``literal`` after ``prefix`` (what is written of it, with the
        ``pending`` bytes), if the grammar takes them."""
        if not literal.startswith(prefix) or literal == prefix:
            return None
        try:
            text = (pending + literal[len(prefix) :]).decode()
        except UnicodeDecodeError:
            return None
        tokens = self.encoding.encode_ordinary(text)
        return tokens if tokens and accepts(tokens) else None

    def draw(self, options: list[Candidate], none_score: float, rng: np.random.Generator) -> int:
        """A candidate's index, drawn with the request's sampling; -1: the JSON prior."""
        settings = self.settings
        scores = [option.score for option in options]
        if settings.temperature < GREEDY_TEMPERATURE:
            best = max(range(len(scores)), key=lambda index: (scores[index], -index))
            return best if scores[best] > none_score else -1
        logits = CONFIDENCE * np.array([*scores, none_score], dtype=np.float64)
        pick = settings.draw(logits, rng)
        return -1 if pick == len(options) else pick


def _generic(path: Path) -> Path:
    """``path`` with array indices as -1 (a schema's items are alike)."""
    return tuple(-1 if isinstance(step, int) else step for step in path)


class LabelGuide:
    """Proposes one of a closed set of labels at a reply's start: the label the conversation
    names (or points at), drawn with the request's sampling as :class:`ValueGuide` draws a
    value; None leaves the reply to the decoder. For a grammar that is a choice of labels
    (a prompt's "one of: billing, bug, feature, other"), JSON or not."""

    def __init__(
        self,
        labels: tuple[str, ...],
        text: str,
        encoding: tiktoken.Encoding,
        settings: SamplingSettings,
    ) -> None:
        self.labels = labels
        self.text = text
        self.encoding = encoding
        self.settings = settings
        self._asked = False

    def continuation(
        self,
        shape: JsonShape | None,
        pending: bytes,
        accepts: Callable[[list[int]], bool],
        rng: np.random.Generator,
    ) -> list[int] | None:
        """The tokens of the drawn label (after the forced ``pending`` bytes), once, at the
        reply's first draw; None to draw as usual."""
        if self._asked:
            return None
        self._asked = True
        options = sorted(
            enum_candidates(self.labels, self.text), key=lambda item: (-item.score, item.order)
        )
        drawer = ValueGuide((), "", None, self.encoding, self.settings)
        for _ in range(MAX_TRIES):
            if not options:
                return None
            pick = drawer.draw(options, NONE_SCORE, rng)
            if pick < 0:
                return None
            label = str(options.pop(pick).value).encode()
            if not label.startswith(pending):
                continue
            tokens = self.encoding.encode_ordinary(label.decode())
            if tokens and accepts(tokens):
                return tokens
        return None

"""The n-gram model's shortcut: its one entry point, the loop that settles steps, its caches.

One :class:`Settler` per model, reading the model's :class:`~..view.NGramView` (never the model
itself). :meth:`Settler.shortcut` is the entry point: for sampling settings it handles, a
:class:`~llmpresets.offline.lm.protocol.Shortcut` whose ``run`` settles one step after another
from the plans of their histories. :meth:`Settler.settled` and :meth:`Settler.settled_opening`
make a history's plan: how its step draws (a :class:`.maths.Nucleus` or :class:`.maths.Whole`,
a lone position), or "sample from the logits". They keep each section's tail sums
(:class:`.maths.SectionTail`) and bulk supports (:class:`.supports.Supports`), the plans of
histories already met, and the ranked supports that reply openings start from (each a
byte-bounded :class:`llmpresets._cache.BoundedCache`); the rules and their margins are in
:mod:`.maths`.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ....._cache import BoundedCache
from ...protocol import RUN_BUDGET, RUN_END, RUN_SAMPLE, Shortcut
from .maths import (
    MIN_TEMPERATURE,
    Nucleus,
    Ranked,
    SectionTail,
    Weighed,
    Whole,
    boosted_nucleus,
    draw,
    draw_whole,
    nucleus,
    rank,
    weigh,
    whole,
    whole_of,
)
from .supports import Supports

if TYPE_CHECKING:
    from ..tables import Table
    from ..view import NGramView, Reading

__all__ = ["FROM_LOGITS", "OPENING_PLAN_BYTES", "PLAN_BYTES", "RANKED_BYTES", "Mode", "Settler"]

# What a step is settled under: (temperature, top_p or None for no filter, excluded position).
Mode = tuple[float, "float | None", "int | None"]
# How a step draws: its lone token, a nucleus or the whole distribution, or FROM_LOGITS.
Plan = int | Nucleus | Whole
# The plan of a step the shortcut leaves to the sampler: it is sampled from its logits.
FROM_LOGITS = -1

# The plans of histories met, for every (section, mode), per model: about 160 bytes a
# history whose top_p keeps one token (most of them), a few hundred one that keeps several.
# A busy suite meets some 20,000 histories under its commonest settings.
PLAN_BYTES = 32 << 20
# (section, mode) pairs whose plans are kept (each a band of keys in the plans cache).
_BAND_BYTES = 64 << 10
# Ranked supports of reply openings' histories (shared by every prompt): ~120 bytes a token.
RANKED_BYTES = 8 << 20
# The plans of replies' opening steps (boosted by their prompt), kept for the next reply: a
# few per prompt read, for about as many prompts as the model keeps readings of.
OPENING_PLAN_BYTES = 256 << 10
# A run draws its random numbers in one call when it may settle at least this many steps.
_BATCH_MIN = 8


def _plan_bytes(plan: Plan) -> int:
    """Roughly what keeping ``plan`` costs (the cache's entry, and the plan's numbers)."""
    if isinstance(plan, int):
        return 160
    if isinstance(plan, Nucleus):
        return 280 + 40 * len(plan.positions)
    return 300 + 120 * len(plan.positions)


class Settler:
    """The caches and rules that settle one model's steps from their supports.

    ``batch_draws`` (on by default) lets a run without a filter draw its random numbers in
    one call (the same numbers, and the generator left where one-by-one draws leave it); off,
    one call a step, the plain way the tests compare it with.
    """

    batch_draws = True

    def __init__(self, view: NGramView, sections: int, prompt_boost: float) -> None:
        self._view = view
        # A reply's opening favours the prompt's tokens by this factor (the model's _step).
        self._log_boost = math.log(prompt_boost)
        self.order = view.order
        self._tails: list[SectionTail | None] = [None] * sections
        self._section_supports: list[Supports | None] = [None] * sections
        self.width = view.order - 1
        self.size = view.size
        self.span: int = int(self.size**self.width)  # a key's count sits above its digits
        self._powers = [int(self.size**n) for n in range(self.width + 1)]
        # Every history key (see key()) is below this; each (section, mode) owns a band of
        # that many keys in the plans cache, from band(): plain ints, nothing the garbage
        # collector must track, and one byte budget however many settings come.
        self.keys = (self.width + 1) * self.span
        self.plans: BoundedCache[int, Plan] = BoundedCache("lm n-gram plans", PLAN_BYTES)
        self._bands: BoundedCache[tuple[int, Mode], int] = BoundedCache(
            "lm n-gram plan bands", _BAND_BYTES
        )
        self._band_numbers = itertools.count()
        self._ranked_supports: BoundedCache[tuple[int, int, float], Ranked] = BoundedCache(
            "lm n-gram ranked supports", RANKED_BYTES
        )
        self._opening_plans: BoundedCache[tuple[object, ...], Plan] = BoundedCache(
            "lm n-gram opening plans", OPENING_PLAN_BYTES
        )
        self._lock = threading.Lock()

    def shortcut(
        self,
        reading: Reading,
        opening: int,
        *,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
        min_p: float | None,
        exclude: int | None = None,
    ) -> Shortcut | None:
        """The shortcut for one prompt's reply (its ``reading``; its first ``opening`` steps
        are boosted), for settings where top_p alone filters or nothing does (temperature
        only); ``exclude`` is a position never drawn. None when the settings are not ones the
        settler handles. The contract of ``run`` and ``settle`` is
        :class:`~llmpresets.offline.lm.protocol.Shortcut`'s.
        """
        if temperature < MIN_TEMPERATURE or top_k or min_p:
            return None
        if top_p is not None and not 0.0 < top_p <= 1.0:
            return None
        mode: Mode = (temperature, None if top_p in (None, 1.0) else top_p, exclude)
        section, end = reading.section, self._view.end_position
        band = self.band(section, mode)
        known = self.plans.peek  # per settled token: the dict's own get
        width, size, span = self.width, self.size, self.span
        # A key's band and count sit above its digits (see key(), band()): per count, the two.
        above = [count * span + band for count in range(width + 1)]

        # Without a filter a reply wanders into histories met once (a third of its steps at
        # temperature 1): their plans are looked up by matched suffix alone, which recur, and
        # not kept per history (cheaper than keeping them). Nearly every step draws a number:
        # a run's numbers are drawn at once.
        unfiltered = mode[1] is None
        batched = unfiltered and self.batch_draws
        # Per suffix length, longest first: its digits' modulus, the table's index, and the
        # matched key's offset (settled(): -1 - (band + code + length * span)).
        tables = self._view.tables(section) if unfiltered else []
        probes = [
            (self._powers[n], table.index, -1 - (band + n * span))
            for n in range(width, 0, -1)
            if unfiltered and (table := tables[n]) is not None
        ]
        no_match = -1 - band

        def run(
            positions: list[int], rng: np.random.Generator, budget: int
        ) -> tuple[int, float | None]:
            bits = rng.bit_generator
            if not (batched and budget >= _BATCH_MIN and type(bits) is np.random.PCG64):
                return steps(positions, rng.random, budget)
            saved = bits.state
            if saved["has_uint32"]:  # advance() would drop a buffered half-word
                return steps(positions, rng.random, budget)
            # rng.random(n) is n calls of rng.random() (one 64-bit output each); the state is
            # then set to just after the numbers the run used, as if drawn one by one.
            numbers = iter(rng.random(budget).tolist())
            outcome = steps(positions, numbers.__next__, budget)
            bits.state = saved
            bits.advance(budget - numbers.__length_hint__())
            return outcome

        def steps(
            positions: list[int], uniform: Callable[[], float], budget: int
        ) -> tuple[int, float | None]:
            appended = 0
            key = self.key(positions) + band
            while appended < budget:
                length = len(positions)
                plan: Plan | None
                if length < opening:
                    plan = self.settled_opening(reading, positions, mode)
                elif unfiltered and length >= width:
                    # settled()'s match and lookup, inline (most steps here): the longest
                    # suffix of the key's digits the tables list, then its plan.
                    window = key % span
                    matched = no_match
                    for power, index, offset in probes:
                        code = window % power
                        if code in index:
                            matched = offset - code
                            break
                    plan = known(matched)
                    if plan is None:
                        plan = self.settled(section, positions, mode, key, keep=False)
                elif unfiltered:
                    plan = self.settled(section, positions, mode, key, keep=False)
                else:
                    plan = known(key)
                    if plan is None:
                        plan = self.settled(section, positions, mode, key)
                if isinstance(plan, int):
                    if plan == FROM_LOGITS:
                        return RUN_SAMPLE, None
                    position = plan
                else:
                    u = uniform()
                    drawn = draw_whole(plan, u) if plan.__class__ is Whole else draw(plan, u)
                    if drawn is None:
                        return RUN_SAMPLE, u
                    position = drawn
                if position == end:
                    return RUN_END, None
                positions.append(position)
                appended += 1
                # The next history's key: drop the oldest digit once the window is full,
                # append the new one.
                key = (key % span * size + position) % span + above[min(length + 1, width)]
            return RUN_BUDGET, None

        return Shortcut(run)

    def tail(self, section: int) -> SectionTail:
        tail = self._tails[section]
        if tail is None:
            tail = SectionTail(self._view.unigrams[section], self._view.tie_break)
            self._tails[section] = tail  # a race only builds the same tail twice
        return tail

    def band(self, section: int, mode: Mode) -> int:
        """The offset of the plans of ``section`` under ``mode`` in :attr:`plans`: a history
        with key ``k`` (:meth:`key`) has its plan under ``k + band``, a matched suffix under a
        negative key. A (section, mode) met anew gets a band no other ever had, so a forgotten
        one's plans are never read again (the cache forgets them in time)."""
        band = self._bands.peek((section, mode))
        if band is None:
            with self._lock:
                band = self._bands.peek((section, mode))
                if band is None:
                    band = next(self._band_numbers) * self.keys
                    self._bands.put((section, mode), band, nbytes=320)
        return band

    def key(self, positions: Sequence[int]) -> int:
        """The plan key of the history ending ``positions``: its last ``order - 1`` positions
        as base-|vocabulary| digits (oldest first) plus their count times ``span``."""
        code = 0
        recent = positions[max(0, len(positions) - self.width) :]
        for position in recent:
            code = code * self.size + position
        return code + len(recent) * self.span

    def settled(
        self, section: int, positions: Sequence[int], mode: Mode, key: int, keep: bool = True
    ) -> Plan:
        """How a step draws under ``mode`` (temperature, top_p or None, excluded position),
        from the history's support (:mod:`.maths`): a position (the lone survivor), a
        :class:`.maths.Nucleus` or :class:`.maths.Whole` to draw from, or
        :data:`FROM_LOGITS`: sample from the logits as usual. ``key`` is :meth:`key` of
        ``positions`` plus :meth:`band`: the plan is kept under it unless ``keep`` is false
        (it is always kept under the history's matched suffix)."""
        band = key - key % self.keys
        # Histories that back off to the same matched suffix share the plan (at temperature 1
        # a reply wanders off the corpus, into histories seen once, often).
        if len(positions) >= self.width:
            tables, code, longest = self._match_window(section, key % self.span)
        else:
            tables, codes, longest = self._view.match(section, positions)
            code = codes[longest]
        matched = -1 - (band + code + longest * self.span)
        plans = self.plans
        plan = plans.peek(matched)
        if plan is None:
            plan = self._plan_for(section, tables, code, longest, mode)
            plans.put(matched, plan, nbytes=_plan_bytes(plan))
        if keep:
            plans.put(key, plan, nbytes=160)  # the plan itself is counted once
        return plan

    def _match_window(self, section: int, window: int) -> tuple[list[Table | None], int, int]:
        """A history at least ``order - 1`` long matched as :meth:`NGramView.match` does, from
        its key's digits (``window``: its length-n suffix is the last n digits): the section's
        tables, the longest matched suffix's code, and its length."""
        tables = self._view.tables(section)
        powers = self._powers
        for n in range(self.width, 0, -1):
            table = tables[n]
            code = window % powers[n]
            if table is not None and code in table.index:
                return tables, code, n
        return tables, 0, 0

    def _plan_for(
        self,
        section: int,
        tables: list[Table | None],
        code: int,
        longest: int,
        mode: Mode,
    ) -> Plan:
        """A matched history's plan: the section's bulk answer when top_p keeps one token,
        else from its support (:mod:`.supports`, :mod:`.maths`)."""
        supports = self.supports(section)
        context = self._context(supports, tables, code, longest)
        temperature, top_p, exclude = mode
        if top_p is not None and exclude is None:
            token = int(supports.singles(temperature, top_p)[context])
            if token >= 0:
                return token
        sparse = supports.sparse(context)
        if sparse is None:
            return FROM_LOGITS  # a history the bulk rows could not read: the logits decide
        if top_p is None:
            # No filter: the draw needs no softmax total (whole_of is whole(weigh(...))).
            return whole_of(*sparse, self.tail(section), temperature, exclude)
        return _plan(weigh(*sparse, self.tail(section), temperature, (), 0.0, exclude), mode)

    def _support(
        self, section: int, tables: list[Table | None], code: int, longest: int
    ) -> tuple[dict[int, float], float] | None:
        """A matched history's support logits and log Lambda, from the section's bulk rows
        (None: a history they could not read, see :class:`.supports.Supports`)."""
        supports = self.supports(section)
        return supports.sparse(self._context(supports, tables, code, longest))

    @staticmethod
    def _context(supports: Supports, tables: list[Table | None], code: int, longest: int) -> int:
        table = tables[longest]
        row = table.index[code] if table is not None else 0
        return supports.context(longest, row)

    def supports(self, section: int) -> Supports:
        supports = self._section_supports[section]
        if supports is None:
            view = self._view
            supports = Supports(
                view.arrays,
                section,
                self.order,
                view.unigrams[section],
                view.tie_break,
                self.tail(section),
            )
            self._section_supports[section] = supports  # a race only builds them twice
        return supports

    def settled_opening(self, reading: Reading, positions: Sequence[int], mode: Mode) -> Plan:
        """:meth:`settled` for an opening step, whose prompt tokens are boosted (the model's
        ``_step``).

        The history's support comes from the section's bulk rows; the prompt's boost is applied
        on top.
        """
        key = (reading.serial, mode, *positions)
        known = self._opening_plans.peek(key)
        if known is not None:
            return known
        section = reading.section
        tables, codes, longest = self._view.match(section, positions)
        temperature, top_p, exclude = mode
        plan: Nucleus | Whole | int | None = None  # None: the bulk rows could not read it
        if top_p is not None and exclude is None:
            # Only the prompt's boosted positions are weighed afresh; the support's ranked,
            # summed form is shared by every prompt's openings.
            ranked = self._ranked(section, tables, codes[longest], longest, temperature)
            if ranked is not None:
                plan = boosted_nucleus(
                    ranked,
                    self.tail(section),
                    temperature,
                    top_p,
                    reading.boosted,
                    reading.boosted_set,
                    self._log_boost,
                )
        else:
            sparse = self._support(section, tables, codes[longest], longest)
            if sparse is not None and top_p is None:
                plan = whole_of(
                    *sparse,
                    self.tail(section),
                    temperature,
                    exclude,
                    reading.boosted,
                    self._log_boost,
                )
            elif sparse is not None:
                tail = self.tail(section)
                weighed = weigh(
                    *sparse, tail, temperature, reading.boosted, self._log_boost, exclude
                )
                plan = _plan(weighed, mode)
        settled = _lone(plan)
        self._opening_plans.put(key, settled, nbytes=_plan_bytes(settled) + 8 * len(key))
        return settled

    def _ranked(
        self,
        section: int,
        tables: list[Table | None],
        code: int,
        longest: int,
        temperature: float,
    ) -> Ranked | None:
        """A matched history's support, ranked and summed at ``temperature`` (kept, bounded;
        None: a history the bulk rows could not read)."""
        supports = self.supports(section)
        context = self._context(supports, tables, code, longest)
        key = (section, context, temperature)
        ranked = self._ranked_supports.peek(key)
        if ranked is None:
            sparse = supports.sparse(context)
            if sparse is None:
                return None
            ranked = rank(*sparse, self.tail(section), temperature)
            self._ranked_supports.put(key, ranked, nbytes=300 + 120 * len(ranked.ranked))
        return ranked


def _plan(weighed: Weighed, mode: Mode) -> Plan:
    top_p = mode[1]
    return _lone(whole(weighed) if top_p is None else nucleus(weighed, top_p))


def _lone(plan: Nucleus | Whole | int | None) -> Plan:
    """A nucleus of one token is that token (an int: no random number, no tracked object);
    no plan (too many tokens, too close to call) is :data:`FROM_LOGITS`."""
    if plan is None:
        return FROM_LOGITS
    if isinstance(plan, Nucleus) and len(plan.positions) == 1:
        return plan.positions[0]
    return plan

"""The n-gram model settles a step without its logits only when the sampler would draw that
token without a random number: same replies, same random numbers, with or without it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from offline_sdk import sdk

from llmpresets import sampling
from llmpresets.offline import OfflineTransport, default_language_model
from llmpresets.offline.lm.ngram.fast import maths
from llmpresets.offline.lm.ngram.model import BoundPrompt, NGramModel
from llmpresets.offline.lm.protocol import RUN_BUDGET, RUN_END

PROMPTS = (
    "Tell me a story about a dragon.",
    "Write a Python function that reverses a string.",
    "Is 7 a prime number?",
    "Ideas for a birthday party",
    "Explain photosynthesis to a child.",
)
# (temperature, top_p); top_p None = no filter (the API's defaults at temperature 1).
SETTINGS: tuple[tuple[float, float | None], ...] = (
    (0.8, 0.9),
    (0.2, 0.1),
    (1.0, 0.95),
    (1.5, 0.95),
    (0.7, 0.5),
    (1.0, 0.3),
    (1.0, None),
    (0.6, None),
)


@contextmanager
def shortcut_off(model: NGramModel) -> Iterator[None]:
    """``model`` with its shortcut switched off (its public ``fast`` switch), then as it was."""
    was, model.fast = model.fast, False
    try:
        yield
    finally:
        model.fast = was


def walk(step: BoundPrompt, rng: np.random.Generator, length: int) -> list[list[int]]:
    """Histories a reply visits, by sampling at temperature 1 from the model's logits."""
    positions: list[int] = []
    histories = []
    for _ in range(length):
        histories.append(list(positions))
        positions.append(sampling.sample(step(positions), rng=rng))
    return histories


@pytest.mark.parametrize("ignore_eos", [False, True])
@pytest.mark.parametrize(("temperature", "top_p"), SETTINGS)
def test_a_settled_step_is_the_samplers_draw(
    temperature: float, top_p: float | None, ignore_eos: bool
) -> None:
    """Whenever the settler answers, the sampler on the step's full logits, with a generator
    in the same state, draws the same token and leaves the generator in the same state;
    openings (prompt boost) and an excluded end of text (ignore_eos) included. When it
    declines, it has used no random number."""
    model = default_language_model()
    exclude = model.view.end_position if ignore_eos else None
    sampler = sampling.Sampler(temperature=temperature, top_p=top_p)
    walker = np.random.default_rng(3)
    answered = declined = 0
    for prompt in PROMPTS:
        for style in (None, "code", "creative"):
            step = model.bind(model.encoding.encode(prompt), style)
            shortcut = step.shortcut(
                temperature=temperature, top_k=None, top_p=top_p, min_p=None, exclude=exclude
            )
            assert shortcut is not None
            for index, history in enumerate(walk(step, walker, 40)):
                ours, theirs = np.random.default_rng(index), np.random.default_rng(index)
                position, drawn = _one_step(shortcut.run, history, ours, model.view.end_position)
                expected = sampler.sample(step(history), theirs, exclude=exclude)
                if position >= 0:
                    answered += 1
                    assert position == expected, (prompt, style, history)
                    assert ours.bit_generator.state == theirs.bit_generator.state
                elif drawn is None:
                    declined += 1
                    assert ours.random() == np.random.default_rng(index).random()
    # The settler earns its keep: it answers most steps up to temperature 1 (the first step
    # of a reply, and the wide nuclei of hot settings, go to the sampler).
    assert answered >= 5
    if temperature <= 1.0:
        assert answered > declined


def _one_step(
    run: Any, history: list[int], rng: np.random.Generator, end: int
) -> tuple[int, float | None]:
    """One step of the shortcut, ``run(..., 1)`` on a copy of the history, as the free-text
    loop takes it: (position, None) settled (``end``: the end of text), (-1, None) declined,
    or (-1, u) left to the sampler with the number it drew."""
    trial = list(history)
    outcome, drawn = run(trial, rng, 1)
    if outcome == RUN_BUDGET:
        return trial[-1], None
    return (end, None) if outcome == RUN_END else (-1, drawn)


def test_settings_the_settler_does_not_handle() -> None:
    step = default_language_model().bind([1, 2, 3])
    settings: tuple[tuple[float, int | None, float | None, float | None], ...] = (
        (0.8, 40, 0.9, None),  # top_k
        (0.8, None, 0.9, 0.05),  # min_p
        (0.0, None, 0.9, None),  # greedy
        (0.005, None, 0.9, None),  # cold enough for rounding to matter
    )
    for temperature, top_k, top_p, min_p in settings:
        settle = step.shortcut(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)
        assert settle is None, (temperature, top_k, top_p, min_p)


def replies(transport: OfflineTransport, seeds: range, **settings: Any) -> list[str]:
    client = sdk(transport)
    return [
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": prompt}],
            seed=seed,
            max_tokens=48,
            **settings,
        )
        .choices[0]
        .message.content
        or ""
        for prompt in PROMPTS
        for seed in seeds
    ]


@pytest.mark.parametrize("ignore_eos", [False, True])
@pytest.mark.parametrize(("temperature", "top_p"), SETTINGS)
def test_replies_are_the_same_with_and_without_the_settler(
    temperature: float, top_p: float | None, ignore_eos: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seeded replies do not depend on the shortcut, nor on a draw it finds too close to call
    (a margin of 40% of the mass makes every draw one: the sampler then decides with the
    number the settler drew)."""
    settings: dict[str, Any] = {"temperature": temperature}
    if top_p is not None:
        settings["top_p"] = top_p
    if ignore_eos:
        settings["extra_body"] = {"ignore_eos": True}
    fast = replies(OfflineTransport(), range(3), **settings)
    with monkeypatch.context() as patched:
        patched.setattr(maths, "DECISION_MARGIN", 0.4)
        replayed = replies(OfflineTransport(), range(3), **settings)
    with shortcut_off(default_language_model()):
        slow = replies(OfflineTransport(), range(3), **settings)
    assert fast == slow
    assert replayed == slow


def test_a_lone_survivor_is_drawn_without_a_random_number() -> None:
    """On any vocabulary size, filters that leave one token use no random number (as
    documented), so a shortcut that knows the survivor draws the same stream."""
    logits = np.log([0.9, 0.05, 0.03, 0.02])
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    assert sampling.sample(logits, top_p=0.5, rng=rng) == 0
    assert rng.bit_generator.state == state
    assert sampling.Sampler(top_p=0.5).sample(logits, rng) == 0
    assert rng.bit_generator.state == state


@pytest.mark.parametrize(
    "entropy",
    [
        [0],
        [0, 0, 0],
        [1, 2**64 - 1, 7, 2**128 - 1, 0],
        [2, 0x0123456789ABCDEF0123456789ABCDEF, 2**255 + 12345, 3],
        [2**32, 2**32 - 1, 2**96],
    ],
)
def test_seeded_generator_is_numpys_stream(entropy: list[int]) -> None:
    """The transport's cheaper seeding gives exactly numpy's SeedSequence stream."""
    from llmpresets.offline.backend.randomness import seeded_generator

    ours = seeded_generator(entropy).random(8)
    numpys = np.random.default_rng(np.random.SeedSequence(entropy)).random(8)
    assert ours.tolist() == numpys.tolist()
    with pytest.raises(ValueError, match="non-negative"):
        seeded_generator([1, -1])


@pytest.mark.parametrize(("temperature", "top_p"), [(0.8, 0.9), (0.2, 0.1), (1.0, 0.5)])
def test_bulk_lone_survivors_are_the_samplers(temperature: float, top_p: float) -> None:
    """For every history of two sections, the bulk answer (computed for all histories at once
    with numpy) is the sampler's lone survivor on that history's full logits, and it finds
    nearly all of them."""
    model = default_language_model()
    sampler = sampling.Sampler(temperature=temperature, top_p=top_p)
    for section in (1, 2):
        supports = model.settler.supports(section)
        singles = supports.singles(temperature, top_p)
        tables = model.view.tables(section)
        answered = lone = 0
        size = len(model.vocabulary)
        histories: list[tuple[int, int]] = [(0, 0)]
        for length in range(1, model.order):
            table = tables[length]
            assert table is not None
            histories.extend((length, code) for code in table.index)
        for length, code in histories:
            table = tables[length]
            row = table.index[code] if table is not None and length else 0
            token = int(singles[supports.context(length, row)])
            codes = [code % size**n for n in range(model.order)]
            expected = sampler._prepare(model._dense(section, tables, codes, length), None).single
            lone += expected is not None
            if token >= 0:
                answered += 1
                assert token == expected, (section, length, code)
        assert answered >= 0.95 * lone


@pytest.mark.parametrize("stop", [["."], ["\n", " the"]])
def test_replies_with_stop_sequences_are_the_same_with_and_without_the_settler(
    stop: list[str],
) -> None:
    """With stop sequences the settler settles one step at a time (the emitter watches the
    text); the replies are still those of the sampler."""
    fast = replies(OfflineTransport(), range(3), temperature=0.8, top_p=0.9, stop=stop)
    with shortcut_off(default_language_model()):
        slow = replies(OfflineTransport(), range(3), temperature=0.8, top_p=0.9, stop=stop)
    assert fast == slow


def test_plans_stay_within_their_budgets_under_ever_new_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server asked for a new temperature on every request keeps its plans, and the
    settings it keeps plans for, within their byte budgets; forgetting them changes no step."""
    model = default_language_model()
    settler = model.settler
    monkeypatch.setattr(settler.plans, "budget", 64 << 10)  # about 400 plans
    monkeypatch.setattr(settler._bands, "budget", 10 * 320)  # ten (section, mode) pairs
    step = model.bind(model.encoding.encode("Tell me a story about a dragon."), None)

    def runs() -> list[list[int]]:
        settled = []
        for index in range(40):
            shortcut = step.shortcut(
                temperature=0.5 + index / 100, top_k=None, top_p=0.9, min_p=None, exclude=None
            )
            assert shortcut is not None
            positions: list[int] = []
            shortcut.run(positions, np.random.default_rng(index), 8)
            settled.append(positions)
        return settled

    first = runs()
    assert first == runs()  # again, after the first settings' plans were forgotten
    for cache in (settler.plans, settler._bands):
        assert 0 < cache.used <= cache.budget


def test_the_switch_turns_the_shortcut_off() -> None:
    """``model.fast = False``: a bound prompt offers no shortcut, so every step is sampled
    from its logits; back on, it offers one again."""
    model = NGramModel.train("### a\nOne two three.\n---\nFour five six.\n")
    step = model.bind(model.encoding.encode("One"))
    settings: dict[str, Any] = {"temperature": 0.8, "top_k": None, "top_p": 0.9, "min_p": None}
    assert step.shortcut(**settings) is not None
    model.fast = False
    assert step.shortcut(**settings) is None
    model.fast = True
    assert step.shortcut(**settings) is not None


@pytest.mark.parametrize("order", [1, 2, 3])
def test_models_of_any_order_reply_the_same_with_and_without_the_settler(order: int) -> None:
    """A model trained on your own text, of any order (1 keeps no history at all), settles
    steps to the sampler's own replies."""
    from llmpresets.offline import NGramModel

    corpus = (
        "### code: python\ndef add(a, b):\n    return a + b\n---\ndef sub(a, b):\n"
        "    return a - b\n### stories: story\nOnce upon a time a dragon slept.\n---\n"
        "The dragon woke up and flew away.\n"
    )
    model = NGramModel.train(corpus, order=order)
    settings: list[dict[str, Any]] = [
        {"temperature": 0.8, "top_p": 0.9},
        {"temperature": 1.0},
        {"temperature": 0.7, "top_p": 0.5, "extra_body": {"ignore_eos": True}},
    ]

    def run() -> list[str]:
        return [
            text
            for setting in settings
            for text in replies(OfflineTransport(source=model), range(3), **setting)
        ]

    fast = run()
    model.fast = False
    assert fast == run()


@pytest.mark.parametrize("temperature", [1.0, 0.6, 1.7])
def test_whole_of_is_whole_of_weigh_bit_for_bit(temperature: float) -> None:
    """The API defaults' one-pass plan (``whole_of``) is the plain ``whole(weigh(...))``,
    every number equal, for every history of two sections, with and without an excluded
    position (``ignore_eos``) and with one the support already lists, and with a reply
    opening's boosted positions."""
    model = default_language_model()
    end = model.view.end_position
    for section in (1, 2):
        supports = model.settler.supports(section)
        tail = model.settler.tail(section)
        compared = 0
        for context in range(len(supports.valid)):
            sparse = supports.sparse(context)
            if sparse is None:
                continue
            logits, log_lambda = sparse
            listed = next(iter(logits), None)
            # A reply's opening boosts the prompt's positions: listed ones and others.
            boosted = sorted({*list(logits)[:2], 5, 300, 1000} - {end})
            for exclude in {None, end, listed}:
                for boost in ((), boosted) if context % 5 == 0 else ((),):
                    log_boost = 0.7 if boost else 0.0
                    fast = maths.whole_of(
                        logits, log_lambda, tail, temperature, exclude, boost, log_boost
                    )
                    weighed = maths.weigh(
                        logits, log_lambda, tail, temperature, boost, log_boost, exclude
                    )
                    assert fast == maths.whole(weighed), (section, context, exclude, boost)
                    compared += 1
        assert compared > 1000


@pytest.mark.parametrize("ignore_eos", [False, True])
@pytest.mark.parametrize("budget", [1, 8, 9, 64, 300])
def test_batched_draws_are_one_by_one_draws(budget: int, ignore_eos: bool) -> None:
    """A run without a filter draws its numbers in one call (``batch_draws``): the same
    settled tokens, outcome and number left to the sampler as drawing them one by one, and
    the generator left in the same state, whether the run ends, stops at a step it leaves to
    the sampler, or uses its whole budget; a generator holding a buffered half-word, or not
    numpy's default, is drawn from one by one."""
    model = default_language_model()
    exclude = model.view.end_position if ignore_eos else None
    compared = 0
    for prompt in PROMPTS:
        step = model.bind(model.encoding.encode(prompt), None)
        for seed in range(6):
            outcomes = []
            for batch in (True, False):
                model.settler.batch_draws = batch
                try:
                    shortcut = step.shortcut(
                        temperature=1.0, top_k=None, top_p=None, min_p=None, exclude=exclude
                    )
                    assert shortcut is not None
                    rng = np.random.default_rng(seed)
                    if seed == 5:
                        rng.integers(0, 10, dtype=np.uint32)  # a buffered half-word
                    positions: list[int] = []
                    result = [shortcut.run(positions, rng, budget) for _ in range(3)]
                    outcomes.append((result, positions, rng.bit_generator.state, rng.random()))
                finally:
                    model.settler.batch_draws = True
            assert outcomes[0] == outcomes[1], (prompt, seed)
            compared += 1
    philox = np.random.Generator(np.random.Philox(1))
    shortcut = model.bind([1], None).shortcut(
        temperature=1.0, top_k=None, top_p=None, min_p=None, exclude=None
    )
    assert shortcut is not None
    shortcut.run([], philox, 16)
    assert compared == len(PROMPTS) * 6


def test_a_history_matched_from_its_key_is_matched_as_the_view_does() -> None:
    """The settler's match from a history's key digits finds the view's longest suffix and
    codes, for histories the model's own replies visit and for random ones."""
    model = default_language_model()
    settler = model.settler
    walker = np.random.default_rng(7)
    compared = 0
    for prompt in PROMPTS[:3]:
        step = model.bind(model.encoding.encode(prompt), None)
        histories = walk(step, walker, 30)
        histories += [
            walker.integers(0, settler.size, size=length).tolist() for length in range(3, 9)
        ]
        for history in histories:
            if len(history) < settler.width:
                continue
            for section in (1, 2):
                key = settler.key(history)
                tables, codes, longest = model.view.match(section, history)
                expected = (tables, codes[longest], longest)
                assert settler._match_window(section, key % settler.span) == expected
                compared += 1
    assert compared > 50

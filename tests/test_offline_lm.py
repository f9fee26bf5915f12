"""The default offline language model: style per use case, a real tail, training and files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from offline_sdk import sdk
from openai.types.chat import ChatCompletionMessageParam

import llmpresets
from llmpresets import ConfigError, load_presets
from llmpresets.cli import main
from llmpresets.offline import (
    NGramModel,
    OfflineTransport,
    corpus_documents,
    default_language_model,
    next_token_distribution,
)

PROMPT: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Write a Python function that returns the largest item in a list."}
]
TINY_CORPUS = "### greet: hello\nHello there, friend.\n---\nHello again.\n"


def replies(use_case: str, seeds: range) -> list[str]:
    params = llmpresets.resolve_params(use_case, "gpt-4o", policy="silent")
    client = sdk(OfflineTransport())
    return [
        client.chat.completions.create(messages=PROMPT, seed=seed, **params)
        .choices[0]
        .message.content
        or ""
        for seed in seeds
    ]


def distinct_bigram_ratio(texts: list[str]) -> float:
    bigrams = [pair for text in texts for pair in zip(text.split(), text.split()[1:], strict=False)]
    return len(set(bigrams)) / len(bigrams)


def test_code_preset_is_near_deterministic_and_brainstorm_diverse() -> None:
    """Over 20 seeds: code gives >= 18 identical replies, brainstorm >= 18 distinct ones."""
    code = replies("code", range(20))
    brainstorm = replies("brainstorm", range(20))
    assert Counter(code).most_common(1)[0][1] >= 18
    assert len(set(brainstorm)) >= 18
    assert distinct_bigram_ratio(code) < distinct_bigram_ratio(brainstorm)


def test_distinct_bigram_ratio_rises_from_code_to_brainstorm() -> None:
    """The presets, hotter from code to brainstorm, give ever more varied text."""
    ratios = [
        distinct_bigram_ratio(replies(name, range(8))) for name in ("code", "chat", "brainstorm")
    ]
    assert ratios == sorted(ratios) and ratios[0] < ratios[-1]


def test_code_preset_reply_looks_like_code() -> None:
    """A code prompt is answered from the code section: a Python function definition."""
    assert replies("code", range(1))[0].startswith("def largest(")


@pytest.mark.parametrize(
    ("prompt", "section"),
    [
        ("Write a Python function that sorts a list", "code"),
        ("What is the capital of France?", "factual"),
        ("Hi! How are you today?", "chat"),
        ("Tell me a story about a dragon", "stories"),
        ("Give me some ideas for a birthday party", "brainstorm"),
    ],
)
def test_prompt_picks_the_section_of_its_style(prompt: str, section: str) -> None:
    """The prompt's words choose which section (style) of the corpus answers."""
    model = default_language_model()
    index = model.section_for(model.encoding.encode(prompt))
    assert model.sections[index].name == section


def test_every_context_keeps_the_whole_vocabulary_possible() -> None:
    """The distribution has a real tail: every corpus token has non-zero probability."""
    model = default_language_model()
    step = model.bind(model.encoding.encode("Write a function"))
    for generated in ([], [5, 9], [1, 2, 3, 4, 5, 6]):
        logits = step(generated)
        assert np.isfinite(logits).all()
        assert len(logits) == len(model.vocabulary)
        probabilities = np.exp(logits)
        assert abs(probabilities.sum() - 1) < 1e-9
        assert probabilities.min() > 0


def test_temperature_visibly_changes_the_output() -> None:
    """Hotter sampling gives more distinct openings to one prompt (the tail is reachable)."""
    client = sdk(OfflineTransport())

    def distinct(temperature: float) -> int:
        return len(
            {
                client.chat.completions.create(
                    model="gpt-4o",
                    messages=PROMPT,
                    seed=seed,
                    temperature=temperature,
                    max_tokens=6,
                )
                .choices[0]
                .message.content
                for seed in range(10)
            }
        )

    assert distinct(0.1) < distinct(1.5)


def test_protocol_path_matches_the_fast_path() -> None:
    """next_logits(prompt + <|endofprompt|> + generated) equals the bound fast path."""
    model = default_language_model()
    encoding = model.encoding
    prompt = encoding.encode("Tell me a story")
    marker = encoding.encode("<|endofprompt|>", allowed_special="all")[0]
    generated = [int(model.vocabulary[7]), int(model.vocabulary[30])]
    positions = [7, 30]
    expected = model.bind(prompt)(positions)
    assert np.array_equal(model.next_logits([*prompt, marker, *generated]), expected)


def test_model_trained_on_text_continues_it_greedily() -> None:
    """A model trained on a user's text reproduces it at temperature 0."""
    model = NGramModel.train("The quick brown fox jumps over the lazy dog.")
    reply = sdk(OfflineTransport(source=model)).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "go"}], temperature=0
    )
    assert reply.choices[0].message.content == "The quick brown fox jumps over the lazy dog."
    assert reply.choices[0].finish_reason == "stop"


def test_corpus_documents_split_sections_and_documents() -> None:
    """'### name: words' starts a section; '---' ends a document; else blank lines do."""
    assert corpus_documents(TINY_CORPUS) == [
        ("greet", "hello", ["Hello there, friend.", "Hello again."])
    ]
    assert corpus_documents("One.\n\nTwo.\n") == [("text", "", ["One.", "Two."])]


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_saved_model_loads_back_identically(tmp_path: Path, suffix: str) -> None:
    """save() then load() gives a model with the same vocabulary and logits."""
    model = NGramModel.train(TINY_CORPUS, encoding="cl100k_base", order=3)
    path = model.save(tmp_path / f"model{suffix}")
    loaded = NGramModel.load(path)
    assert loaded.stats()["tokens"] == model.stats()["tokens"]
    assert loaded.encoding_name == "cl100k_base" and loaded.order == 3
    assert np.array_equal(loaded.vocabulary, model.vocabulary)
    assert np.array_equal(loaded.next_logits([]), model.next_logits([]))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.json", "{not json"),
        ("other.json", '{"format": "something-else"}'),
        (
            "ids.json",
            '{"format": "llmpresets-ngram", "version": 1, "encoding": "o200k_base", '
            '"order": 3, "sections": [{"name": "a"}], "documents": [[["x"]]]}',
        ),
        ("bad.npz", "not a zip archive"),
    ],
)
def test_bad_model_file_is_a_config_error_naming_it(
    tmp_path: Path, name: str, content: str
) -> None:
    """Loading a file that is not a model raises ConfigError with the file's path."""
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigError, match="llmpresets train") as caught:
        NGramModel.load(path)
    assert caught.value.file == str(path)


def test_config_corpus_replaces_the_default_model(tmp_path: Path) -> None:
    """offline.corpus in presets.yaml makes the transport answer from the user's corpus."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Ahoy, matey!\n")
    config = tmp_path / "presets.yaml"
    config.write_text(f"offline:\n  corpus: {corpus}\n")
    reply = sdk(OfflineTransport(config=load_presets(config))).chat.completions.create(
        model="gpt-4o", messages=PROMPT, temperature=0
    )
    assert reply.choices[0].message.content == "Ahoy, matey!"


def test_next_token_distribution_is_sorted_probabilities() -> None:
    """The public helper gives the first reply token's distribution, most likely first."""
    pairs = next_token_distribution("Write a Python function", top=5)
    probabilities = [p for _, p in pairs]
    assert pairs[0][0] == "def"
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1


def test_train_command_reports_and_saves(tmp_path: Path, capsys: Any) -> None:
    """'llmpresets train CORPUS -o model.npz' prints statistics and writes a loadable model."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_CORPUS)
    output = tmp_path / "model.npz"
    assert main(["train", str(corpus), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "vocabulary" in printed and "tokens" in printed and "greet" in printed
    assert NGramModel.load(output).stats()["documents"] == 2


def test_train_command_rejects_bad_input_with_exit_2(tmp_path: Path, capsys: Any) -> None:
    """A missing corpus or an output name without .npz/.json is a usage error, no traceback."""
    assert main(["train", str(tmp_path / "missing.txt")]) == 2
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_CORPUS)
    assert main(["train", str(corpus), "--output", str(tmp_path / "model.bin")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_seeded_replies_match_the_pinned_outputs() -> None:
    """Speed work keeps every seeded reply, logprob and finish reason of the default model
    exactly as recorded in tests/data/pinned_outputs.json (regenerate only on purpose)."""
    from pinned_outputs import chat_outputs, pinned, same_reply

    expected = pinned()["chat"]
    actual = chat_outputs()
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert same_reply(actual[key], value), key


def _cached_model(directory: Path, monkeypatch: pytest.MonkeyPatch) -> NGramModel:
    from llmpresets.offline.lm.corpus import packaged_corpus_text
    from llmpresets.offline.lm.default import cached_model

    monkeypatch.setenv("LLMPRESETS_CACHE_DIR", str(directory))
    return cached_model(packaged_corpus_text(), encoding="o200k_base", order=5)


def test_trained_model_is_cached_on_disk_and_reads_back_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first use writes one cache file (no temporary left behind); the next process reads
    it instead of training, and its logits are bit for bit the trained model's."""
    trained = _cached_model(tmp_path, monkeypatch)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.startswith("ngram-o200k_base-o5-")
    loaded = _cached_model(tmp_path, monkeypatch)
    assert loaded is not trained
    assert loaded.stats() | {"training_seconds": 0} == trained.stats() | {"training_seconds": 0}
    prompt = trained.encoding.encode("Write a Python function")
    for generated in ([], [3], [3, 17, 40], [1, 2, 3, 4, 5, 6]):
        np.testing.assert_array_equal(
            loaded.bind(prompt)(generated), trained.bind(prompt)(generated)
        )


def test_a_damaged_cache_file_is_retrained_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A truncated or foreign cache file is never an error: the model is trained again and
    the file rewritten."""
    _cached_model(tmp_path, monkeypatch)
    (cache_file,) = tmp_path.iterdir()
    cache_file.write_bytes(cache_file.read_bytes()[:1000])
    model = _cached_model(tmp_path, monkeypatch)
    assert model.stats()["documents"] == default_language_model().stats()["documents"]
    assert cache_file.stat().st_size > 1000


def test_an_unwritable_cache_falls_back_to_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache directory that cannot be created (here: a path under a file) just means the
    model is trained in memory, as without a cache."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    model = _cached_model(blocker / "cache", monkeypatch)
    assert model.stats()["vocabulary"] == default_language_model().stats()["vocabulary"]
    assert list(tmp_path.iterdir()) == [blocker]


def test_cache_directory_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """LLMPRESETS_CACHE_DIR wins (empty: no cache), then $XDG_CACHE_HOME/llmpresets, then
    ~/.cache/llmpresets."""
    from llmpresets.offline.lm.ngram.files import cache_directory

    monkeypatch.setenv("LLMPRESETS_CACHE_DIR", "/somewhere/models")
    assert cache_directory() == Path("/somewhere/models")
    monkeypatch.setenv("LLMPRESETS_CACHE_DIR", "")
    assert cache_directory() is None
    monkeypatch.delenv("LLMPRESETS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert cache_directory() == Path("/xdg/llmpresets")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_directory() == Path.home() / ".cache" / "llmpresets"


def test_logits_cache_is_bounded_and_keeps_the_newest() -> None:
    """The model's logits cache never holds more than its byte budget; the oldest entries go
    first, and evicting changes no result."""
    model = NGramModel.train(TINY_CORPUS * 3 + "### other\nSomething else entirely here.\n")
    cache = model._logits_cache
    cache.budget = 3 * 8 * len(model.vocabulary)  # three steps' logits
    step = model.bind([])
    first = [step([position]).copy() for position in range(6)]
    assert len(cache) <= 3 and cache.used <= cache.budget
    again = [step([position]) for position in range(6)]
    for before, after in zip(first, again, strict=True):
        np.testing.assert_array_equal(before, after)


def test_histories_with_the_same_tail_read_the_same_logits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key remembered for a history's last order-1 positions gives the logits a fresh
    suffix match gives: the very array while it is cached, equal values once evicted or once
    the remembered keys are forgotten, and a token outside the vocabulary (-1) still cuts the
    match short."""
    model = default_language_model("o200k_base")
    step = model.bind([])
    width = model.order - 1
    # Histories the corpus knows (the model's own likeliest continuations, so long suffixes
    # match), each also with its last position or an earlier one changed, and with a -1.
    histories = []
    for start in range(0, 400, 20):
        history = [start]
        for _ in range(width + 2):
            history.append(int(np.argmax(step(history))))
        histories.append(history)
        histories.append([*history[:-1], (history[-1] + 1) % 50])
        histories.append([*history[:-2], (history[-2] + 1) % 50, history[-1]])
        oldest = len(history) - width  # the oldest position a suffix match reads
        histories.append([*history[:oldest], (history[oldest] + 1) % 50, *history[oldest + 1 :]])
        histories.append([*history[:-2], -1, history[-1]])
    matched = [model.view.match(0, history)[2] for history in histories]
    assert width in matched and len(set(matched)) > 2  # whole-width matches, and shorter

    def fresh(history: list[int]) -> Any:
        tables, codes, longest = model.view.match(0, history)
        return model._dense(0, tables, codes, longest)

    for history in histories:
        other = [7, 7, 7, *history[-width:]]  # another start, the same tail
        first, second = step(history), step(other)
        assert first is second
        np.testing.assert_array_equal(first, fresh(history))
    monkeypatch.setattr(model._logits_cache, "budget", 2 * 8 * len(model.vocabulary))
    model._logits_cache.clear()
    for history in histories:
        np.testing.assert_array_equal(step(history), fresh(history))
    model._suffix_keys.clear()
    for history in histories:
        np.testing.assert_array_equal(step(history), fresh(history))


def _reply(source: Any, **settings: Any) -> str:
    client = sdk(OfflineTransport(source=source))
    reply = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], seed=0, **settings
    )
    return reply.choices[0].message.content or ""


def test_a_source_with_only_next_logits_is_enough() -> None:
    """The protocol's one method makes a source: a user's class with only
    ``next_logits(context_ids)`` sees the prompt's ids, ``<|endofprompt|>`` and its output so
    far, over the whole tokenizer (no vocabulary, no bind, the model's encoding)."""
    from llmpresets.offline import NextTokenSource
    from llmpresets.tokens.encodings import get_encoding

    encoding = get_encoding("o200k_base")
    word = encoding.encode(" ok")[0]

    class Echo:
        def __init__(self) -> None:
            self.seen: list[list[int]] = []

        def next_logits(self, context_ids: Any) -> Any:
            self.seen.append(list(context_ids))
            logits = np.full(encoding.n_vocab, -np.inf)
            logits[word if len(self.seen) <= 2 else encoding.eot_token] = 0.0
            return logits

    source = Echo()
    assert isinstance(source, NextTokenSource)
    assert _reply(source) == " ok ok"
    marker = encoding.encode("<|endofprompt|>", allowed_special="all")[0]
    assert source.seen[:2] == [
        [*encoding.encode("Hi"), marker],
        [*encoding.encode("Hi"), marker, word],
    ]


def test_a_source_is_read_for_its_optional_capabilities() -> None:
    """An object that declares ``vocabulary``, ``encoding_name`` and ``bind`` (the protocols
    of lm.protocol) is used through them: its logits are over its vocabulary, its tokenizer
    counts the prompt, and ``bind`` reads the prompt once; a SourceBase's ``bind`` is also
    told the request's use case."""
    from llmpresets.offline.lm.protocol import SourceBase
    from llmpresets.offline.lm.sources import FunctionStepper, make_stepper
    from llmpresets.tokens.encodings import get_encoding

    encoding = get_encoding("cl100k_base")
    yes, end = np.array([0.0, -np.inf]), np.array([-np.inf, 0.0])

    class Bound:
        encoding_name = "cl100k_base"

        def __init__(self) -> None:
            self.vocabulary = [encoding.encode(" yes")[0], encoding.eot_token]
            self.bound: list[list[int]] = []

        def next_logits(self, context_ids: Any) -> Any:
            raise AssertionError("a source that binds prompts is stepped through bind")

        def bind(self, prompt_ids: Any) -> Any:
            self.bound.append(list(prompt_ids))
            return lambda positions: yes if len(positions) < 3 else end

    source = Bound()
    assert _reply(source) == " yes yes yes"
    assert source.bound == [encoding.encode("Hi")]
    step, vocabulary = make_stepper(source, [1, 2], encoding, style="code")
    assert source.bound[-1] == [1, 2]
    assert vocabulary is not None and vocabulary.tolist() == source.vocabulary
    assert step.shortcut(temperature=1.0, top_k=None, top_p=None, min_p=None) is None

    class Styled(SourceBase):
        def __init__(self) -> None:
            self.styles: list[str | None] = []

        def bind(self, prompt_ids: Any, style: str | None = None) -> Any:
            self.styles.append(style)
            return FunctionStepper(lambda positions: end)

    styled = Styled()
    make_stepper(styled, [1, 2], encoding, style="code")
    assert styled.styles == ["code"]


def test_callable_source_with_a_vocabulary() -> None:
    """CallableSource wraps a plain function; ``vocabulary`` maps its positions to ids."""
    from llmpresets.offline import CallableSource
    from llmpresets.tokens.encodings import get_encoding

    encoding = get_encoding("o200k_base")
    prompt = len(encoding.encode("Hi")) + 1  # and <|endofprompt|>

    def logits(context: Any) -> Any:
        return [0.0, -np.inf] if len(context) < prompt + 2 else [-np.inf, 0.0]

    source = CallableSource(logits, vocabulary=[encoding.encode(" hi")[0], encoding.eot_token])
    assert _reply(source) == " hi hi"


@pytest.mark.parametrize("module", ["protocol", "sources", "default", "corpus", "ngram.model"])
def test_the_lm_docstring_examples_run(module: str) -> None:
    """Each lm module's examples are true (they are what a newcomer reads first)."""
    import doctest
    import importlib

    failed, attempted = doctest.testmod(importlib.import_module(f"llmpresets.offline.lm.{module}"))
    assert attempted and not failed

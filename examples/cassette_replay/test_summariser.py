"""Replaying real replies: the app's own client answered from a cassette, offline.

``llm_cassette`` is this test's recording (cassettes/test_summariser/<test>.yaml, next to this
file). This folder's pytest.ini turns interception on (``llm_intercept = true``: the app's
own ``openai.OpenAI()``, built at import, is answered offline), and a test that uses
``llm_cassette`` has it answered from its cassette instead; a request the cassette lacks is an
error (``llm_cassette_on_miss = error``).

Replay (CI, no key, no network):  pytest examples/cassette_replay
Record again from a live API:     OPENAI_API_KEY=sk-... pytest examples/cassette_replay \\
                                      --llm-record=all
(These cassettes were recorded from ``llmpresets serve --seed 5 --api-key ...`` standing in
for the API, with OPENAI_BASE_URL pointing at it; the key is scrubbed from the files. The
replies are the offline model's, hence their dreamy content.)
"""

from __future__ import annotations

import httpx2
import summariser

from llmpresets import Cassette

ARTICLE = (
    "The city council voted on Tuesday to turn the old tram depot into a public library, "
    "with work starting next spring and the doors opening in two years."
)


def test_summary_is_the_recorded_one(
    llm_cassette: Cassette, llm_intercept: httpx2.BaseTransport
) -> None:
    assert llm_intercept is llm_cassette
    assert summariser.summarise(ARTICLE) == RECORDED_SUMMARY


def test_stream_replays_chunk_by_chunk(
    llm_cassette: Cassette, llm_intercept: httpx2.BaseTransport
) -> None:
    pieces = summariser.headline_stream(ARTICLE)
    assert len(pieces) > 1  # the recorded chunks, one by one, not one buffered body
    assert "".join(pieces) == RECORDED_HEADLINE


# What the cassettes hold (the replies recorded once).
RECORDED_SUMMARY = (
    "The snowman knew he would melt in spring, so he spent the winter learning the edge there "
    "was no monster and no waterfall, only more land, the wind carried it high, and it fell "
    "asleep"
)
RECORDED_HEADLINE = "The old dragon had forgotten how to the valley, and she was not on nobody"

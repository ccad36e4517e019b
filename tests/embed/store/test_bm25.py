"""The lexical channel's script-neutral keys and BM25 scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embed.store.bm25 import LexicalIndex, Reuse, lexical_tokens


@pytest.mark.parametrize(
    ("russian", "english"),
    [
        ("Жапаров", "Japarov"),
        ("Жапарова", "Japarov's"),
        ("Бортникова", "Bortnikov"),
        ("Нагиев", "Nagiyev"),
        ("Токаев", "Tokayev"),
        ("Азербайджан", "Azerbaijan"),
        ("Шаршеев", "Sharsheev"),
        ("Чолпон-Ате", "Cholpon-Ata"),
        ("Бишкеке", "Bishkek"),
        ("РАТС", "RATS"),
        ("55-м", "55th"),
    ],
)
def test_names_meet_across_scripts(russian: str, english: str) -> None:
    assert lexical_tokens(russian)[0] == lexical_tokens(english)[0]


def test_numbers_keep_their_digits() -> None:
    tokens = lexical_tokens("2023-2027 годы, 55-е, 1000")
    assert [t for t in tokens if t.isdigit()] == ["2023", "2027", "55", "1000"]


def test_bm25_scores_the_passage_naming_the_person(tmp_path: Path) -> None:
    index = LexicalIndex.build(
        ["Президент Садыр Жапаров встретился", "Bortnikov chaired the meeting", "Погода"]
    )
    scores = index.scores("Sadyr Japarov")
    assert scores[0] > 0 and scores[1] == scores[2] == 0
    index.save(tmp_path / "bm25")
    assert LexicalIndex.load(tmp_path / "bm25").scores("Бортников").argmax() == 1
    assert not LexicalIndex.load(tmp_path / "bm25").scores("zzz").any()


def test_terms_of_one_language_can_be_left_out() -> None:
    # A name written in both scripts is shared; "president" ("Президент" transliterates to
    # another key) and "weather" belong to one language each.
    index = LexicalIndex.build(
        ["Президент Садыр Жапаров встретился", "President Japarov met", "The president's weather"]
    )
    counts = index.languages_per_term(np.array([0, 1, 1]))
    vocab = index._retriever.vocab_dict
    assert counts[vocab["japarov"]] == 2
    assert counts[vocab[lexical_tokens("president")[0]]] == 1
    shared = counts > 1
    assert index.scores("the president Japarov")[2] > 0
    scores = index.scores("the president Japarov", shared)
    assert scores[2] == 0 and scores[0] > 0 and scores[1] > 0


@pytest.mark.parametrize(
    ("word", "lang"),
    [("Tokayev", "en"), ("Токаев", "ru"), ("Тоқаев", "kk"), ("Токаєв", "uk"), ("तोकायेव", "hi")],
)
def test_a_name_meets_across_the_scripts_of_the_region(word: str, lang: str) -> None:
    assert lexical_tokens(word, lang) == ["tokaev"]


def test_russian_endings_are_stripped_from_russian_only() -> None:
    # "Бишкеке" is Russian's locative; "Бишкекте" is Kazakh's, which the Russian rule would
    # leave as a stem that no other spelling of the city shares anyway, but "-а" and "-ы" are
    # Kazakh word endings it must not touch.
    assert lexical_tokens("Бишкеке", "ru") == ["bishkek"]
    assert lexical_tokens("Астана", "ru") == ["astan"]
    assert lexical_tokens("Астана", "kk") == ["astana"]


def test_each_language_takes_its_own_stemmer() -> None:
    assert lexical_tokens("presidents", "en") == lexical_tokens("president", "en")
    assert lexical_tokens("bakanları", "tr") == lexical_tokens("bakanlar", "tr")
    # German has a stemmer, Uzbek has none: its words are kept whole.
    assert lexical_tokens("Präsidenten", "de") == lexical_tokens("Präsident", "de")
    assert lexical_tokens("prezidentlar", "uz") == ["prezidentlar"]


def test_chinese_is_indexed_as_character_pairs() -> None:
    assert len(lexical_tokens("上海合作组织", "zh")) == 5
    # A Latin name beside Han characters is a word of its own.
    assert "astana" in lexical_tokens("在Astana举行", "zh")


def test_devanagari_words_keep_their_vowel_signs() -> None:
    # Vowel signs are combining marks: a word must not fall apart at each of them.
    assert len(lexical_tokens("कज़ाखस्तान के राष्ट्रपति", "hi")) == 3


def test_an_index_that_reuses_the_live_ones_tokens_scores_as_a_cold_one() -> None:
    live_texts = [
        "Президент Садыр Жапаров встретился с Бортниковым",
        "Bortnikov chaired the meeting in Bishkek",
        "The weather in Astana",
        "Токаев провёл заседание в Астане",
    ]
    live = LexicalIndex.build(live_texts, ["ru", "en", "en", "ru"])
    assert live.tokens is not None
    # The weather passage deleted, Bortnikov's edited, a Kazakh one added; the rest kept.
    texts = [live_texts[0], "Bortnikov chaired the 54th meeting", live_texts[3], "Тоқаев Астанада"]
    langs = ["ru", "en", "ru", "kk"]
    sources = np.array([0, -1, 3, -1])
    reused = LexicalIndex.build(texts, langs, reuse=Reuse(live.vocabulary, live.tokens, sources))
    cold = LexicalIndex.build(texts, langs)

    assert reused.tokens is not None and reused.tokens.row(1) != live.tokens.row(1)
    assert reused.tokens.row(0) == live.tokens.row(0)
    assert reused.tokens.row(2) == live.tokens.row(3)
    for query in ["Bortnikov meeting", "Токаев Астана", "weather", "Japarov 54th"]:
        assert np.allclose(reused.scores(query), cold.scores(query), atol=1e-6), query
    groups = np.array([0, 1, 0, 2])
    shared_reused = reused.languages_per_term(groups)
    shared_cold = cold.languages_per_term(groups)
    for term, term_id in cold.vocabulary.items():
        assert shared_reused[reused.vocabulary[term]] == shared_cold[term_id], term
    # A term only the deleted passage had is still in the vocabulary and scores nothing.
    assert lexical_tokens("weather", "en")[0] in reused.vocabulary
    assert not reused.scores("weather").any()

"""The lexical channel's script-neutral keys and BM25 scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embed.index.bm25 import LexicalIndex, lexical_tokens


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

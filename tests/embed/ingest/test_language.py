"""Tests for embed.ingest.language against the real seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from embed.ingest.chunking import chunk_document
from embed.ingest.documents import discover_seeds, read_document
from embed.ingest.language import detect_language

SEEDS = Path(__file__).parents[3] / "seeds"
EXPECTED_LANG = {
    "000_ede25ed87fc7c0a3": "en",
    "001_5bcb32c10d9a48df": "ru",
    "002_9319827ac0fa4145": "en",
    "003_49e06463a676a368": "en",
    "004_c2ed28fc8de17507": "en",
}


def _words(text: str) -> int:
    return len(text.split())


def test_detects_english_and_russian() -> None:
    assert detect_language("The meeting was held at the state residence in Cholpon-Ata.") == "en"
    assert detect_language("В Бишкеке проходит заседание Совета руководителей органов.") == "ru"


@pytest.mark.parametrize("text", ["", "   ", "12345 67890 !!!", "Sadyr Japarov"])
def test_too_little_text_returns_default(text: str) -> None:
    assert detect_language(text) == "und"
    assert detect_language(text, default="ru") == "ru"


def test_min_letters_is_configurable() -> None:
    assert detect_language("Sadyr Japarov", default="ru") == "ru"
    # 22 letters: enough by default, not when more are demanded.
    assert detect_language("Садыр Жапаров встретился", default="en") == "ru"
    assert detect_language("Садыр Жапаров встретился", default="en", min_letters=30) == "en"


def test_low_confidence_returns_default() -> None:
    # No guess can reach a probability above 1.
    text = "The meeting was held at the residence."
    assert detect_language(text, "xx", min_confidence=1.01) == "xx"
    assert detect_language(text, "xx") == "en"


@pytest.mark.parametrize("doc_id", sorted(EXPECTED_LANG))
def test_seed_document_and_chunk_languages(doc_id: str) -> None:
    doc = read_document(SEEDS / f"{doc_id}.txt", SEEDS)
    assert doc.lang == EXPECTED_LANG[doc_id]
    chunks = chunk_document(doc, _words, max_tokens=20)
    assert len(chunks) > 3
    assert {chunk.lang for chunk in chunks} == {EXPECTED_LANG[doc_id]}


def test_every_seed_has_an_expected_language() -> None:
    paths, _ = discover_seeds(SEEDS)
    assert {p.stem for p in paths} == set(EXPECTED_LANG)

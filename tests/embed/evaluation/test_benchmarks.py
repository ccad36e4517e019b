"""The benchmark readers: XQuAD-dev and Tatoeba as corpora and query sets."""

from __future__ import annotations

import pytest

from embed.evaluation.benchmarks import tatoeba, xquad, xquad_mixed, xquad_parallel
from tests.conftest import SHARED_DATA


def test_benchmark_readers_are_parallel() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip("benchmark data not found")
    bench = xquad(SHARED_DATA / "xquad-dev", "en", "ru")
    assert (len(bench.corpus), len(bench.query_set.queries)) == (120, 632)
    assert all(q.relevant[0] in bench.corpus for q in bench.query_set.queries)
    tat = tatoeba(SHARED_DATA / "tatoeba", "ru", "en")
    assert len(tat.corpus) == len(tat.query_set.queries) == 1000
    assert tat.query_set.direction == "ru->en"


def test_mixed_xquad_holds_each_paragraph_in_one_language() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip("benchmark data not found")
    russian = xquad(SHARED_DATA / "xquad-dev", "en", "ru").corpus
    english = xquad(SHARED_DATA / "xquad-dev", "ru", "en").corpus
    en_questions, ru_questions = (
        xquad_mixed(SHARED_DATA / "xquad-dev", lang) for lang in ("en", "ru")
    )
    texts = list(en_questions.corpus.values())
    assert len(texts) == 120 and en_questions.corpus == ru_questions.corpus
    assert texts[0] == russian["xquad-ru-000"] and texts[1] == english["xquad-en-001"]
    assert en_questions.index_name == ru_questions.index_name == "xquad-dev-mixed"
    # Same questions, same answers, in two languages.
    pairs = zip(en_questions.query_set.queries, ru_questions.query_set.queries, strict=True)
    assert all(a.relevant == b.relevant and a.query != b.query for a, b in pairs)


def test_parallel_xquad_asks_for_the_translation_of_the_answer() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip("benchmark data not found")
    en_questions, ru_questions = (
        xquad_parallel(SHARED_DATA / "xquad-dev", lang) for lang in ("en", "ru")
    )
    russian = xquad(SHARED_DATA / "xquad-dev", "en", "ru")
    assert en_questions.corpus == ru_questions.corpus and len(en_questions.corpus) == 240
    assert en_questions.index_name == ru_questions.index_name == "xquad-dev-parallel"
    # English questions want the Russian paragraph, filtered to Russian, and the reverse.
    first = en_questions.query_set.queries[0]
    assert (first.lang, first.relevant) == ("ru", russian.query_set.queries[0].relevant)
    assert first.query == russian.query_set.queries[0].query
    assert all(
        q.lang == "en" and q.relevant[0].startswith("xquad-en-")
        for q in ru_questions.query_set.queries
    )

"""Evaluation metrics and query-set reading."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from embed.evaluation.metrics import (
    LabelledQuery,
    QuerySet,
    evaluate,
    ndcg,
    read_jsonl,
    relevant_ranks,
)
from embed.ingest.chunking import Chunk
from embed.ranking.results import SearchResult
from embed.ranking.searcher import Searcher
from tests.conftest import ROOT


def _result(rank: int, doc_id: str, paragraph: int) -> SearchResult:
    chunk = Chunk(doc_id, paragraph, 0, 0, 1, "x", "en", "t", None, "s.txt", None)
    return SearchResult(rank, 0.0, chunk)


def test_relevant_ranks_match_documents_and_paragraphs() -> None:
    results = [_result(1, "a", 2), _result(2, "b", 1), _result(3, "a", 5)]
    assert relevant_ranks(results, ["a"]) == [1]
    assert relevant_ranks(results, ["a#5", "b#1", "c"]) == [2, 3]


def test_ndcg_of_perfect_and_late_answers() -> None:
    assert ndcg([1], 1) == 1.0
    assert ndcg([2], 1) == pytest.approx(1 / math.log2(3))
    assert ndcg([11], 1) == 0.0
    assert ndcg([1, 2], 2) == 1.0


def test_read_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('# comment\n{"query": "x", "relevant": ["a"]}\n{"query": "y"}\n')
    with pytest.raises(ValueError, match=r"q\.jsonl:3"):
        read_jsonl(path)


def test_seed_query_set_is_big_enough_and_points_at_real_paragraphs(searcher: Searcher) -> None:
    queries = read_jsonl(ROOT / "bench" / "queries" / "seeds.jsonl")
    assert len(queries) >= 30
    cyrillic = [q for q in queries if any("\u0400" <= c <= "\u04ff" for c in q.query)]
    assert 10 <= len(cyrillic) <= len(queries) - 10
    known = {f"{c.chunk.doc_id}#{c.chunk.paragraph}" for c in searcher.backend.data.chunks}
    assert all(entry in known for q in queries for entry in q.relevant)
    # Answers that exist only in the Russian article, asked in English.
    assert sum(q.relevant == ("001_5bcb32c10d9a48df#7",) and q.lang is None for q in queries) >= 3


def test_evaluate_counts_hits(searcher: Searcher) -> None:
    query_set = QuerySet(
        "t",
        "en->ru",
        [
            LabelledQuery("Bortnikov thanked Japarov for the warm welcome",
                          ("001_5bcb32c10d9a48df#11",), "ru"),
            LabelledQuery("Bortnikov thanked Japarov for the warm welcome", ("no-such-doc",), "ru"),
        ],
    )  # fmt: skip
    score = evaluate(searcher, query_set)
    assert (score.queries, score.hit_at_1, score.mrr_at_10) == (2, 0.5, 0.5)
    assert score.misses == ("Bortnikov thanked Japarov for the warm welcome",)

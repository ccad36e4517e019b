"""The embedded backend: candidates by language, document rows, spans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

from embed.backends.base import RowFilter
from embed.backends.local import LocalIndex
from embed.ingest.chunking import Chunk
from embed.ranking.searcher import Searcher
from embed.store.builds import IndexData, StoredChunk
from embed.store.format import EMBEDDINGS, Manifest


def test_a_language_filter_fills_the_candidates_from_that_language_only(
    searcher: Searcher,
) -> None:
    backend = searcher.backend
    vectors = searcher.embed_queries(["Совещание руководителей спецслужб"]).vectors
    for lang in ("en", "ru"):
        found = backend.candidates(vectors, 10, RowFilter(frozenset({lang})))[0]
        assert len(found.rows) == 10
        assert set(backend.chunk_languages()[found.rows].tolist()) == {lang}
        assert list(found.scores) == sorted(found.scores, reverse=True)


def test_a_documents_rows_come_in_reading_order_without_a_scan(searcher: Searcher) -> None:
    backend = searcher.backend
    rows = backend.document_rows("000_ede25ed87fc7c0a3")
    assert [backend.chunk(row).paragraph for row in rows] == sorted(
        backend.chunk(row).paragraph for row in rows
    )
    assert {backend.chunk(row).doc_id for row in rows} == {"000_ede25ed87fc7c0a3"}
    assert backend.document_rows("no-such-document") == []
    document = searcher.document("000_ede25ed87fc7c0a3")
    assert document is not None and document.chunks[0].paragraph == 0


def _synthetic(manifest: Manifest, matrix: np.ndarray, index: Any, docs: int) -> LocalIndex:
    """A backend over ``matrix`` (one row per chunk), the rows spread over ``docs`` documents
    in runs, every other document in Russian."""
    chunks = []
    for row in range(len(matrix)):
        doc = row * docs // len(matrix)
        chunk = Chunk(
            doc_id=f"d{doc:05d}", paragraph=row, part=0, start=0, end=1, text="x",
            lang="ru" if doc % 2 else "en", title="t", date=None, source="s", url=None,
        )  # fmt: skip
        chunks.append(StoredChunk(chunk, str(row)))
    documents = {c.chunk.doc_id: {"doc_id": c.chunk.doc_id} for c in chunks}
    data = IndexData("synthetic", Path("."), manifest, index, {EMBEDDINGS: matrix}, {}, chunks,
                     documents)  # fmt: skip
    return LocalIndex(data)


def _unit(rows: int, dim: int, seed: int) -> np.ndarray:
    matrix = np.random.default_rng(seed).standard_normal((rows, dim), dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _ranked_alone(matrix: np.ndarray, rows: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best of ``rows`` for each query, from a Flat index of only those rows."""
    alone = faiss.IndexFlatIP(matrix.shape[1])
    alone.add(matrix[rows])
    return rows[alone.search(queries, k)[1]]


def test_a_filter_keeping_one_percent_of_100k_passages_ranks_as_an_index_of_them_alone(
    searcher: Searcher,
) -> None:
    matrix = _unit(100_000, 64, seed=0)
    index = faiss.IndexFlatIP(64)
    index.add(matrix)
    backend = _synthetic(searcher.manifest, matrix, index, docs=5000)
    queries = _unit(5, 64, seed=1)
    for where in (
        RowFilter(docs=frozenset(f"d{doc:05d}" for doc in range(0, 5000, 100))),  # 1%
        # 1%, half of it ru
        RowFilter(frozenset({"ru"}), frozenset(f"d{doc:05d}" for doc in range(0, 100))),
        RowFilter(frozenset({"en"})),  # 50%, through the index with a selector
    ):
        allowed = backend._allowed(where)
        expected = _ranked_alone(matrix, allowed, queries, 10)
        found = backend.candidates(queries, 10, where)
        assert [list(c.rows) for c in found] == expected.tolist()
        for query, candidates in zip(queries, found, strict=True):
            assert np.allclose(candidates.scores, matrix[candidates.rows] @ query, atol=1e-6)
    nothing = backend.candidates(queries, 10, RowFilter(docs=frozenset()))
    assert all(len(c.rows) == 0 for c in nothing)


def test_an_hnsw_index_filtered_with_a_selector_returns_k_allowed_rows(searcher: Searcher) -> None:
    matrix = _unit(25_000, 32, seed=2)
    index = faiss.IndexHNSWFlat(32, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = 64
    index.add(matrix)
    backend = _synthetic(searcher.manifest, matrix, index, docs=1000)
    queries = _unit(20, 32, seed=3)
    where = RowFilter(docs=frozenset(f"d{doc:05d}" for doc in range(0, 1000) if doc % 5))  # 80%
    allowed = backend._allowed(where)
    found = backend.candidates(queries, 10, where)
    expected = _ranked_alone(matrix, allowed, queries, 10)
    assert all(len(c.rows) == 10 and set(c.rows.tolist()) <= set(allowed.tolist()) for c in found)
    recall = np.mean([len(set(c.rows) & set(e)) / 10 for c, e in zip(found, expected, strict=True)])
    assert recall >= 0.9

"""The FAISS index is chosen by corpus size and described for the manifest."""

from __future__ import annotations

import numpy as np

from embed.store.faiss_index import (
    HNSW_EF_SEARCH,
    HNSW_THRESHOLD,
    build_faiss_index,
    choose_index_type,
)


def _unit(rows: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_small_corpora_are_searched_exactly_and_large_ones_with_hnsw() -> None:
    assert choose_index_type(0) == choose_index_type(HNSW_THRESHOLD - 1) == "Flat"
    assert choose_index_type(HNSW_THRESHOLD) == choose_index_type(10**6) == "HNSW32"


def test_flat_index_finds_each_vector_itself_and_describes_itself() -> None:
    vectors = _unit(500)
    index, description = build_faiss_index(vectors)
    scores, ids = index.search(vectors[:20], 1)
    assert ids[:, 0].tolist() == list(range(20))
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)
    assert description == {"type": "Flat", "params": {}, "metric": "inner_product"}


def test_hnsw_index_agrees_with_exact_search_and_records_its_parameters() -> None:
    vectors, queries = _unit(3000), _unit(50, seed=1)
    hnsw, description = build_faiss_index(vectors, "HNSW32")
    exact, _ = build_faiss_index(vectors, "Flat")
    found, truth = hnsw.search(queries, 10)[1], exact.search(queries, 10)[1]
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95
    assert description["type"] == "HNSW32"
    assert description["params"]["efSearch"] == HNSW_EF_SEARCH == hnsw.hnsw.efSearch


def test_empty_corpus_builds_an_empty_index() -> None:
    index, _ = build_faiss_index(np.zeros((0, 32), dtype=np.float32))
    assert index.ntotal == 0


def test_a_grown_hnsw_index_is_the_old_graph_plus_the_new_rows() -> None:
    vectors, queries = _unit(3000), _unit(50, seed=1)
    old, description = build_faiss_index(vectors[:2900], "HNSW32")
    grown, grown_description = build_faiss_index(vectors, "HNSW32", grow=(old, description))
    assert grown is old and grown.ntotal == 3000 and grown_description == description
    exact, _ = build_faiss_index(vectors, "Flat")
    found, truth = grown.search(queries, 10)[1], exact.search(queries, 10)[1]
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95
    assert grown.search(vectors[2950:2951], 1)[1][0, 0] == 2950


def test_an_index_made_otherwise_is_not_grown() -> None:
    vectors = _unit(600)
    flat, flat_description = build_faiss_index(vectors[:500], "Flat")
    hnsw, _ = build_faiss_index(vectors, "HNSW32", grow=(flat, flat_description))
    assert hnsw is not flat and flat.ntotal == 500 and hnsw.ntotal == 600
    older = {**flat_description, "params": {"efSearch": 1}}
    again, _ = build_faiss_index(vectors, "Flat", grow=(flat, older))
    assert again is not flat and flat.ntotal == 500

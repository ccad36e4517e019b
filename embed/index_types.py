"""FAISS index construction, with the index type chosen by corpus size.

Vectors are L2-normalized, so every index uses inner product (= cosine). Small corpora get an
exact ``Flat`` index: below ``HNSW_THRESHOLD`` rows a brute-force scan is both exact and fast
enough. Larger ones get HNSW, whose recall/speed trade-off is set by ``efSearch``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

HNSW_THRESHOLD = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64


def choose_index_type(rows: int) -> str:
    """The FAISS factory string for a corpus of ``rows`` vectors."""
    return "Flat" if rows < HNSW_THRESHOLD else f"HNSW{HNSW_M}"


def build_faiss_index(vectors: np.ndarray, kind: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Build an inner-product index over ``vectors``.

    Args:
        vectors: ``(n, d)`` float32, L2-normalized.
        kind: A FAISS factory string; chosen by :func:`choose_index_type` when ``None``.

    Returns:
        The index and its description for the manifest (type and parameters).
    """
    import faiss

    kind = kind or choose_index_type(vectors.shape[0])
    index: Any = faiss.index_factory(vectors.shape[1], kind, faiss.METRIC_INNER_PRODUCT)
    params: dict[str, Any] = {}
    if kind.startswith("HNSW"):
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        params = {"efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}
    if not index.is_trained:
        index.train(vectors)
    if vectors.shape[0]:
        index.add(vectors)
    return index, {"type": kind, "params": params, "metric": "inner_product"}

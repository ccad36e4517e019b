"""FAISS index construction, with the index type chosen by corpus size.

Vectors are L2-normalized, so every index uses inner product (= cosine). Small corpora get an
exact ``Flat`` index: below ``HNSW_THRESHOLD`` rows a brute-force scan is both exact and fast
enough. Larger ones get HNSW, whose recall/speed trade-off is set by ``efSearch``: it stays far
under the latency target at high recall on a million rows, needs no training (IVF's recall
depends on how the data clusters) and adds rows incrementally. The threshold and parameters come
from ``bench/scale.py`` (docs/benchmarks.md); IVF and the other thresholds tried are in
docs/decisions.md, "Index types".
"""

from __future__ import annotations

from typing import Any

import numpy as np

HNSW_THRESHOLD = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64


def choose_index_type(rows: int) -> str:
    """The FAISS factory string for a corpus of ``rows`` vectors."""
    return "Flat" if rows < HNSW_THRESHOLD else f"HNSW{HNSW_M}"


def describe_index(kind: str) -> dict[str, Any]:
    """How an index of ``kind`` is made, as recorded in a build's manifest."""
    params = (
        {"efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}
        if kind.startswith("HNSW")
        else {}
    )
    return {"type": kind, "params": params, "metric": "inner_product"}


def build_faiss_index(
    vectors: np.ndarray,
    kind: str | None = None,
    *,
    grow: tuple[Any, dict[str, Any]] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Build an inner-product index over ``vectors``.

    Args:
        vectors: ``(n, d)`` float32, L2-normalized.
        kind: A FAISS factory string; chosen by :func:`choose_index_type` when ``None``.
        grow: An index over the first rows of ``vectors`` and its description. When it was
            made as this one would be, the other rows are added to it (in place) rather than
            building anew: HNSW makes its graph by adding rows one by one anyway, so a grown
            graph is one more such graph, made in the time the new rows take.

    Returns:
        The index and its description for the manifest (type and parameters).
    """
    import faiss

    kind = kind or choose_index_type(vectors.shape[0])
    description = describe_index(kind)
    if grow is not None and grow[1] == description and grow[0].ntotal <= len(vectors):
        grown = grow[0]
        grown.add(vectors[grown.ntotal :])
        return grown, description
    index: Any = faiss.index_factory(vectors.shape[1], kind, faiss.METRIC_INNER_PRODUCT)
    if kind.startswith("HNSW"):
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    if not index.is_trained:
        index.train(vectors)
    if vectors.shape[0]:
        index.add(vectors)
    return index, description

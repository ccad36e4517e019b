"""FAISS index construction, with the index type chosen by corpus size.

Vectors are L2-normalized, so every index uses inner product (= cosine). Small corpora get an
exact ``Flat`` index: below ``HNSW_THRESHOLD`` rows a brute-force scan is both exact and fast
enough. Larger ones get HNSW, whose recall/speed trade-off is set by ``efSearch``.

Measured by ``bench/scale.py`` on this 2-core machine (384-d, one query at a time; see
docs/benchmarks.md): Flat takes 0.9 ms at 10k rows, 6.6 ms at 50k and 13 ms at 100k, so the
switch is at 20k (about 2 ms, interpolated). HNSW32 (efConstruction 80) over 1M rows answers
in 0.53 ms at recall@10 0.975 with efSearch 64, and 1.0 ms at 0.997 with 128. IVF4096 matched
it on that mixture (0.38 ms at 0.974 with nprobe 8) and builds in 52 s instead of 481 s, but its
recall depends on how the data clusters (IVF1024 on the same vectors needed nprobe 128 and
12 ms for 0.92), while HNSW needs no training and adds rows incrementally. (For comparison,
txtai switches from Flat to IVF above 5,000 rows.)
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

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


def search_among(
    index: Any, vectors: np.ndarray, k: int, members: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``index.search`` restricted to the rows ``members``: FAISS skips the others inside the
    search (exactly for ``Flat``; HNSW walks its graph through them, keeping only members).

    Returns:
        Scores and rows, ``(len(vectors), k)`` each, ``-1`` rows padding a short answer.
    """
    import faiss

    # A bitmap of the rows is made much faster than a hash set of their ids (IDSelectorBatch).
    mask = np.zeros(index.ntotal, dtype=bool)
    mask[members] = True
    bits = np.packbits(mask, bitorder="little")
    selector = faiss.IDSelectorBitmap(index.ntotal, faiss.swig_ptr(bits))
    params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
    scores, ids = index.search(np.ascontiguousarray(vectors, dtype=np.float32), k, params=params)
    return scores, ids


def exact_among(
    matrix: np.ndarray, vectors: np.ndarray, k: int, members: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``members`` nearest each of ``vectors`` by inner product over
    ``matrix``, best first: an exact scan of only those rows, as a ``Flat`` index of them
    would rank them.

    Returns:
        Scores and rows, ``(len(vectors), min(k, len(members)))`` each.
    """
    scores = np.asarray(vectors, dtype=np.float32) @ np.asarray(matrix[members]).T
    take = min(k, len(members))
    if take < len(members):
        top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    else:
        top = np.broadcast_to(np.arange(len(members)), scores.shape).copy()
    best = np.take_along_axis(scores, top, axis=1)
    # Best first; equal scores in row order, whatever order argpartition left them in.
    order = np.lexsort((top, -best), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    return np.take_along_axis(scores, top, axis=1), np.asarray(members)[top]

"""Exact Flat against HNSW and IVF on many synthetic vectors: build, memory, latency, recall.

    python bench/scale.py [--rows 1000000] [--clusters 10000] [--spread 1.0] [--hnsw-rows N]

Vectors: 384-d, L2-normalised, from a mixture of ``--clusters`` Gaussians with noise ``--spread``
times the centre's norm (``_common.clustered_unit_vectors``; queries come from the same mixture,
not from the indexed rows). The defaults make the search hard on purpose: with noise as large
as the centre, a query's true neighbours sit at cosine about 0.5 and the top 10 straddle IVF
cells (on 200k rows, IVF1024 at nprobe 8 finds 62% of them and HNSW32 at efSearch 64 74%),
where a mixture of 1000 tight clusters gave every IVF setting recall 1.000 and measured nothing.
Real embeddings are easier than this; the parameters chosen from it have a margin.

Ground truth is the exact top 10 of ``IndexFlatIP``. Latency is one query at a time (p50 over
the first ``--timed`` queries), as the service searches; FAISS uses all cores (2 here). Memory
is the serialised index size. ``Flat`` is also timed over the first ``--flat-sizes`` rows, which
is where the automatic choice of ``embed/store/faiss_index.py`` switches away from exact search.
HNSW is built over the first ``--hnsw-rows`` rows (all of them by default; its own ground truth).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from _common import clustered_unit_vectors, header, table


def single_query_ms(
    index: Any, queries: np.ndarray, timed: int, k: int = 10
) -> tuple[float, np.ndarray]:
    """Median ms of ``timed`` one-query searches, and the top ``k`` of every query (batched)."""
    samples = []
    for i in range(min(timed, len(queries))):
        started = time.perf_counter()
        index.search(queries[i : i + 1], k)
        samples.append((time.perf_counter() - started) * 1000)
    _, ids = index.search(queries, k)
    return float(np.median(samples)), ids


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def size_mb(index: Any) -> float:
    import faiss

    return len(faiss.serialize_index(index)) / 2**20


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--timed", type=int, default=100, help="Queries timed one at a time.")
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=1.0)
    parser.add_argument("--hnsw-rows", type=int, default=None)
    parser.add_argument("--flat-sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--nlist", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    parser.add_argument("--ef-search", type=int, nargs="+", default=[32, 64, 128, 256])
    args = parser.parse_args()
    dim = 384
    started = time.perf_counter()
    data = clustered_unit_vectors(
        args.rows + args.queries, dim, clusters=args.clusters, spread=args.spread, seed=7
    )
    base, queries = data[: args.rows], np.ascontiguousarray(data[args.rows :])
    print(
        f"generated {args.rows} + {args.queries} vectors in {time.perf_counter() - started:.1f} s"
    )
    rows: list[dict[str, Any]] = []

    def add(kind: str, n: int, build_s: float, index: Any, truth: np.ndarray, params: str) -> None:
        p50, found = single_query_ms(index, queries, args.timed)
        rows.append({"index": kind, "rows": n, "params": params, "build s": build_s,
                     "size MiB": size_mb(index), "p50 ms": p50,
                     "recall@10": recall(found, truth)})  # fmt: skip
        print(rows[-1], flush=True)

    started = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(base)
    flat_build = time.perf_counter() - started
    _, truth = flat.search(queries, 10)
    add("Flat", args.rows, flat_build, flat, truth, "exact")
    del flat
    for size in args.flat_sizes:
        if size < args.rows:
            small = faiss.IndexFlatIP(dim)
            small.add(np.ascontiguousarray(base[:size]))
            add("Flat", size, 0.0, small, small.search(queries, 10)[1], "exact")
            del small

    for nlist in args.nlist:
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        started = time.perf_counter()
        sample = base[np.random.default_rng(0).choice(args.rows, min(args.rows, 40 * nlist),
                                                      replace=False)]  # fmt: skip
        ivf.train(sample)
        ivf.add(base)
        build = time.perf_counter() - started
        for nprobe in args.nprobe:
            ivf.nprobe = nprobe
            add(f"IVF{nlist},Flat", args.rows, build, ivf, truth, f"nprobe={nprobe}")
        del ivf

    n = min(args.hnsw_rows or args.rows, args.rows)
    sub = np.ascontiguousarray(base[:n])
    sub_truth = truth
    if n < args.rows:
        exact = faiss.IndexFlatIP(dim)
        exact.add(sub)
        _, sub_truth = exact.search(queries, 10)
        add("Flat", n, 0.0, exact, sub_truth, "exact (HNSW's baseline)")
        del exact
    hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 80
    started = time.perf_counter()
    hnsw.add(sub)
    build = time.perf_counter() - started
    for ef in args.ef_search:
        hnsw.hnsw.efSearch = ef
        add("HNSW32", n, build, hnsw, sub_truth, f"efC=80 efSearch={ef}")
    print(
        header(
            f"bench/scale.py: {args.rows} 384-d vectors, {args.clusters} clusters, "
            f"spread {args.spread}, {args.queries} queries"
        )
    )
    print(f"FAISS {faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads")
    print(table(rows))


if __name__ == "__main__":
    main()

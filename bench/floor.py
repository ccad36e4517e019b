"""The compute floor of a query: e5's forward pass in FLOPs, against what this CPU delivers.

    python bench/floor.py [--repeats 5]

The latency and throughput targets are bounded by arithmetic before any code runs: every query
goes through e5-small's twelve layers once. This script counts the multiply-adds of that pass
for the seeds queries (from the model's config and each query's token count, "query: " prompt
and special tokens included), measures the machine's practical fp32 peak with a large sgemm
(numpy's BLAS on ``XLSEARCH_THREADS`` threads), times e5 through ONNX Runtime one query at a
time and in batches of 16, and prints the floor: the time e5 alone would take at that peak,
and the queries per second that would leave for nothing else.

FLOPs per token and layer: 2 x (4 d^2 projections + 2 d f feed-forward + 2 n d attention); the
embedding lookup, layer norms and GELU are left out (a few percent), so the floor is low.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from _common import header, seed_queries, table

from embed.models.encoder import Encoder
from embed.settings import EmbedSettings
from embed.util.blas import blas_threads


def gflops(config: dict[str, int], tokens: int) -> float:
    """Forward-pass GFLOPs of a BERT encoder on one sequence of ``tokens``."""
    d, f, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    macs = layers * tokens * (4 * d * d + 2 * d * f + 2 * tokens * d)
    return 2 * macs / 1e9


def sgemm_gflops(threads: int, size: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of a square fp32 matrix product on ``threads`` BLAS threads."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    best = float("inf")
    with blas_threads(threads):
        a @ b
        for _ in range(repeats):
            started = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="passes over the queries")
    args = parser.parse_args()
    settings = EmbedSettings(query_backend="onnx")
    encoder = Encoder(settings.model, settings.model_cache, settings.threads, "onnx")
    onnx = encoder.onnx
    if onnx is None:
        raise SystemExit(f"{settings.model}: no ONNX export for this model")
    config = json.loads((onnx.model_folder / "config.json").read_text())
    queries = seed_queries()
    tokens = [len(onnx.tokenizer.encode(onnx.prompt + q).ids) for q in queries]
    onnx.encode(queries[:4])  # warm-up: session, export if missing

    single: list[float] = []
    for _ in range(args.repeats):
        for query in queries:
            started = time.perf_counter()
            onnx.encode([query])
            single.append(time.perf_counter() - started)
    batch = 16
    batched: list[float] = []  # seconds per query
    batch_flops: list[float] = []  # GFLOP per query, padding included
    for _ in range(args.repeats):
        for first in range(0, len(queries) - batch + 1, batch):
            group = queries[first : first + batch]
            padded = max(tokens[first : first + batch])
            started = time.perf_counter()
            onnx.encode(group)
            batched.append((time.perf_counter() - started) / batch)
            batch_flops.append(gflops(config, padded))

    peak = sgemm_gflops(settings.threads)
    median_tokens = int(statistics.median(tokens))
    work = gflops(config, median_tokens)
    one = statistics.median(single)
    per_query_batched = statistics.median(batched)
    rows = [
        {"what": "seeds queries: tokens p50 (min-max)", "value": f"{median_tokens} "
         f"({min(tokens)}-{max(tokens)})"},
        {"what": "e5 forward pass at p50 tokens, GFLOP", "value": work},
        {"what": f"sgemm {2048}^3 fp32, {settings.threads} threads: GFLOP/s (practical peak)",
         "value": peak},
        {"what": "e5 one query, ONNX Runtime fp32: p50 ms", "value": one * 1000},
        {"what": "  achieved GFLOP/s (p50 query / p50 time)", "value": work / one},
        {"what": f"e5 batches of {batch}: p50 ms per query", "value": per_query_batched * 1000},
        {"what": "  achieved GFLOP/s (padded)",
         "value": statistics.median(batch_flops) / per_query_batched},
        {"what": "floor: e5 p50 query at the sgemm peak, ms", "value": work / peak * 1000},
        {"what": "ceiling: e5-only queries/s at the sgemm peak", "value": peak / work},
    ]  # fmt: skip
    print(header("bench/floor.py: e5 compute floor per query"))
    print(table(rows))


if __name__ == "__main__":
    main()

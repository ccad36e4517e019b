"""Query latency with a build's arrays memory-mapped (as the service loads them) against the same
arrays copied into the process's memory, interleaved in one process.

    python bench/memory_maps.py [--rows 100000] [--queries 400] [--workdir DIR]

``embed.store.builds.load_index`` maps every ``.npy`` of a build, so that at 100k passages a
gigabyte of
vectors is evictable page cache rather than memory of the service's own (``bench/memory.py``
reports both). The price would be in the gathers of the candidates' rows; this measures it on
the seeds index and on the synthetic index of ``bench/latency.py``: two searchers on one build,
one with the arrays copied (the token states stay mapped in both), queried alternately with the
seeds queries after a warm-up pass over them, in-process, default ranking.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import bench_indexes, header, percentiles, seed_queries, table

from embed.backends.local import LocalIndex
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings, load_encoders
from embed.store.builds import load_index
from embed.store.format import TOKEN_STATES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()
    encoder, second = load_encoders(EmbedSettings())
    queries = seed_queries()
    rows: list[dict[str, Any]] = []
    for name, vectors in bench_indexes(args.workdir, args.rows, encoder, second):
        copied = load_index(vectors)
        for array, stored in copied.arrays.items():
            if array != TOKEN_STATES:
                copied.arrays[array] = np.array(stored)
        searchers = {
            "mapped": Searcher.load(vectors, encoder, second),
            "copied": Searcher(LocalIndex(copied), encoder, second),
        }
        samples: dict[str, list[float]] = {key: [] for key in searchers}
        for searcher in searchers.values():
            for query in queries:
                searcher.search(query)
        for i in range(args.queries):
            # Alternate which goes first, so that neither always follows the other.
            for key in sorted(searchers, reverse=bool(i % 2)):
                started = time.perf_counter()
                searchers[key].search(queries[i % len(queries)])
                samples[key].append((time.perf_counter() - started) * 1000)
        for key, values in samples.items():
            rows.append({"index": name, "arrays": key, "n": len(values), **percentiles(values)})
        ratio = statistics.median(samples["mapped"]) / statistics.median(samples["copied"])
        rows.append({"index": name, "arrays": "p50 mapped / copied", "p50": ratio})
    print(header("bench/memory_maps.py: in-process query latency (ms)"))
    print(table(rows))


if __name__ == "__main__":
    main()

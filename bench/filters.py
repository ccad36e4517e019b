"""What a document filter costs a query at 100k passages: 1%, 10% and 50% of them allowed.

    python bench/filters.py [--rows 100000] [--rounds 5] [--workdir DIR]

On the synthetic index of ``--rows`` passages (documents of 20 passages each, see
``bench/_common.synthetic_index``), the seeds queries are searched in-process with the default
ranking, unfiltered and with a ``doc`` filter allowing 1%, 10% and 50% of the documents (every
100th, 10th and 2nd), alternating one block of queries per case for ``--rounds`` rounds after a
warm-up pass. It prints p50 and p95 per case, the ratio of each p50 to the unfiltered one, how
the candidates were found (an exact scan of the allowed rows up to
``embed.backends.local.EXACT_SCAN_ROWS``, else HNSW with a selector), and the fewest results a
filtered query returned (a filter applied after a fixed-depth search would return fewer).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import header, percentiles, seed_queries, synthetic_index, table

from embed.backends.local import EXACT_SCAN_ROWS
from embed.ranking.filters import DocumentFilter
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings, load_encoders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()
    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    vectors = synthetic_index(args.workdir / f"synthetic-{args.rows}", args.rows, encoder, second)
    searcher = Searcher.load(vectors.parent.parent, encoder, second, settings.ranking)
    documents = sorted(searcher.backend.documents)
    cases: dict[str, DocumentFilter | None] = {"unfiltered": None}
    for share, step in (("50%", 2), ("10%", 10), ("1%", 100)):
        cases[share] = DocumentFilter(docs=tuple(documents[::step]))
    queries = seed_queries()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    fewest: dict[str, int] = {name: args.k for name in cases}
    for filters in cases.values():
        for query in queries:
            searcher.search(query, k=args.k, filters=filters)
    for round_ in range(args.rounds):
        names = list(cases) if round_ % 2 == 0 else list(reversed(cases))
        for name in names:
            for query in queries:
                started = time.perf_counter()
                found = searcher.search(query, k=args.k, filters=cases[name])
                samples[name].append((time.perf_counter() - started) * 1000)
                fewest[name] = min(fewest[name], len(found))
    base = percentiles(samples["unfiltered"])["p50"]
    rows = []
    for name, filters in cases.items():
        allowed = len(searcher.backend) if filters is None else len(filters.docs) * 20
        how = "HNSW" if filters is None else "exact scan"
        if filters is not None and allowed > EXACT_SCAN_ROWS:
            how = "HNSW + selector"
        stats = percentiles(samples[name])
        rows.append(
            {
                "filter": name,
                "passages allowed": allowed,
                "candidates by": how,
                "p50 ms": stats["p50"],
                "p95 ms": stats["p95"],
                "p50 vs unfiltered": f"{stats['p50'] / base:.2f}x",
                f"fewest results (k={args.k})": fewest[name],
            }
        )
    print(
        header(
            f"bench/filters.py: {len(searcher.backend)} passages, {len(queries)} seeds queries "
            f"x {args.rounds} rounds, in-process Searcher.search"
        )
    )
    print(table(rows))


if __name__ == "__main__":
    main()

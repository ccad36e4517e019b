"""Query latency of this checkout against another commit's, interleaved, over HTTP.

    python bench/ab_latency.py [--base HEAD~1] [--blocks 10] [--block 20] [--workdir DIR]

Both versions serve the same seeds index (built by this checkout; the base serves it as it is)
from real ``xlsearch serve`` processes on 127.0.0.1. Queries go in alternating blocks of
``--block`` seeds queries, the first block alternating too, with a pause between blocks, so that
neither version always follows the other and ONNX Runtime's spinning threads of one do not slow
the other; the machine's noise falls on both alike. The base commit is checked out into a
temporary git worktree, removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _common import SEEDS, header, percentiles, seed_queries, server, table, worktree


def main() -> None:
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD~1", help="The commit to compare with.")
    parser.add_argument("--blocks", type=int, default=10, help="Blocks per version.")
    parser.add_argument("--block", type=int, default=20, help="Queries per block.")
    parser.add_argument("--pause", type=float, default=0.3, help="Seconds between blocks.")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()
    folder = args.workdir / "ab-latency"
    shutil.rmtree(folder, ignore_errors=True)
    seeds, vectors = folder / "seeds", folder / "vectors"
    shutil.copytree(SEEDS, seeds)
    queries = seed_queries()
    samples: dict[str, list[float]] = {"this checkout": [], args.base: []}
    with (
        worktree(args.base) as base_tree,
        server(vectors, seeds) as (this_url, _),
        server(vectors, seeds, checkout=base_tree) as (base_url, _),
        httpx.Client(timeout=60) as client,
    ):
        urls = {"this checkout": this_url, args.base: base_url}
        for url in urls.values():
            for query in queries:
                client.get(f"{url}/search", params={"q": query, "k": 10}).raise_for_status()
        for pair in range(args.blocks):
            # Both versions get the same queries; which goes first alternates.
            chunk = [queries[(pair * args.block + i) % len(queries)] for i in range(args.block)]
            for name in list(urls)[:: 1 if pair % 2 == 0 else -1]:
                for query in chunk:
                    started = time.perf_counter()
                    response = client.get(f"{urls[name]}/search", params={"q": query, "k": 10})
                    samples[name].append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                time.sleep(args.pause)
    rows = [
        {"version": name, "n": len(values), **percentiles(values)}
        for name, values in samples.items()
    ]
    base_p50 = statistics.median(samples[args.base])
    rows.append(
        {
            "version": "p50 this / base",
            "p50": statistics.median(samples["this checkout"]) / base_p50,
        }
    )
    print(header(f"bench/ab_latency.py, seeds index, this checkout against {args.base}"))
    print(table(rows))


if __name__ == "__main__":
    main()

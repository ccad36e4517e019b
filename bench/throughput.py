"""Throughput under 1, 4, 8 and 16 concurrent clients against a real ``xlsearch serve``.

    python bench/throughput.py [--seconds 15] [--clients 1 4 8 16] [--windows 0 3] [--workdir DIR]

The server runs as a subprocess on 127.0.0.1 (free port) over the seeds index, default
ranking. Each level runs for ``--seconds`` (after a short warm-up): ``clients`` asyncio tasks
share one ``httpx.AsyncClient`` (a connection each) and send ``GET /search?q=…&k=10`` back to
back, cycling through the seeds queries. QPS counts answered requests per second; an error is a
non-200 answer or a transport error (timeout 30 s). Each micro-batching window of ``--windows``
(``XLSEARCH_BATCH_WINDOW_MS``) gets its own server, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from _common import SEEDS, header, percentiles, seed_queries, server, table

from embed.indexing.rebuild import rebuild_index
from embed.settings import EmbedSettings, load_encoders


async def level(base: str, clients: int, seconds: float, queries: list[str]) -> dict[str, object]:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def worker(offset: int, deadline: float, record: bool) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(
                        "/search", params={"q": queries[i % len(queries)], "k": 10}
                    )
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if record:
                    if ok:
                        latencies.append((time.perf_counter() - started) * 1000)
                    else:
                        errors += 1
                i += clients

        warm = time.perf_counter() + 2
        await asyncio.gather(*(worker(c, warm, False) for c in range(clients)))
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(worker(c, deadline, True) for c in range(clients)))
        elapsed = time.perf_counter() - started
    stats = percentiles(latencies)
    return {
        "clients": clients,
        "requests": len(latencies),
        "QPS": len(latencies) / elapsed,
        "p50 ms": stats["p50"],
        "p99 ms": stats["p99"],
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--windows", type=float, nargs="+", default=[0.0, 3.0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()
    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    vectors = args.workdir / "seeds-vectors"
    rebuild_index(SEEDS, vectors, encoder, second=second)
    del encoder, second
    queries = seed_queries()
    rows = []
    for window in args.windows:
        with server(vectors, env={"XLSEARCH_BATCH_WINDOW_MS": str(window)}) as (base, _):
            for clients in args.clients:
                result = asyncio.run(level(base, clients, args.seconds, queries))
                rows.append({"window ms": window, **result})
                print(rows[-1], flush=True)
    print(header(f"bench/throughput.py: seeds index, {args.seconds:g} s per level"))
    print(table(rows))


if __name__ == "__main__":
    main()

"""Resident memory of the service: after start-up and after N queries.

    python bench/memory.py [--queries 10000] [--rows 0] [--workdir DIR]

Starts a real ``xlsearch serve`` over the seeds index (and, with ``--rows``, over a synthetic
index of that many chunks, see ``bench/_common.synthetic_index``), reads ``VmRSS`` of the server
process from /proc/PID/status once it answers /health, then sends ``--queries`` searches (4
concurrent clients, seeds queries cycled) and reads it again; ``RssAnon`` beside it, the
process's own memory without file pages (such as the token states read through a memory map).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from _common import bench_indexes, header, rss_mb, seed_queries, server, table

from embed.settings import EmbedSettings, load_encoders


async def hammer(base: str, total: int, queries: list[str], clients: int = 4) -> int:
    import httpx

    errors = 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def worker(offset: int) -> None:
            nonlocal errors
            for i in range(offset, total, clients):
                response = await client.get(
                    "/search", params={"q": queries[i % len(queries)], "k": 10}
                )
                errors += response.status_code != 200

        await asyncio.gather(*(worker(c) for c in range(clients)))
    return errors


# VmRSS counts the index files' pages that searches read through memory maps, which the kernel
# can drop; RssAnon is the memory the process owns.
_FIELDS = ("VmRSS", "RssAnon")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()
    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    indexes = bench_indexes(args.workdir, args.rows, encoder, second)
    del encoder, second
    queries = seed_queries()
    rows = []
    for name, vectors in indexes:
        with server(vectors) as (base, proc):
            started = {field: rss_mb(proc.pid, field) for field in _FIELDS}
            errors = asyncio.run(hammer(base, args.queries, queries))
            after = {field: rss_mb(proc.pid, field) for field in _FIELDS}
        rows.append(
            {"index": name}
            | {f"{field} after start-up (MiB)": started[field] for field in _FIELDS}
            | {f"{field} after {args.queries} queries (MiB)": after[field] for field in _FIELDS}
            | {"errors": errors}
        )
    print(header("bench/memory.py: service resident set"))
    print(table(rows))


if __name__ == "__main__":
    main()

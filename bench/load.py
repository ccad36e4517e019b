"""Load under index replacement: concurrent clients against a real server while rebuilds run.

Starts ``xlsearch serve`` on 127.0.0.1 over a private copy of the seeds, runs ``--clients``
asyncio/httpx clients searching for ``--seconds`` while ``xlsearch rebuild-index`` runs
``--rebuilds`` times on a seeds folder that gains an article each time, then checks that every
answer came from a complete build (one whose manifest and checksums were verified on disk) and
named only documents of that build. Prints QPS, latency percentiles, errors and builds seen.

    python bench/load.py --seconds 60

Not a unit test: it takes minutes and its figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from embed.store.builds import BUILDS, current_build, read_manifest
from embed.store.format import StoreError

ROOT = Path(__file__).resolve().parents[1]
QUERIES = [
    "Who chaired the meeting of security services in Bishkek?",
    "Кто возглавлял заседание в Бишкеке?",
    "terrorism in Central Asia",
    "встреча руководителей спецслужб СНГ",
    "border security cooperation",
    "Совет безопасности",
    "Sadyr Japarov meets heads of special services",
    "антитеррористическая структура ШОС",
]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    answers: list[tuple[str, list[str]]] = field(default_factory=list)  # (build, doc_ids)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _xlsearch(*args: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", *args]


def complete_builds(vectors: Path) -> dict[str, set[str]]:
    """Every build on disk whose manifest and checksums verify, with its document ids."""
    found: dict[str, set[str]] = {}
    for build in sorted((vectors / BUILDS).iterdir()):
        if build.name.startswith("."):
            continue
        try:
            read_manifest(build)
            documents = json.loads((build / "documents.json").read_text(encoding="utf-8"))
        except (StoreError, OSError, ValueError):
            continue
        found[build.name] = set(documents)
    return found


async def client(http: httpx.AsyncClient, n: int, stop: asyncio.Event, tally: Tally) -> None:
    i = n
    while not stop.is_set():
        query = QUERIES[i % len(QUERIES)]
        i += 1
        started = time.perf_counter()
        try:
            response = await http.get("/search", params={"q": query, "k": 5})
        except httpx.HTTPError as exc:
            tally.error(type(exc).__name__)
            continue
        tally.latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            tally.error(f"HTTP {response.status_code}")
            continue
        body = response.json()
        tally.answers.append((body["build"], [r["doc_id"] for r in body["results"]]))


async def rebuilds(
    seeds: Path, vectors: Path, count: int, seconds: float, seen: dict[str, set[str]], log: Path
) -> list[float]:
    """Run ``count`` rebuilds spread over ``seconds``, each after adding an article."""
    took = []
    for i in range(count):
        await asyncio.sleep(seconds / (count + 1) if i == 0 else 1.0)
        (seeds / f"load_{i}.txt").write_text(
            f"Load test article {i}\n\nBorder guards of the Fergana valley met for the {i}th "
            f"time to discuss checkpoint {i} and the reopening of the mountain road.\n",
            encoding="utf-8",
        )
        started = time.perf_counter()
        with log.open("ab") as sink:
            proc = await asyncio.create_subprocess_exec(
                *_xlsearch("rebuild-index", "--seeds", str(seeds), "--vectors", str(vectors),
                           "--json"),
                stdout=sink, stderr=sink, cwd=ROOT,
            )  # fmt: skip
            code = await proc.wait()
        took.append(time.perf_counter() - started)
        if code != 0:
            raise RuntimeError(f"rebuild {i} failed with exit code {code}; see {log}")
        seen.update(complete_builds(vectors))
    return took


async def main_async(args: argparse.Namespace, work: Path) -> int:
    seeds, vectors, log = work / "seeds", work / "vectors", work / "log.txt"
    shutil.copytree(args.seeds, seeds)
    print(f"building the first index in {vectors} ...", file=sys.stderr)
    subprocess.run(
        _xlsearch("rebuild-index", "--seeds", str(seeds), "--vectors", str(vectors), "--json"),
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    complete = complete_builds(vectors)
    port = _free_port()
    # Every answer searched, not repeated from the result cache.
    env = {**os.environ, "XLSEARCH_RELOAD_INTERVAL": "0.5", "XLSEARCH_RESULT_CACHE": "0"}
    with log.open("ab") as sink:
        server = subprocess.Popen(
            _xlsearch("serve", "--vectors", str(vectors), "--seeds", str(seeds),
                      "--host", "127.0.0.1", "--port", str(port)),
            cwd=ROOT, env=env, stdout=sink, stderr=sink,
        )  # fmt: skip
    try:
        limits = httpx.Limits(max_connections=args.clients)
        timeout = httpx.Timeout(30.0)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as http:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {log}")
                await asyncio.sleep(0.5)
            print(f"server ready on {base}; {args.clients} clients for {args.seconds} s",
                  file=sys.stderr)  # fmt: skip
            tally, stop = Tally(), asyncio.Event()
            started = time.monotonic()
            clients = [
                asyncio.create_task(client(http, n, stop, tally)) for n in range(args.clients)
            ]
            builder = asyncio.create_task(
                rebuilds(seeds, vectors, args.rebuilds, args.seconds, complete, log)
            )
            await asyncio.sleep(args.seconds)
            rebuild_s = await builder  # clients keep going until the last rebuild is done
            await asyncio.sleep(2 * 0.5 + 1)  # let the server pick up the last build
            stop.set()
            await asyncio.gather(*clients)
            elapsed = time.monotonic() - started
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    seen = {build for build, _ in tally.answers}
    incomplete = seen - set(complete)
    foreign = sum(
        1 for build, ids in tally.answers
        if build in complete and not set(ids) <= complete[build]
    )  # fmt: skip
    lat = np.asarray(tally.latencies) * 1000
    rows = {
        "duration_s": f"{elapsed:.1f}",
        "clients": str(args.clients),
        "requests_ok": str(len(tally.answers)),
        "qps": f"{len(tally.answers) / elapsed:.1f}",
        "p50_ms": f"{np.percentile(lat, 50):.0f}" if lat.size else "-",
        "p99_ms": f"{np.percentile(lat, 99):.0f}" if lat.size else "-",
        "errors": str(sum(tally.errors.values())) + (f" {tally.errors}" if tally.errors else ""),
        "rebuilds": f"{len(rebuild_s)} ({', '.join(f'{s:.0f} s' for s in rebuild_s)})",
        "builds_complete": str(len(complete)),
        "builds_seen": str(len(seen)),
        "builds_seen_incomplete": str(len(incomplete)),
        "answers_with_foreign_doc_ids": str(foreign),
        "final_build_served": str(current_build(vectors).name in seen),  # type: ignore[union-attr]
    }
    print("| metric | value |\n|---|---|")
    for key, value in rows.items():
        print(f"| {key} | {value} |")
    ok = not tally.errors and not incomplete and not foreign
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rebuilds", type=int, default=3)
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xlsearch-load-"))
    try:
        return asyncio.run(main_async(args, work))
    finally:
        if args.keep:
            print(f"work folder: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

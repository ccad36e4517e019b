"""xlsearch against a plain-dense peer (txtai), side by side in one run, over HTTP.

    python bench/peer.py [--peer-venv .venv-peer] [--queries 200] [--block 25] [--seconds 15]

The corpus is XQuAD-dev's 120 Russian paragraphs and the queries its first ``--queries`` English
questions (../shared/data). xlsearch serves it with its default ranking; the peer is txtai with
the same multilingual-e5-small (the folder xlsearch installs, through sentence-transformers and
torch, with e5's prompts) over FAISS ``IDMap,Flat``, dense only, behind txtai's own API. Both run
as real servers on 127.0.0.1, one at a time under load:

* one client: blocks of ``--block`` queries to each server in turn (which goes first alternates),
  a pause between blocks, so that one server's spinning threads do not slow the other's;
* ``--clients`` clients: ``--seconds`` of closed-loop load on each server in turn, twice.

txtai is never a dependency of xlsearch; it lives in a venv of its own, made once with

    python3 -m venv .venv-peer
    .venv-peer/bin/pip install torch==2.13.0 'txtai[api,vectors]==9.14.0'

and the script says so and stops (exit 0) when that venv is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import ROOT, free_port, header, percentiles, process_server, server, table

from embed.evaluation.benchmarks import write_corpus, xquad
from embed.models.install import installed_default_path
from embed.settings import EmbedSettings

SHARED = ROOT.parent / "shared" / "data"

# One search: the query text in, the first result's id and whether the request failed out.
Search = Callable[[Any, str], tuple[str | None, bool]]


@contextlib.contextmanager
def peer_server(python: Path, corpus: dict[str, str], folder: Path) -> Iterator[str]:
    """txtai's API over ``corpus`` on a free port, its index built into ``folder`` on first use."""
    import httpx

    folder.mkdir(parents=True, exist_ok=True)
    corpus_file = folder / "corpus.json"
    corpus_file.write_text(json.dumps(corpus, ensure_ascii=False), encoding="utf-8")
    port = free_port()
    model = installed_default_path(EmbedSettings().model_cache)
    command = [
        str(python), str(ROOT / "bench" / "_peer_txtai.py"), "--corpus", str(corpus_file),
        "--index", str(folder / "index"), "--model", str(model), "--port", str(port),
    ]  # fmt: skip

    def ready(base: str) -> bool:
        return httpx.get(f"{base}/count", timeout=5).status_code == 200

    # The peer's venv, not xlsearch's packages; txtai's litellm reads its local price list
    # instead of fetching one (there is no network here).
    env = {"PYTHONPATH": "", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with process_server(command, port, ready, env=env, timeout=900) as running:
        yield running[0]


def xlsearch_search(base: str) -> Search:
    def search(client: Any, query: str) -> tuple[str | None, bool]:
        response = client.get(f"{base}/search", params={"q": query, "k": 10})
        if response.status_code != 200:
            return None, True
        results = response.json()["results"]
        return (results[0]["doc_id"] if results else None), False

    return search


def txtai_search(base: str) -> Search:
    def search(client: Any, query: str) -> tuple[str | None, bool]:
        response = client.get(f"{base}/search", params={"query": query, "limit": 10})
        if response.status_code != 200:
            return None, True
        results = response.json()
        return (str(results[0]["id"]) if results else None), False

    return search


def one_client(
    searches: dict[str, Search],
    queries: list[tuple[str, str]],
    block: int,
    pause: float,
) -> dict[str, dict[str, Any]]:
    """Latencies and hit@1 of each system, blocks of queries taking turns."""
    import httpx

    stats: dict[str, dict[str, Any]] = {name: {"ms": [], "hits": 0} for name in searches}
    with httpx.Client(timeout=60) as client:
        for search in searches.values():  # warm-up
            for text, _ in queries[:block]:
                search(client, text)
        for number, start in enumerate(range(0, len(queries), block)):
            names = list(searches)[:: 1 if number % 2 == 0 else -1]
            for name in names:
                for text, answer in queries[start : start + block]:
                    started = time.perf_counter()
                    first, _ = searches[name](client, text)
                    stats[name]["ms"].append((time.perf_counter() - started) * 1000)
                    stats[name]["hits"] += first == answer
                time.sleep(pause)
    return stats


def many_clients(
    search: Search, queries: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    """Closed-loop load from ``clients`` threads for ``seconds``: throughput, p99, errors."""
    import httpx

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(offset: int) -> None:
        with httpx.Client(timeout=60) as client:
            i = offset
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    _, failed = search(client, queries[i % len(queries)])
                except httpx.HTTPError:
                    failed = True
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    errors[0] += failed
                i += clients

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"qps": len(latencies) / elapsed, "ms": latencies, "errors": errors[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-venv", type=Path, default=ROOT / ".venv-peer")
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--block", type=int, default=25)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()
    python = args.peer_venv / "bin" / "python"
    if not python.is_file():
        print(f"skipped: no peer venv at {args.peer_venv}; make it as the docstring says:")
        print(__doc__.split("made once with", 1)[1].split("and the script", 1)[0].rstrip())
        sys.exit(0)
    bench = xquad(args.data / "xquad-dev", "en", "ru")
    queries = [(q.query, q.relevant[0]) for q in bench.query_set.queries[: args.queries]]
    folder = args.workdir / "peer"
    seeds, vectors = folder / "xlsearch" / "seeds", folder / "xlsearch" / "vectors"
    write_corpus(seeds, bench.corpus)
    rows: list[dict[str, Any]] = []
    with (
        server(vectors, seeds) as (xl_base, _),
        peer_server(python, bench.corpus, folder / "txtai") as peer_base,
    ):
        searches = {"xlsearch": xlsearch_search(xl_base), "txtai": txtai_search(peer_base)}
        single = one_client(searches, queries, args.block, args.pause)
        loads: dict[str, list[dict[str, Any]]] = {name: [] for name in searches}
        texts = [text for text, _ in queries]
        for _ in range(2):
            for name, search in searches.items():
                loads[name].append(many_clients(search, texts, args.clients, args.seconds))
    for name in searches:
        p1 = percentiles(single[name]["ms"])
        many = [ms for run in loads[name] for ms in run["ms"]]
        rows.append({
            "system": name,
            "1 client p50": p1["p50"], "1 client p95": p1["p95"],
            f"{args.clients} clients QPS": statistics.mean(run["qps"] for run in loads[name]),
            f"{args.clients} clients p99": percentiles(many)["p99"],
            "errors": sum(run["errors"] for run in loads[name]),
            "hit@1": single[name]["hits"] / len(queries),
        })  # fmt: skip
    xl, peer = rows
    rows.append(
        {key: xl[key] / peer[key] for key in list(xl)[1:5]} | {"system": "xlsearch / txtai"}
    )
    print(
        header(
            f"bench/peer.py: XQuAD-dev, 120 Russian paragraphs, {len(queries)} English questions"
        )
    )
    print(table(rows))


if __name__ == "__main__":
    main()

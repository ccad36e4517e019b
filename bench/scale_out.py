"""What serving from Milvus costs a query: the seeds index searched through Milvus and FAISS.

    unshare -n -p -f --mount-proc --kill-child -- \\
        sh -c 'ip link set lo up && python bench/scale_out.py [--rounds 5]'

Milvus binds every interface, so the script starts its own server only inside a loopback-only
network namespace (the command above; needs root) and stops it at the end. The seeds index is
built (or reused) in ``$TMPDIR/xlbench``, published to that server, and the seeds queries are
searched in-process with the default ranking through both backends, alternating one block of
queries each for ``--rounds`` rounds, after one warm-up pass each. Milvus is measured twice:
with the reader's row cache warm (rows that come back query after query are not fetched again)
and emptied before each query (every query fetches all it needs, as for rows not seen before: the
per-request cost on a corpus larger than the cache). It prints p50
and p95 per backend and their ratio, the time to publish the build, and whether the rankings
agree.

Then a cold build of the seeds plus ``--ray-docs`` English and as many Russian XQuAD-dev
paragraphs, in this process and on a local Ray (``--engine ray``, one actor per core), in the
same run: the Ray row's extra seconds are Ray's start, its actors' model loading and the moving of
texts and vectors, since on one machine both run the same encoders on the same cores.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, SEEDS, header, percentiles, seed_queries, table

from embed.cli import run_rebuild
from embed.evaluation.benchmarks import _read_xquad, write_corpus
from embed.index.build import rebuild_index
from embed.index.milvus_index import MilvusIndex
from embed.index.milvus_store import connect
from embed.publish import publish_to_milvus
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings, load_encoders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ray-docs", type=int, default=20)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        raise SystemExit("run inside a loopback-only network namespace (see the docstring)")
    import milvus

    sys.path.insert(0, str(ROOT))
    from tests.distributed.server import MilvusProcess

    base = args.workdir / "milvus-bench"
    shutil.rmtree(base, ignore_errors=True)
    server = MilvusProcess(base)
    server.start()
    try:
        settings = EmbedSettings(
            seeds_dir=SEEDS, vectors_dir=args.workdir / "scale-out-seeds", backend="milvus",
            milvus_uri=server.uri, milvus_collection="bench",
        )  # fmt: skip
        encoder, second = load_encoders(settings)
        rebuild_index(settings.seeds_dir, settings.vectors_dir, encoder, second=second)
        started = time.perf_counter()
        publish_to_milvus(settings)
        publish_s = time.perf_counter() - started
        client = connect(server.uri)
        searchers = {
            "FAISS (local)": Searcher.load(settings.vectors_dir, encoder, second, settings.ranking),
            "Milvus, rows cached": Searcher(
                MilvusIndex.open(client, "bench"), encoder, second, settings.ranking
            ),
            "Milvus, rows not cached": Searcher(
                MilvusIndex.open(client, "bench"), encoder, second, settings.ranking
            ),
        }
        queries = seed_queries()
        agree = all(
            [r.chunk for r in searchers["Milvus, rows cached"].search(q, k=10)]
            == [r.chunk for r in searchers["FAISS (local)"].search(q, k=10)]
            for q in queries
        )
        samples: dict[str, list[float]] = {name: [] for name in searchers}
        for _ in range(args.rounds):
            for name, searcher in searchers.items():
                for query in queries:
                    if name == "Milvus, rows not cached":
                        searcher.backend.forget()  # type: ignore[attr-defined]
                    begun = time.perf_counter()
                    searcher.search(query, k=10)
                    samples[name].append((time.perf_counter() - begun) * 1000)
    finally:
        server.stop()
    base_p50 = percentiles(samples["FAISS (local)"])["p50"]
    rows = [
        {
            "backend": name,
            **{f"{k} ms": v for k, v in percentiles(values).items() if k != "p99"},
            "p50 vs FAISS": f"{percentiles(values)['p50'] / base_p50:.2f}x",
        }
        for name, values in samples.items()
    ]
    print(
        header(
            f"bench/scale_out.py: seeds ({len(searchers['FAISS (local)'])} passages), "
            f"{len(queries)} queries x {args.rounds} rounds, milvus {milvus.__version__}"
        )
    )
    print(table(rows))
    print(f"\npublish to Milvus: {publish_s:.1f} s; rankings identical: {agree}\n")
    print(table(ray_build_rows(args.workdir, args.data, args.ray_docs)))


def ray_build_rows(workdir: Path, data: Path, docs: int) -> list[dict[str, object]]:
    """Cold builds of one corpus in this process and on a local Ray, in one run."""
    corpus = workdir / "ray-corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.copytree(SEEDS, corpus)
    for lang in ("en", "ru"):
        paragraphs, _ = _read_xquad(data / "xquad-dev" / f"xquad-dev.{lang}.json")
        write_corpus(corpus / lang, {f"p{i:03d}": t for i, t in enumerate(paragraphs[:docs])})
    rows: list[dict[str, object]] = []
    for engine in ("local", "ray"):
        ray_dir = Path(tempfile.mkdtemp(prefix="xlray-"))
        settings = EmbedSettings(
            seeds_dir=corpus, vectors_dir=workdir / f"ray-build-{engine}", engine=engine,
            ray_temp_dir=ray_dir,
        )  # fmt: skip
        shutil.rmtree(settings.vectors_dir, ignore_errors=True)
        started = time.perf_counter()
        summary = run_rebuild(settings, progress=False)
        seconds = time.perf_counter() - started
        shutil.rmtree(ray_dir, ignore_errors=True)
        rows.append(
            {
                "cold build": engine,
                "chunks": summary.chunks,
                "spans": summary.spans,
                "seconds": seconds,
                "extra s": seconds - float(rows[0]["seconds"]) if rows else 0.0,  # type: ignore[arg-type]
            }
        )
    return rows


if __name__ == "__main__":
    main()

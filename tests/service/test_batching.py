"""The query batcher: each caller gets its own results, in order, whatever runs beside it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from embed import DocumentFilter
from embed.ranking.query import QueryEmbeddings
from embed.ranking.searcher import Searcher
from service.batching import QueryBatcher, Scope


class FakeSearcher:
    """Embeds a query as its number; ranks by echoing the query and the vector it got."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail_on = fail_on

    def embed_queries(self, queries: Sequence[str]) -> QueryEmbeddings:
        self.entered.set()
        self.gate.wait()
        self.batches.append(list(queries))
        if self.fail_on in queries:
            raise ValueError(f"cannot embed {self.fail_on}")
        numbers = np.array([[float(q.split("-")[1])] for q in queries])
        return QueryEmbeddings(numbers, -numbers, [2 * n for n in numbers])

    def search_vectors(
        self,
        embedded: QueryEmbeddings,
        k: int = 10,
        lang: str | None = None,
        queries: Sequence[str] | None = None,
        filters: DocumentFilter | None = None,
        group: bool = True,
    ) -> list[list[Any]]:
        vectors, second, tokens = embedded
        assert queries is not None and second is not None and tokens is not None
        for v, t in zip(vectors, tokens, strict=True):
            assert t[0] == 2 * v[0], "token states must travel with their own query"
        return [
            [(q, int(v[0]), int(-s[0]), k, lang)]
            for q, v, s in zip(queries, vectors, second, strict=True)
        ]


def _submit_all(batcher: QueryBatcher, searcher: Any, requests: list[list[str]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [
            pool.submit(batcher.search, searcher, queries, i, Scope("ru"))
            for i, queries in enumerate(requests)
        ]
        return [f.result(timeout=30) for f in futures]


def test_each_caller_gets_its_own_results_in_order() -> None:
    batcher = QueryBatcher(window=0.005)
    searcher = FakeSearcher()
    requests = [[f"q-{i}", f"q-{i + 1000}"] for i in range(40)]
    try:
        answers = _submit_all(batcher, searcher, requests)
    finally:
        batcher.close()
    for i, (queries, answer) in enumerate(zip(requests, answers, strict=True)):
        expected = [[(q, int(q.split("-")[1]), int(q.split("-")[1]), i, "ru")] for q in queries]
        assert answer == expected
    assert sum(len(b) for b in searcher.batches) == 80


def test_requests_queued_while_the_worker_is_busy_share_one_batch() -> None:
    batcher = QueryBatcher(window=0.0, max_queries=1000)
    searcher = FakeSearcher()
    searcher.gate.clear()
    try:
        first = batcher.submit(searcher, ["q-0"], 1, None)
        assert searcher.entered.wait(10)  # the worker is now inside the first batch
        waiting = [batcher.submit(searcher, [f"q-{i}"], 1, None) for i in range(1, 11)]
        searcher.gate.set()
        assert first.result(10)[0][0][0] == "q-0"
        assert [f.result(10)[0][0][0] for f in waiting] == [f"q-{i}" for i in range(1, 11)]
    finally:
        batcher.close()
    assert searcher.batches == [["q-0"], [f"q-{i}" for i in range(1, 11)]]


def test_a_lone_request_does_not_wait_for_the_window() -> None:
    batcher = QueryBatcher(window=5.0)
    searcher = FakeSearcher()
    try:
        began = time.monotonic()
        for i in range(3):
            assert batcher.search(searcher, [f"q-{i}"], 1, None) == [[(f"q-{i}", i, i, 1, None)]]
        assert time.monotonic() - began < 5.0
    finally:
        batcher.close()
    assert searcher.batches == [["q-0"], ["q-1"], ["q-2"]]


def test_after_overlapping_requests_the_window_gathers_late_ones() -> None:
    batcher = QueryBatcher(window=2.0, max_queries=1000)
    searcher = FakeSearcher()
    searcher.gate.clear()
    try:
        first = batcher.submit(searcher, ["q-0"], 1, None)
        assert searcher.entered.wait(10)
        overlapping = [batcher.submit(searcher, [f"q-{i}"], 1, None) for i in (1, 2)]
        searcher.gate.set()
        for future in [first, *overlapping]:
            future.result(10)
        # The last batch held two requests, so the next one waits for a late arrival.
        early = batcher.submit(searcher, ["q-3"], 1, None)
        time.sleep(0.2)
        late = batcher.submit(searcher, ["q-4"], 1, None)
        early.result(10), late.result(10)
    finally:
        batcher.close()
    assert searcher.batches[-1] == ["q-3", "q-4"]


def test_a_failed_batch_fails_its_callers_and_the_worker_goes_on() -> None:
    batcher = QueryBatcher(window=0.0)
    searcher = FakeSearcher(fail_on="q-13")
    try:
        with pytest.raises(ValueError, match="q-13"):
            batcher.search(searcher, ["q-13"], 1, None)
        assert batcher.search(searcher, ["q-2"], 1, None) == [[("q-2", 2, 2, 1, None)]]
    finally:
        batcher.close()


def test_empty_request_needs_no_worker() -> None:
    batcher = QueryBatcher()
    assert batcher.search(FakeSearcher(), [], 5, None) == []


def test_async_callers_get_their_own_results() -> None:
    batcher = QueryBatcher(window=0.002)
    searcher = FakeSearcher()

    async def run() -> list[Any]:
        return await asyncio.gather(
            *(batcher.search_async(searcher, [f"q-{i}"], 3, None) for i in range(20))  # type: ignore[arg-type]
        )

    try:
        answers = asyncio.run(run())
    finally:
        batcher.close()
    assert answers == [[[(f"q-{i}", i, i, 3, None)]] for i in range(20)]


def test_batched_real_searches_rank_as_unbatched_ones(searcher: Searcher) -> None:
    queries = [
        "Who chaired the meeting in Bishkek?",
        "Кто возглавлял заседание в Бишкеке?",
        "terrorism in Central Asia",
        "встреча в Бишкеке",
    ]
    alone = [searcher.search(q, k=5) for q in queries]
    batcher = QueryBatcher(window=0.02)
    try:
        with ThreadPoolExecutor(max_workers=len(queries)) as pool:
            together = list(pool.map(lambda q: batcher.search(searcher, [q], 5, None)[0], queries))
    finally:
        batcher.close()
    for one, other in zip(alone, together, strict=True):
        assert [(r.chunk.doc_id, r.chunk.paragraph, r.chunk.part) for r in one] == [
            (r.chunk.doc_id, r.chunk.paragraph, r.chunk.part) for r in other
        ]
        assert [r.score for r in one] == pytest.approx([r.score for r in other], abs=1e-3)

"""Dynamic micro-batching: concurrent queries share one model call, on one worker thread.

Every search request hands its queries to :class:`QueryBatcher` and waits for its own results.
A single worker thread takes the first waiting request, gathers whatever queued up while it was
busy and, when requests have been arriving together, whatever else arrives within a short
window, embeds all of their queries in one forward pass per encoder, then ranks each request on
its own searcher. One thread does all model and FAISS work, so:

* the fast tokenizers are never called from two threads at once ("Already borrowed");
* concurrent requests do not fight over the two cores with one forward pass each;
* the event loop never runs model or FAISS work (callers wait on a future, from a thread or
  with ``await``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from embed import DocumentFilter, Searcher, SearchResult

logger = logging.getLogger(__name__)

Results = list[list[SearchResult]]


# Matches the batch_window_ms setting's default.
DEFAULT_WINDOW_S = 0.003


@dataclass(frozen=True)
class Scope:
    """Which passages a search may return: of some languages, of the documents a filter
    allows (``None``: any)."""

    lang: frozenset[str] | None = None
    filters: DocumentFilter | None = None
    group: bool = True  # a passage and its translations are one result


ANY = Scope()


@dataclass
class _Job:
    searcher: Searcher
    queries: list[str]
    k: int
    scope: Scope
    future: Future[Results] = field(default_factory=Future)


_STOP = object()


class QueryBatcher:
    """Gathers concurrent searches into batches run by one worker thread.

    Args:
        window: Seconds to wait for more requests after the first one of a batch arrives,
            when the previous batch held more than one request (0: never wait).
        max_queries: Most queries embedded in one batch; a request is never split, so one
            larger request still runs, alone.
    """

    def __init__(self, window: float = DEFAULT_WINDOW_S, max_queries: int = 64) -> None:
        self.window = window
        self.max_queries = max_queries
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.batches = 0
        self.batched_requests = 0

    def _ensure_worker(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="query-batcher", daemon=True)
                self._thread.start()

    def submit(
        self, searcher: Searcher, queries: Sequence[str], k: int, scope: Scope | None = None
    ) -> Future[Results]:
        """Queue a search; the future holds one result list per query, in order."""
        job = _Job(searcher, list(queries), k, scope or ANY)
        if not job.queries:
            job.future.set_result([])
            return job.future
        self._ensure_worker()
        self._queue.put(job)
        return job.future

    def search(
        self, searcher: Searcher, queries: Sequence[str], k: int, scope: Scope | None = None
    ) -> Results:
        """Search and wait (from a worker thread, never from the event loop)."""
        return self.submit(searcher, queries, k, scope).result()

    async def search_async(
        self, searcher: Searcher, queries: Sequence[str], k: int, scope: Scope | None = None
    ) -> Results:
        """Search without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(searcher, queries, k, scope))

    def stop(self) -> None:
        """Ask the worker to stop after the requests already queued (does not wait)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)

    def close(self) -> None:
        """Stop the worker after the requests already queued, and wait for it."""
        thread = self._thread
        self.stop()
        if thread is not None:
            thread.join(timeout=10)

    def _gather(self, first: _Job, wait: bool) -> tuple[list[_Job], bool]:
        """The batch that starts with ``first``, and whether a stop request was seen.

        With ``wait`` false only what is already queued joins: a lone client gets no delay.
        """
        jobs = [first]
        count = len(first.queries)
        deadline = time.monotonic() + (self.window if wait else 0.0)
        while count < self.max_queries:
            try:
                remaining = deadline - time.monotonic()
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else (self._queue.get_nowait())
                )
            except queue.Empty:
                break
            if item is _STOP:
                return jobs, True
            assert isinstance(item, _Job)
            jobs.append(item)
            count += len(item.queries)
        return jobs, False

    def _run(self) -> None:
        # The window pays off only when requests overlap; after a batch of one it is skipped.
        concurrent = False
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, _Job)
            jobs, stop = self._gather(item, wait=concurrent)
            concurrent = len(jobs) > 1
            self.batches += 1
            self.batched_requests += len(jobs)
            groups: dict[int, list[_Job]] = {}
            for job in jobs:
                groups.setdefault(id(job.searcher), []).append(job)
            for group in groups.values():
                self._run_group(group)
            if stop:
                return

    @staticmethod
    def _run_group(jobs: list[_Job]) -> None:
        """Embed the queries of requests on one searcher together, then rank each request."""
        searcher = jobs[0].searcher
        texts = [q for job in jobs for q in job.queries]
        try:
            embedded = searcher.embed_queries(texts)
        except BaseException as exc:  # every caller must hear about it, whatever it is
            for job in jobs:
                job.future.set_exception(exc)
            return
        start = 0
        for job in jobs:
            stop = start + len(job.queries)
            part = embedded.rows(start, stop)
            try:
                job.future.set_result(
                    searcher.search_vectors(
                        part,
                        job.k,
                        job.scope.lang,
                        job.queries,
                        job.scope.filters,
                        job.scope.group,
                    )
                )
            except BaseException as exc:
                job.future.set_exception(exc)
            start = stop

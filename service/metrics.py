"""Prometheus metrics: requests, latency, errors, the served index and reloads.

Each app has its own registry (tests create many apps in one process), exposed at ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from service.state import IndexState, ReloadOutcome

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _IndexCollector(Collector):
    """Reads the served index at scrape time, so the figures are never stale."""

    def __init__(self) -> None:
        self.state: IndexState | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        searcher = self.state.searcher if self.state is not None else None
        chunks = GaugeMetricFamily("xlsearch_index_chunks", "Passages in the served index.")
        docs = GaugeMetricFamily("xlsearch_index_documents", "Documents in the served index.")
        built = GaugeMetricFamily(
            "xlsearch_index_built_timestamp_seconds",
            "When the served build was made (Unix time).",
        )
        ready = GaugeMetricFamily("xlsearch_index_ready", "1 while an index is being served.")
        ready.add_metric([], 1.0 if searcher is not None else 0.0)
        if searcher is not None:
            chunks.add_metric([], float(len(searcher)))
            docs.add_metric([], float(searcher.document_count))
            built_at = searcher.manifest.built_at
            built.add_metric([], datetime.fromisoformat(built_at).timestamp())
        yield from (chunks, docs, built, ready)


class Metrics:
    """The service's metrics, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "xlsearch_requests", "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "xlsearch_request_duration_seconds", "Time to answer a request, by route template.",
            ["route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "xlsearch_errors", "Requests answered with a 5xx status, by route template.",
            ["route"], registry=self.registry,
        )  # fmt: skip
        self.reloads = Counter(
            "xlsearch_reloads", "Index reload attempts that switched builds (changed) or failed.",
            ["outcome"], registry=self.registry,
        )  # fmt: skip
        self._last_error: object | None = None
        self.index = _IndexCollector()
        self.registry.register(self.index)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status >= 500:
            self.errors.labels(route).inc()

    def reloaded(self, changed: bool, error: object | None) -> None:
        """Count a reload; an error already counted (a broken build not retried) is not new."""
        if error is not None and error is not self._last_error:
            self.reloads.labels("failed").inc()
        elif changed:
            self.reloads.labels("changed").inc()
        self._last_error = error


def reload_and_count(state: IndexState, metrics: Metrics, force: bool = False) -> ReloadOutcome:
    """``state.reload``, counted in the ``xlsearch_reloads`` metric (blocks: call it from a
    worker thread)."""
    outcome = state.reload(force)
    metrics.reloaded(outcome.changed, outcome.error)
    return outcome


async def reload_counted(state: IndexState, metrics: Metrics, force: bool = False) -> ReloadOutcome:
    """:func:`reload_and_count` in a worker thread."""
    return await run_in_threadpool(reload_and_count, state, metrics, force)

"""The index the service answers from, and how it is replaced while requests are running.

A request reads :attr:`IndexState.searcher` once, at its start, and uses that object to the end,
so it never sees two builds. A reload loads the new build completely (in a worker thread) before
swapping that one reference; requests already running finish on the old searcher, which is freed
when the last of them lets go of it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from embed import (
    BuildSource,
    Encoder,
    RankingConfig,
    Searcher,
    SearchResult,
    StoreError,
    TextEncoder,
)
from service.batching import ANY, DEFAULT_WINDOW_S, QueryBatcher, Scope
from service.cache import CacheKey, ResultCache

logger = logging.getLogger(__name__)


def utc_now() -> str:
    """The time now, as ``/health`` shows times (ISO 8601, UTC, in seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class LoadError:
    """Why the last attempt to load a build failed.

    Attributes:
        build: The build that failed, or ``None`` when ``vectors/CURRENT`` itself is the problem.
        message: What went wrong, for people.
        at: When it happened (ISO 8601, UTC).
    """

    build: str | None
    message: str
    at: str


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload attempt did.

    Attributes:
        changed: True when a new build is now being served.
        build: The build served after the attempt (``None`` when none is loaded).
        previous: The build served before the attempt.
        error: Why the build named by ``CURRENT`` could not be loaded, if it could not.
    """

    changed: bool
    build: str | None
    previous: str | None
    error: LoadError | None


class IndexState:
    """Holds the live :class:`Searcher` and replaces it when the live build changes.

    Args:
        source: Where the builds to serve live (``vectors/``, or a Milvus alias).
        encoder: The primary model; every build must have been made with it.
        second: The second encoder fused into the ranking, if any.
        ranking: Candidate depth, fusion and channel weights.
        batch_window: Seconds the query batcher waits to gather concurrent requests.
        cache_size: How many recent result lists to keep (0: none).
    """

    def __init__(
        self,
        source: BuildSource,
        encoder: Encoder,
        second: TextEncoder | None = None,
        ranking: RankingConfig | None = None,
        batch_window: float = DEFAULT_WINDOW_S,
        cache_size: int = 0,
    ) -> None:
        self.source = source
        self.encoder = encoder
        self.second = second
        self.ranking = ranking
        self.searcher: Searcher | None = None
        # The source's identity of the build served (a Milvus alias names its meta collection,
        # not the build), so that an unchanged build is not loaded again.
        self._opened: str | None = None
        self.loaded_at: str | None = None
        self.error: LoadError | None = None
        self._reload_lock = threading.Lock()
        # One worker thread runs every model and FAISS call: fast tokenizers are not safe to
        # call from several threads at once ("Already borrowed"), concurrent encodes would only
        # fight over the same cores, and concurrent requests share one forward pass.
        self.batcher = QueryBatcher(window=batch_window)
        self.cache = ResultCache(cache_size)
        # The worker thread holds the batcher, not this object: stop it when this one goes.
        weakref.finalize(self, self.batcher.stop)

    def search(
        self, searcher: Searcher, queries: Sequence[str], k: int, scope: Scope | None = None
    ) -> list[list[SearchResult]]:
        """Rank passages of ``searcher`` for ``queries`` (blocks; call from a worker thread).

        Queries searched recently on the same build come from :attr:`cache`; the others are
        embedded together with those of concurrent requests (see
        :class:`service.batching.QueryBatcher`).
        """
        keys, found, missing = self._lookup(searcher, queries, k, scope or ANY)
        if missing:
            fresh = self.batcher.search(searcher, [queries[i] for i in missing], k, scope)
            self._fill(keys, found, missing, fresh)
        return [results for results in found if results is not None]

    async def search_async(
        self, searcher: Searcher, queries: Sequence[str], k: int, scope: Scope | None = None
    ) -> list[list[SearchResult]]:
        """:meth:`search` for the event loop: waits without blocking it."""
        keys, found, missing = self._lookup(searcher, queries, k, scope or ANY)
        if missing:
            fresh = await self.batcher.search_async(
                searcher, [queries[i] for i in missing], k, scope
            )
            self._fill(keys, found, missing, fresh)
        return [results for results in found if results is not None]

    def _lookup(
        self, searcher: Searcher, queries: Sequence[str], k: int, scope: Scope
    ) -> tuple[list[CacheKey], list[list[SearchResult] | None], list[int]]:
        """Each query's cache key, its cached results (or ``None``), and which are missing."""
        keys = [(searcher.build, query, k, scope) for query in queries]
        found = [self.cache.get(key) for key in keys]
        return keys, found, [i for i, results in enumerate(found) if results is None]

    def _fill(
        self,
        keys: list[CacheKey],
        found: list[list[SearchResult] | None],
        missing: list[int],
        fresh: list[list[SearchResult]],
    ) -> None:
        for i, results in zip(missing, fresh, strict=True):
            found[i] = results
            self.cache.put(keys[i], results)

    def close(self) -> None:
        """Stop the query worker (after the requests already queued)."""
        self.batcher.close()

    def _load(self) -> Searcher:
        """Load the live build, ready to answer: models and lazily loaded parts included.

        One query runs on it before it is returned, so that the first request does not pay for
        loading the models or what the searcher reads on first use.
        """
        searcher = Searcher(self.source.open(), self.encoder, self.second, self.ranking)
        self.search(searcher, ["warm-up"], 1, None)
        return searcher

    def reload(self, force: bool = False) -> ReloadOutcome:
        """Serve the live build of :attr:`source` if it is not the one served already.

        A build that failed to load is not tried again until ``CURRENT`` names another build,
        unless ``force`` is set, so that a broken index costs one error, not one per check.

        Args:
            force: Retry a build that failed before.

        Returns:
            What changed; on failure the old searcher stays and ``error`` says why.
        """
        with self._reload_lock:
            previous = self.searcher.build if self.searcher is not None else None
            try:
                build = self.source.current()
            except (StoreError, OSError) as exc:
                return self._failed(None, str(exc), previous)
            if build is None:
                if previous is None:
                    message = f"no index in {self.source.location}: run `xlsearch rebuild-index`"
                    return self._failed(None, message, previous)
                # The folder was emptied under us: keep answering from memory.
                return ReloadOutcome(False, previous, previous, self.error)
            if build == self._opened:
                self.error = None
                return ReloadOutcome(False, previous, previous, None)
            if not force and self.error is not None and self.error.build == build:
                return ReloadOutcome(False, previous, previous, self.error)
            try:
                searcher = self._load()
            # Whatever breaks while loading, the old index must keep serving.
            except Exception as exc:
                return self._failed(build, str(exc), previous)
            self._opened = build
            self.searcher = searcher
            self.loaded_at = utc_now()
            self.error = None
            logger.info("now serving build %s (%d passages)", searcher.build, len(searcher))
            return ReloadOutcome(True, searcher.build, previous, None)

    def _failed(self, build: str | None, message: str, previous: str | None) -> ReloadOutcome:
        if self.error is None or (self.error.build, self.error.message) != (build, message):
            still = f"; still serving build {previous}" if previous else ""
            logger.error(
                "cannot load index %s: %s%s", build or self.source.location, message, still
            )
        self.error = LoadError(build, message, utc_now())
        return ReloadOutcome(False, previous, previous, self.error)

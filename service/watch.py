"""Rebuilding the index when the seeds folder changes (``xlsearch serve --watch``).

A thread watches the seeds folder with watchfiles. Once the folder has been quiet for the quiet
period (``XLSEARCH_WATCH_DEBOUNCE_MS``), it runs the incremental rebuild that ``serve`` runs at
start-up, with the service's own encoders, and switches the service to the new build. Changes
that arrive during a rebuild are kept by the watcher and start one more rebuild after it. A
failed rebuild leaves the served build alone: it is logged, shown in ``/health``, and retried on
the next change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from watchfiles import Change, watch

from embed import BuildError, Encoder, ModelError, StoreError, TextEncoder
from embed.cli import publish_if_asked, run_rebuild
from embed.ingest.documents import SIDECAR_SUFFIX
from embed.ingest.formats import FORMATS
from service.settings import ServiceSettings
from service.state import utc_now

logger = logging.getLogger(__name__)

# Changes are grouped for at most this many quiet periods, so that a folder that never stops
# changing (a long copy) still gets rebuilt.
_MAX_GROUPING = 10
# Failures that are the seeds' or the models' fault: their message says it all, no traceback.
_EXPECTED = (BuildError, ModelError, StoreError, OSError)


@dataclass(frozen=True)
class WatchStatus:
    """What the seeds watch has done, as ``/health`` shows it.

    Attributes:
        rebuilding: A rebuild is under way.
        last_rebuild: When the last rebuild succeeded (ISO 8601, UTC), if one has.
        last_error: Why the last rebuild (or the watch itself) failed, until a rebuild succeeds.
        failed_at: When that failure happened (ISO 8601, UTC).
    """

    rebuilding: bool = False
    last_rebuild: str | None = None
    last_error: str | None = None
    failed_at: str | None = None


class SeedsWatch:
    """Rebuilds the index after changes in the seeds folder, one rebuild at a time, in a thread
    of its own (never the event loop's or the query worker's).

    Args:
        settings: The seeds and index folders, the models' settings and the quiet period.
        encoders: The models the service searches with; rebuilds embed with them too.
        reload: Switches the service to the live build (blocks); called after a rebuild that
            made a new one.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        encoders: tuple[Encoder, TextEncoder | None],
        reload: Callable[[], object],
    ) -> None:
        self.settings = settings
        self.root = settings.seeds_dir.absolute()
        self._vectors = settings.vectors_dir.absolute()
        self._encoders = encoders
        self._reload = reload
        self._quiet_ms = settings.watch_debounce_ms
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="seeds-watch", daemon=True)
        # Replaced whole, never changed in place: a reader sees one consistent status.
        self.status = WatchStatus()

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching, after the rebuild under way if there is one (blocks)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        """Watch the seeds folder until stopped, again whenever it comes back after going away."""
        first = True
        while not self._stop.is_set():
            if not self.root.is_dir():
                first = False
                self._stop.wait(self._quiet_ms / 1000)
                continue
            if not first:
                # What changed between the last watch and this one went unseen.
                self._rebuild()
            first = False
            try:
                self._watch()
            # The thread must outlive whatever the watcher raises (a folder that vanished in
            # between, the system's limit on watches). It tries again later, not at once: each
            # try starts with a rebuild.
            except Exception as exc:
                message = f"cannot watch {self.root}: {exc}"
                if self.status.last_error != message:
                    logger.error("%s", message)
                self.status = replace(self.status, last_error=message, failed_at=utc_now())
                self._stop.wait(self._quiet_ms * _MAX_GROUPING / 1000)

    def _watch(self) -> None:
        """Rebuild after each group of changes, until stopped or until the folder itself goes
        (a watch on a deleted folder sees nothing of the one made in its place)."""
        for changes in watch(
            self.root,
            watch_filter=self._relevant,
            step=self._quiet_ms,
            debounce=self._quiet_ms * _MAX_GROUPING,
            stop_event=self._stop,
        ):
            self._rebuild()
            if (Change.deleted, str(self.root)) in changes:
                return

    def _relevant(self, change: Change, path: str) -> bool:
        """Seeds, sidecars and folders (one moved in or out carries seeds), never the index
        folder: its writes would start rebuild after rebuild."""
        where = Path(path)
        if where.is_relative_to(self._vectors):
            return False
        suffix = where.suffix.lower()
        return not suffix or suffix in FORMATS or suffix == SIDECAR_SUFFIX or where.is_dir()

    def _rebuild(self) -> None:
        """Bring the index up to date with the seeds and serve the new build, if one is made."""
        self.status = replace(self.status, rebuilding=True)
        try:
            summary = run_rebuild(self.settings, progress=False, encoders=self._encoders)
            if summary.changed:
                logger.info(
                    "seeds changed: new build %s (%d chunks embedded, %d reused, %.1f s)",
                    summary.build, summary.embedded, summary.reused, summary.seconds,
                )  # fmt: skip
                published = publish_if_asked(self.settings)
                if published:
                    logger.info("%s", published)
                self._reload()
            else:
                logger.info("seeds checked after a change: the index is up to date")
        # Whatever breaks, the served build stays, and the next change tries again.
        except Exception as exc:
            logger.error(
                "rebuild after a change in %s failed: %s; still serving the previous build",
                self.root, exc, exc_info=not isinstance(exc, _EXPECTED),
            )  # fmt: skip
            message = str(exc) or type(exc).__name__
            self.status = replace(
                self.status, rebuilding=False, last_error=message, failed_at=utc_now()
            )
            return
        self.status = WatchStatus(last_rebuild=utc_now())

"""Wall-clock timing of the steps of a longer piece of work, for summaries and benchmarks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def timed(into: dict[str, float], name: str) -> Iterator[None]:
    """Record the seconds the block takes as ``into[name]`` (to the millisecond)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        into[name] = round(time.perf_counter() - started, 3)

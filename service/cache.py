"""Recent search results, so that a repeated query is answered without the models.

Analysts repeat queries and page through them. A result list depends only on the build it came
from and the request (query, ``k``, language), so entries are keyed by all four: a new build
never answers from an older one's entries, which simply age out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from embed import SearchResult

if TYPE_CHECKING:
    from service.batching import Scope

# The build, the query, k, and the language and document filters.
CacheKey = tuple[str, str, int, "Scope"]


class ResultCache:
    """A least-recently-used map from searches to their results, safe across threads.

    Args:
        size: How many result lists it keeps (0: none, every search runs).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[CacheKey, list[SearchResult]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> list[SearchResult] | None:
        """The results kept for ``key``, or ``None``."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: CacheKey, results: list[SearchResult]) -> None:
        """Keep ``results`` for ``key``, forgetting the least recently used beyond ``size``."""
        if not self.size:
            return
        with self._lock:
            self._entries[key] = results
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

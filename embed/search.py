"""Searcher: a loaded index plus the model that built it, answering ranked queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embed.chunking import Chunk
from embed.encoder import Encoder
from embed.store import IndexData, StoreError, load_index

# With a language filter, look this many times deeper than k before filtering, so that a
# language holding a minority of the passages still fills the page.
_FILTER_DEPTH = 8


class ModelMismatchError(StoreError):
    """The index was built with a different model than the one offered to search it."""


@dataclass(frozen=True)
class SearchResult:
    """One ranked passage.

    Attributes:
        rank: 1-based position in the result list.
        score: Cosine similarity between query and passage.
        chunk: The passage and its metadata.
    """

    rank: int
    score: float
    chunk: Chunk


class Searcher:
    """Answers queries against one loaded index.

    Args:
        data: A loaded build (see :func:`embed.store.load_index`).
        encoder: The model; its checksum must match the one recorded in the build.

    Raises:
        ModelMismatchError: If ``encoder`` is not the model that built ``data``.
    """

    def __init__(self, data: IndexData, encoder: Encoder) -> None:
        recorded = data.manifest.get("model", {})
        if recorded.get("checksum") != encoder.checksum:
            raise ModelMismatchError(
                f"index {data.path} was built with model {recorded.get('name')!r} "
                f"(checksum {str(recorded.get('checksum'))[:12]}), not with {encoder.name!r} "
                f"(checksum {encoder.checksum[:12]}); rebuild the index or use that model"
            )
        self.data = data
        self.encoder = encoder
        self.languages: frozenset[str] = frozenset(c.chunk.lang for c in data.chunks)
        self._lang_of = np.array([c.chunk.lang for c in data.chunks], dtype=object)

    @classmethod
    def load(cls, vectors_dir: Path, encoder: Encoder) -> Searcher:
        """Load the live index of ``vectors_dir`` and check it against ``encoder``."""
        return cls(load_index(vectors_dir), encoder)

    @property
    def manifest(self) -> dict[str, Any]:
        return self.data.manifest

    def __len__(self) -> int:
        return len(self.data.chunks)

    def search(self, query: str, k: int = 10, lang: str | None = None) -> list[SearchResult]:
        """Rank passages for one query.

        Args:
            query: Free text in any language the model knows.
            k: Number of results.
            lang: Keep only passages in this language (ISO 639-1), if given.

        Returns:
            Up to ``k`` results, best first.
        """
        return self.search_batch([query], k=k, lang=lang)[0]

    def search_batch(
        self, queries: Sequence[str], k: int = 10, lang: str | None = None
    ) -> list[list[SearchResult]]:
        """Rank passages for several queries, embedding them in one batch."""
        vectors = self.encoder.encode_queries(queries)
        return self.search_vectors(vectors, k=k, lang=lang)

    def search_vectors(
        self, vectors: np.ndarray, k: int = 10, lang: str | None = None
    ) -> list[list[SearchResult]]:
        """Rank passages for query vectors that are already embedded."""
        total = len(self.data.chunks)
        if total == 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        depth = min(total, k * _FILTER_DEPTH if lang else k)
        scores, ids = self.data.index.search(vectors, depth)
        results = [self._pick(s, i, k, lang) for s, i in zip(scores, ids, strict=True)]
        for row, picked in enumerate(results):
            if lang and len(picked) < k and depth < total:
                # A rare language: scan everything rather than return a short page.
                full_scores, full_ids = self.data.index.search(vectors[row : row + 1], total)
                results[row] = self._pick(full_scores[0], full_ids[0], k, lang)
        return results

    def _pick(
        self, scores: np.ndarray, ids: np.ndarray, k: int, lang: str | None
    ) -> list[SearchResult]:
        picked: list[SearchResult] = []
        for score, idx in zip(scores, ids, strict=True):
            if idx < 0 or (lang and self._lang_of[idx] != lang):
                continue
            chunk = self.data.chunks[int(idx)].chunk
            picked.append(SearchResult(len(picked) + 1, float(score), chunk))
            if len(picked) == k:
                break
        return picked

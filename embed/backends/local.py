"""The embedded backend: a build folder under ``vectors/``, FAISS and memory-mapped arrays."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from embed.backends.base import Candidates, RowFilter, SpanRuns
from embed.ingest.chunking import Chunk
from embed.store.bm25 import LexicalIndex
from embed.store.builds import IndexData, load_index
from embed.store.faiss_index import HNSW_THRESHOLD, exact_among, search_among
from embed.store.format import (
    LEXICAL_DIR,
    SENTENCE_SPANS,
    TOKEN_STATES,
    TRANSLATIONS,
    Manifest,
)
from embed.store.token_states import TokenStates

# A filter that allows at most this many rows is answered by an exact scan of them, as an
# unfiltered index of that size is (a Flat one); more go through the index with a selector.
EXACT_SCAN_ROWS = HNSW_THRESHOLD
# How many filters' allowed rows are kept.
_FILTERS_KEPT = 16


class LocalIndex:
    """:class:`~embed.backends.base.IndexBackend` over a loaded build folder.

    Args:
        data: The build (see :func:`embed.store.builds.load_index`).
    """

    def __init__(self, data: IndexData) -> None:
        self.data = data
        self._lang_of = np.array([c.chunk.lang for c in data.chunks], dtype=object)
        spans = data.arrays.get(SENTENCE_SPANS, np.zeros((0, 3), dtype=np.int32))
        # Spans are stored grouped by chunk row: [first[row], first[row + 1]) are row's.
        self._spans = spans
        self._first = np.searchsorted(spans[:, 0], np.arange(len(data.chunks) + 1))
        self._translations: list[list[list[float]]] = data.tables.get(TRANSLATIONS, [])
        # An analyst pages through one filter's results and asks it several questions.
        self._allowed = lru_cache(maxsize=_FILTERS_KEPT)(self._find_allowed)

    @classmethod
    def open(cls, vectors_dir: Path) -> LocalIndex:
        """The live build of ``vectors_dir``, every file checked."""
        return cls(load_index(vectors_dir))

    @property
    def name(self) -> str:
        return self.data.name

    @property
    def manifest(self) -> Manifest:
        return self.data.manifest

    def __len__(self) -> int:
        return len(self.data.chunks)

    @property
    def documents(self) -> Mapping[str, dict[str, Any]]:
        return self.data.documents

    def chunk(self, row: int) -> Chunk:
        return self.data.chunks[row].chunk

    def document_rows(self, doc_id: str) -> list[int]:
        return self.data.rows_by_document.get(doc_id, [])

    def chunk_languages(self) -> np.ndarray:
        return self._lang_of

    def candidates(
        self, vectors: np.ndarray, wanted: int, where: RowFilter | None = None
    ) -> list[Candidates]:
        allowed = self._allowed(where) if where else None
        if allowed is None:
            scores, ids = self.data.index.search(vectors, min(len(self), wanted))
        elif not len(allowed):
            return [Candidates(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in vectors]
        elif len(allowed) <= EXACT_SCAN_ROWS:
            scores, ids = exact_among(self.data.embeddings, vectors, wanted, allowed)
        else:
            scores, ids = search_among(self.data.index, vectors, wanted, allowed)
        return [
            Candidates(ids[i][ids[i] >= 0].astype(np.int64), scores[i][ids[i] >= 0])
            for i in range(len(vectors))
        ]

    def _find_allowed(self, where: RowFilter) -> np.ndarray:
        """The rows ``where`` allows, in order."""
        if where.docs is None:
            if where.lang is None:
                return np.arange(len(self))
            none = np.zeros(0, np.int64)
            parts = [self._rows_of_language.get(lang, none) for lang in sorted(where.lang)]
            return np.sort(np.concatenate([none, *parts]))
        found = [self.data.rows_by_document.get(doc, []) for doc in sorted(where.docs)]
        rows = np.sort(np.fromiter((r for part in found for r in part), dtype=np.int64))
        if where.lang is not None:
            rows = rows[np.isin(self._lang_of[rows], list(where.lang))]
        return rows

    @cached_property
    def _rows_of_language(self) -> dict[str, np.ndarray]:
        """The rows of each language, in order."""
        return {
            str(lang): np.flatnonzero(self._lang_of == lang) for lang in set(self._lang_of.tolist())
        }

    def has(self, array: str) -> bool:
        return array in self.data.arrays

    def vectors(self, array: str, rows: np.ndarray | slice) -> np.ndarray:
        return self.data.arrays[array][rows]

    def span_runs(self, rows: np.ndarray) -> SpanRuns | None:
        # Whole-array operations over the runs stand in for a loop over the candidates.
        starts, lengths = self._first[rows], self._first[rows + 1] - self._first[rows]
        if not self._spans.size or not bool(np.all(lengths > 0)):
            return None
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        run = np.repeat(np.arange(len(rows)), lengths)
        return SpanRuns(starts[run] + np.arange(len(run)) - offsets[run], run, offsets)

    def span(self, span: int) -> tuple[int, int]:
        _, begin, end = self._spans[span]
        return int(begin), int(end)

    def span_rows(self) -> np.ndarray:
        return self._spans[:, 0]

    @cached_property
    def token_states(self) -> TokenStates | None:
        return TokenStates.of_build(self.data.arrays) if self.has(TOKEN_STATES) else None

    @cached_property
    def lexical(self) -> LexicalIndex | None:
        folder = self.data.path / LEXICAL_DIR
        return LexicalIndex.load(folder) if folder.is_dir() else None

    def translations(self, row: int) -> list[list[float]]:
        return self._translations[row] if row < len(self._translations) else []

    def statistics(self) -> Mapping[str, np.ndarray] | None:
        return None

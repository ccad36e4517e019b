"""The embedded backend: a build folder under ``vectors/``, FAISS and memory-mapped arrays."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from embed.index.backend import Candidates, SpanRuns
from embed.index.bm25 import LexicalIndex
from embed.index.format import (
    LEXICAL_DIR,
    SENTENCE_SPANS,
    TOKEN_STATES,
    TRANSLATIONS,
    Manifest,
)
from embed.index.store import IndexData, load_index
from embed.index.token_store import TokenStates
from embed.ingest.chunking import Chunk

# With a language filter, look this many times deeper before filtering, so that a language
# holding a minority of the passages still fills the candidate list.
_FILTER_DEPTH = 8


class LocalIndex:
    """:class:`~embed.index.backend.IndexBackend` over a loaded build folder.

    Args:
        data: The build (see :func:`embed.index.store.load_index`).
    """

    def __init__(self, data: IndexData) -> None:
        self.data = data
        self._lang_of = np.array([c.chunk.lang for c in data.chunks], dtype=object)
        spans = data.arrays.get(SENTENCE_SPANS, np.zeros((0, 3), dtype=np.int32))
        # Spans are stored grouped by chunk row: [first[row], first[row + 1]) are row's.
        self._spans = spans
        self._first = np.searchsorted(spans[:, 0], np.arange(len(data.chunks) + 1))
        self._translations: list[list[list[float]]] = data.tables.get(TRANSLATIONS, [])

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

    def candidates(self, vectors: np.ndarray, wanted: int, lang: str | None) -> list[Candidates]:
        total = len(self)
        depth = min(total, wanted * _FILTER_DEPTH if lang else wanted)
        scores, ids = self.data.index.search(vectors, depth)
        found = []
        for row in range(len(vectors)):
            rows, dense = self._keep(scores[row], ids[row], lang, wanted)
            if lang and len(rows) < wanted and depth < total:
                # A rare language: scan everything rather than miss candidates.
                full_scores, full_ids = self.data.index.search(vectors[row : row + 1], total)
                rows, dense = self._keep(full_scores[0], full_ids[0], lang, wanted)
            found.append(Candidates(rows, dense))
        return found

    def _keep(
        self, scores: np.ndarray, ids: np.ndarray, lang: str | None, wanted: int
    ) -> tuple[np.ndarray, np.ndarray]:
        keep = ids >= 0
        if lang:
            keep &= self._lang_of[np.maximum(ids, 0)] == lang
        return ids[keep][:wanted], scores[keep][:wanted]

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

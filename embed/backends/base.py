"""The seam between a build and the ranking: what a searcher asks of an index, wherever it lives.

The ranking (:mod:`embed.ranking`) reads candidates and the per-row data its channels score
through :class:`IndexBackend` only, never a backend's files or arrays: the embedded FAISS build
(:class:`~embed.backends.local.LocalIndex`) is one implementation, and a clustered vector database
can be another; :func:`embed.backends.factory.open_backend` picks one by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import numpy as np

from embed.ingest.chunking import Chunk
from embed.store.bm25 import LexicalIndex
from embed.store.format import Manifest
from embed.store.token_states import TokenSource


class Candidates(NamedTuple):
    """One query's candidate rows, best first, and their primary-vector cosines."""

    rows: np.ndarray
    scores: np.ndarray


class RowFilter(NamedTuple):
    """Which rows a search may return: of some languages, of some documents (``None``: any).

    An empty ``lang`` or ``docs`` allows no row.
    """

    lang: frozenset[str] | None = None
    docs: frozenset[str] | None = None

    def __bool__(self) -> bool:
        return self.lang is not None or self.docs is not None


class SpanRuns(NamedTuple):
    """The sentences and clauses of some rows, one run per row.

    Attributes:
        ids: Span ids, the runs one after the other.
        run: The index of each id's run (the position of its row).
        offsets: Where each run begins in ``ids``.
    """

    ids: np.ndarray
    run: np.ndarray
    offsets: np.ndarray


class IndexBackend(Protocol):
    """A build as the ranking sees it: candidates, rows' vectors and spans, side tables."""

    @property
    def name(self) -> str:
        """The build's name."""
        ...

    @property
    def manifest(self) -> Manifest:
        """What the build holds and how it was made."""
        ...

    def __len__(self) -> int:
        """The number of passages (chunks)."""
        ...

    @property
    def documents(self) -> Mapping[str, dict[str, Any]]:
        """The document records, by ``doc_id``."""
        ...

    def chunk(self, row: int) -> Chunk:
        """The passage of ``row``."""
        ...

    def document_rows(self, doc_id: str) -> list[int]:
        """The rows of a document's passages in reading order (empty for an unknown id)."""
        ...

    def chunk_languages(self) -> np.ndarray:
        """The language of every row, as an object array."""
        ...

    def candidates(
        self, vectors: np.ndarray, wanted: int, where: RowFilter | None = None
    ) -> list[Candidates]:
        """The ``wanted`` nearest rows of each query vector among the rows ``where`` allows,
        found inside the search: as many as there are, up to ``wanted``, however few rows the
        filter allows."""
        ...

    def has(self, array: str) -> bool:
        """Whether the build holds the array ``array`` (see :mod:`embed.store.format`)."""
        ...

    def vectors(self, array: str, rows: np.ndarray | slice) -> np.ndarray:
        """Rows of a per-chunk or per-span array."""
        ...

    def span_runs(self, rows: np.ndarray) -> SpanRuns | None:
        """The spans of ``rows``, or ``None`` when a row has none."""
        ...

    def span(self, span: int) -> tuple[int, int]:
        """The ``(begin, end)`` offsets of a span in its chunk's text."""
        ...

    def span_rows(self) -> np.ndarray:
        """The chunk row of every span."""
        ...

    @property
    def token_states(self) -> TokenSource | None:
        """The passages' token states, when the build has them."""
        ...

    @property
    def lexical(self) -> LexicalIndex | None:
        """The BM25 index, when the build has one."""
        ...

    def translations(self, row: int) -> list[list[float]]:
        """``[row, similarity]`` of each parallel passage of ``row``."""
        ...

    def statistics(self) -> Mapping[str, np.ndarray] | None:
        """Global statistics the ranking needs, stored with the build (the language
        correction's, see :meth:`embed.ranking.centering.LanguageCorrection.to_arrays`), or
        ``None`` when the ranking computes them from the rows (a local build maps every row)."""
        ...

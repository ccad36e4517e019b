"""The ranking channels: each scores a query's candidate rows one way.

Every channel follows one protocol (:class:`Channel`): given a query and its candidates, one raw
score per row, and the same less the query's mean score over each row's language when the index
is multilingual (:class:`~embed.ranking.centering.LanguageCorrection`). The raw scores are what
a result reports; the centred ones are what :func:`~embed.ranking.fusion.fuse` adds up. What
each channel brings and costs: docs/ranking.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from embed.backends.base import IndexBackend, SpanRuns
from embed.ranking.centering import LanguageCorrection
from embed.ranking.query import Query
from embed.store.format import EMBEDDINGS


@dataclass(frozen=True)
class CandidateSet:
    """The rows one query's channels score: its candidates, then their parallel passages.

    Attributes:
        rows: Candidate rows, best first by the primary vectors, followed by the translations
            of those not among them.
        dense: The primary-vector cosine of each row.
        own: How many of ``rows`` are the query's own candidates (the others are scored only
            so that a candidate can rank as high as its translation).
        spans: The rows' sentences and clauses, found once for the sentence channels of both
            encoders (``None`` when a row has none).
    """

    rows: np.ndarray
    dense: np.ndarray
    own: int
    spans: SpanRuns | None


@dataclass(frozen=True)
class ChannelScores:
    """One channel's scores of a candidate set.

    Attributes:
        raw: As measured (cosines, BM25 scores).
        centred: ``raw`` less the language offset of each row; ``raw`` itself when the index
            is in one language or the channel is not centred.
        spans: For sentence channels, the best-matching span of each row.
    """

    raw: np.ndarray
    centred: np.ndarray
    spans: np.ndarray | None = None


class Channel(Protocol):
    """Scores a query's candidate rows one way."""

    @property
    def name(self) -> str:
        """The channel's name, as weights and results name it."""
        ...

    def score(self, query: Query, candidates: CandidateSet) -> ChannelScores | None:
        """The channel's scores, or ``None`` when it cannot score this query or these rows."""
        ...


@dataclass(frozen=True)
class _EncoderChannel:
    """A channel over one encoder's vectors in ``array``, centred per language when the index
    is multilingual.

    Attributes:
        name: The channel's name.
        backend: The index.
        array: The build array scored (see :mod:`embed.store.format`).
        second: Whether the array holds the second encoder's vectors (else the primary's).
        correction: The index's language correction, if any.
    """

    name: str
    backend: IndexBackend
    array: str
    second: bool
    correction: LanguageCorrection | None

    def _vector(self, query: Query) -> np.ndarray | None:
        return query.second if self.second else query.vector

    def _centred(self, vector: np.ndarray, rows: np.ndarray, raw: np.ndarray) -> np.ndarray:
        correction = self.correction
        offsets = correction.offsets(self.array, vector, rows) if correction is not None else None
        return raw if offsets is None else raw - offsets


@dataclass(frozen=True)
class VectorChannel(_EncoderChannel):
    """Cosine of each row's own vector to the query's vector of that encoder.

    For the primary encoder the candidates' cosines are those the candidate search found.
    """

    def score(self, query: Query, candidates: CandidateSet) -> ChannelScores | None:
        vector = self._vector(query)
        if vector is None:
            return None
        if self.array == EMBEDDINGS:
            raw = candidates.dense
        else:
            raw = self.backend.vectors(self.array, candidates.rows) @ vector
        return ChannelScores(raw, self._centred(vector, candidates.rows, raw))


@dataclass(frozen=True)
class SentenceChannel(_EncoderChannel):
    """Each row's best cosine over its sentences and clauses (see
    :func:`~embed.ingest.chunking.match_spans`), and that span."""

    def score(self, query: Query, candidates: CandidateSet) -> ChannelScores | None:
        vector = self._vector(query)
        spans = candidates.spans
        if vector is None or spans is None or not self.backend.has(self.array):
            return None
        sims = self.backend.vectors(self.array, spans.ids) @ vector
        best = np.maximum.reduceat(sims, spans.offsets)
        # The first span of each run that reaches the run's best.
        hits = np.flatnonzero(sims == best[spans.run])
        _, first = np.unique(spans.run[hits], return_index=True)
        return ChannelScores(
            best, self._centred(vector, candidates.rows, best), spans.ids[hits[first]]
        )


@dataclass(frozen=True)
class LexicalChannel:
    """BM25 over a script-neutral form of the text (:mod:`embed.store.bm25`).

    In a multilingual index a two-language candidate list is matched on the terms found in
    both languages only, and each score loses the query's mean over the row's language.
    """

    name: str
    backend: IndexBackend
    correction: LanguageCorrection | None

    def score(self, query: Query, candidates: CandidateSet) -> ChannelScores | None:
        lexical = self.backend.lexical
        if query.text is None or lexical is None:
            return None
        rows = candidates.rows
        correction = self.correction
        terms = correction.lexical_terms(rows[: candidates.own]) if correction else None
        every = lexical.scores(query.text, terms, query.lang)
        raw = every[rows]
        if correction is None:
            return ChannelScores(raw, raw)
        return ChannelScores(raw, raw - correction.lexical_offsets(every, rows))

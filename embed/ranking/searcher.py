"""Searcher: a loaded index plus the models that built it, answering ranked queries.

A query is embedded, FAISS returns the nearest chunks as candidates, and the candidates are
re-scored by every enabled channel (see :mod:`embed.ranking.fusion`): the chunk vector, the chunk's
best-matching sentence or clause, the same two with the second encoder, and BM25 over a
script-neutral form of the text. The parallel passages (translations) of the candidates are
scored too, and a passage ranks as high as the better of itself and its translation: a question
answered plainly by an English paragraph finds the Russian paragraph that says the same. The
final score orders the results; each result keeps its per-channel scores, the offsets of its
best-matching sentence or clause and its parallel passages in other languages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from embed.index.bm25 import LEXICAL_DIR, LexicalIndex
from embed.index.store import IndexData, StoreError, load_index
from embed.index.token_store import STATES, TokenStates, manifest_entry
from embed.ingest.chunking import Chunk
from embed.models.encoder import Encoder, TextEncoder
from embed.ranking.centering import LanguageCentroids, group_means, language_groups, standardise
from embed.ranking.fusion import (
    DENSE,
    DENSE_SENTENCE,
    LEXICAL,
    SECOND,
    SECOND_SENTENCE,
    TOKENS,
    RankingConfig,
    fuse,
    normalise,
)

logger = logging.getLogger(__name__)

# The dense channels and the arrays they score against.
_CHANNEL_ARRAYS = {
    DENSE: "embeddings",
    DENSE_SENTENCE: "sentence_embeddings",
    SECOND: "second_embeddings",
    SECOND_SENTENCE: "second_sentence_embeddings",
}

# Passages per language whose MaxSim standardises the token channel (each costs a MaxSim per
# query). On XQuAD-dev mixed, 16 and 32 gave the same hit@1 within 0.2 points; 8 left the
# spread too noisy (Russian questions 0.878 against 0.903).
_TOKEN_SAMPLE = 16

# With a language filter, look this many times deeper before filtering, so that a language
# holding a minority of the passages still fills the candidate list.
_FILTER_DEPTH = 8


class QueryEmbeddings(NamedTuple):
    """What the encoders make of a batch of queries, row ``i`` for query ``i``.

    Attributes:
        vectors: Primary-encoder query vectors.
        second: Second-encoder vectors, or ``None`` when no second-encoder channel is on.
        tokens: Each query's token states for the late-interaction channel, or ``None``
            when it is off.
    """

    vectors: np.ndarray
    second: np.ndarray | None = None
    tokens: list[np.ndarray] | None = None

    def rows(self, start: int, stop: int) -> QueryEmbeddings:
        """The embeddings of queries ``start`` to ``stop``."""
        return QueryEmbeddings(
            self.vectors[start:stop],
            None if self.second is None else self.second[start:stop],
            None if self.tokens is None else self.tokens[start:stop],
        )


class ModelMismatchError(StoreError):
    """The index was built with a different model than the one offered to search it."""


@dataclass(frozen=True)
class Translation:
    """A passage in another language that says the same thing.

    Attributes:
        chunk: The counterpart passage.
        score: Mean cosine between the two passages over the encoders.
    """

    chunk: Chunk
    score: float


@dataclass(frozen=True)
class SearchResult:
    """One ranked passage.

    Attributes:
        rank: 1-based position in the result list.
        score: The fused ranking score (a weighted sum of per-channel z-scores, or of RRF
            scores), or its translation's when that is higher; comparable within one result
            list only.
        chunk: The passage and its metadata.
        scores: Raw score per channel (cosines for dense channels, BM25 for ``lexical``).
        highlights: ``(begin, end)`` offsets in ``chunk.text`` of the best-matching sentence
            or clause.
        translations: Parallel passages in other languages.
    """

    rank: int
    score: float
    chunk: Chunk
    scores: dict[str, float] = field(default_factory=dict)
    highlights: list[tuple[int, int]] = field(default_factory=list)
    translations: list[Translation] = field(default_factory=list)


def _check_model(data: IndexData, key: str, encoder: TextEncoder) -> None:
    recorded = data.manifest.get(key) or {}
    if recorded.get("checksum") != encoder.checksum:
        raise ModelMismatchError(
            f"index {data.path} was built with model {recorded.get('name')!r} "
            f"(checksum {str(recorded.get('checksum'))[:12]}), not with {encoder.name!r} "
            f"(checksum {encoder.checksum[:12]}); rebuild the index or use that model"
        )


class Searcher:
    """Answers queries against one loaded index.

    Args:
        data: A loaded build (see :func:`embed.index.store.load_index`).
        encoder: The primary model; its checksum must match the one recorded in the build.
        second: The second encoder, if the build has its vectors and the ranking uses it.
        ranking: Candidate depth, fusion method and channel weights.

    Raises:
        ModelMismatchError: If an encoder is not the model that built ``data``.
    """

    def __init__(
        self,
        data: IndexData,
        encoder: Encoder,
        second: TextEncoder | None = None,
        ranking: RankingConfig | None = None,
    ) -> None:
        _check_model(data, "model", encoder)
        if second is not None and "second_embeddings" in data.arrays:
            _check_model(data, "second_model", second)
        else:
            second = None
        self.data = data
        self.encoder = encoder
        self.second = second
        self.ranking = ranking or RankingConfig()
        self.languages: frozenset[str] = frozenset(c.chunk.lang for c in data.chunks)
        self._lang_of = np.array([c.chunk.lang for c in data.chunks], dtype=object)
        spans = data.arrays.get("sentence_spans", np.zeros((0, 3), dtype=np.int32))
        # Sentences are stored grouped by chunk row: [first[row], first[row + 1]) are row's.
        self._spans = spans
        self._first = np.searchsorted(spans[:, 0], np.arange(len(data.chunks) + 1))
        self._translations: list[list[list[float]]] = data.tables.get("translations", [])

    @classmethod
    def load(
        cls,
        vectors_dir: Path,
        encoder: Encoder,
        second: TextEncoder | None = None,
        ranking: RankingConfig | None = None,
    ) -> Searcher:
        """Load the live index of ``vectors_dir`` and check it against the encoders."""
        return cls(load_index(vectors_dir), encoder, second, ranking)

    @property
    def manifest(self) -> dict[str, Any]:
        return self.data.manifest

    def __len__(self) -> int:
        return len(self.data.chunks)

    @cached_property
    def _lexical(self) -> LexicalIndex | None:
        folder = self.data.path / LEXICAL_DIR
        return LexicalIndex.load(folder) if folder.is_dir() else None

    @cached_property
    def _centering(self) -> tuple[np.ndarray, int, dict[str, LanguageCentroids]] | None:
        """Each chunk's language group, the number of groups and the centroids per dense
        array; ``None`` when the corpus is not multilingual enough for centering to matter."""
        found = language_groups([c.chunk.lang for c in self.data.chunks], self.data.embeddings)
        if found is None:
            return None
        groups, n = found
        centroids = {}
        for array in _CHANNEL_ARRAYS.values():
            if array in self.data.arrays:
                # Sentence arrays: each sentence takes the group of its chunk.
                rows = self._spans[:, 0] if "sentence" in array else slice(None)
                centroids[array] = LanguageCentroids(self.data.arrays[array], groups[rows], n)
        return groups, n, centroids

    @property
    def _language_correction(self) -> tuple[np.ndarray, int, dict[str, LanguageCentroids]] | None:
        """:attr:`_centering` when the ranking corrects for languages (``center_languages``),
        else ``None``."""
        return self._centering if self.ranking.center_languages else None

    @cached_property
    def _shared_terms(self) -> np.ndarray | None:
        """The BM25 terms found in passages of two languages or more, in a multilingual corpus.

        A term of one language only (an ordinary word: "commitment", "приверженность") can
        match only passages of the query's own language, so it measures language as much as
        relevance; names, numbers and acronyms written alike in both languages remain. On
        XQuAD-dev mixed, over 90% of the cross-language misses had BM25 favour the same-language
        paragraph; keeping shared terms only took hit@1 from 0.885 / 0.880 to 0.902 / 0.896.
        """
        if self._centering is None or self._lexical is None:
            return None
        return self._lexical.languages_per_term(self._centering[0]) > 1

    def _lexical_terms(self, rows: np.ndarray) -> np.ndarray | None:
        """The terms BM25 may match for these candidates: the shared ones when they hold two
        languages; all when they hold one (a ``lang`` filter), as nothing then competes
        across languages and a word of that language tells its passages apart."""
        correction = self._language_correction
        if correction is None or len(np.unique(correction[0][rows])) < 2:
            return None
        return self._shared_terms

    @cached_property
    def _token_samples(self) -> list[np.ndarray]:
        """Up to :data:`_TOKEN_SAMPLE` passage rows of each language group, spread evenly."""
        assert self._centering is not None
        groups, n, _ = self._centering
        samples = []
        for group in range(n):
            members = np.flatnonzero(groups == group)
            picks = np.linspace(0, len(members) - 1, min(len(members), _TOKEN_SAMPLE))
            samples.append(members[np.unique(picks.round().astype(np.int64))])
        return samples

    def _centred(
        self,
        channels: dict[str, np.ndarray],
        rows: np.ndarray,
        embedded: QueryEmbeddings,
        lexical: np.ndarray | None,
    ) -> dict[str, np.ndarray]:
        """Each channel minus the query's mean score over the passage's language.

        For the dense channels that is ``q·μ_L`` (see :mod:`embed.ranking.centering`); for BM25,
        whose
        ordinary words match only passages of the query's own language, the mean of
        ``lexical`` (the query's score of every passage) over each language.
        """
        correction = self._language_correction
        if correction is None:
            return channels
        groups, n, by_array = correction
        languages = groups[rows]
        centred = dict(channels)
        for channel, values in channels.items():
            centroids = by_array.get(_CHANNEL_ARRAYS.get(channel, ""))
            vector = embedded.second if channel in (SECOND, SECOND_SENTENCE) else embedded.vectors
            if centroids is not None and vector is not None:
                centred[channel] = values - centroids.offsets(vector, languages)
        if lexical is not None and LEXICAL in channels:
            means = group_means(lexical[:, None], groups, n)[:, 0]
            centred[LEXICAL] = channels[LEXICAL] - means[languages]
        return centred

    def _with_tokens(
        self,
        fused: np.ndarray,
        scored: np.ndarray,
        embedded: QueryEmbeddings,
        channels: dict[str, np.ndarray],
    ) -> np.ndarray:
        """``fused`` plus the token channel, which re-scores the best ``token_depth`` rows.

        MaxSim costs a product per passage token, so, as ColBERT does as a re-ranker, it scores
        only the head of the list the other channels made; the rows below get the lowest
        normalised score of the head. In a corpus of several languages each passage's MaxSim
        is standardised by the query's mean and spread over a fixed sample of passages of its
        language (MaxSim is not linear in the passages, so no centroid gives them): a query
        token meets a token of its own language at a cosine near 1 and its translation far
        lower, and how widely one language's passages spread depends on how varied they are,
        so the languages differ in both. Centering alone took XQuAD-dev mixed to
        0.902 / 0.896 hit@1, dividing by the spread too to 0.913 / 0.903. The raw MaxSim of
        the head rows is added to ``channels`` (NaN below the head).
        """
        states, weight = self._token_states, self._weight(TOKENS)
        if embedded.tokens is None or states is None or not weight:
            return fused
        query = embedded.tokens[0]
        head = np.argsort(-fused, kind="stable")[: self.ranking.token_depth]
        raw = states.maxsim(query, scored[head])
        values = raw
        correction = self._language_correction
        if correction is not None:
            languages = correction[0][scored[head]]
            present = np.unique(languages)
            # A scaling shared by the whole head changes neither z-scores nor ranks: the
            # statistics are needed only when the head holds two languages, and only theirs.
            if len(present) > 1:
                samples = {
                    g: states.maxsim(query, self._token_samples[g]) for g in present.tolist()
                }
                values = standardise(raw, languages, samples)
        head_scores = normalise(values, self.ranking.fusion)
        added = np.full(len(fused), head_scores.min())
        added[head] = head_scores
        channels[TOKENS] = np.full(len(fused), np.nan)
        channels[TOKENS][head] = raw
        return fused + weight * added

    def _weight(self, channel: str) -> float:
        return self.ranking.weights.get(channel, 0.0)

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
        """Rank passages for several queries, embedding them in one batch per encoder."""
        queries = list(queries)
        vectors, second, tokens = self.embed_queries(queries)
        return self.search_vectors(
            vectors, k=k, lang=lang, queries=queries, second=second, tokens=tokens
        )

    @cached_property
    def _token_states(self) -> TokenStates | None:
        """The build's token states, if they were taken the way this encoder takes them."""
        recorded, expected = self.manifest.get("tokens"), manifest_entry(self.encoder.token_layer)
        if STATES in self.data.arrays and recorded == expected:
            return TokenStates.of_build(self.data.arrays)
        if expected is not None and self._weight(TOKENS):
            # A build of an earlier version serves on, ranked without the channel.
            logger.warning(
                "build %s has no token states of this version (it has %s, this version takes "
                "%s): the token channel is off until `xlsearch rebuild-index`",
                self.data.name, recorded, expected,
            )  # fmt: skip
        return None

    def embed_queries(self, queries: Sequence[str]) -> QueryEmbeddings:
        """What every enabled channel needs of the queries, each encoder run once."""
        queries = list(queries)
        tokens = None
        if self._weight(TOKENS) and self._token_states is not None:
            vectors, tokens = self.encoder.encode_queries_with_tokens(queries)
        else:
            vectors = self.encoder.encode_queries(queries)
        second = None
        if self.second is not None and (self._weight(SECOND) or self._weight(SECOND_SENTENCE)):
            second = self.second.encode_queries(queries)
        return QueryEmbeddings(vectors, second, tokens)

    def search_vectors(
        self,
        vectors: np.ndarray,
        k: int = 10,
        lang: str | None = None,
        queries: Sequence[str] | None = None,
        second: np.ndarray | None = None,
        tokens: Sequence[np.ndarray] | None = None,
    ) -> list[list[SearchResult]]:
        """Rank passages for queries already embedded.

        Args:
            vectors: Primary-encoder query vectors.
            k: Results per query.
            lang: Language filter.
            queries: The query texts, for the lexical channel (skipped when ``None``).
            second: Second-encoder query vectors, for its channels (skipped when ``None``).
            tokens: Query token states, for the late-interaction channel (skipped when
                ``None``).
        """
        total = len(self.data.chunks)
        if total == 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        wanted = max(k, self.ranking.candidates)
        depth = min(total, wanted * _FILTER_DEPTH if lang else wanted)
        scores, ids = self.data.index.search(vectors, depth)
        results = []
        for row in range(len(vectors)):
            rows, dense = self._candidates(scores[row], ids[row], lang, wanted)
            if lang and len(rows) < wanted and depth < total:
                # A rare language: scan everything rather than miss candidates.
                full_scores, full_ids = self.data.index.search(vectors[row : row + 1], total)
                rows, dense = self._candidates(full_scores[0], full_ids[0], lang, wanted)
            embedded = QueryEmbeddings(
                vectors[row],
                second[row] if second is not None else None,
                [tokens[row]] if tokens is not None else None,
            )
            query = queries[row] if queries is not None else None
            results.append(self._rank(rows, dense, embedded, query, k))
        return results

    def _candidates(
        self, scores: np.ndarray, ids: np.ndarray, lang: str | None, wanted: int
    ) -> tuple[np.ndarray, np.ndarray]:
        keep = ids >= 0
        if lang:
            keep &= self._lang_of[np.maximum(ids, 0)] == lang
        return ids[keep][:wanted], scores[keep][:wanted]

    def _span_runs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The span ids of ``rows`` one run per row, each id's run, and where each run begins.

        Every row must have a span (the caller checks). Whole-array operations over the runs
        stand in for a loop over the candidates; both encoders' sentence channels share them.
        """
        starts, lengths = self._first[rows], self._first[rows + 1] - self._first[rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        run = np.repeat(np.arange(len(rows)), lengths)
        return starts[run] + np.arange(len(run)) - offsets[run], run, offsets

    def _best_sentence(
        self, spans: tuple[np.ndarray, np.ndarray, np.ndarray], query: np.ndarray, array: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each candidate row: the best cosine over its sentences and clauses (see
        :func:`~embed.ingest.chunking.match_spans`), and that span; ``spans`` from
        :meth:`_span_runs`."""
        span_ids, run, offsets = spans
        sims = self.data.arrays[array][span_ids] @ query
        best = np.maximum.reduceat(sims, offsets)
        # The first span of each run that reaches the run's best.
        hits = np.flatnonzero(sims == best[run])
        _, first = np.unique(run[hits], return_index=True)
        return best, span_ids[hits[first]]

    def _channels(
        self,
        rows: np.ndarray,
        dense: np.ndarray,
        embedded: QueryEmbeddings,
        lexical: np.ndarray | None,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Raw scores of ``rows`` per enabled channel, and each row's best sentence (or -1).

        ``embedded`` holds one query's vectors (``tokens``: a list of its one token array);
        ``lexical`` the query's BM25 score of every passage (``None``: channel off).
        """
        query, query2 = embedded.vectors, embedded.second
        channels: dict[str, np.ndarray] = {DENSE: dense}
        has_sentences = "sentence_embeddings" in self.data.arrays and bool(
            np.all(self._first[rows + 1] > self._first[rows])
        )
        best_sentence = np.full(len(rows), -1)
        spans = self._span_runs(rows) if has_sentences else None
        if spans is not None:
            best, best_sentence = self._best_sentence(spans, query, "sentence_embeddings")
            if self._weight(DENSE_SENTENCE):
                channels[DENSE_SENTENCE] = best
        if query2 is not None:
            channels[SECOND] = self.data.arrays["second_embeddings"][rows] @ query2
            if spans is not None and self._weight(SECOND_SENTENCE):
                channels[SECOND_SENTENCE] = self._best_sentence(
                    spans, query2, "second_sentence_embeddings"
                )[0]
        if lexical is not None:
            channels[LEXICAL] = lexical[rows]
        return channels, best_sentence

    def _with_counterparts(
        self, rows: np.ndarray, dense: np.ndarray, query: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``rows`` followed by their parallel passages not among them, with dense scores."""
        if not self.ranking.use_translations or not self._translations:
            return rows, dense
        extra: dict[int, None] = {}  # ordered and without repeats
        for row in rows.tolist():
            extra.update((int(other), None) for other, _ in self._counterpart_links(row))
        for row in rows.tolist():
            extra.pop(row, None)
        if not extra:
            return rows, dense
        more = np.fromiter(extra, dtype=rows.dtype, count=len(extra))
        return np.concatenate([rows, more]), np.concatenate(
            [dense, self.data.embeddings[more] @ query]
        )

    def _rank(
        self,
        rows: np.ndarray,
        dense: np.ndarray,
        embedded: QueryEmbeddings,
        text: str | None,
        k: int,
    ) -> list[SearchResult]:
        if not len(rows):
            return []
        n = len(rows)
        scored, scored_dense = self._with_counterparts(rows, dense, embedded.vectors)
        lexical = None
        if text is not None and self._weight(LEXICAL) and self._lexical is not None:
            lexical = self._lexical.scores(text, self._lexical_terms(rows))
        channels, best_sentence = self._channels(scored, scored_dense, embedded, lexical)
        fused = fuse(
            self._centred(channels, scored, embedded, lexical),
            self.ranking.weights,
            self.ranking.fusion,
        )
        fused = self._with_tokens(fused, scored, embedded, channels)
        own = fused[:n]
        final = own.copy()
        if self.ranking.use_translations:
            # A passage says what its translation says: it ranks as high as the better of the two.
            position = {int(row): i for i, row in enumerate(scored)}
            for i, row in enumerate(rows.tolist()):
                for other, _ in self._counterpart_links(row):
                    final[i] = max(final[i], fused[position[int(other)]])
        order = np.lexsort((-own, -final))[:k]
        return [
            SearchResult(
                rank=rank,
                score=round(float(final[i]), 6),
                chunk=self.data.chunks[int(rows[i])].chunk,
                scores={
                    name: round(float(values[i]), 6)
                    for name, values in channels.items()
                    if not np.isnan(values[i])
                },
                highlights=self._highlight(int(best_sentence[i])),
                translations=self._counterparts(int(rows[i])),
            )
            for rank, i in enumerate(order, start=1)
        ]

    def _highlight(self, sentence: int) -> list[tuple[int, int]]:
        if sentence < 0:
            return []
        _, begin, end = self._spans[sentence]
        return [(int(begin), int(end))]

    def _counterpart_links(self, row: int) -> list[list[float]]:
        """``[row, similarity]`` of each parallel passage of ``row`` (built by alignment)."""
        return self._translations[row] if row < len(self._translations) else []

    def _counterparts(self, row: int) -> list[Translation]:
        return [
            Translation(self.data.chunks[int(other)].chunk, float(score))
            for other, score in self._counterpart_links(row)
        ]

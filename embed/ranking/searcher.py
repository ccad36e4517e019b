"""The Searcher: a loaded index plus the models that built it, answering ranked queries.

A query goes through a pipeline of small stages, each in its own module:

1. embed: the encoders make the query's vectors and token states (:mod:`embed.ranking.query`);
2. candidates: the index's nearest passages (:meth:`~embed.backends.base.IndexBackend.candidates`),
   and their parallel passages (:mod:`embed.ranking.translations`);
3. channels: each scores the candidates one way (:mod:`embed.ranking.channels`), less the
   language offset of each passage (:mod:`embed.ranking.centering`);
4. fusion: the channels' normalised scores, weighted and summed (:mod:`embed.ranking.fusion`);
5. tokens: the head of that list re-scored token by token (:mod:`embed.ranking.tokens`);
6. focus and roles: the share of the query's numbers a passage holds is added
   (:mod:`embed.ranking.focus`), each score is blended with its document's best, and titles,
   captions and repeated leads lose an offset (:mod:`embed.ranking.roles`);
7. same-language offset: passages in the query's language lose a fixed offset when the
   candidates hold two languages (:meth:`~embed.ranking.centering.LanguageCorrection.query_group`);
8. translations: each passage ranks as high as the better of itself and its translation, and
   a passage and its translations are one result (:mod:`embed.ranking.grouping`);
9. results: the ranked passages with their scores, highlights and translations
   (:mod:`embed.ranking.results`).

The design and what each stage gains and costs: docs/ranking.md.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Collection, Sequence
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from embed.backends.base import Candidates, IndexBackend, RowFilter
from embed.backends.factory import open_backend
from embed.ingest.chunking import Chunk
from embed.ingest.language import UNDETERMINED
from embed.ingest.languages import encoder_languages
from embed.models.encoder import Encoder, TextEncoder
from embed.ranking.centering import LanguageCorrection
from embed.ranking.channels import (
    CandidateSet,
    Channel,
    ChannelScores,
    LexicalChannel,
    SentenceChannel,
    VectorChannel,
)
from embed.ranking.filters import DocumentFilter, FilterValues
from embed.ranking.focus import NumberMatch
from embed.ranking.fusion import (
    DENSE,
    DENSE_SENTENCE,
    LEXICAL,
    SECOND,
    SECOND_SENTENCE,
    TOKENS,
    RankingConfig,
    fuse,
)
from embed.ranking.grouping import one_per_fact
from embed.ranking.query import Query, QueryEmbeddings
from embed.ranking.results import SearchResult, StoredDocument, Translation
from embed.ranking.roles import PassageRoles
from embed.ranking.tokens import TokenReranker
from embed.ranking.translations import best_of_translations, counterparts, with_counterparts
from embed.store.format import (
    EMBEDDINGS,
    SECOND_EMBEDDINGS,
    SECOND_SENTENCE_EMBEDDINGS,
    SENTENCE_EMBEDDINGS,
    Compatibility,
    Manifest,
    ModelMismatchError,
    compatibility,
    expected_spec,
)
from embed.util.blas import blas_threads

logger = logging.getLogger(__name__)


class Searcher:
    """Answers queries against one index.

    Args:
        backend: The index (see :func:`embed.backends.factory.open_backend`).
        encoder: The primary model; its checksum must match the one recorded in the build.
        second: The second encoder, used when the build has its vectors.
        ranking: Candidate depth, fusion method and channel weights.

    Raises:
        ModelMismatchError: If an encoder is not the model that built the index.
    """

    def __init__(
        self,
        backend: IndexBackend,
        encoder: Encoder,
        second: TextEncoder | None = None,
        ranking: RankingConfig | None = None,
    ) -> None:
        if second is not None and not backend.has(SECOND_EMBEDDINGS):
            second = None
        manifest = backend.manifest
        expected = expected_spec(encoder, second)
        if second is None:
            # Serving without the second encoder is a choice, not a stale build.
            expected = dataclasses.replace(expected, second_model=manifest.second_model)
        self.compatibility: Compatibility = compatibility(manifest, expected)
        """Which parts of the build these models and this version would make the same way."""
        if not self.compatibility.model:
            raise _mismatch(backend, manifest.model.name, manifest.model.checksum, encoder)
        if second is not None and not self.compatibility.second_model:
            recorded = manifest.second_model
            name, checksum = (recorded.name, recorded.checksum) if recorded else (None, None)
            raise _mismatch(backend, name, checksum, second)
        self.backend = backend
        self.encoder = encoder
        self.second = second
        self.ranking = ranking or RankingConfig()
        self.languages: frozenset[str] = frozenset(backend.chunk_languages().tolist())
        # A document filter is resolved by reading every document record; an analyst pages
        # through one filter's results and asks it several questions.
        self._allowed_documents = lru_cache(maxsize=16)(self._resolve)

    @classmethod
    def load(
        cls,
        vectors_dir: Path,
        encoder: Encoder,
        second: TextEncoder | None = None,
        ranking: RankingConfig | None = None,
    ) -> Searcher:
        """Load the live index of ``vectors_dir`` and check it against the encoders."""
        return cls(open_backend("local", vectors_dir), encoder, second, ranking)

    @property
    def build(self) -> str:
        """The name of the build being searched."""
        return self.backend.name

    @property
    def manifest(self) -> Manifest:
        """What the build holds and how it was made."""
        return self.backend.manifest

    @property
    def document_count(self) -> int:
        """How many documents the index holds."""
        return len(self.backend.documents)

    def __len__(self) -> int:
        return len(self.backend)

    def document(self, doc_id: str) -> StoredDocument | None:
        """A document of the index and its passages in reading order (``None``: unknown)."""
        record = self.backend.documents.get(doc_id)
        if record is None:
            return None
        rows = self.backend.document_rows(doc_id)
        return StoredDocument(record, [self.backend.chunk(row) for row in rows])

    @property
    def ranking(self) -> RankingConfig:
        """Candidate depth, fusion method and channel weights."""
        return self._ranking

    @ranking.setter
    def ranking(self, ranking: RankingConfig) -> None:
        # The stages are made from the ranking once; a new one makes them anew.
        self._ranking = ranking
        for stage in ("_correction", "_tokens", "_channels", "_highlights", "_roles", "_numbers"):
            self.__dict__.pop(stage, None)

    def similar(
        self,
        doc_id: str,
        paragraph: int,
        k: int = 10,
        lang: str | Collection[str] | None = None,
        filters: DocumentFilter | None = None,
    ) -> tuple[Chunk, list[SearchResult]] | None:
        """Passages that say the same as a stored one, or related things, best first.

        The passage's own stored vectors, token states and text stand in for a query's, so no
        model runs; the passage itself (every part of it) is left out.

        Args:
            doc_id: The passage's document.
            paragraph: Its paragraph number in that document.
            k: Number of results.
            lang: Keep only passages in this language (or these), if given.
            filters: Keep only passages of the documents these allow, if given.

        Returns:
            The passage and up to ``k`` results, or ``None`` when the index has no such
            passage.

        Raises:
            FilterError: ``filters`` names a document the index does not have.
        """
        rows = [
            row
            for row in self.backend.document_rows(doc_id)
            if self.backend.chunk(row).paragraph == paragraph
        ]
        if not rows:
            return None
        row = rows[0]
        second = None
        if self._uses_second:
            second = self.backend.vectors(SECOND_EMBEDDINGS, np.array([row]))
        tokens = [self._tokens.states[row].decode()] if self._tokens is not None else None
        embedded = QueryEmbeddings(
            self.backend.vectors(EMBEDDINGS, np.array([row])), second, tokens
        )
        passage = self.backend.chunk(row)
        found = self.search_vectors(
            embedded, k, lang, [passage.text], filters, leave_out=frozenset(rows)
        )
        return passage, found[0]

    @cached_property
    def language_counts(self) -> dict[str, int]:
        """How many passages the index holds in each language."""
        return dict(Counter(self._row_languages.tolist()))

    @cached_property
    def filter_values(self) -> FilterValues:
        """What the documents offer the filters: publishers, sites, the span of their dates."""
        return FilterValues.of(self.backend.documents)

    def why_empty(self, filters: DocumentFilter) -> str | None:
        """Why ``filters`` allows no document of the index, for people (``None``: it allows
        some)."""
        if self._allowed_documents(filters):
            return None
        return filters.why_empty(self.backend.documents, self.filter_values)

    def _resolve(self, filters: DocumentFilter) -> frozenset[str]:
        return filters.allowed(self.backend.documents)

    def translations(self, row: int) -> list[Translation]:
        """The passages of other languages that say what ``row`` says (its parallel passages,
        linked when the index was built)."""
        return counterparts(self.backend, row)

    def is_weak(self, results: Sequence[SearchResult]) -> bool | None:
        """Whether nothing matches well: there is no result, or the best one's raw scores,
        weighted by :attr:`RankingConfig.weak_weights` and summed, fall below
        :attr:`RankingConfig.weak_below`.

        Returns:
            ``None`` (not judged) when there are results but the weights are empty or name a
            channel the ranking lacks.
        """
        if not results:
            return True
        weights, scores = self.ranking.weak_weights, results[0].scores
        if not weights or not weights.keys() <= scores.keys():
            return None
        total = sum(weight * scores[name] for name, weight in weights.items())
        return total < self.ranking.weak_below

    def _weight(self, channel: str) -> float:
        return self.ranking.weights.get(channel, 0.0)

    @property
    def _uses_second(self) -> bool:
        """Whether a query needs the second encoder's vector."""
        return self.second is not None and bool(
            self._weight(SECOND) or self._weight(SECOND_SENTENCE)
        )

    @property
    def _offsets_languages(self) -> bool:
        """Whether passages in the query's language take the same-language offset (set in
        z-score units, so not under RRF)."""
        return bool(self.ranking.same_language_offset) and self.ranking.fusion == "zscore"

    @cached_property
    def _correction(self) -> LanguageCorrection | None:
        """The index's language correction, when the ranking corrects for languages."""
        return LanguageCorrection.of(self.backend) if self.ranking.center_languages else None

    @cached_property
    def _roles(self) -> PassageRoles | None:
        """Passage roles and document context, when the ranking uses them (z-score fusion)."""
        ranking = self.ranking
        if ranking.fusion != "zscore" or not (ranking.context_offset or ranking.document_weight):
            return None
        return PassageRoles(self.backend, ranking.context_words)

    @cached_property
    def _numbers(self) -> NumberMatch | None:
        """The question-focus feature, when the ranking weighs it (z-score fusion)."""
        if self.ranking.fusion != "zscore" or not self.ranking.number_weight:
            return None
        return NumberMatch(self.backend)

    @cached_property
    def _tokens(self) -> TokenReranker | None:
        """The token re-ranker, when the channel is on and the build's states are usable."""
        if not self._weight(TOKENS):
            return None
        states = self.backend.token_states
        if states is None or not self.compatibility.tokens:
            if self.encoder.token_layer is not None:
                # A build of an earlier version serves on, ranked without the channel.
                logger.warning(
                    "build %s has no token states of this version (it has %s, this version "
                    "takes layer %s): the token channel is off until `xlsearch rebuild-index`",
                    self.build, self.manifest.tokens, self.encoder.token_layer,
                )  # fmt: skip
            return None
        return TokenReranker(
            states, self._weight(TOKENS), self.ranking.token_depth, self.ranking.fusion,
            self._correction,
        )  # fmt: skip

    @cached_property
    def _row_languages(self) -> np.ndarray:
        """The language of each row."""
        return np.asarray(self.backend.chunk_languages(), dtype=object)

    @cached_property
    def _second_languages(self) -> frozenset[str] | None:
        """The languages the second encoder was trained on (``None``: no limit known, or no
        second encoder)."""
        return encoder_languages(self.second.name) if self.second is not None else None

    @cached_property
    def _second_rows(self) -> np.ndarray | None:
        """Which rows the second encoder was trained on the language of; ``None`` when it
        covers every row. A row of undetermined language counts as covered."""
        covers = self._second_languages
        if covers is None:
            return None
        langs = self._row_languages
        mask = np.isin(langs, [*covers, UNDETERMINED])
        if mask.all():
            return None
        skipped = Counter(langs[~mask].tolist())
        logger.info(
            "the second encoder (%s) was not trained on these languages, so its channels do not "
            "score their passages: %s",
            self.second.name if self.second is not None else None,
            ", ".join(f"{lang} ({n})" for lang, n in sorted(skipped.items())),
        )
        return mask

    def _same_language(self, rows: np.ndarray, query_lang: str, vector: np.ndarray) -> np.ndarray:
        """Which of ``rows`` are in the query's language: the one its text is identified as,
        else (too short to tell) the language group whose passages' mean vector is nearest.

        The text decides where it can: with few passages per language a group's mean carries
        its articles' topics, and the group nearest to a question is then the one holding its
        answer, whatever the question's language.
        """
        if query_lang != UNDETERMINED:
            return np.asarray(self._row_languages[rows] == query_lang)
        correction = self._correction
        assert correction is not None
        return np.asarray(correction.groups[rows] == correction.query_group(vector))

    def _coverage(self, rows: np.ndarray, query_lang: str) -> dict[str, np.ndarray] | None:
        """Per channel, which of ``rows`` it scores (``None``: every channel scores all): the
        second encoder's channels score neither a passage nor a query in a language it was not
        trained on."""
        covers = self._second_languages
        if covers is None:
            return None
        if query_lang != UNDETERMINED and query_lang not in covers:
            mask = np.zeros(len(rows), dtype=bool)
        elif self._second_rows is None:
            return None
        else:
            mask = self._second_rows[rows]
        return {SECOND: mask, SECOND_SENTENCE: mask}

    @cached_property
    def _channels(self) -> list[Channel]:
        """The channels fused, in a fixed order."""
        backend, correction = self.backend, self._correction
        found: list[Channel] = [VectorChannel(DENSE, backend, EMBEDDINGS, False, correction)]
        if self._weight(DENSE_SENTENCE):
            found.append(self._highlights)
        if self.second is not None:
            found.append(VectorChannel(SECOND, backend, SECOND_EMBEDDINGS, True, correction))
            if self._weight(SECOND_SENTENCE):
                found.append(
                    SentenceChannel(
                        SECOND_SENTENCE, backend, SECOND_SENTENCE_EMBEDDINGS, True, correction
                    )
                )
        if self._weight(LEXICAL):
            found.append(LexicalChannel(LEXICAL, backend, correction))
        return found

    @cached_property
    def _highlights(self) -> SentenceChannel:
        """The primary encoder's best-sentence channel, which also finds each result's
        highlight, whether or not it is fused."""
        return SentenceChannel(
            DENSE_SENTENCE, self.backend, SENTENCE_EMBEDDINGS, False, self._correction
        )

    def search(
        self,
        query: str,
        k: int = 10,
        lang: str | Collection[str] | None = None,
        filters: DocumentFilter | None = None,
        group: bool = True,
    ) -> list[SearchResult]:
        """Rank passages for one query.

        Args:
            query: Free text in any language the model knows.
            k: Number of results.
            lang: Keep only passages in this language (ISO 639-1), or in any of these, if
                given.
            filters: Keep only passages of the documents these allow, if given.
            group: One result per fact: a passage and its translations are one result (see
                :func:`~embed.ranking.grouping.one_per_fact`); ``False`` lists each passage on
                its own.

        Returns:
            Up to ``k`` results, best first.

        Raises:
            FilterError: ``filters`` names a document the index does not have.
        """
        return self.search_batch([query], k=k, lang=lang, filters=filters, group=group)[0]

    def search_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        lang: str | Collection[str] | None = None,
        filters: DocumentFilter | None = None,
        group: bool = True,
    ) -> list[list[SearchResult]]:
        """Rank passages for several queries, embedding them in one batch per encoder."""
        queries = list(queries)
        embedded = self.embed_queries(queries)
        return self.search_vectors(embedded, k, lang, queries, filters, group)

    def embed_queries(self, queries: Sequence[str]) -> QueryEmbeddings:
        """What every enabled channel needs of the queries, each encoder run once."""
        queries = list(queries)
        tokens = None
        if self._tokens is not None:
            vectors, tokens = self.encoder.encode_queries_with_tokens(queries)
        else:
            vectors = self.encoder.encode_queries(queries)
        second = None
        if self.second is not None and self._uses_second:
            second = self.second.encode_queries(queries)
        return QueryEmbeddings(vectors, second, tokens)

    def search_vectors(
        self,
        embedded: QueryEmbeddings,
        k: int = 10,
        lang: str | Collection[str] | None = None,
        queries: Sequence[str] | None = None,
        filters: DocumentFilter | None = None,
        group: bool = True,
        leave_out: frozenset[int] = frozenset(),
    ) -> list[list[SearchResult]]:
        """Rank passages for queries already embedded.

        Args:
            embedded: The queries' embeddings (see :meth:`embed_queries`); a channel whose
                part is missing is skipped.
            k: Results per query.
            lang: Language filter.
            queries: The query texts, for the lexical channel (skipped when ``None``).
            filters: Document filter, applied with the language filter inside the candidate
                search.
            group: One result per fact (see :meth:`search`).
            leave_out: Rows never shown; their translations still may be.
        """
        count = len(embedded.vectors)
        if len(self.backend) == 0 or count == 0:
            return [[] for _ in range(count)]
        vectors = np.ascontiguousarray(embedded.vectors, dtype=np.float32)
        embedded = embedded._replace(vectors=vectors)
        wanted = max(k + len(leave_out), self.ranking.candidates)
        docs = self._allowed_documents(filters) if filters is not None else None
        # Every product here is too small to split, and idle BLAS threads spin on the cores
        # that ONNX Runtime needs for the next query's encoders (docs/decisions.md).
        with blas_threads(1):
            langs = None if lang is None else frozenset([lang] if isinstance(lang, str) else lang)
            found = self.backend.candidates(vectors, wanted, RowFilter(langs, docs))
            return [
                self._rank(
                    candidates,
                    embedded.query(i, queries[i] if queries else None),
                    k,
                    group,
                    leave_out,
                )
                for i, candidates in enumerate(found)
            ]

    def _rank(
        self,
        candidates: Candidates,
        query: Query,
        k: int,
        group: bool,
        leave_out: frozenset[int] = frozenset(),
    ) -> list[SearchResult]:
        own = len(candidates.rows)
        if not own:
            return []
        if self.ranking.use_translations:
            candidates = with_counterparts(self.backend, candidates, query.vector)
        scored = CandidateSet(
            candidates.rows,
            candidates.scores,
            own,
            self.backend.span_runs(candidates.rows)
            if self.backend.has(SENTENCE_EMBEDDINGS)
            else None,
        )
        channels: dict[str, ChannelScores] = {}
        for channel in self._channels:
            scores = channel.score(query, scored)
            if scores is not None:
                channels[channel.name] = scores
        highlights = channels.get(DENSE_SENTENCE)
        if highlights is None:
            highlights = self._highlights.score(query, scored)
        covered = self._coverage(scored.rows, query.lang)
        fused = fuse(
            {name: scores.centred for name, scores in channels.items()},
            self.ranking.weights,
            self.ranking.fusion,
            covered,
        )
        reported = {name: scores.raw for name, scores in channels.items()}
        for name, mask in (covered or {}).items():
            if name in reported:
                # A result shows no score of a channel that could not score it.
                reported[name] = np.where(mask, reported[name], np.nan)
        if self._tokens is not None and query.tokens is not None:
            fused, reported[TOKENS] = self._tokens.rerank(fused, query.tokens, scored.rows)
        if self._numbers is not None and query.text is not None:
            matched = self._numbers.score(query.text, scored.rows)
            if matched is not None:
                fused = fused + self.ranking.number_weight * matched
        roles = self._roles
        if roles is not None:
            if self.ranking.document_weight:
                fused = roles.document_context(fused, scored.rows, self.ranking.document_weight)
            context = roles.context(scored.rows)
            # As for languages: only a mix among the rows that can be results is worth a shift.
            if context[:own].any() and not context[:own].all():
                fused = fused + self.ranking.context_offset * context
        if self._correction is not None and self._offsets_languages:
            same = self._same_language(scored.rows, query.lang, query.vector)
            # Only the rows that can be results decide (a shift of all of them would change
            # nothing); their translations take the offset too, so that a passage cannot lose
            # it by taking the score of its twin in the query's language.
            if same[:own].any() and not same[:own].all():
                fused = fused + self.ranking.same_language_offset * same
        final = fused[:own]
        if self.ranking.use_translations:
            final = best_of_translations(self.backend, scored.rows, fused, own)
        order = np.lexsort((-fused[:own], -final))
        if leave_out:
            order = order[~np.isin(scored.rows[order], np.fromiter(leave_out, np.int64))]
        if group and self.ranking.use_translations:
            order = one_per_fact(self.backend, order, scored.rows, k, query.lang, self._roles)
        order = order[:k]
        best_spans = highlights.spans if highlights is not None else None
        return [
            self._result(rank, int(scored.rows[i]), float(final[i]), reported, i, best_spans)
            for rank, i in enumerate(order.tolist(), start=1)
        ]

    def _result(
        self,
        rank: int,
        row: int,
        score: float,
        reported: dict[str, np.ndarray],
        i: int,
        best_spans: np.ndarray | None,
    ) -> SearchResult:
        """Result ``rank``: row ``row``, the ``i``-th of the scored candidates."""
        return SearchResult(
            rank=rank,
            score=round(score, 6),
            chunk=self.backend.chunk(row),
            scores={
                name: round(float(values[i]), 6)
                for name, values in reported.items()
                if not np.isnan(values[i])
            },
            highlights=[] if best_spans is None else [self.backend.span(int(best_spans[i]))],
            translations=counterparts(self.backend, row),
        )


def _mismatch(
    backend: IndexBackend, name: str | None, checksum: str | None, encoder: TextEncoder
) -> ModelMismatchError:
    return ModelMismatchError(
        f"index {backend.name} was built with model {name!r} (checksum "
        f"{str(checksum)[:12]}), not with {encoder.name!r} (checksum {encoder.checksum[:12]}); "
        "rebuild the index or use that model"
    )

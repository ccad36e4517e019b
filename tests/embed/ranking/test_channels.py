"""Ranking stages taken one at a time: the channels and the language correction."""

from __future__ import annotations

import numpy as np

from embed.ranking.centering import LanguageCorrection
from embed.ranking.channels import CandidateSet, SentenceChannel
from embed.ranking.query import Query
from embed.ranking.searcher import Searcher
from embed.store.format import SENTENCE_EMBEDDINGS


def _candidates(searcher: Searcher, query: str) -> tuple[CandidateSet, Query]:
    embedded = searcher.embed_queries([query])
    found = searcher.backend.candidates(embedded.vectors, 20, None)[0]
    rows = found.rows
    spans = searcher.backend.span_runs(rows)
    return CandidateSet(rows, found.scores, len(rows), spans), embedded.query(0, query)


def test_the_sentence_channel_takes_each_rows_best_span(searcher: Searcher) -> None:
    candidates, query = _candidates(searcher, "Bortnikov thanked Japarov for the warm welcome")
    channel = SentenceChannel("dense_sentence", searcher.backend, SENTENCE_EMBEDDINGS, False, None)
    scores = channel.score(query, candidates)
    assert scores is not None and scores.spans is not None
    spans = searcher.backend.vectors(SENTENCE_EMBEDDINGS, slice(None))
    owners = searcher.backend.span_rows()
    for i, row in enumerate(candidates.rows.tolist()):
        mine = np.flatnonzero(owners == row)
        cosines = spans[mine] @ query.vector
        assert np.isclose(scores.raw[i], cosines.max(), atol=1e-6)
        assert scores.spans[i] == mine[int(np.argmax(cosines))]
    assert np.array_equal(scores.raw, scores.centred), "no correction given, none applied"


def test_the_language_correction_is_made_once_per_index_from_both_languages(
    searcher: Searcher,
) -> None:
    correction = LanguageCorrection.of(searcher.backend)
    assert correction is not None and correction.n == 2
    assert len(correction.groups) == len(searcher)
    assert set(correction.centroids) >= {"embeddings", SENTENCE_EMBEDDINGS}
    # A candidate list in one language matches every BM25 term; in two, the shared ones only.
    ru = np.flatnonzero(searcher.backend.chunk_languages() == "ru")
    assert correction.lexical_terms(ru[:5]) is None
    both = np.array([ru[0], int(np.flatnonzero(searcher.backend.chunk_languages() == "en")[0])])
    assert correction.lexical_terms(both) is correction.shared_terms

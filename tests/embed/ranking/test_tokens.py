"""The token channel: re-ranking the head of the list, and builds whose states differ."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest

from embed.backends.local import LocalIndex
from embed.models.encoder import Encoder
from embed.ranking.fusion import TOKENS, RankingConfig
from embed.ranking.searcher import Searcher
from embed.ranking.tokens import TokenReranker
from embed.store.builds import load_index
from embed.store.format import TokensEntry


def test_a_build_with_earlier_token_states_is_ranked_without_them_and_says_so(
    seed_vectors: Path, encoder: Encoder, caplog: pytest.LogCaptureFixture
) -> None:
    data = load_index(seed_vectors)
    # As builds of an earlier token-state version record them.
    earlier = data.manifest.model_copy(update={"tokens": TokensEntry(layer=8, version=1)})
    searcher = Searcher(LocalIndex(dataclasses.replace(data, manifest=earlier)), encoder)
    assert searcher.compatibility.stale == ["tokens"]
    with caplog.at_level(logging.WARNING, logger="embed.ranking.searcher"):
        result = searcher.search("54-е заседание Совета", k=1)[0]
    assert TOKENS not in result.scores
    assert "token channel is off until `xlsearch rebuild-index`" in caplog.text


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_token_channel_tells_the_44th_meeting_from_the_54th(
    searcher: Searcher, weight: float
) -> None:
    # The dense channels place the 54th CIS meeting (000#2 and its Russian twin) first; the
    # number and the RATS/SCO acronyms meet their English tokens only token by token.
    # The number match, which tells them apart too, is off so that the channel is seen alone.
    ranking = searcher.ranking.model_copy(
        update={"weights": {**searcher.ranking.weights}, "number_weight": 0.0}
    )
    ranking.weights[TOKENS] = weight
    tuned = Searcher(searcher.backend, searcher.encoder, searcher.second, ranking)
    top = tuned.search("44-е заседание Совета РАТС ШОС под председательством Кыргызстана", k=1)[0]
    found = (top.chunk.doc_id[:3], top.chunk.paragraph) == ("004", 3)
    assert found == (weight > 0), [top.chunk.doc_id, top.chunk.paragraph, top.scores]
    assert (TOKENS in top.scores) == (weight > 0)


def test_default_ranking_weighs_the_token_channel() -> None:
    assert RankingConfig().weights[TOKENS] > 0


def test_token_channel_rescores_only_the_head_of_the_list(searcher: Searcher) -> None:
    results = searcher.search(
        "Bortnikov thanked Japarov for the warm welcome", k=len(searcher), group=False
    )
    depth = searcher.ranking.token_depth
    assert len(results) == len(searcher) > depth
    assert sum(TOKENS in r.scores for r in results) == depth
    assert TOKENS in results[0].scores and 0 < results[0].scores[TOKENS] <= 1


def test_states_taken_another_way_are_not_compared(searcher: Searcher) -> None:
    manifest = searcher.manifest.model_copy(update={"tokens": TokensEntry(layer=3, version=1)})
    assert isinstance(searcher.backend, LocalIndex)
    other = Searcher(
        LocalIndex(dataclasses.replace(searcher.backend.data, manifest=manifest)),
        searcher.encoder,
        searcher.second,
        searcher.ranking,
    )
    assert TOKENS in searcher.search("Bortnikov", k=1)[0].scores
    assert TOKENS not in other.search("Bortnikov", k=1)[0].scores


def test_token_reranking_touches_the_head_only(searcher: Searcher) -> None:
    states = searcher.backend.token_states
    assert states is not None
    reranker = TokenReranker(states, 1.0, 3, "zscore", None)
    rows = np.arange(10)
    fused = np.linspace(1.0, 0.0, 10)
    query = searcher.embed_queries(["Бортников"]).tokens
    assert query is not None
    added, raw = reranker.rerank(fused, query[0], rows)
    assert np.isnan(raw[3:]).all() and not np.isnan(raw[:3]).any()
    # Below the head every row gets the same addition: their order does not change.
    assert np.allclose(np.diff(added[3:]), np.diff(fused[3:]))
    assert searcher.ranking.weights[TOKENS] > 0

"""Late interaction: the token states kept at build and query time, and MaxSim over them."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest

from embed.index.format import TokensEntry
from embed.index.local import LocalIndex
from embed.index.store import load_index
from embed.index.token_store import TokenStates
from embed.models.encoder import Encoder
from embed.models.tokens import QuantisedTokens, content_tokens, token_layer
from embed.ranking.fusion import TOKENS, RankingConfig
from embed.ranking.searcher import Searcher


def _unit(rows: list[list[float]]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def test_token_layer_is_two_thirds_up_the_stack() -> None:
    assert token_layer(12) == 8
    assert token_layer(24) == 16
    assert token_layer(1) == 1


def test_content_tokens_leave_out_specials_padding_and_prompt() -> None:
    states = np.arange(2 * 5 * 2, dtype=np.float32).reshape(2, 5, 2) + 1
    keep = np.array([[False, True, True, True, False], [False, True, True, False, False]])
    first, second = content_tokens(states, keep, prompt_tokens=1)
    assert first.shape == (2, 2) and second.shape == (1, 2)
    assert np.allclose(first[0], states[0, 2] / np.linalg.norm(states[0, 2]))
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0)


def test_quantised_tokens_keep_their_cosines_in_a_quarter_of_the_bytes() -> None:
    rng = np.random.default_rng(0)
    tokens = _unit(rng.normal(size=(50, 384)).tolist())
    tokens[0] = 0  # a zero row has scale 0 and decodes to zeros
    quantised = QuantisedTokens.quantise(tokens)
    assert quantised.codes.dtype == np.int8 and quantised.codes.nbytes * 4 == tokens.nbytes
    assert np.array_equal(np.abs(quantised.codes[1:]).max(axis=1), np.full(49, 127))
    decoded = quantised.decode()
    assert not decoded[0].any()
    assert np.allclose(np.linalg.norm(decoded[1:], axis=1), 1.0, atol=1e-5)
    assert np.sum(decoded[1:] * tokens[1:], axis=1).min() > 0.999
    assert len(QuantisedTokens.quantise(np.zeros((0, 384), np.float32))) == 0


def _packed(passages: list[np.ndarray]) -> TokenStates:
    return TokenStates.pack([QuantisedTokens.quantise(p) for p in passages])


def test_maxsim_is_the_mean_of_each_query_tokens_best_match() -> None:
    passages = [_unit([[1, 0, 0], [0, 1, 0]]), _unit([[0, 0, 1]]), np.zeros((0, 3), np.float32)]
    states = _packed(passages)
    assert states.offsets.tolist() == [0, 2, 3, 3]
    assert np.allclose(states[1].decode(), passages[1], atol=1e-6)
    query = _unit([[1, 0, 0], [0, 1, 1]])
    scores = states.maxsim(query, np.array([0, 1, 2]))
    expected_first = (1.0 + 1 / np.sqrt(2)) / 2  # token 1 meets [1,0,0]; token 2 meets [0,1,0]
    expected_second = (0.0 + 1 / np.sqrt(2)) / 2
    assert np.allclose(scores, [expected_first, expected_second, 0.0], atol=1e-6)
    assert np.array_equal(states.maxsim(np.zeros((0, 3), np.float32), np.array([0])), [0.0])


def test_coverage_is_the_shorter_passages_maxsim_against_the_longer() -> None:
    # Passage 1 is the shorter: its tokens meet passage 0's at 1 and 1/sqrt(2), whichever
    # passage is named first (passage 0's three against passage 1 would mean (1 + sqrt(2)) / 3).
    states = _packed([_unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]]), _unit([[1, 0, 0], [0, 1, 1]])])
    expected = (1.0 + 1 / np.sqrt(2)) / 2
    assert states.coverage(0, 1) == pytest.approx(expected, abs=1e-6)
    assert states.coverage(1, 0) == pytest.approx(expected, abs=1e-6)


def test_passage_tokens_come_from_the_pass_that_makes_the_vectors(encoder: Encoder) -> None:
    texts = ["В Бишкеке проходит 54-ое заседание Совета.", "The 44th meeting of the RATS SCO."]
    vectors, states = encoder.encode_passages_with_tokens(texts)
    assert np.allclose(vectors, encoder.encode_passages(texts), atol=1e-5)
    for text, tokens in zip(texts, states, strict=True):
        words = encoder._tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokens.codes.shape == (len(words), vectors.shape[1])
        assert np.allclose(np.linalg.norm(tokens.decode(), axis=1), 1.0, atol=1e-5)


def test_seeds_index_keeps_every_chunks_tokens(searcher: Searcher, encoder: Encoder) -> None:
    states = searcher.backend.token_states
    assert states is not None and len(states.offsets) == len(searcher) + 1
    assert searcher.manifest.tokens.layer == encoder.token_layer == 8
    row = 3
    text = searcher.backend.data.chunks[row].chunk.text
    stored, fresh = states[row], encoder.encode_passages_with_tokens([text])[1][0]
    # Batched with other lengths at build time, the states differ in the last float bits, which
    # may round a code the other way.
    assert np.abs(stored.codes.astype(int) - fresh.codes).max() <= 1
    assert np.allclose(stored.scales, fresh.scales, rtol=1e-4)


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
    ranking = searcher.ranking.model_copy(update={"weights": {**searcher.ranking.weights}})
    ranking.weights[TOKENS] = weight
    tuned = Searcher(searcher.backend, searcher.encoder, searcher.second, ranking)
    top = tuned.search("44-е заседание Совета РАТС ШОС под председательством Кыргызстана", k=1)[0]
    found = (top.chunk.doc_id[:3], top.chunk.paragraph) == ("004", 3)
    assert found == (weight > 0), [top.chunk.doc_id, top.chunk.paragraph, top.scores]
    assert (TOKENS in top.scores) == (weight > 0)


def test_default_ranking_weighs_the_token_channel() -> None:
    assert RankingConfig().weights[TOKENS] > 0


def test_token_channel_rescores_only_the_head_of_the_list(searcher: Searcher) -> None:
    results = searcher.search("Bortnikov thanked Japarov for the warm welcome", k=len(searcher))
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

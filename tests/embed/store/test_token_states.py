"""A build's token states: MaxSim, coverage, and every chunk's states kept."""

from __future__ import annotations

import numpy as np
import pytest

from embed.models.encoder import Encoder
from embed.models.tokens import QuantisedTokens
from embed.ranking.searcher import Searcher
from embed.store.token_states import TokenStates


def _unit(rows: list[list[float]]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


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

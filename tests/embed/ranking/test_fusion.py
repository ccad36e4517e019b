"""Channel fusion."""

from __future__ import annotations

import numpy as np
import pytest

from embed.ranking.fusion import COVERED_SHARE_POWER, RankingConfig, fuse, rrf, zscore


def test_zscore_puts_narrow_and_wide_channels_on_one_scale() -> None:
    narrow = np.array([0.80, 0.82, 0.84])
    wide = np.array([0.0, 10.0, 20.0])
    assert np.allclose(zscore(narrow), zscore(wide))
    assert not zscore(np.array([0.5, 0.5])).any()


def test_rrf_depends_on_ranks_only() -> None:
    assert np.allclose(rrf(np.array([0.9, 0.1, 0.5])), [1 / 61, 1 / 63, 1 / 62])


def test_fuse_weights_and_ignores_channels_without_weight() -> None:
    channels = {"dense": np.array([1.0, 0.0]), "lexical": np.array([0.0, 9.0])}
    assert fuse(channels, {"dense": 1.0}, "zscore").argmax() == 0
    assert fuse(channels, {"dense": 1.0, "lexical": 2.0}, "zscore").argmax() == 1
    assert fuse(channels, {"dense": 1.0, "lexical": 2.0}, "rrf").argmax() == 1


def test_default_config_weights_every_channel() -> None:
    config = RankingConfig()
    assert config.fusion == "zscore" and config.candidates == 100
    assert set(config.weights) == {
        "dense", "dense_sentence", "second", "second_sentence", "lexical", "tokens",
    }  # fmt: skip


def test_a_channel_adds_nothing_to_the_candidates_it_does_not_cover() -> None:
    dense = np.array([0.9, 0.5, 0.1, 0.5])
    second = np.array([0.9, 0.1, 0.5, 0.0])
    covered = np.array([True, True, True, False])
    weights = {"dense": 1.0, "second": 1.0}
    fused = fuse({"dense": dense, "second": second}, weights, "zscore", {"second": covered})
    # The uncovered candidate is its dense z-score, scaled up from one channel to two.
    assert fused[3] == pytest.approx(2 * zscore(dense)[3])
    # The covered ones are standardised among themselves, at the square root of their share.
    share = (3 / 4) ** COVERED_SHARE_POWER
    assert fused[:3] == pytest.approx(zscore(dense)[:3] + share * zscore(second[:3]))
    # Whatever noise the channel gives the row it cannot score changes nothing.
    noisy = second.copy()
    noisy[3] = 99.0
    again = fuse({"dense": dense, "second": noisy}, weights, "zscore", {"second": covered})
    assert again == pytest.approx(fused)


def test_a_channel_covering_nothing_is_left_out() -> None:
    dense = np.array([0.9, 0.5, 0.1])
    nothing = np.zeros(3, dtype=bool)
    fused = fuse(
        {"dense": dense, "second": np.array([0.0, 1.0, 0.0])},
        {"dense": 1.0, "second": 1.0},
        "zscore",
        {"second": nothing},
    )
    assert np.argsort(-fused).tolist() == [0, 1, 2]

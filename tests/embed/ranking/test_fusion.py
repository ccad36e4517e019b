"""Channel fusion."""

from __future__ import annotations

import numpy as np

from embed.ranking.fusion import RankingConfig, fuse, rrf, zscore


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

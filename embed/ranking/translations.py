"""Ranking through parallel passages: a passage ranks as high as the better of itself and its
translation.

At build time each chunk is linked to the chunks of other languages that say the same thing
(:mod:`embed.indexing.alignment`). At query time the candidates' translations are scored with them,
so that an English question filtered to Russian passages reaches the Russian paragraph through
its English twin, which it matches more easily.
"""

from __future__ import annotations

import numpy as np

from embed.backends.base import Candidates, IndexBackend
from embed.ranking.results import Translation
from embed.store.format import EMBEDDINGS


def with_counterparts(
    backend: IndexBackend, candidates: Candidates, query: np.ndarray
) -> Candidates:
    """``candidates`` followed by their parallel passages not among them, with the primary
    cosines of those."""
    rows = candidates.rows
    extra: dict[int, None] = {}  # ordered and without repeats
    for row in rows.tolist():
        extra.update((int(other), None) for other, _ in backend.translations(row))
    for row in rows.tolist():
        extra.pop(row, None)
    if not extra:
        return candidates
    more = np.fromiter(extra, dtype=rows.dtype, count=len(extra))
    return Candidates(
        np.concatenate([rows, more]),
        np.concatenate([candidates.scores, backend.vectors(EMBEDDINGS, more) @ query]),
    )


def best_of_translations(
    backend: IndexBackend, scored: np.ndarray, fused: np.ndarray, own: int
) -> np.ndarray:
    """The final score of each of the first ``own`` rows of ``scored``: the better of its own
    fused score and its translations'."""
    final = fused[:own].copy()
    position = {int(row): i for i, row in enumerate(scored.tolist())}
    for i, row in enumerate(scored[:own].tolist()):
        for other, _ in backend.translations(row):
            final[i] = max(final[i], fused[position[int(other)]])
    return final


def counterparts(backend: IndexBackend, row: int) -> list[Translation]:
    """The parallel passages of ``row``."""
    return [
        Translation(backend.chunk(int(other)), float(score))
        for other, score in backend.translations(row)
    ]

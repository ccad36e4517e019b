"""Where "nothing matches well" begins: the best result's scores for questions with and without
an answer in the corpus, on XQuAD-dev.

    python bench/weak_match.py [--data ../shared/data] [--keep 0.05]

For each direction (en->ru, ru->en, en->en, ru->ru), the target language's XQuAD-dev paragraphs
are split by parity: the even ones are indexed (by the real ``rebuild-index``, cached under the
evaluation folder), and every question is asked. A question about an even paragraph has its
answer in the corpus; one about an odd paragraph does not (its article's other paragraphs may
still be there, as in a real archive). For each score of the best result (the fused ranking
score and each channel's raw score), it prints the threshold below which only ``--keep`` of the
answerable questions' best results fall, the share of unanswerable questions whose best result
falls below it (the ones the service can tell "nothing matches well"), and the area under the
ROC curve of that score as a detector of unanswerable questions. Then, for each pair of channels,
the two thresholds (from a grid of quantiles of the answerable questions' scores) that together
flag the most unanswerable questions while flagging at most ``--keep`` of the answerable ones,
a question being flagged when both of its best result's scores are below their thresholds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _common import ROOT, header, table

from embed.evaluation.benchmarks import Benchmark, _read_parallel_xquad, benchmark_searcher
from embed.evaluation.metrics import LabelledQuery, QuerySet
from embed.settings import EmbedSettings, load_encoders

DIRECTIONS = (("en", "ru"), ("ru", "en"), ("en", "en"), ("ru", "ru"))


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
    args = parser.parse_args()
    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    workdir = settings.model_cache.parent / "eval"
    best: dict[str, list[float]] = {}
    answerable: list[bool] = []
    correct = 0
    for source, target in DIRECTIONS:
        bench, has_answer = half_corpus(args.data, source, target)
        searcher, _ = benchmark_searcher(bench, workdir, encoder, second, settings.ranking)
        texts = [query.query for query in bench.query_set.queries]
        for query, results, known in zip(
            bench.query_set.queries, searcher.search_batch(texts, k=1), has_answer, strict=True
        ):
            top = results[0]
            best.setdefault("fused score", []).append(top.score)
            for channel, value in top.scores.items():
                best.setdefault(channel, []).append(value)
            answerable.append(known)
            correct += known and top.chunk.doc_id in query.relevant
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
    pairs = []
    channels = [name for name in best if name != "fused score"]
    for i, first in enumerate(channels):
        for second_channel in channels[i + 1 :]:
            pairs.append(both_below(first, second_channel, best, known, args.keep))
    pairs.sort(key=lambda row: float(str(row["unanswerable below both"]).rstrip("%")), reverse=True)
    print(
        header(
            f"bench/weak_match.py: {int(known.sum())} answerable and {int((~known).sum())} "
            f"unanswerable XQuAD-dev questions, {len(DIRECTIONS)} directions; answerable ones "
            f"answered at rank 1: {correct / known.sum():.1%}"
        )
    )
    print(table(rows))
    print()
    print(table(pairs[:5]))


def both_below(
    first: str, second: str, best: dict[str, list[float]], known: np.ndarray, keep: float
) -> dict[str, object]:
    """The thresholds of two channels that flag the most unanswerable questions (both scores
    below) while flagging at most ``keep`` of the answerable ones."""
    a, b = np.array(best[first]), np.array(best[second])
    grid = np.linspace(keep, 0.5, 46)
    found: tuple[float, float, float] = (0.0, 0.0, -1.0)
    for qa in grid:
        for qb in grid:
            ta, tb = np.quantile(a[known], qa), np.quantile(b[known], qb)
            flagged = (a < ta) & (b < tb)
            if flagged[known].mean() <= keep and flagged[~known].mean() > found[2]:
                found = (float(ta), float(tb), float(flagged[~known].mean()))
    return {
        "channels": f"{first} and {second}",
        "thresholds": f"{found[0]:.4f}, {found[1]:.4f}",
        "unanswerable below both": f"{found[2]:.1%}",
    }


if __name__ == "__main__":
    main()

"""Passage roles and document context, fitted by folds of articles on the news-shaped XQuAD-dev.

    python bench/roles.py [--data ../shared/data] [--workdir DIR] [--folds 4]

Every combination of a grid of the context offset, the document weight and the number weight
(captions of at most 12 words: 8 to 16 ranked the same) ranks the news-shaped XQuAD-dev (both
directions) and the seeds' fact and hand-written questions, through the real Searcher, each
set's questions embedded once. The articles are dealt into ``--folds`` folds at random (seed
0); each fold is ranked by the combination with the best hit@1 on the other folds' questions.
The seeds' sets take no part in the fit: their rows show what the fitted combination does on
text it never saw.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from _common import QUERIES, header, table
from answers import SEED_FACTS, seeds_set

from embed.evaluation.benchmarks import BENCHMARKS, Benchmark, benchmark_searcher
from embed.evaluation.metrics import CUTOFF, relevant_ranks
from embed.ranking.fusion import RankingConfig
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings, load_encoders

OFFSETS = (0.0, -2.0, -4.0, -5.0, -6.0)
WEIGHTS = (0.0, 0.5, 1.0, 2.0)
NUMBERS = (0.0, 1.0, 2.0)


def first_ranks(searcher: Searcher, bench: Benchmark, configs: list[RankingConfig]) -> np.ndarray:
    """The rank of each question's first right answer (0: none in the top 10), per config."""
    queries = bench.query_set.queries
    groups = []
    for lang in {q.lang for q in queries}:
        chosen = [i for i, q in enumerate(queries) if q.lang == lang]
        texts = [queries[i].query for i in chosen]
        groups.append((lang, chosen, texts, searcher.embed_queries(texts)))
    ranks = np.zeros((len(configs), len(queries)), dtype=np.int64)
    for c, config in enumerate(configs):
        searcher.ranking = config
        for lang, chosen, texts, embedded in groups:
            found = searcher.search_vectors(embedded, CUTOFF, lang, texts)
            for i, results in zip(chosen, found, strict=True):
                found_ranks = relevant_ranks(results, queries[i].relevant)
                ranks[c, i] = found_ranks[0] if found_ranks else 0
    return ranks


def news_folds(bench: Benchmark, folds: int) -> np.ndarray:
    """Each news question's fold: its article's, the articles dealt at random (seed 0)."""
    articles = [int(q.relevant[0].split("#")[0].rsplit("-", 1)[1]) for q in bench.query_set.queries]
    order = np.random.default_rng(0).permutation(max(articles) + 1)
    fold_of = {int(article): i % folds for i, article in enumerate(order)}
    return np.array([fold_of[a] for a in articles])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=4)
    args = parser.parse_args()
    settings = EmbedSettings()
    workdir = args.workdir or settings.model_cache.parent / "eval"
    encoder, second = load_encoders(settings)
    grid = list(itertools.product(OFFSETS, WEIGHTS, NUMBERS))
    configs = [
        RankingConfig(context_offset=o, document_weight=d, number_weight=n) for o, d, n in grid
    ]
    news = BENCHMARKS["xquad-news"](args.data)
    held = [seeds_set(SEED_FACTS, "seed-facts"), seeds_set(QUERIES, "seeds")]
    ranks: dict[str, np.ndarray] = {}
    for bench in news + held:
        searcher, _ = benchmark_searcher(bench, workdir, encoder, second, RankingConfig())
        name = f"{bench.query_set.name} {bench.query_set.direction}"
        ranks[name] = first_ranks(searcher, bench, configs)
        print(f"ranked {name}", flush=True)
    news_names = [f"{b.query_set.name} {b.query_set.direction}" for b in news]
    fold = np.concatenate([news_folds(b, args.folds) for b in news])
    news_hits = np.concatenate([ranks[n] == 1 for n in news_names], axis=1)

    rows = []
    for c, (offset, weight, numbers) in enumerate(grid):
        row: dict[str, object] = {
            "context offset": offset,
            "document weight": weight,
            "number weight": numbers,
        }
        row.update({name: round(float(np.mean(r[c] == 1)), 3) for name, r in ranks.items()})
        rows.append(row)
    chosen = []
    out_of_fold = np.zeros(news_hits.shape[1], dtype=bool)
    for f in range(args.folds):
        best = int(np.argmax(news_hits[:, fold != f].mean(axis=1)))
        chosen.append(grid[best])
        out_of_fold[fold == f] = news_hits[best, fold == f]
    print(header("Passage roles and document context, by folds of articles"))
    print(table(rows))
    print(f"\nchosen per fold (context offset, document weight, number weight): {chosen}")
    print(
        f"news-shaped XQuAD-dev, out of fold: hit@1 {out_of_fold.mean():.3f} "
        f"(none of it: {news_hits[grid.index((0.0, 0.0, 0.0))].mean():.3f})"
    )


if __name__ == "__main__":
    main()

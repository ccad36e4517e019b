"""The same-language offset, fitted by folds of articles on XQuAD-dev mixed.

    python bench/language_offset.py [--data ../shared/data] [--workdir DIR] [--folds 5]

For each offset of a grid, both mixed directions (``xquad_mixed``: each paragraph indexed in
one language only) are ranked by the real Searcher with the default ranking and that offset,
keeping the rank of each question's answer. XQuAD-dev's articles are dealt into ``--folds``
folds at random (seed 0); for each fold the offset with the best hit@1 (plus a tenth of MRR@10
to break ties) on the other folds' questions is chosen and scored on that fold's questions, so
that no question's article is both fitted and judged. Prints the grid's hit@1 over all
questions, each fold's choice, and the out-of-fold hit@1 against no offset. The other sets are
not ranked: their candidates hold one language (or, with translations, reach the other one
only through a passage's twin), where the offset moves nothing (bench/quality.py shows it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _common import ROOT, article_folds, header, query_fold, table

from embed.evaluation.benchmarks import benchmark_searcher, xquad_mixed
from embed.evaluation.metrics import CUTOFF, relevant_ranks
from embed.settings import EmbedSettings, load_encoders

GRID = (0.0, -1.0, -2.0, -2.5, -3.0, -3.5, -4.0, -4.5, -5.0, -6.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    workdir = args.workdir or settings.model_cache.parent / "eval"
    paragraph_folds = article_folds(args.data / "xquad-dev", args.folds)

    # ranks[direction][offset]: the answer's rank of each question (0: not in the top 10).
    ranks: dict[str, dict[float, np.ndarray]] = {}
    folds: dict[str, np.ndarray] = {}
    same: dict[str, np.ndarray] = {}
    for source in ("en", "ru"):
        bench = xquad_mixed(args.data / "xquad-dev", source)
        searcher, _ = benchmark_searcher(bench, workdir, encoder, second, settings.ranking)
        queries = bench.query_set.queries
        direction = bench.query_set.direction
        folds[direction] = np.array([query_fold(q, paragraph_folds) for q in queries])
        # Whether each answer is written in its question's language (half of them are).
        answer_lang = [
            searcher.backend.chunk(searcher.backend.document_rows(q.relevant[0])[0]).lang
            for q in queries
        ]
        same[direction] = np.array([lang == source for lang in answer_lang])
        ranks[direction] = {}
        for offset in GRID:
            searcher.ranking = settings.ranking.model_copy(update={"same_language_offset": offset})
            ranked = searcher.search_batch([q.query for q in queries], k=CUTOFF)
            pairs = zip(queries, ranked, strict=True)
            first = [(relevant_ranks(found, q.relevant) or [0])[0] for q, found in pairs]
            ranks[direction][offset] = np.array(first)

    def merit(direction: str, offset: float, members: np.ndarray) -> float:
        found = ranks[direction][offset][members]
        reciprocal = np.where(found > 0, 1 / np.maximum(found, 1), 0.0)
        return float(np.mean(found == 1) + 0.1 * np.mean(reciprocal))

    grid_rows = []
    for offset in GRID:
        row: dict[str, object] = {"offset": offset}
        for direction, by in ranks.items():
            hit = by[offset] == 1
            row[f"{direction} hit@1"] = float(np.mean(hit))
            row[f"{direction}, same-language answers"] = float(np.mean(hit[same[direction]]))
            row[f"{direction}, other-language answers"] = float(np.mean(hit[~same[direction]]))
        grid_rows.append(row)
    fold_rows, hits = [], {d: np.zeros(len(f), dtype=bool) for d, f in folds.items()}
    for fold in range(args.folds):

        def training(offset: float, fold: int = fold) -> float:
            return sum(merit(d, offset, folds[d] != fold) for d in ranks)

        chosen = max(GRID, key=training)
        for direction, of_query in folds.items():
            held = of_query == fold
            hits[direction][held] = ranks[direction][chosen][held] == 1
        held_out = int(sum((of_query == fold).sum() for of_query in folds.values()))
        fold_rows.append(
            {"fold": fold, "questions": held_out, "offset chosen on the other folds": chosen}
        )
    result_rows = [
        {"direction": d, "no offset hit@1": float(np.mean(ranks[d][0.0] == 1)),
         "out-of-fold hit@1": float(np.mean(hits[d]))}
        for d in ranks
    ]  # fmt: skip
    print(header("bench/language_offset.py: the same-language offset on XQuAD-dev mixed"))
    print(table(grid_rows))
    print()
    print(table(fold_rows))
    print()
    print(table(result_rows))


if __name__ == "__main__":
    main()

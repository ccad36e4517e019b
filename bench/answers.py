"""Answers, not topics: hit@1 on news-shaped questions, per set and language, before and after.

    python bench/answers.py [--data ../shared/data] [--workdir DIR]

Sets: XQuAD-dev made news-shaped (``xquad-news``: each article in English and Russian, with its
title and a one-line caption, no filter) and the fact questions over the seeds
(``bench/queries/seed-facts.jsonl``, split by the question's language). Besides hit@1 and
MRR@10 it counts the result lists (k=10) holding a passage together with its own translation.
The guards are every set ``bench/quality.py`` runs, whose figures must not drop.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from embed.evaluation.benchmarks import BENCHMARKS, Benchmark, benchmark_searcher
from embed.evaluation.metrics import CUTOFF, LabelledQuery, QuerySet, read_jsonl, relevant_ranks
from embed.ranking.fusion import RankingConfig
from embed.ranking.results import SearchResult
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings, load_encoders
from embed.util.tables import markdown_table

HERE = Path(__file__).resolve().parent
SEED_FACTS = HERE / "queries" / "seed-facts.jsonl"
SEEDS = HERE.parent / "seeds"

BEFORE = "before: no roles, document context or number match; group=none"
AFTER = "after: the default ranking and grouping"
CONFIGS: dict[str, tuple[RankingConfig, bool]] = {
    BEFORE: (RankingConfig(context_offset=0, document_weight=0, number_weight=0), False),
    AFTER: (RankingConfig(), True),
}


def seeds_set(path: Path, name: str) -> Benchmark:
    """The seeds as a corpus and the labelled questions of ``path`` over them."""
    corpus = {p.stem: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}
    return Benchmark(corpus, QuerySet(name, "any", read_jsonl(path)), "seeds")


def seed_facts() -> list[Benchmark]:
    """The seeds' fact questions, one set per language asked in."""
    whole = seeds_set(SEED_FACTS, "seed-facts")
    asked = [
        json.loads(line)["asked"]
        for line in SEED_FACTS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    by_lang: dict[str, list[LabelledQuery]] = {}
    for lang, query in zip(asked, whole.query_set.queries, strict=True):
        by_lang.setdefault(lang, []).append(query)
    return [
        Benchmark(whole.corpus, QuerySet("seed-facts", f"{lang}->any", queries), "seeds")
        for lang, queries in by_lang.items()
    ]


def twin_lists(lists: Iterable[list[SearchResult]]) -> int:
    """How many result lists hold a passage together with one of its translations."""
    count = 0
    for results in lists:
        shown = {(r.chunk.doc_id, r.chunk.paragraph, r.chunk.part) for r in results}
        count += any(
            (t.chunk.doc_id, t.chunk.paragraph, t.chunk.part) in shown
            for r in results
            for t in r.translations
        )
    return count


def score(searcher: Searcher, bench: Benchmark, group: bool) -> dict[str, object]:
    """hit@1, MRR@10 and twin lists of one set, and its misses."""
    queries = bench.query_set.queries
    hits = reciprocal = 0.0
    lists = []
    misses = []
    for lang in {q.lang for q in queries}:
        chosen = [q for q in queries if q.lang == lang]
        found = searcher.search_batch([q.query for q in chosen], k=CUTOFF, lang=lang, group=group)
        for query, results in zip(chosen, found, strict=True):
            ranks = relevant_ranks(results, query.relevant)
            hits += bool(ranks) and ranks[0] == 1
            reciprocal += 1 / ranks[0] if ranks else 0.0
            if not ranks or ranks[0] != 1:
                misses.append((query.query, ranks[0] if ranks else None, results[0].chunk))
            lists.append(results)
    n = len(queries)
    return {
        "hit@1": round(hits / n, 3),
        "MRR@10": round(reciprocal / n, 3),
        "lists with twins": f"{twin_lists(lists)}/{n}",
        "misses": misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--guards", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--misses", action="store_true", help="List each set's misses after.")
    args = parser.parse_args()
    settings = EmbedSettings()
    workdir = args.workdir or settings.model_cache.parent / "eval"
    encoder, second = load_encoders(settings)
    names = ["xquad-news"] + (
        ["xquad", "xquad-mixed", "xquad-parallel", "tatoeba"] if args.guards else []
    )
    benches = seed_facts() + [b for name in names for b in BENCHMARKS[name](args.data)]
    rows = []
    for bench in benches:
        searcher, _ = benchmark_searcher(bench, workdir, encoder, second, RankingConfig())
        row: dict[str, object] = {"set": f"{bench.query_set.name} {bench.query_set.direction}"}
        row["questions"] = len(bench.query_set.queries)
        for label, (config, group) in CONFIGS.items():
            searcher.ranking = config
            result = score(searcher, bench, group)
            short = "before" if label == BEFORE else "after"
            row[f"hit@1 {short}"] = result["hit@1"]
            row[f"MRR@10 {short}"] = result["MRR@10"]
            row[f"twin lists {short}"] = result["lists with twins"]
            if args.misses and label == AFTER:
                for query, rank, top in result["misses"]:  # type: ignore[attr-defined]
                    print(
                        f"  miss {row['set']}: {query!r} rank {rank}; first "
                        f"{top.doc_id}#{top.paragraph}: {top.text[:70]!r}",
                        file=sys.stderr,
                    )
        rows.append(row)
        print(markdown_table([row]).splitlines()[-1], flush=True)
    print()
    print(f"{BEFORE}; {AFTER}")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()

"""Labelled query sets and the ranking metrics they are scored by (hit@k, MRR, nDCG).

Every set runs through the same :class:`~embed.ranking.searcher.Searcher` the service uses.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from embed.ranking.results import SearchResult
from embed.ranking.searcher import Searcher

CUTOFF = 10


@dataclass(frozen=True)
class LabelledQuery:
    """A query and what counts as a right answer.

    Attributes:
        query: The query text.
        relevant: ``doc_id`` (any passage of it) or ``doc_id#paragraph`` entries.
        lang: Result language filter (as the API's ``lang``), if any.
    """

    query: str
    relevant: tuple[str, ...]
    lang: str | None = None


@dataclass(frozen=True)
class QuerySet:
    """Queries run against one index, reported as one row."""

    name: str
    direction: str
    queries: list[LabelledQuery]


@dataclass(frozen=True)
class SetScore:
    """Metrics of one query set (means over its queries)."""

    name: str
    direction: str
    queries: int
    hit_at_1: float
    hit_at_5: float
    mrr_at_10: float
    ndcg_at_10: float
    p50_ms: float
    misses: tuple[str, ...] = ()


def read_jsonl(path: Path) -> list[LabelledQuery]:
    """Read ``{"query", "relevant": [...], "lang"}`` lines (blank lines and ``#`` comments skipped).

    Raises:
        ValueError: Naming the line that is not a valid labelled query.
    """
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            record = json.loads(line)
            query = LabelledQuery(
                str(record["query"]), tuple(map(str, record["relevant"])), record.get("lang")
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a labelled query ({exc})") from exc
        if not query.query.strip() or not query.relevant:
            raise ValueError(f"{path}:{number}: empty query or no relevant entry")
        queries.append(query)
    return queries


def _matches(result: SearchResult, entry: str) -> bool:
    doc_id, _, paragraph = entry.partition("#")
    chunk = result.chunk
    return chunk.doc_id == doc_id and (not paragraph or chunk.paragraph == int(paragraph))


def relevant_ranks(results: Sequence[SearchResult], relevant: Sequence[str]) -> list[int]:
    """1-based ranks at which each relevant entry is first found (entries never found omitted)."""
    ranks = []
    for entry in relevant:
        found = next((r.rank for r in results if _matches(r, entry)), None)
        if found is not None:
            ranks.append(found)
    return sorted(ranks)


def ndcg(ranks: Sequence[int], n_relevant: int, cutoff: int = CUTOFF) -> float:
    """Binary-relevance nDCG@cutoff from the ranks of the relevant entries found."""
    dcg = sum(1 / math.log2(rank + 1) for rank in ranks if rank <= cutoff)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(n_relevant, cutoff)))
    return dcg / ideal if ideal else 0.0


def evaluate(searcher: Searcher, query_set: QuerySet, batch: int = 32) -> SetScore:
    """Run a query set and compute hit@1, hit@5, MRR@10 and nDCG@10.

    Queries are sent in batches, as ``POST /search/batch`` does; the reported latency is the
    median time per query of a batch.
    """
    searcher.search("warm-up", k=1)  # load lazily-loaded models before timing anything
    hits1 = hits5 = reciprocal = gain = 0.0
    per_query_ms: list[float] = []
    misses: list[str] = []
    items = query_set.queries
    groups: dict[str | None, list[LabelledQuery]] = {}
    for item in items:
        groups.setdefault(item.lang, []).append(item)
    for lang, group in groups.items():
        for start in range(0, len(group), batch):
            chunk = group[start : start + batch]
            began = time.perf_counter()
            results = searcher.search_batch([q.query for q in chunk], k=CUTOFF, lang=lang)
            per_query_ms.append((time.perf_counter() - began) * 1000 / len(chunk))
            for item, ranked in zip(chunk, results, strict=True):
                ranks = relevant_ranks(ranked, item.relevant)
                first = ranks[0] if ranks else None
                hits1 += first == 1
                hits5 += first is not None and first <= 5
                reciprocal += 1 / first if first else 0.0
                gain += ndcg(ranks, len(item.relevant))
                if first != 1:
                    misses.append(item.query)
    n = max(len(items), 1)
    return SetScore(
        query_set.name,
        query_set.direction,
        len(items),
        round(hits1 / n, 4),
        round(hits5 / n, 4),
        round(reciprocal / n, 4),
        round(gain / n, 4),
        round(statistics.median(per_query_ms), 2) if per_query_ms else 0.0,
        tuple(misses),
    )

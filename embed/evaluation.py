"""Retrieval evaluation: labelled query sets, the two real benchmarks, and ranking metrics.

Every set runs through the same :class:`~embed.search.Searcher` the service uses, over an index
built by the real ``rebuild-index`` pipeline. The benchmarks (XQuAD-dev, Tatoeba rus-eng) are
written out as seed folders and indexed like any corpus; the indexes are kept in a cache folder
so that a second run only re-ranks.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from embed.build import rebuild_index
from embed.encoder import Encoder, TextEncoder
from embed.ranking import RankingConfig
from embed.search import Searcher, SearchResult

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


def write_corpus(folder: Path, texts: dict[str, str]) -> None:
    """Write ``doc_id -> text`` as seed files, leaving unchanged files untouched."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {f"{doc_id}.txt" for doc_id in texts}
    for stale in folder.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    for doc_id, text in texts.items():
        path = folder / f"{doc_id}.txt"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class Benchmark:
    """A corpus to index and the query set to run against it."""

    corpus: dict[str, str]
    query_set: QuerySet
    index_name: str  # the folder its index is cached in; query sets over one corpus share it


def xquad(data_dir: Path, source: str, target: str) -> Benchmark:
    """XQuAD-R: index the ``target`` paragraphs, query with the ``source`` questions."""
    by_lang = _read_parallel_xquad(data_dir, (source, target))
    paragraphs, source_questions = by_lang[target][0], by_lang[source][1]
    corpus = {f"xquad-{target}-{i:03d}": text for i, text in enumerate(paragraphs)}
    queries = [
        LabelledQuery(question, (f"xquad-{target}-{paragraph:03d}",))
        for question, paragraph in source_questions
    ]
    return Benchmark(
        corpus,
        QuerySet("xquad-dev", f"{source}->{target}", queries),
        f"xquad-dev-{source}-{target}",
    )


def xquad_mixed(data_dir: Path, source: str) -> Benchmark:
    """XQuAD-R over a corpus in two languages: each fact is in exactly one of them.

    Paragraph ``i`` is indexed in Russian when ``i`` is even and in English when it is odd, and
    the ``source`` questions ask for it: half of them cross the language boundary, and every
    cross-lingual answer competes with same-topic paragraphs in the query's own language. This
    is the seeds' situation (English and Russian articles side by side) at benchmark scale, and
    what :mod:`embed.centering` is measured on.
    """
    by_lang = _read_parallel_xquad(data_dir, ("en", "ru"))
    corpus = {
        f"xquad-mixed-{i:03d}": by_lang["ru" if i % 2 == 0 else "en"][0][i]
        for i in range(len(by_lang["en"][0]))
    }
    queries = [
        LabelledQuery(question, (f"xquad-mixed-{paragraph:03d}",))
        for question, paragraph in by_lang[source][1]
    ]
    return Benchmark(
        corpus, QuerySet("xquad-dev-mixed", f"{source}->en+ru", queries), "xquad-dev-mixed"
    )


def xquad_parallel(data_dir: Path, source: str) -> Benchmark:
    """XQuAD-R over both languages at once, asking for the answer in the other one.

    Every paragraph is indexed in English and in Russian, and each ``source`` question asks,
    with the result filter set to the other language, for the translation of its paragraph.
    This is an analyst's question against the seeds' twin articles (000 in English, 001 in
    Russian) at benchmark scale, and what the ranking's use of parallel passages is measured on.
    """
    target = "ru" if source == "en" else "en"
    by_lang = _read_parallel_xquad(data_dir, ("en", "ru"))
    corpus = {
        f"xquad-{lang}-{i:03d}": text
        for lang in ("en", "ru")
        for i, text in enumerate(by_lang[lang][0])
    }
    queries = [
        LabelledQuery(question, (f"xquad-{target}-{paragraph:03d}",), target)
        for question, paragraph in by_lang[source][1]
    ]
    return Benchmark(
        corpus,
        QuerySet("xquad-dev-parallel", f"{source}->{target} (of en+ru)", queries),
        "xquad-dev-parallel",
    )


def _read_parallel_xquad(
    data_dir: Path, langs: Sequence[str]
) -> dict[str, tuple[list[str], list[tuple[str, int]]]]:
    """Paragraphs and questions of XQuAD-dev in each of ``langs``, checked to be parallel."""
    by_lang = {lang: _read_xquad(data_dir / f"xquad-dev.{lang}.json") for lang in langs}
    answers = [[p for _, p in questions] for _, questions in by_lang.values()]
    if any(a != answers[0] for a in answers):
        raise ValueError("XQuAD files are not parallel")
    return by_lang


def _read_xquad(path: Path) -> tuple[list[str], list[tuple[str, int]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs: list[str] = []
    questions: list[tuple[str, int]] = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            questions += [(qa["question"], len(paragraphs)) for qa in paragraph["qas"]]
            paragraphs.append(paragraph["context"])
    return paragraphs, questions


def tatoeba(data_dir: Path, source: str, target: str) -> Benchmark:
    """Tatoeba: index the ``target`` sentences, query with their ``source`` translations."""
    names = {"en": "eng", "ru": "rus"}

    def read(lang: str) -> list[str]:
        return (data_dir / f"tatoeba.rus-eng.{names[lang]}").read_text("utf-8").splitlines()

    targets, sources = read(target), read(source)
    corpus = {f"tatoeba-{target}-{i:04d}": text for i, text in enumerate(targets)}
    queries = [LabelledQuery(q, (f"tatoeba-{target}-{i:04d}",)) for i, q in enumerate(sources)]
    return Benchmark(
        corpus, QuerySet("tatoeba", f"{source}->{target}", queries), f"tatoeba-{source}-{target}"
    )


def benchmark_searcher(
    benchmark: Benchmark,
    workdir: Path,
    encoder: Encoder,
    second: TextEncoder | None,
    ranking: RankingConfig,
) -> tuple[Searcher, float]:
    """Index a benchmark corpus under ``workdir`` (incrementally) and load a searcher on it.

    Returns:
        The searcher and the rebuild's seconds (near zero when the cached index is current).
    """
    name = benchmark.index_name
    seeds, vectors = workdir / name / "seeds", workdir / name / "vectors"
    write_corpus(seeds, benchmark.corpus)
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    if summary.chunks < len(benchmark.corpus):
        raise RuntimeError(f"{name}: {summary.chunks} chunks for {len(benchmark.corpus)} texts")
    return Searcher.load(vectors, encoder, second, ranking), summary.seconds


BENCHMARKS: dict[str, Callable[[Path], list[Benchmark]]] = {
    "xquad": lambda data: [
        xquad(data / "xquad-dev", "en", "ru"),
        xquad(data / "xquad-dev", "ru", "en"),
    ],
    "xquad-mixed": lambda data: [
        xquad_mixed(data / "xquad-dev", "en"),
        xquad_mixed(data / "xquad-dev", "ru"),
    ],
    "xquad-parallel": lambda data: [
        xquad_parallel(data / "xquad-dev", "en"),
        xquad_parallel(data / "xquad-dev", "ru"),
    ],
    "tatoeba": lambda data: [
        tatoeba(data / "tatoeba", "en", "ru"),
        tatoeba(data / "tatoeba", "ru", "en"),
    ],
}

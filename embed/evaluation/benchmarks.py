"""The real benchmarks (XQuAD-dev, Tatoeba rus-eng) as corpora and query sets.

Each benchmark is written out as a seed folder and indexed by the real ``rebuild-index``
pipeline, like any corpus; the indexes are kept in a cache folder so that a second run only
re-ranks. Where the data comes from: ``../shared/data/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from razdel import sentenize

from embed.evaluation.metrics import LabelledQuery, QuerySet
from embed.index.build import rebuild_index
from embed.models.encoder import Encoder, TextEncoder
from embed.ranking.fusion import RankingConfig
from embed.ranking.searcher import Searcher


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
    what :mod:`embed.ranking.centering` is measured on.
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


def xquad_news(data_dir: Path, source: str) -> Benchmark:
    """XQuAD-R made news-shaped: whole articles, each in English and Russian, with a title and
    a caption.

    Each of XQuAD-dev's articles is one document per language: its title (XQuAD gives it in
    English only, so both twins carry it), then a one-line caption (the first sentence of its
    first paragraph), then its paragraphs. The ``source`` questions ask for their paragraph in
    either language, with no filter: titles, captions and the paragraph's own translation
    compete with the answer, as they do in a news archive.
    """
    articles = {
        lang: _read_xquad_articles(data_dir / f"xquad-dev.{lang}.json") for lang in ("en", "ru")
    }
    corpus: dict[str, str] = {}
    for lang, found in articles.items():
        for number, (title, paragraphs, _) in enumerate(found):
            caption = next(iter(sentenize(paragraphs[0]))).text
            heading = title.replace("_", " ")
            corpus[f"news-{lang}-{number:02d}"] = "\n\n".join([heading, caption, *paragraphs])
    queries = [
        LabelledQuery(
            question,
            tuple(
                f"news-{lang}-{number:02d}#{paragraph + NEWS_FIRST_PARAGRAPH}"
                for lang in ("en", "ru")
            ),
        )
        for number, (_, _, questions) in enumerate(articles[source])
        for question, paragraph in questions
    ]
    return Benchmark(
        corpus, QuerySet("xquad-dev-news", f"{source}->en+ru", queries), "xquad-dev-news"
    )


# In a news-shaped article paragraph 0 is the title and 1 the caption.
NEWS_FIRST_PARAGRAPH = 2


def _read_xquad_articles(path: Path) -> list[tuple[str, list[str], list[tuple[str, int]]]]:
    """Each article of an XQuAD file: title, paragraphs, and questions with their paragraph."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        (
            article["title"],
            [p["context"].lstrip("\ufeff") for p in article["paragraphs"]],
            [(qa["question"], i) for i, p in enumerate(article["paragraphs"]) for qa in p["qas"]],
        )
        for article in data["data"]
    ]


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
    "xquad-news": lambda data: [
        xquad_news(data / "xquad-dev", "en"),
        xquad_news(data / "xquad-dev", "ru"),
    ],
    "tatoeba": lambda data: [
        tatoeba(data / "tatoeba", "en", "ru"),
        tatoeba(data / "tatoeba", "ru", "en"),
    ],
}

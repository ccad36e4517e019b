"""The real benchmarks (XQuAD-dev, Tatoeba) as corpora and query sets.

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

from embed import rebuild_index
from embed.evaluation.metrics import LabelledQuery, QuerySet
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


# XQuAD-dev's twelve languages, in the order the pooled corpus rotates through them.
XQUAD_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")


def xquad_pooled(data_dir: Path, *, filtered: bool = False) -> list[Benchmark]:
    """XQuAD-R over one corpus of twelve languages, English questions.

    Article ``a`` is indexed in ``XQUAD_LANGUAGES[a % 12]`` only (two articles per language),
    so every fact is in exactly one language and an English question must reach it across
    eleven others. One query set per language of the answer, so that each is a row.

    Args:
        data_dir: The ``xquad-dev`` folder.
        filtered: Set the result filter to the answer's language (a filter must never hurt).
    """
    articles = {
        lang: _read_xquad_articles(data_dir / f"xquad-dev.{lang}.json") for lang in XQUAD_LANGUAGES
    }
    corpus: dict[str, str] = {}
    by_target: dict[str, list[LabelledQuery]] = {lang: [] for lang in XQUAD_LANGUAGES}
    for number, (_, _, questions) in enumerate(articles["en"]):
        lang = XQUAD_LANGUAGES[number % len(XQUAD_LANGUAGES)]
        for i, text in enumerate(articles[lang][number][1]):
            corpus[f"xquad12-{lang}-{number:02d}-{i:02d}"] = text
        by_target[lang] += [
            LabelledQuery(
                question, (f"xquad12-{lang}-{number:02d}-{i:02d}",), lang if filtered else None
            )
            for question, i in questions
        ]
    suffix = " (lang set)" if filtered else ""
    return [
        Benchmark(corpus, QuerySet("xquad-12", f"en->{lang}{suffix}", queries), "xquad-dev-12")
        for lang, queries in by_target.items()
    ]


def xquad_pooled_questions(data_dir: Path) -> list[Benchmark]:
    """The pooled XQuAD corpus of :func:`xquad_pooled`, asked in each of its twelve languages
    (every question, whatever its answer's language), one query set per question language."""
    corpus = xquad_pooled(data_dir)[0].corpus
    benchmarks = []
    for source in XQUAD_LANGUAGES:
        queries = [
            LabelledQuery(
                question,
                (f"xquad12-{XQUAD_LANGUAGES[number % len(XQUAD_LANGUAGES)]}-{number:02d}-{i:02d}",),
            )
            for number, (_, _, questions) in enumerate(
                _read_xquad_articles(data_dir / f"xquad-dev.{source}.json")
            )
            for question, i in questions
        ]
        benchmarks.append(
            Benchmark(
                corpus, QuerySet("xquad-12-questions", f"{source}->all", queries), "xquad-dev-12"
            )
        )
    return benchmarks


# The region's Tatoeba test sets beside rus-eng (ISO 639-3 file names, 639-1 codes).
TATOEBA_REGION = {
    "aze": "az", "bel": "be", "cmn": "zh", "hin": "hi", "hye": "hy", "kat": "ka", "kaz": "kk",
    "mon": "mn", "pes": "fa", "tat": "tt", "tuk": "tk", "uig": "ug", "ukr": "uk", "urd": "ur",
    "uzb": "uz",
}  # fmt: skip


def tatoeba_pooled(data_dir: Path, *, filtered: bool = False) -> list[Benchmark]:
    """Tatoeba over the fifteen region languages at once, English sentences as queries.

    Every region sentence is indexed, and each English sentence must find its translation
    among all of them. An English sentence that several test sets share is kept in the first
    (by file name) only, so that each has one translation in one language. One query set per
    language.

    Args:
        data_dir: The ``tatoeba`` folder.
        filtered: Set the result filter to the translation's language.
    """
    corpus: dict[str, str] = {}
    by_target: dict[str, list[LabelledQuery]] = {}
    seen: set[str] = set()
    for name, lang in TATOEBA_REGION.items():
        targets = (data_dir / f"tatoeba.{name}-eng.{name}").read_text("utf-8").splitlines()
        english = (data_dir / f"tatoeba.{name}-eng.eng").read_text("utf-8").splitlines()
        queries = []
        for i, (target, source) in enumerate(zip(targets, english, strict=True)):
            if source in seen:
                continue
            seen.add(source)
            corpus[f"tatoeba-{name}-{i:04d}"] = target
            queries.append(
                LabelledQuery(source, (f"tatoeba-{name}-{i:04d}",), lang if filtered else None)
            )
        by_target[lang] = queries
    suffix = " (lang set)" if filtered else ""
    return [
        Benchmark(corpus, QuerySet("tatoeba-region", f"en->{lang}{suffix}", queries), "tatoeba-15")
        for lang, queries in by_target.items()
    ]


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
    "xquad-12": lambda data: xquad_pooled(data / "xquad-dev"),
    "xquad-12-lang": lambda data: xquad_pooled(data / "xquad-dev", filtered=True),
    "xquad-12-questions": lambda data: xquad_pooled_questions(data / "xquad-dev"),
    "tatoeba-region": lambda data: tatoeba_pooled(data / "tatoeba"),
    "tatoeba-region-lang": lambda data: tatoeba_pooled(data / "tatoeba", filtered=True),
}

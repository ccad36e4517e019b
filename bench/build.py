"""Index build speed: a cold ``rebuild-index`` with passages on ONNX Runtime against torch.

    python bench/build.py [--docs 60] [--repeats 2] [--base REV] [--data ../shared/data]
        [--workdir DIR]

Corpus: the five seeds plus the first ``--docs`` English and the first ``--docs`` Russian
XQuAD-dev paragraphs, one file each (news articles and encyclopaedia paragraphs in both
languages). Everything below runs in one run on the same texts, the two passage backends
alternating ``--repeats`` times (medians):

* raw e5 ``encode_passages`` of the chunks and their sentences and clauses, per backend: the
  floor of the primary model's share of a build;
* ``rebuild_index`` into an empty folder with the default pipeline, per backend, models loaded
  first (``XLSEARCH_PASSAGE_BACKEND=torch`` is the path every build took before ONNX passages);
* a cold build as the ``xlsearch rebuild-index`` command, process start-up and model loading
  included, as a user meets it: this checkout against ``--base`` (by default the last commit
  before passages moved to ONNX Runtime, checked out into a temporary git worktree), alternating;
* the floor of exact fp32 arithmetic: e5's FLOPs on these texts (``bench/floor.py``'s count,
  each text's tokens with prompt and special tokens) at this CPU's practical sgemm peak, and the
  in-process ONNX build if its e5 share ran at that floor;
* the largest difference between the two builds' vectors, and an unchanged rebuild and a rebuild
  after one document changed (ONNX).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    BEFORE_ONNX_PASSAGES,
    ROOT,
    SEEDS,
    cold_rebuild_seconds,
    header,
    table,
    worktree,
)
from floor import gflops, sgemm_gflops

from embed.evaluation.benchmarks import _read_xquad, write_corpus
from embed.indexing.rebuild import rebuild_index
from embed.settings import EmbedSettings, load_encoders
from embed.store.builds import load_index

BACKENDS = ("torch", "onnx")


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def encode_all(encoder: Any, texts: list[str], spans: list[str]) -> None:
    encoder.encode_passages_with_tokens(texts)
    encoder.encode_passages(spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=60, help="XQuAD paragraphs per language")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--base", default=BEFORE_ONNX_PASSAGES, help="the commit to compare with")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()

    corpus = args.workdir / "build-corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.copytree(SEEDS, corpus)
    for lang in ("en", "ru"):
        paragraphs, _ = _read_xquad(args.data / "xquad-dev" / f"xquad-dev.{lang}.json")
        write_corpus(
            corpus / f"xquad-{lang}",
            {f"p{i:03d}": text for i, text in enumerate(paragraphs[: args.docs])},
        )

    encoders = {}
    for backend in BACKENDS:
        encoder, second = load_encoders(EmbedSettings(passage_backend=backend))
        assert second is not None, "the default configuration has a second encoder"
        encoder.encode_passages_with_tokens(["warm-up"])
        second.encode_passages(["warm-up"])
        encoders[backend] = (encoder, second)

    folders = {backend: args.workdir / f"build-{backend}" for backend in BACKENDS}
    times: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for backend in BACKENDS:
            shutil.rmtree(folders[backend], ignore_errors=True)
            encoder, second = encoders[backend]
            seconds, summary = timed(
                rebuild_index, corpus, folders[backend], encoder, second=second
            )
            times.setdefault(f"build {backend}", []).append(seconds)

    built = {backend: load_index(folders[backend]) for backend in BACKENDS}
    texts = [c.chunk.text for c in built["onnx"].chunks]
    spans = [texts[r][b:e] for r, b, e in built["onnx"].arrays["sentence_spans"].tolist()]
    for _ in range(args.repeats):
        for backend in BACKENDS:
            seconds, _ = timed(encode_all, encoders[backend][0], texts, spans)
            times.setdefault(f"raw {backend}", []).append(seconds)

    with worktree(args.base) as base:
        for _ in range(args.repeats):
            for name, checkout in (("torch", base), ("onnx", ROOT)):
                seconds = cold_rebuild_seconds(checkout, corpus, folders[name])
                times.setdefault(f"command {name}", []).append(seconds)

    median = {key: statistics.median(values) for key, values in times.items()}
    rows: list[dict[str, Any]] = []
    for what, key in (
        (f"raw e5 encode, {len(texts)} chunks + {len(spans)} spans", "raw"),
        ("rebuild-index cold, default pipeline, models loaded", "build"),
        (f"`xlsearch rebuild-index` cold, {args.base} against this checkout", "command"),
    ):
        before, after = median[f"{key} torch"], median[f"{key} onnx"]
        rows.append(
            {
                "what": what,
                "torch passages (s)": before,
                "ONNX passages (s)": after,
                "ONNX / torch": f"{after / before:.2f}x",
            }
        )
    encoder = encoders["onnx"][0]
    assert encoder.passage_onnx is not None, "the default model runs on ONNX Runtime"
    config = json.loads((encoder.passage_onnx.model_folder / "config.json").read_text())
    work = sum(gflops(config, encoder.count_tokens(text)) for text in [*texts, *spans])
    floor = work / sgemm_gflops(EmbedSettings().threads)
    at_floor = median["build onnx"] - median["raw onnx"] + floor
    rows += [
        {
            "what": f"e5 passages at the sgemm peak ({work:.0f} GFLOP): the exact fp32 floor",
            "ONNX passages (s)": floor,
            "ONNX / torch": f"{floor / median['raw torch']:.2f}x",
        },
        {
            "what": "rebuild-index, models loaded, e5 at that floor",
            "ONNX passages (s)": at_floor,
            "ONNX / torch": f"{at_floor / median['build torch']:.2f}x",
        },
    ]
    differences = {
        name: float(np.abs(built["torch"].arrays[name] - built["onnx"].arrays[name]).max())
        for name in ("embeddings", "sentence_embeddings")
    }
    encoder, second = encoders["onnx"]
    t_same, same = timed(rebuild_index, corpus, folders["onnx"], encoder, second=second)
    target = corpus / "xquad-en" / "p000.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\n\nOne more paragraph.\n", "utf-8")
    t_one, one = timed(rebuild_index, corpus, folders["onnx"], encoder, second=second)

    print(
        header(
            f"bench/build.py: {summary.documents} documents, {len(texts)} chunks, "
            f"{len(spans)} sentences and clauses, {EmbedSettings().threads} threads, "
            f"median of {args.repeats}"
        )
    )
    print(table(rows))
    print()
    print(
        table(
            [
                {"what": f"max |torch - ONNX|, {name}", "value": f"{value:.1e}"}
                for name, value in differences.items()
            ]
            + [
                {"what": f"unchanged rebuild (changed={same.changed})", "value": f"{t_same:.2f} s"},
                {
                    "what": f"one document changed ({one.embedded} chunks embedded)",
                    "value": f"{t_one:.2f} s",
                },
            ]
        )
    )


if __name__ == "__main__":
    main()

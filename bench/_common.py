"""Helpers shared by the bench scripts: percentiles, tables, a real server, synthetic indexes.

Not a benchmark itself. Every script that uses this prints its table to stdout; the machine is
shared, so scripts quote medians and ratios against a baseline measured in the same run.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from embed.evaluation.metrics import LabelledQuery
from embed.util.tables import markdown_table

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
QUERIES = ROOT / "bench" / "queries" / "seeds.jsonl"
# The last commit whose builds embedded passages with torch, before they moved to ONNX Runtime:
# the "before" of bench/build.py's and bench/scale_out.py's cold builds.
BEFORE_ONNX_PASSAGES = "8c393c0"


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A detached checkout of ``rev`` in a temporary folder, removed after."""
    folder = Path(tempfile.mkdtemp(prefix="xlsearch-ab-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev],
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def cold_rebuild_seconds(
    checkout: Path, seeds: Path, vectors: Path, env: dict[str, str] | None = None
) -> float:
    """Seconds of ``xlsearch rebuild-index`` run by ``checkout``'s code into an empty
    ``vectors`` folder: process start-up and model loading included, as a user meets it."""
    shutil.rmtree(vectors, ignore_errors=True)
    environment = {
        **os.environ, "PYTHONPATH": str(checkout), "XLSEARCH_SEEDS_DIR": str(seeds),
        "XLSEARCH_VECTORS_DIR": str(vectors), **(env or {}),
    }  # fmt: skip
    command = [sys.executable, "-m", "service.cli", "rebuild-index", "--json"]
    started = time.perf_counter()
    subprocess.run(command, cwd=checkout, env=environment, check=True, capture_output=True)
    return time.perf_counter() - started


def header(title: str) -> str:
    """One line saying what ran where and when (paste it above the table)."""
    return (
        f"# {title} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )


def article_folds(xquad_dir: Path, folds: int) -> list[int]:
    """The fold of each XQuAD-dev paragraph, in the benchmarks' paragraph order: its article's,
    the articles dealt into ``folds`` folds at random (seed 0), so that a fit on some folds is
    judged on questions of articles it never saw."""
    data = json.loads((xquad_dir / "xquad-dev.en.json").read_text(encoding="utf-8"))
    articles = [n for n, article in enumerate(data["data"]) for _ in article["paragraphs"]]
    order = np.random.default_rng(0).permutation(max(articles) + 1)
    fold_of_article = {int(article): i % folds for i, article in enumerate(order)}
    return [fold_of_article[article] for article in articles]


def query_fold(query: LabelledQuery, paragraph_folds: Sequence[int]) -> int:
    """The fold of ``query``'s answer, from :func:`article_folds` (an XQuAD-dev benchmark's
    document ids end in the paragraph's number)."""
    return paragraph_folds[int(query.relevant[0].rsplit("-", 1)[1])]


def seed_queries() -> list[str]:
    """The hand-written seeds queries (English and Russian)."""
    lines = QUERIES.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["query"] for line in lines if line.strip() and line[0] != "#"]


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 (nearest-rank on the sorted samples), in ms."""
    data = np.asarray(sorted(samples_ms), dtype=np.float64)
    if not len(data):
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    return {f"p{q}": float(np.percentile(data, q)) for q in (50, 95, 99)}


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of ``rows`` (floats to 1 decimal, or 3 when below 10)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value)

    return markdown_table(rows, cell)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def process_server(
    command: list[str],
    port: int,
    ready: Callable[[str], bool],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A server process on 127.0.0.1:``port``, once ``ready(base_url)`` says so; stopped after.

    Its output goes to a log in the temp folder, named in the error when it does not start.

    Yields:
        The base URL and the process.
    """
    import httpx

    log_path = Path(tempfile.gettempdir()) / f"xlbench-server-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {log.name}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if ready(base):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after {timeout} s; see {log.name}")
            time.sleep(0.5)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def server(
    vectors: Path,
    seeds: Path = SEEDS,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    checkout: Path = ROOT,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real ``xlsearch serve`` on 127.0.0.1 and a free port, ready to answer.

    Args:
        vectors: The index folder.
        seeds: The seeds folder.
        env: Extra environment variables.
        timeout: Seconds to wait for it to be ready.
        checkout: The source tree whose code serves (another commit's, for an A/B run).

    Yields:
        The base URL and the process (its ``pid`` is the service's).
    """
    import httpx

    port = free_port()
    command = [
        sys.executable, "-m", "service.cli", "serve", "--vectors", str(vectors),
        "--seeds", str(seeds), "--port", str(port),
    ]  # fmt: skip
    # Benchmarks repeat their queries: the result cache would answer them without searching.
    environment = {
        "XLSEARCH_RELOAD_INTERVAL": "0", "XLSEARCH_RESULT_CACHE": "0",
        "PYTHONPATH": str(checkout), **(env or {}),
    }  # fmt: skip

    def ready(base: str) -> bool:
        return bool(httpx.get(f"{base}/health", timeout=5).json().get("ready"))

    with process_server(
        command, port, ready, env=environment, cwd=checkout, timeout=timeout
    ) as running:
        yield running


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident set of a process (``VmRSS`` of /proc/PID/status, or another field), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def clustered_unit_vectors(
    n: int, dim: int, clusters: int = 1000, spread: float = 0.35, seed: int = 0
) -> np.ndarray:
    """``n`` L2-normalised float32 vectors from a mixture of Gaussians (not uniform).

    Each vector is a random cluster centre plus isotropic noise of norm about ``spread`` times
    the centre's, then normalised: neighbourhoods are dense like real embeddings, which is what
    makes ANN recall realistic (uniform random vectors are the worst case for every index).
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for begin in range(0, n, step):
        m = min(step, n - begin)
        which = rng.integers(0, clusters, m)
        noise = rng.standard_normal((m, dim)).astype(np.float32) * (spread / np.sqrt(dim))
        block = centres[which] + noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[begin : begin + m] = block
    return out


def seed_sentences() -> list[tuple[str, str]]:
    """``(lang, sentence)`` for every sentence of the seeds' passages."""
    from embed.ingest.chunking import sentence_spans
    from embed.ingest.documents import discover_seeds, read_document
    from embed.ingest.language import detect_language

    out: list[tuple[str, str]] = []
    for path in discover_seeds(SEEDS).paths:
        doc = read_document(path, SEEDS)
        for paragraph in doc.text.split("\n"):
            text = " ".join(paragraph.split())
            if len(text) < 20:
                continue
            lang = detect_language(text, doc.lang)
            out.extend((lang, text[b:e]) for b, e in sentence_spans(text))
    return out


def bench_indexes(
    workdir: Path, rows: int, encoder: Any, second: Any | None
) -> list[tuple[str, Path]]:
    """The benchmarks' indexes by name: the seeds (brought up to date by the real
    ``rebuild_index``) and, when ``rows`` is not 0, :func:`synthetic_index` of that many chunks."""
    from embed.indexing.rebuild import rebuild_index

    indexes = [("seeds", workdir / "seeds-vectors")]
    rebuild_index(SEEDS, indexes[0][1], encoder, second=second)
    if rows:
        indexes.append((f"synthetic {rows}", workdir / f"synthetic-{rows}"))
        synthetic_index(indexes[1][1], rows, encoder, second)
    return indexes


def synthetic_index(vectors: Path, rows: int, encoder: Any, second: Any | None) -> Path:
    """A build of ``rows`` synthetic chunks that the real Searcher and service load.

    Chunk texts are two sentences recombined at random from the seeds (so BM25 and the page
    have real words); every vector is a clustered random unit vector (embedding 100k real
    passages takes hours on 2 cores). Spans are the chunk's own (``match_spans``: the two
    sentences and the clauses of a long one), so the sentence channels do their real work.
    Each chunk has as many token states as e5 makes of its text, random unit vectors stored as
    a build stores them (int8, read through a memory map), so that the token channel costs
    what it would. The build is written by
    :func:`embed.store.builds.write_build` with the real models' identities, and the FAISS index is
    chosen by corpus size as rebuild does. Reused when ``vectors`` already holds one of
    ``rows`` chunks with token states, chunked by this version.
    """
    from embed.ingest.chunking import Chunk, match_spans
    from embed.store import format as build_format
    from embed.store.bm25 import LexicalIndex
    from embed.store.builds import StoredChunk, current_build, read_manifest, write_build
    from embed.store.faiss_index import build_faiss_index
    from embed.store.format import (
        EMBEDDINGS,
        LEXICAL_DIR,
        SECOND_EMBEDDINGS,
        SECOND_SENTENCE_EMBEDDINGS,
        SENTENCE_EMBEDDINGS,
        SENTENCE_SPANS,
        TOKEN_OFFSETS,
        TOKEN_SCALES,
        TOKEN_STATES,
        TRANSLATIONS,
    )

    expected = build_format.expected_spec(encoder, second)
    live = current_build(vectors)
    if live is not None:
        manifest = read_manifest(live)
        current = build_format.compatibility(manifest, expected)
        if manifest.counts.chunks == rows and current.tokens and current.chunking:
            return live
    rng = random.Random(0)
    pool = seed_sentences()
    chunks: list[StoredChunk] = []
    spans: list[tuple[int, int, int]] = []
    for row in range(rows):
        (lang, first), (_, other) = rng.choice(pool), rng.choice(pool)
        text = f"{first} {other}"
        doc = f"synthetic/{row // 20:05d}"
        chunk = Chunk(
            doc_id=doc, paragraph=row % 20 + 1, part=0, start=0, end=len(text), text=text,
            lang=lang, title=f"Synthetic document {row // 20}", date=None,
            source=f"{doc}.txt", url=None,
        )  # fmt: skip
        chunks.append(StoredChunk(chunk, f"synthetic-{row}"))
        spans += [(row, begin, end) for begin, end in match_spans(text)]
    dim2 = second.dimension if second is not None else 0
    matrix = clustered_unit_vectors(rows, encoder.dimension, seed=1)
    arrays = {
        EMBEDDINGS: matrix,
        SENTENCE_SPANS: np.asarray(spans, dtype=np.int32),
        SENTENCE_EMBEDDINGS: clustered_unit_vectors(len(spans), encoder.dimension, seed=2),
    }
    if second is not None:
        arrays[SECOND_EMBEDDINGS] = clustered_unit_vectors(rows, dim2, seed=3)
        arrays[SECOND_SENTENCE_EMBEDDINGS] = clustered_unit_vectors(len(spans), dim2, seed=4)
    states_file, arrays[TOKEN_SCALES], arrays[TOKEN_OFFSETS] = _random_token_states(
        vectors, chunks, encoder
    )
    index, description = build_faiss_index(matrix)
    lexical = LexicalIndex.build([c.chunk.text for c in chunks], [c.chunk.lang for c in chunks])
    documents = {c.chunk.doc_id: {"doc_id": c.chunk.doc_id, "title": c.chunk.title} for c in chunks}
    spec = build_format.BuildSpec(
        model=build_format.ModelEntry(**encoder.info.to_dict()),
        second_model=expected.second_model,
        tokens=expected.tokens,
        index=build_format.IndexSpec(**description),
        chunking=expected.chunking,
        counts=build_format.Counts(documents=len(documents), chunks=rows, sentences=len(spans)),
        languages=sorted({c.chunk.lang for c in chunks}),
    )
    return write_build(
        vectors, index=index, arrays=arrays, chunks=chunks, documents=documents,
        spec=spec, tables={TRANSLATIONS: []}, writers={LEXICAL_DIR: lexical.save},
        written={f"{TOKEN_STATES}.npy": states_file},
    )  # fmt: skip


def _random_token_states(
    vectors: Path, chunks: Sequence[Any], encoder: Any, block: int = 2000
) -> tuple[Path, np.ndarray, np.ndarray]:
    """Random unit token states for ``chunks``, as many per chunk as e5 makes of its text (to
    within the one token that the prompt's trailing space adds when counted alone), written
    block by block to a scratch file as a build writes them.

    Returns:
        The scratch file of the int8 codes, the scales and the offsets.
    """
    from embed.models.tokens import QuantisedTokens
    from embed.store.builds import scratch_path, write_stacked
    from embed.store.format import TOKEN_STATES

    overhead = encoder.count_tokens("")  # prompt and special tokens
    lengths = np.array([encoder.count_tokens(c.chunk.text) - overhead for c in chunks])
    rng = np.random.default_rng(5)
    codes, scales = [], []
    for begin in range(0, len(lengths), block):
        states = rng.standard_normal(
            (int(lengths[begin : begin + block].sum()), encoder.dimension), dtype=np.float32
        )
        states /= np.linalg.norm(states, axis=1, keepdims=True)
        quantised = QuantisedTokens.quantise(states)
        codes.append(quantised.codes)
        scales.append(quantised.scales)
    path = scratch_path(vectors, f"{TOKEN_STATES}.npy")
    write_stacked(path, codes, encoder.dimension, np.int8)
    return path, np.concatenate(scales), np.concatenate([[0], np.cumsum(lengths)])

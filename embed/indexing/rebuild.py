"""``rebuild-index``: bring ``vectors/`` up to date with a seeds folder, in four stages.

1. plan (:mod:`embed.indexing.plan`): which seeds, documents and chunks changed;
2. embed (:mod:`embed.indexing.embedding`): copy the unchanged rows, embed the others;
3. derive (:mod:`embed.indexing.derive`): FAISS, alignment, BM25;
4. write (:func:`embed.store.builds.write_build`): a new build, swapped in atomically.

Each stage returns a typed value the next one takes; a benchmark can time them one by one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from embed.indexing.derive import derive
from embed.indexing.embedding import embed_plan
from embed.indexing.plan import plan_rebuild
from embed.ingest.documents import MAX_SEED_BYTES
from embed.models.encoder import Encoder, TextEncoder
from embed.store.builds import LOCK_FILE, IndexData, peek_manifest, prune_builds, write_build
from embed.store.format import (
    ALIGNMENT_CANDIDATES,
    ALIGNMENT_VERSION,
    LEXICAL_DIR,
    LEXICAL_VERSION,
    TRANSLATIONS,
    BuildSpec,
    Counts,
    ModelEntry,
    seeds_entry,
)
from embed.util.timing import timed


class BuildError(RuntimeError):
    """A rebuild could not run (no seeds folder, another rebuild running, ...)."""


class SeedsMismatch(BuildError):
    """The index was built from another seeds folder than the one given: rebuilding would
    replace it with an index of other documents."""


@dataclass
class BuildSummary:
    """What a rebuild did, as printed by ``xlsearch rebuild-index``."""

    documents: int
    chunks: int
    embedded: int
    reused: int
    skipped: list[dict[str, str]] = field(default_factory=list)
    # Sentences and clauses (match_spans): after a chunker upgrade they are embedded anew
    # while every chunk is reused, and ``embedded`` alone would say the build did nothing.
    spans: int = 0
    spans_embedded: int = 0
    seconds: float = 0.0
    # Seconds per stage (plan, embed, derive's faiss / alignment / bm25, write), for benchmarks.
    stages: dict[str, float] = field(default_factory=dict)
    changed: bool = False
    build: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rebuild_index(
    seeds_dir: Path,
    vectors_dir: Path,
    encoder: Encoder,
    *,
    second: TextEncoder | None = None,
    batch_size: int = 32,
    progress: bool = False,
    wait: float = 0.0,
    max_seed_bytes: int = MAX_SEED_BYTES,
    keep_seeds: bool = False,
) -> BuildSummary:
    """Index every seed under ``seeds_dir`` (see :mod:`embed.ingest.formats`) into
    ``vectors_dir``, reusing what it can.

    Args:
        seeds_dir: The corpus folder.
        vectors_dir: The index folder (created if missing).
        encoder: The model to embed with.
        second: A second encoder whose vectors the ranking fuses in, if enabled.
        batch_size: Passages per encode batch.
        progress: Show a progress bar while embedding.
        wait: Seconds to wait for another rebuild's lock before giving up.
        max_seed_bytes: Larger seeds are skipped with a warning.
        keep_seeds: Refuse to rebuild an index made from another seeds folder (``serve`` asks
            this, so that it never serves other documents than the folder it was given).

    Returns:
        Counts of documents, chunks, embedded and reused chunks, and skipped files.

    Raises:
        SeedsMismatch: With ``keep_seeds``, when the index was made from another seeds
            folder; the index is left as it is.
        BuildError: When ``seeds_dir`` is not a folder or another rebuild holds the lock.
    """
    started = time.perf_counter()
    if not seeds_dir.is_dir():
        raise BuildError(f"seeds folder {seeds_dir.absolute()} does not exist")
    vectors_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(vectors_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=wait)
    except Timeout as exc:
        raise BuildError(
            f"another rebuild of {vectors_dir.absolute()} is running; try again later"
        ) from exc
    try:
        if keep_seeds:
            _check_seeds_folder(seeds_dir, vectors_dir)
        summary = _rebuild_locked(
            seeds_dir, vectors_dir, encoder, second, batch_size, progress, max_seed_bytes
        )
    finally:
        # Also after a failure: a scratch file written before it goes with the other leftovers.
        prune_builds(vectors_dir)
        lock.release()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _check_seeds_folder(seeds_dir: Path, vectors_dir: Path) -> None:
    """Refuse to rebuild an index of another seeds folder than ``seeds_dir``.

    Raises:
        SeedsMismatch: Naming both folders and how to go on.
    """
    live = peek_manifest(vectors_dir)
    recorded = live.seeds if live is not None else None
    given = seeds_entry(seeds_dir, vectors_dir)
    if recorded is not None and not recorded.same_folder(given):
        raise SeedsMismatch(
            f"the index in {vectors_dir.resolve()} was built from the seeds in {recorded.path}, "
            f"not {given.path}; give --seeds {recorded.path} to keep it, or --switch-seeds to "
            f"replace it with an index of {given.path}"
        )


def _rebuild_locked(
    seeds_dir: Path,
    vectors_dir: Path,
    encoder: Encoder,
    second: TextEncoder | None,
    batch_size: int,
    progress: bool,
    max_seed_bytes: int,
) -> BuildSummary:
    stages: dict[str, float] = {}
    with timed(stages, "plan"):
        plan = plan_rebuild(seeds_dir, vectors_dir, encoder, second, max_seed_bytes)
    if plan.unchanged:
        assert plan.counts is not None
        chunks = plan.counts.chunks
        return BuildSummary(
            len(plan.records), chunks, 0, chunks, plan.skipped, spans=plan.counts.sentences,
            stages=stages,
        )  # fmt: skip
    if not plan.chunks:
        raise BuildError(
            f"nothing to index in {seeds_dir.absolute()}: no readable seed "
            f"({len(plan.skipped)} skipped)"
        )
    with timed(stages, "embed"):
        embedded = embed_plan(
            plan, vectors_dir, encoder, second, batch_size=batch_size, progress=progress
        )
    derived = derive(plan, embedded)
    stages.update(derived.seconds)
    spec = BuildSpec(
        model=_model_entry(encoder, plan.previous),
        second_model=plan.expected.second_model,
        lexical_version=LEXICAL_VERSION,
        alignment_version=ALIGNMENT_VERSION,
        tokens=plan.expected.tokens,
        index=derived.spec,
        chunking=plan.expected.chunking,
        counts=Counts(
            documents=len(plan.records), chunks=len(plan.chunks), sentences=len(plan.spans)
        ),
        languages=sorted(set(plan.languages)),
        seeds=plan.seeds,
        skipped=plan.skipped_seeds,
    )
    with timed(stages, "write"):
        build = write_build(
            vectors_dir,
            index=derived.index,
            arrays={
                **embedded.arrays,
                ALIGNMENT_CANDIDATES: derived.candidates,
                **(derived.lexical.tokens.arrays() if derived.lexical.tokens else {}),
            },
            chunks=plan.chunks,
            documents=plan.records,
            spec=spec,
            tables={TRANSLATIONS: derived.translations},
            writers={LEXICAL_DIR: derived.lexical.save},
            written=embedded.written,
        )
    return BuildSummary(
        len(plan.records), len(plan.chunks), embedded.embedded,
        len(plan.chunks) - embedded.embedded, plan.skipped,
        spans=len(plan.spans), spans_embedded=embedded.spans_embedded,
        stages=stages, changed=True, build=build.name,
    )  # fmt: skip


def _model_entry(encoder: Encoder, previous: IndexData | None) -> ModelEntry:
    """The manifest's entry for ``encoder``: the live build's when it names the same model,
    weights and prompts, so that a rebuild with nothing to embed (a seed deleted, an edit
    undone) does not load the model to learn its dimension."""
    if previous is not None:
        entry = previous.manifest.model
        known = (encoder.name, encoder.checksum, encoder.prompts)
        if (entry.name, entry.checksum, entry.prompts) == known:
            return entry
    return ModelEntry(**encoder.info.to_dict())

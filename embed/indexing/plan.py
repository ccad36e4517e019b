"""The first stage of a rebuild: what the seeds folder holds against the live build.

Planning reads and chunks only the seeds that changed (by a digest of their bytes), on the
encoder's engine where it has one; it needs the model's tokenizer and checksum, never its
weights. The :class:`Plan` says which rows of the new build come from the live one and which
must be embedded; :func:`embed.indexing.embedding.embed_plan` does the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from embed.indexing.reuse import chunk_sources, sentence_table
from embed.ingest.chunking import Chunk, read_chunks
from embed.ingest.documents import Document, SeedError, discover_seeds, source_digest
from embed.models.encoder import Encoder, TextEncoder
from embed.store.builds import IndexData, Records, StoredChunk, load_build, read_records
from embed.store.format import (
    READER_VERSION,
    SENTENCE_SPANS,
    Compatibility,
    Counts,
    Expected,
    SeedsEntry,
    SkippedSeed,
    StoreError,
    compatibility,
    expected_spec,
    seeds_entry,
)

logger = logging.getLogger(__name__)


@dataclass
class Plan:
    """What a rebuild makes, and what it takes from the live build.

    Attributes:
        expected: What the new build records of its models and versions.
        seeds: The seeds folder, as the new build records it.
        records: The new build's document records, by ``doc_id``.
        skipped: Seeds that cannot be indexed, each ``{"source", "reason"}`` (``source``
            relative to the seeds folder).
        unchanged: The live build is already what this rebuild would make; nothing else below
            is filled in then but ``counts``.
        counts: The live build's counts, when ``unchanged``.
        previous: The live build, loaded, when it serves as a cache.
        reuse: Which parts of ``previous`` were made as this version makes them.
        chunks: The new build's chunks, in row order.
        sources: Each chunk's row in ``previous``, or :data:`~embed.indexing.reuse.NEW`.
        spans: The sentence and clause table, ``(chunk row, begin, end)``.
        span_sources: Each span's row in ``previous``'s table, or ``NEW``.
    """

    expected: Expected
    seeds: SeedsEntry
    records: dict[str, dict[str, Any]]
    skipped: list[dict[str, str]]
    unchanged: bool = False
    counts: Counts | None = None
    previous: IndexData | None = None
    reuse: Compatibility | None = None
    chunks: list[StoredChunk] = field(default_factory=list)
    sources: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    spans: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int32))
    span_sources: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @cached_property
    def languages(self) -> list[str]:
        """The language of each chunk, in row order."""
        return [stored.chunk.lang for stored in self.chunks]

    @property
    def skipped_seeds(self) -> list[SkippedSeed]:
        """:attr:`skipped` as the manifest records it."""
        return [SkippedSeed(**item) for item in self.skipped]

    def reused(self, part: str) -> bool:
        """Whether ``part`` (a :class:`Compatibility` field) of the live build can be copied."""
        return self.reuse is not None and bool(getattr(self.reuse, part))


def _skip(skipped: list[dict[str, str]], path: Path, root: Path, reason: str) -> None:
    """Add ``path`` to ``skipped``, named relative to the seeds folder ``root``."""
    try:
        source = path.relative_to(root).as_posix()
    except ValueError:
        source = str(path)
    skipped.append({"source": source, "reason": reason})


def _doc_fingerprint(doc: Document) -> str:
    return hashlib.sha256(json.dumps(asdict(doc), sort_keys=True).encode()).hexdigest()


def _live_records(vectors_dir: Path, expected: Expected) -> Records | None:
    """The live build's records if it can serve as a cache for this model, else ``None``. Its
    files are checked, but not loaded: an unchanged corpus needs no more."""
    try:
        live = read_records(vectors_dir)
    except StoreError as exc:
        if "no index" not in str(exc):
            logger.warning("previous index not reused: %s", exc)
        return None
    if live[1].model.checksum != expected.model_checksum:
        logger.info("previous index was built with another model; embedding everything")
        return None
    return live


def _previous(live: Records) -> IndexData | None:
    """The live build loaded from its records (checked already, under the rebuild's lock), or
    ``None`` when it cannot be."""
    try:
        return load_build(*live)
    except StoreError as exc:
        logger.warning("previous index not reused: %s", exc)
        return None


def _read(
    encoder: Encoder, paths: list[Path], root: Path
) -> list[tuple[Document, list[Chunk]] | SeedError]:
    """Each seed of ``paths`` read and chunked, on the encoder's engine when it has one."""
    if encoder.engine is not None and paths:
        return encoder.engine.read(encoder.spec, paths, root)
    results: list[tuple[Document, list[Chunk]] | SeedError] = []
    for path in paths:
        try:
            results.append(read_chunks(path, root, encoder.count_tokens, encoder.max_tokens))
        except SeedError as exc:
            results.append(exc)
    return results


def _read_seeds(
    paths: list[Path],
    seeds_dir: Path,
    max_seed_bytes: int,
    old_docs: dict[str, dict[str, Any]],
    skipped: list[dict[str, str]],
    encoder: Encoder,
) -> tuple[dict[str, dict[str, Any]], dict[str, list[Chunk]]]:
    """The document record of each seed, and the chunks of the documents that changed.

    A seed whose :func:`source_digest` is that of a record in ``old_docs`` keeps the record
    unread; one read to the same record as before keeps it too. Seeds that cannot be indexed
    are added to ``skipped`` with the reason.
    """
    seen = {record.get("source_digest"): record for record in old_docs.values()}
    # Each seed's record where the live build has it, else None: read below. Records keep the
    # seeds' order, which is the new build's row order.
    entries: list[tuple[Path, str | None, dict[str, Any] | None]] = []
    for path in paths:
        try:
            size = path.stat().st_size
        except OSError as exc:
            _skip(skipped, path, seeds_dir, f"cannot be read ({exc.strerror or exc})")
            continue
        if size > max_seed_bytes:
            reason = f"too large ({size} bytes; the limit is {max_seed_bytes})"
            _skip(skipped, path, seeds_dir, reason)
            continue
        digest = source_digest(path, seeds_dir, READER_VERSION)
        entries.append((path, digest, seen.get(digest) if digest is not None else None))
    found = iter(_read(encoder, [path for path, _, known in entries if known is None], seeds_dir))
    records: dict[str, dict[str, Any]] = {}
    changed: dict[str, list[Chunk]] = {}
    for path, digest, known in entries:
        if known is not None:
            records[known["doc_id"]] = known
            continue
        result = next(found)
        if isinstance(result, SeedError):
            _skip(skipped, path, seeds_dir, result.reason)
            continue
        doc, chunks = result
        fingerprint = _doc_fingerprint(doc)
        records[doc.doc_id] = {**asdict(doc), "fingerprint": fingerprint, "source_digest": digest}
        old = old_docs.get(doc.doc_id)
        if old is None or old.get("fingerprint") != fingerprint:
            changed[doc.doc_id] = chunks
    return records, changed


def plan_rebuild(
    seeds_dir: Path,
    vectors_dir: Path,
    encoder: Encoder,
    second: TextEncoder | None,
    max_seed_bytes: int,
) -> Plan:
    """Compare the seeds folder with the live build of ``vectors_dir``.

    Call while holding the rebuild lock (see :func:`embed.indexing.rebuild.rebuild_index`).

    Args:
        seeds_dir: The corpus folder.
        vectors_dir: The index folder.
        encoder: The primary model (its tokenizer chunks; its weights are not loaded).
        second: The second encoder, if enabled.
        max_seed_bytes: Larger seeds are skipped.
    """
    expected = expected_spec(encoder, second)
    seeds = seeds_entry(seeds_dir, vectors_dir)
    scan = discover_seeds(seeds_dir)
    skipped: list[dict[str, str]] = []
    for path, reason in scan.skipped:
        _skip(skipped, path, seeds_dir, reason)
    live = _live_records(vectors_dir, expected)
    reuse = compatibility(live[1], expected) if live is not None else None
    old_docs = live[2] if live is not None and reuse is not None and reuse.chunking else {}
    records, changed = _read_seeds(
        scan.paths, seeds_dir, max_seed_bytes, old_docs, skipped, encoder
    )
    for item in skipped:
        logger.warning("skipped %s: %s", seeds_dir.absolute() / item["source"], item["reason"])
    if (
        live is not None
        and reuse is not None
        and records == old_docs
        and not reuse.stale
        # The unreadable seeds are part of what a build says (a folder moved or copied with
        # the same seeds keeps the build, and the folder it names).
        and live[1].skipped == [SkippedSeed(**item) for item in skipped]
    ):
        return Plan(expected, seeds, records, skipped, unchanged=True, counts=live[1].counts)

    previous = _previous(live) if live is not None else None
    if previous is None:
        reuse = None
        if len(changed) < len(records):
            # The records were read, the rest of the build was not: every seed is new to it.
            records, changed = _read_seeds(scan.paths, seeds_dir, max_seed_bytes, {}, [], encoder)
    old_chunks: dict[str, list[StoredChunk]] = {}
    if previous is not None and old_docs:
        for stored in previous.chunks:
            old_chunks.setdefault(stored.chunk.doc_id, []).append(stored)
    chunks: list[StoredChunk] = []
    for doc_id in records:
        if doc_id not in changed:
            chunks.extend(old_chunks.get(doc_id, []))
            continue
        for chunk in changed[doc_id]:
            chunks.append(StoredChunk(chunk, encoder.cache_key(chunk.text)))

    sources = chunk_sources(previous.chunks if previous is not None else None, chunks)
    same_chunking = previous is not None and reuse is not None and reuse.chunking
    spans, span_sources = sentence_table(
        chunks,
        sources,
        previous.arrays.get(SENTENCE_SPANS) if previous is not None and same_chunking else None,
    )
    return Plan(
        expected, seeds, records, skipped, previous=previous, reuse=reuse, chunks=chunks,
        sources=sources, spans=spans, span_sources=span_sources,
    )  # fmt: skip

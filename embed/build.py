"""``rebuild-index``: bring ``vectors/`` up to date with a seeds folder.

Documents whose record is unchanged keep their chunks; chunks whose text is unchanged keep their
embedding (cached by model checksum and text). Only what changed is embedded, and the result is
written as a new build that replaces the live one atomically (see :mod:`embed.store`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from embed.chunking import chunk_document
from embed.documents import Document, SeedError, discover_seeds, read_document
from embed.encoder import Encoder
from embed.index_types import build_faiss_index
from embed.store import (
    LOCK_FILE,
    IndexData,
    StoredChunk,
    StoreError,
    load_index,
    prune_builds,
    write_build,
)

logger = logging.getLogger(__name__)

# Bump when chunking output changes for the same input, so old chunk tables are not reused.
CHUNKER_VERSION = 1


class BuildError(RuntimeError):
    """A rebuild could not run (no seeds folder, another rebuild running, ...)."""


@dataclass
class BuildSummary:
    """What a rebuild did, as printed by ``xlsearch rebuild-index``."""

    documents: int
    chunks: int
    embedded: int
    reused: int
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    changed: bool = False
    build: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _doc_fingerprint(doc: Document) -> str:
    return hashlib.sha256(json.dumps(asdict(doc), sort_keys=True).encode()).hexdigest()


def _previous(vectors_dir: Path, encoder: Encoder) -> IndexData | None:
    """The live build if it can serve as a cache for this model, else ``None``."""
    try:
        data = load_index(vectors_dir)
    except StoreError as exc:
        if "no index" not in str(exc):
            logger.warning("previous index not reused: %s", exc)
        return None
    if data.manifest.get("model", {}).get("checksum") != encoder.checksum:
        logger.info("previous index was built with another model; embedding everything")
        return None
    return data


def rebuild_index(
    seeds_dir: Path,
    vectors_dir: Path,
    encoder: Encoder,
    *,
    batch_size: int = 32,
    progress: bool = False,
    wait: float = 0.0,
) -> BuildSummary:
    """Index every ``.txt`` under ``seeds_dir`` into ``vectors_dir``, reusing what it can.

    Args:
        seeds_dir: The corpus folder.
        vectors_dir: The index folder (created if missing).
        encoder: The model to embed with.
        batch_size: Passages per encode batch.
        progress: Show a progress bar while embedding.
        wait: Seconds to wait for another rebuild's lock before giving up.

    Returns:
        Counts of documents, chunks, embedded and reused chunks, and skipped files.

    Raises:
        BuildError: When ``seeds_dir`` is not a folder or another rebuild holds the lock.
    """
    started = time.perf_counter()
    if not seeds_dir.is_dir():
        raise BuildError(f"seeds folder {seeds_dir} does not exist")
    vectors_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(vectors_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=wait)
    except Timeout as exc:
        raise BuildError(f"another rebuild of {vectors_dir} is running; try again later") from exc
    try:
        summary = _rebuild_locked(seeds_dir, vectors_dir, encoder, batch_size, progress)
        prune_builds(vectors_dir)
    finally:
        lock.release()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _rebuild_locked(
    seeds_dir: Path, vectors_dir: Path, encoder: Encoder, batch_size: int, progress: bool
) -> BuildSummary:
    scan = discover_seeds(seeds_dir)
    skipped = [{"source": str(p), "reason": reason} for p, reason in scan.skipped]
    documents: list[Document] = []
    for path in scan.paths:
        try:
            documents.append(read_document(path, seeds_dir))
        except SeedError as exc:
            skipped.append({"source": str(path), "reason": str(exc)})
    for item in skipped:
        logger.warning("skipped %s: %s", item["source"], item["reason"])

    previous = _previous(vectors_dir, encoder)
    chunking = {"version": CHUNKER_VERSION, "max_tokens": encoder.max_tokens}
    old_docs: dict[str, dict[str, Any]] = {}
    old_chunks: dict[str, list[StoredChunk]] = {}
    cached: dict[str, np.ndarray] = {}
    if previous is not None:
        for row, stored in enumerate(previous.chunks):
            cached[stored.key] = previous.embeddings[row]
        if previous.manifest.get("chunking") == chunking:
            old_docs = previous.documents
            for stored in previous.chunks:
                old_chunks.setdefault(stored.chunk.doc_id, []).append(stored)

    records: dict[str, dict[str, Any]] = {}
    chunks: list[StoredChunk] = []
    for doc in documents:
        fingerprint = _doc_fingerprint(doc)
        records[doc.doc_id] = {**asdict(doc), "fingerprint": fingerprint}
        old = old_docs.get(doc.doc_id)
        if old is not None and old.get("fingerprint") == fingerprint:
            chunks.extend(old_chunks.get(doc.doc_id, []))
            continue
        for chunk in chunk_document(doc, encoder.count_tokens, encoder.max_tokens):
            chunks.append(StoredChunk(chunk, encoder.cache_key(chunk.text)))

    unchanged = (
        previous is not None
        and records == old_docs
        and [c.key for c in chunks] == [c.key for c in previous.chunks]
    )
    if unchanged:
        return BuildSummary(len(documents), len(chunks), 0, len(chunks), skipped)

    missing = sorted({c.key: c.chunk.text for c in chunks if c.key not in cached}.items())
    if missing:
        fresh = encoder.encode_passages(
            [text for _, text in missing], batch_size=batch_size, progress=progress
        )
        cached.update(zip((key for key, _ in missing), fresh, strict=True))
    dimension = encoder.info.dimension
    matrix = (
        np.stack([cached[c.key] for c in chunks]).astype(np.float32)
        if chunks
        else np.zeros((0, dimension), dtype=np.float32)
    )
    index, index_spec = build_faiss_index(matrix)
    languages = sorted({c.chunk.lang for c in chunks})
    manifest = {
        "model": encoder.info.to_dict(),
        "index": index_spec,
        "chunking": chunking,
        "counts": {"documents": len(documents), "chunks": len(chunks)},
        "languages": languages,
    }
    build = write_build(
        vectors_dir,
        index=index,
        embeddings=matrix,
        chunks=chunks,
        documents=records,
        manifest=manifest,
    )
    embedded = len(missing)
    return BuildSummary(
        len(documents), len(chunks), embedded, len(chunks) - embedded, skipped,
        changed=True, build=build.name,
    )  # fmt: skip

"""The ``vectors/`` layout: one folder per build, a manifest, and an atomic pointer to the live one.

::

    vectors/
      CURRENT                  name of the live build (replaced atomically)
      builds/<build>/          manifest.json, index.faiss, embeddings.npy,
                               chunks.jsonl, documents.json
      .rebuild.lock            held while a rebuild runs

A build is written into ``builds/.tmp-<build>/``, flushed to disk, renamed, and only then named in
``CURRENT``. Until that last ``os.replace`` the previous build stays live, so a crash or Ctrl-C at
any moment leaves a whole, loadable index. Readers trust nothing in a build before its manifest's
checksums match.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from embed.chunking import Chunk

FORMAT_VERSION = 1
CURRENT = "CURRENT"
BUILDS = "builds"
MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
EMBEDDINGS_FILE = "embeddings.npy"
CHUNKS_FILE = "chunks.jsonl"
DOCUMENTS_FILE = "documents.json"
LOCK_FILE = ".rebuild.lock"
_TMP_PREFIX = ".tmp-"


class StoreError(RuntimeError):
    """The index folder is missing, incomplete, corrupt or from an incompatible build."""


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored in the index, with the key its embedding is cached under."""

    chunk: Chunk
    key: str


@dataclass
class IndexData:
    """Everything a build holds, loaded into memory."""

    name: str
    path: Path
    manifest: dict[str, Any]
    index: Any  # faiss.Index; faiss ships no type stubs
    embeddings: np.ndarray
    chunks: list[StoredChunk]
    documents: dict[str, dict[str, Any]]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def current_build(vectors_dir: Path) -> Path | None:
    """The live build folder named by ``CURRENT``, or ``None`` when no index was built yet."""
    pointer = vectors_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        raise StoreError(f"{pointer} is corrupt (names {name!r})")
    return vectors_dir / BUILDS / name


def read_manifest(build: Path) -> dict[str, Any]:
    """Read and check a build's manifest (format and the files it lists).

    Raises:
        StoreError: Naming the file that is missing, unreadable or does not match its checksum.
    """
    path = build / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StoreError(f"{path} is missing") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise StoreError(f"{path} has an unsupported format (expected {FORMAT_VERSION})")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise StoreError(f"{path} lists no files")
    for name, checksum in files.items():
        file = build / name
        if not file.is_file():
            raise StoreError(f"{file} is missing")
        if _sha256_file(file) != checksum:
            raise StoreError(f"{file} is corrupt (checksum mismatch)")
    return manifest


def load_index(vectors_dir: Path) -> IndexData:
    """Load the live build of ``vectors_dir`` into memory, after checking every file.

    Raises:
        StoreError: When there is no index, or any file of it is missing or corrupt.
    """
    import faiss

    build = current_build(vectors_dir)
    if build is None:
        raise StoreError(f"no index in {vectors_dir}: run `xlsearch rebuild-index` first")
    manifest = read_manifest(build)
    try:
        index = faiss.read_index(str(build / INDEX_FILE))
        embeddings = np.load(build / EMBEDDINGS_FILE, allow_pickle=False)
        chunks = [
            StoredChunk(chunk=Chunk(**record["chunk"]), key=record["key"])
            for record in map(json.loads, (build / CHUNKS_FILE).read_text("utf-8").splitlines())
        ]
        documents = json.loads((build / DOCUMENTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise StoreError(f"build {build} cannot be read: {exc}") from exc
    if index.ntotal != len(chunks) or embeddings.shape[0] != len(chunks):
        raise StoreError(f"build {build} is inconsistent: index, embeddings and chunks differ")
    return IndexData(build.name, build, manifest, index, embeddings, chunks, documents)


def write_build(
    vectors_dir: Path,
    *,
    index: Any,
    embeddings: np.ndarray,
    chunks: list[StoredChunk],
    documents: dict[str, dict[str, Any]],
    manifest: dict[str, Any],
) -> Path:
    """Write a new build and make it live atomically.

    Args:
        vectors_dir: The index folder.
        index: The FAISS index over ``embeddings``.
        embeddings: Row ``i`` is the vector of ``chunks[i]``.
        chunks: The chunk table.
        documents: Document records by ``doc_id``.
        manifest: Manifest fields; ``format``, ``build``, ``built_at`` and ``files`` are added.

    Returns:
        The new live build folder.
    """
    import faiss

    builds = vectors_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:8]
    staging = builds / f"{_TMP_PREFIX}{name}"
    staging.mkdir()
    try:
        faiss.write_index(index, str(staging / INDEX_FILE))
        with (staging / EMBEDDINGS_FILE).open("wb") as handle:
            np.save(handle, np.ascontiguousarray(embeddings, dtype=np.float32))
            handle.flush()
            os.fsync(handle.fileno())
        lines = (
            json.dumps({"key": c.key, "chunk": asdict(c.chunk)}, ensure_ascii=False) for c in chunks
        )
        _write_durable(staging / CHUNKS_FILE, ("\n".join(lines) + "\n").encode())
        _write_durable(staging / DOCUMENTS_FILE, json.dumps(documents, ensure_ascii=False).encode())
        with (staging / INDEX_FILE).open("rb+") as handle:
            os.fsync(handle.fileno())
        files = [INDEX_FILE, EMBEDDINGS_FILE, CHUNKS_FILE, DOCUMENTS_FILE]
        full = {
            **manifest,
            "format": FORMAT_VERSION,
            "build": name,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {f: _sha256_file(staging / f) for f in files},
        }
        _write_durable(staging / MANIFEST, json.dumps(full, indent=2).encode())
        _fsync_dir(staging)
        final = builds / name
        staging.rename(final)
        _fsync_dir(builds)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pointer_tmp = vectors_dir / f"{CURRENT}.tmp-{uuid.uuid4().hex[:8]}"
    _write_durable(pointer_tmp, (name + "\n").encode())
    os.replace(pointer_tmp, vectors_dir / CURRENT)
    _fsync_dir(vectors_dir)
    return final


def prune_builds(vectors_dir: Path, keep: int = 2) -> list[Path]:
    """Delete abandoned staging folders and all but the ``keep`` newest builds.

    The live build is always kept. Call only while holding the rebuild lock.

    Returns:
        The folders removed.
    """
    builds = vectors_dir / BUILDS
    if not builds.is_dir():
        return []
    live = current_build(vectors_dir)
    removed: list[Path] = []
    finished = sorted(
        (p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True
    )
    stale = [p for p in builds.iterdir() if p.name.startswith(_TMP_PREFIX)]
    for path in stale + finished[keep:]:
        if live is not None and path.resolve() == live.resolve():
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    for leftover in vectors_dir.glob(f"{CURRENT}.tmp-*"):
        leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed

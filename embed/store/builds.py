"""The ``vectors/`` layout: one folder per build, a manifest, and an atomic pointer to the live one.

::

    vectors/
      CURRENT                  name of the live build (replaced atomically)
      builds/<build>/          manifest.json, index.faiss, chunks.jsonl, documents.json,
                               <array>.npy (embeddings, sentence spans and vectors, ...),
                               <table>.json (translations), bm25/ (lexical index)
      .rebuild.lock            held while a rebuild runs

A build is written into ``builds/.tmp-<id>-<build>/``, flushed to disk, renamed, and only then
named in ``CURRENT``. Until that last ``os.replace`` the previous build stays live, so a crash or
Ctrl-C at any moment leaves a whole, loadable index. Readers trust nothing in a build before its
manifest's checksums match.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import xxhash
from pydantic import ValidationError

from embed.ingest.chunking import Chunk
from embed.store.format import (
    CHUNKS_FILE,
    DOCUMENTS_FILE,
    EMBEDDINGS,
    FORMAT_VERSION,
    INDEX_FILE,
    MANIFEST,
    BuildSpec,
    Manifest,
    StoreError,
)
from embed.util.files import TMP_PREFIX, fsync_dir, replacing, update_digest, write_durable

CURRENT = "CURRENT"
BUILDS = "builds"
LOCK_FILE = ".rebuild.lock"
# The checksums guard against torn and corrupted files, not against tampering (whoever can edit
# a file can edit the manifest too), and a load reads every byte of the build, gigabytes of
# token states at scale: xxh3 hashes them many times faster than SHA-256 (docs/benchmarks.md).
# Builds written before it name no algorithm and carry SHA-256s.
CHECKSUM = "xxh3_128"
_DIGESTS: dict[str, Callable[[], Any]] = {CHECKSUM: xxhash.xxh3_128, "sha256": hashlib.sha256}


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored in the index, with the key its embedding is cached under."""

    chunk: Chunk
    key: str


@dataclass
class IndexData:
    """Everything a build holds, loaded (its arrays memory-mapped)."""

    name: str
    path: Path
    manifest: Manifest
    index: Any  # faiss.Index; faiss ships no type stubs
    arrays: dict[str, np.ndarray]
    tables: dict[str, Any]
    chunks: list[StoredChunk]
    documents: dict[str, dict[str, Any]]

    @property
    def embeddings(self) -> np.ndarray:
        """The primary model's chunk vectors; row ``i`` belongs to ``chunks[i]``."""
        return self.arrays[EMBEDDINGS]

    @cached_property
    def rows_by_document(self) -> dict[str, list[int]]:
        """The chunk rows of each document, in reading order."""
        rows: dict[str, list[int]] = {}
        for row, stored in enumerate(self.chunks):
            rows.setdefault(stored.chunk.doc_id, []).append(row)
        return rows


# A build's folder, manifest and document records, as read_records returns them.
Records = tuple[Path, Manifest, dict[str, dict[str, Any]]]


def _checksum(path: Path, algorithm: str = CHECKSUM) -> str:
    return str(update_digest(_DIGESTS[algorithm](), path).hexdigest())


def _write_array(path: Path, array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` through Python's file API and flush it to disk.

    ``np.save`` writes large arrays with C ``fwrite``, whose short write on a full disk surfaces
    as "N requested and M written", without the errno that names the cause.
    """
    data = np.ascontiguousarray(array)
    _write_npy(path, np.lib.format.header_data_from_array_1_0(data), [data])


def _write_npy(path: Path, header: dict[str, Any], pieces: Iterable[np.ndarray]) -> None:
    with path.open("wb") as handle:
        np.lib.format.write_array_header_2_0(handle, header)
        for piece in pieces:
            handle.write(piece.reshape(-1).view(np.uint8).data)
        handle.flush()
        os.fsync(handle.fileno())


def scratch_path(vectors_dir: Path, name: str) -> Path:
    """A fresh path for a file that a rebuild writes before its build folder exists.

    Pass it to :func:`write_build` in ``written`` to move it into the build; if the rebuild
    fails first, :func:`prune_builds` deletes it with the other leftovers.
    """
    builds = vectors_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    return builds / f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-{name}"


def write_stacked(
    path: Path, blocks: Sequence[np.ndarray], width: int, dtype: type[np.generic]
) -> None:
    """Save the rows of ``blocks``, one after the other, as one ``.npy`` of ``dtype`` at ``path``.

    Block by block, so that the stacked array is never in memory: a build's token states are
    gigabytes at 100k passages, and the previous build's share of them is read from its memory
    map only as it is copied.

    Args:
        path: A :func:`scratch_path`.
        blocks: ``(rows, width)`` arrays.
        width: Row length (the file's second dimension, also when ``blocks`` is empty).
        dtype: The file's element type (the blocks are converted to it).

    Raises:
        ValueError: When a block is not ``width`` wide.
        StoreError: When the file cannot be written (a full disk).
    """
    for block in blocks:
        if block.ndim != 2 or block.shape[1] != width:
            raise ValueError(f"block of shape {block.shape} in rows of width {width}")
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": (sum(len(block) for block in blocks), width),
    }
    pieces = (np.ascontiguousarray(block, dtype=dtype) for block in blocks)
    try:
        _write_npy(path, header, pieces)
    except OSError as exc:
        raise _write_error(path.parent.parent, exc) from exc


def current_build(vectors_dir: Path) -> Path | None:
    """The live build folder named by ``CURRENT``, or ``None`` when no index was built yet."""
    pointer = vectors_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        raise StoreError(f"{pointer} is corrupt (names {name!r})")
    return vectors_dir / BUILDS / name


def read_manifest(build: Path) -> Manifest:
    """Read and check a build's manifest (format and the files it lists).

    Raises:
        StoreError: Naming the file that is missing, unreadable or does not match its checksum.
    """
    path = build / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StoreError(f"{path} is missing") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path} is unreadable: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_VERSION:
        raise StoreError(f"{path} has an unsupported format (expected {FORMAT_VERSION})")
    if not isinstance(raw.get("files"), dict) or not raw["files"]:
        raise StoreError(f"{path} lists no files")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise StoreError(f"{path} is unreadable: {where}: {first['msg']}") from exc
    if manifest.checksum not in _DIGESTS:
        raise StoreError(f"{path} names an unknown checksum {manifest.checksum!r}")
    for name, checksum in manifest.files.items():
        file = build / name
        if not file.is_file():
            raise StoreError(f"{file} is missing")
        if _checksum(file, manifest.checksum) != checksum:
            raise StoreError(f"{file} is corrupt (checksum mismatch)")
    return manifest


def peek_manifest(vectors_dir: Path) -> Manifest | None:
    """The live build's manifest as written, its files not checked: what a rebuild asks before
    it plans (which seeds folder the index is of); ``None`` when there is no readable one.
    """
    try:
        build = current_build(vectors_dir)
        if build is None:
            return None
        return Manifest.model_validate_json((build / MANIFEST).read_bytes())
    except (OSError, StoreError, ValidationError):
        return None


def read_records(vectors_dir: Path) -> Records:
    """The live build, its manifest (every file checked) and its document records, without
    loading its chunks, vectors or index: enough to tell whether a rebuild has work to do.

    Raises:
        StoreError: When there is no index, or any file of it is missing or corrupt.
    """
    build = current_build(vectors_dir)
    if build is None:
        raise StoreError(f"no index in {vectors_dir}: run `xlsearch rebuild-index` first")
    manifest = read_manifest(build)
    try:
        documents = json.loads((build / DOCUMENTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"build {build} cannot be read: {exc}") from exc
    return build, manifest, documents


def load_index(vectors_dir: Path) -> IndexData:
    """Load the live build of ``vectors_dir`` into memory, after checking every file.

    Raises:
        StoreError: When there is no index, or any file of it is missing or corrupt.
    """
    return load_build(*read_records(vectors_dir))


def load_build(build: Path, manifest: Manifest, documents: dict[str, Any]) -> IndexData:
    """Load a build whose :func:`read_records` have been read (its files checked then).

    Raises:
        StoreError: When a file of it cannot be read or the files disagree.
    """
    import faiss

    top_level = [name for name in manifest.files if "/" not in name]
    try:
        index = faiss.read_index(str(build / INDEX_FILE))
        arrays = {
            name.removesuffix(".npy"): np.load(
                build / name,
                allow_pickle=False,
                # A search reads only its candidates' rows: only those pages come into memory,
                # as evictable page cache shared with the next build's reuse, not memory of the
                # process's own (a gigabyte at 100k passages, without the token states).
                mmap_mode="r",
            )
            for name in top_level
            if name.endswith(".npy")
        }
        tables = {
            name.removesuffix(".json"): json.loads((build / name).read_text(encoding="utf-8"))
            for name in top_level
            if name.endswith(".json") and name != DOCUMENTS_FILE
        }
        chunks = [
            StoredChunk(chunk=Chunk(**record["chunk"]), key=record["key"])
            for record in map(json.loads, (build / CHUNKS_FILE).read_text("utf-8").splitlines())
        ]
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise StoreError(f"build {build} cannot be read: {exc}") from exc
    if EMBEDDINGS not in arrays:
        raise StoreError(f"build {build} has no {EMBEDDINGS}.npy")
    if index.ntotal != len(chunks) or arrays[EMBEDDINGS].shape[0] != len(chunks):
        raise StoreError(f"build {build} is inconsistent: index, embeddings and chunks differ")
    return IndexData(build.name, build, manifest, index, arrays, tables, chunks, documents)


def write_build(
    vectors_dir: Path,
    *,
    index: Any,
    arrays: Mapping[str, np.ndarray],
    chunks: list[StoredChunk],
    documents: dict[str, dict[str, Any]],
    spec: BuildSpec,
    tables: Mapping[str, Any] | None = None,
    writers: Mapping[str, Callable[[Path], None]] | None = None,
    written: Mapping[str, Path] | None = None,
) -> Path:
    """Write a new build and make it live atomically.

    Args:
        vectors_dir: The index folder.
        index: The FAISS index over ``arrays["embeddings"]``.
        arrays: Saved as ``<name>.npy``; ``embeddings`` row ``i`` is the vector of ``chunks[i]``.
        chunks: The chunk table.
        documents: Document records by ``doc_id``.
        spec: What the build holds; the manifest adds its name, time and files' checksums.
        tables: JSON-serialisable data saved as ``<name>.json``.
        writers: Callables that write their own file or folder at ``build/<name>``.
        written: Files already written (:func:`scratch_path`), moved to ``build/<name>``.

    Returns:
        The new live build folder.
    """
    import faiss

    builds = vectors_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:8]
    try:
        with replacing(builds / name, folder=True) as staging:
            faiss.write_index(index, str(staging / INDEX_FILE))
            for array_name, array in arrays.items():
                _write_array(staging / f"{array_name}.npy", array)
            for table_name, table in (tables or {}).items():
                write_durable(staging / f"{table_name}.json", json.dumps(table).encode())
            for target, write in (writers or {}).items():
                write(staging / target)
            for target, source in (written or {}).items():
                os.replace(source, staging / target)
            # vars, not asdict: a chunk's fields are plain values, and asdict's deep copy of
            # each is a large share of a big rebuild's writing.
            lines = (
                json.dumps({"key": c.key, "chunk": vars(c.chunk)}, ensure_ascii=False)
                for c in chunks
            )
            write_durable(staging / CHUNKS_FILE, ("\n".join(lines) + "\n").encode())
            records = json.dumps(documents, ensure_ascii=False).encode()
            write_durable(staging / DOCUMENTS_FILE, records)
            files = sorted(p for p in staging.rglob("*") if p.is_file())
            for path in files:
                with path.open("rb+") as handle:
                    os.fsync(handle.fileno())
            manifest = Manifest(
                **{field: getattr(spec, field) for field in BuildSpec.model_fields},
                format=FORMAT_VERSION,
                build=name,
                built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                checksum=CHECKSUM,
                files={p.relative_to(staging).as_posix(): _checksum(p) for p in files},
            )
            write_durable(staging / MANIFEST, manifest.to_json().encode())
            fsync_dir(staging)
        fsync_dir(builds)
        with replacing(vectors_dir / CURRENT) as pointer:
            write_durable(pointer, (name + "\n").encode())
    except OSError as exc:
        raise _write_error(vectors_dir, exc) from exc
    fsync_dir(vectors_dir)
    return builds / name


def _write_error(vectors_dir: Path, exc: OSError) -> StoreError:
    """A write failure (a full disk, mostly) as a message that names the folder and, for a full
    disk, how much room a new build needs.

    ``write()`` errors carry no file name, so without this a full disk says only "[Errno 28] No
    space left on device", not where.
    """
    message = (
        f"cannot write a new build in {vectors_dir}: {exc.strerror or exc}; "
        "the previous index is untouched"
    )
    live = current_build(vectors_dir) if exc.errno == errno.ENOSPC else None
    if live is not None:
        # A build is written whole beside the live one, so it needs about as much again.
        size = sum(p.stat().st_size for p in live.rglob("*") if p.is_file())
        message += f"; a new build needs about {size / 1e6:,.0f} MB free (the live build's size)"
    return StoreError(message)


def prune_builds(vectors_dir: Path, keep: int = 2) -> list[Path]:
    """Delete abandoned staging folders and scratch files, and all but the ``keep`` newest builds.

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
    stale = [p for p in builds.iterdir() if p.name.startswith(TMP_PREFIX)]
    for path in stale + finished[keep:]:
        if live is not None and path.resolve() == live.resolve():
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:  # a scratch file
            path.unlink(missing_ok=True)
        removed.append(path)
    for leftover in vectors_dir.glob(f"{TMP_PREFIX}*-{CURRENT}"):
        leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed

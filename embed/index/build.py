"""``rebuild-index``: bring ``vectors/`` up to date with a seeds folder.

Seeds whose bytes are unchanged are not read again; documents whose record is unchanged keep
their chunks; chunks whose text is unchanged keep their sentences, vectors and token states,
copied by row from the live build (see :mod:`embed.index.reuse`). Only what changed is embedded, and
the result is written as a new build that replaces the live one atomically (see
:mod:`embed.index.store`).
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

from embed.index.alignment import (
    ALIGNMENT_VERSION,
    CANDIDATES_ARRAY,
    Carried,
    align_parallel,
    carried_rows,
    find_candidates,
)
from embed.index.bm25 import LEXICAL_DIR, LEXICAL_VERSION, LexicalIndex
from embed.index.faiss_index import build_faiss_index
from embed.index.reuse import NEW, chunk_sources, embed_rows, sentence_table, stack_tokens
from embed.index.store import (
    EMBEDDINGS,
    LOCK_FILE,
    IndexData,
    StoredChunk,
    StoreError,
    load_build,
    prune_builds,
    read_records,
    scratch_path,
    write_build,
    write_stacked,
)
from embed.index.token_store import OFFSETS, SCALES, STATES, TokenStates, manifest_entry
from embed.ingest.chunking import chunk_document
from embed.ingest.documents import (
    MAX_SEED_BYTES,
    Document,
    SeedError,
    discover_seeds,
    read_document,
    source_digest,
)
from embed.models.encoder import Encoder, TextEncoder
from embed.models.tokens import QuantisedTokens

logger = logging.getLogger(__name__)

# A build's folder, manifest and document records, as read_records returns them.
Records = tuple[Path, dict[str, Any], dict[str, dict[str, Any]]]

# Bump when chunking output changes for the same input, so old chunk tables are not reused.
CHUNKER_VERSION = 2  # 2: long sentences are matched clause by clause too (match_spans)


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
    # Sentences and clauses (match_spans): after a chunker upgrade they are embedded anew
    # while every chunk is reused, and ``embedded`` alone would say the build did nothing.
    spans: int = 0
    spans_embedded: int = 0
    seconds: float = 0.0
    changed: bool = False
    build: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _doc_fingerprint(doc: Document) -> str:
    return hashlib.sha256(json.dumps(asdict(doc), sort_keys=True).encode()).hexdigest()


def _live_records(vectors_dir: Path, encoder: Encoder) -> Records | None:
    """The live build's :func:`read_records` if it can serve as a cache for this model, else
    ``None``. Its files are checked, but not loaded: an unchanged corpus needs no more."""
    try:
        live = read_records(vectors_dir)
    except StoreError as exc:
        if "no index" not in str(exc):
            logger.warning("previous index not reused: %s", exc)
        return None
    if live[1].get("model", {}).get("checksum") != encoder.checksum:
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


def _read_seeds(
    paths: list[Path],
    seeds_dir: Path,
    max_seed_bytes: int,
    old_docs: dict[str, dict[str, Any]],
    skipped: list[dict[str, str]],
) -> tuple[dict[str, dict[str, Any]], dict[str, Document]]:
    """The document record of each seed, and the documents whose chunks must be made anew.

    A seed whose :func:`source_digest` is that of a record in ``old_docs`` keeps the record
    unread; one read to the same record as before keeps it too. Seeds that cannot be indexed
    are added to ``skipped`` with the reason.
    """
    seen = {record.get("source_digest"): record for record in old_docs.values()}
    records: dict[str, dict[str, Any]] = {}
    changed: dict[str, Document] = {}
    for path in paths:
        try:
            size = path.stat().st_size
        except OSError as exc:
            skipped.append({"source": str(path), "reason": f"cannot be read ({exc})"})
            continue
        if size > max_seed_bytes:
            reason = f"too large ({size} bytes; the limit is {max_seed_bytes})"
            skipped.append({"source": str(path), "reason": reason})
            continue
        digest = source_digest(path, seeds_dir)
        if digest is not None and digest in seen:
            records[seen[digest]["doc_id"]] = seen[digest]
            continue
        try:
            doc = read_document(path, seeds_dir)
        except SeedError as exc:
            skipped.append({"source": str(path), "reason": str(exc)})
            continue
        fingerprint = _doc_fingerprint(doc)
        records[doc.doc_id] = {**asdict(doc), "fingerprint": fingerprint, "source_digest": digest}
        old = old_docs.get(doc.doc_id)
        if old is None or old.get("fingerprint") != fingerprint:
            changed[doc.doc_id] = doc
    return records, changed


def _extends(sources: np.ndarray, rows: int) -> bool:
    """Whether a build whose chunks have these :func:`chunk_sources` begins with the ``rows``
    chunks of the previous one, in their order (seeds were only added, after the others)."""
    return rows <= len(sources) and np.array_equal(sources[:rows], np.arange(rows))


def _model_entry(encoder: Encoder, previous: IndexData | None) -> dict[str, Any]:
    """The manifest's entry for ``encoder``: the live build's when it names the same model,
    weights and prompts, so that a rebuild with nothing to embed (a seed deleted, an edit
    undone) does not load the model to learn its dimension."""
    if previous is not None:
        entry: dict[str, Any] = previous.manifest.get("model", {})
        known = {"name": encoder.name, "checksum": encoder.checksum, "prompts": encoder.prompts}
        if all(entry.get(key) == value for key, value in known.items()):
            return entry
    return encoder.info.to_dict()


def _carried_candidates(
    previous: IndexData | None, sources: np.ndarray, langs: list[str]
) -> Carried | None:
    """What the new build's alignment candidates can take over from the live build's: its
    table, when it has one made the same way, and the rows whose vectors were copied from it
    (``sources``, the primary encoder's)."""
    if (
        previous is None
        or CANDIDATES_ARRAY not in previous.arrays
        or previous.manifest.get("alignment_version") != ALIGNMENT_VERSION
    ):
        return None
    old_langs = [stored.chunk.lang for stored in previous.chunks]
    return Carried(
        previous.arrays[CANDIDATES_ARRAY],
        previous.manifest.get("languages", []),
        carried_rows(sources, old_langs, langs),
    )


def _second_info(second: TextEncoder | None) -> dict[str, Any] | None:
    if second is None:
        return None
    return {"name": second.name, "checksum": second.checksum, "dimension": second.dimension}


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
) -> BuildSummary:
    """Index every ``.txt`` under ``seeds_dir`` into ``vectors_dir``, reusing what it can.

    Args:
        seeds_dir: The corpus folder.
        vectors_dir: The index folder (created if missing).
        encoder: The model to embed with.
        second: A second encoder whose vectors the ranking fuses in, if enabled.
        batch_size: Passages per encode batch.
        progress: Show a progress bar while embedding.
        wait: Seconds to wait for another rebuild's lock before giving up.
        max_seed_bytes: Larger seeds are skipped with a warning.

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
        summary = _rebuild_locked(
            seeds_dir, vectors_dir, encoder, second, batch_size, progress, max_seed_bytes
        )
    finally:
        # Also after a failure: a scratch file written before it goes with the other leftovers.
        prune_builds(vectors_dir)
        lock.release()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _rebuild_locked(
    seeds_dir: Path,
    vectors_dir: Path,
    encoder: Encoder,
    second: TextEncoder | None,
    batch_size: int,
    progress: bool,
    max_seed_bytes: int,
) -> BuildSummary:
    scan = discover_seeds(seeds_dir)
    skipped = [{"source": str(p), "reason": reason} for p, reason in scan.skipped]
    chunking = {"version": CHUNKER_VERSION, "max_tokens": encoder.max_tokens}
    live = _live_records(vectors_dir, encoder)
    live_manifest = live[1] if live is not None else {}
    old_docs = live[2] if live is not None and live_manifest.get("chunking") == chunking else {}
    records, changed = _read_seeds(scan.paths, seeds_dir, max_seed_bytes, old_docs, skipped)
    for item in skipped:
        logger.warning("skipped %s: %s", item["source"], item["reason"])

    second_info = _second_info(second)
    tokens_info = manifest_entry(encoder.token_layer)
    settings = {
        "second_model": second_info,
        "lexical_version": LEXICAL_VERSION,
        "alignment_version": ALIGNMENT_VERSION,
        "tokens": tokens_info,
    }
    if (
        live is not None
        and records == old_docs
        and all(live_manifest.get(key) == value for key, value in settings.items())
    ):
        counts = live_manifest["counts"]
        return BuildSummary(
            len(records), counts["chunks"], 0, counts["chunks"], skipped,
            spans=counts.get("sentences", 0),
        )  # fmt: skip

    previous = _previous(live) if live is not None else None
    if previous is None and len(changed) < len(records):
        # The records were read, the rest of the build was not: every seed is new to this one.
        records, changed = _read_seeds(scan.paths, seeds_dir, max_seed_bytes, {}, [])
    old_chunks: dict[str, list[StoredChunk]] = {}
    if previous is not None and old_docs:
        for stored in previous.chunks:
            old_chunks.setdefault(stored.chunk.doc_id, []).append(stored)
    chunks: list[StoredChunk] = []
    for doc_id in records:
        if doc_id not in changed:
            chunks.extend(old_chunks.get(doc_id, []))
            continue
        for chunk in chunk_document(changed[doc_id], encoder.count_tokens, encoder.max_tokens):
            chunks.append(StoredChunk(chunk, encoder.cache_key(chunk.text)))

    chunk_texts = [c.chunk.text for c in chunks]
    sources = chunk_sources(previous.chunks if previous is not None else None, chunks)
    old = previous.arrays if previous is not None else {}
    same_chunking = previous is not None and previous.manifest.get("chunking") == chunking
    spans, sentence_sources = sentence_table(
        chunks, sources, old.get("sentence_spans") if same_chunking else None
    )

    def sentence_text(row: int) -> str:
        chunk, begin, end = (int(value) for value in spans[row])
        return chunk_texts[chunk][begin:end]

    same_tokens = previous is not None and previous.manifest.get("tokens") == tokens_info
    # The chunk's vector comes from the same forward pass as its token states: a chunk whose
    # states must be taken anew is embedded anew.
    e5_sources = sources if same_tokens or tokens_info is None else np.full_like(sources, NEW)
    fresh: dict[str, np.ndarray] = {}
    states: dict[int, QuantisedTokens] | None = {} if tokens_info is not None else None
    options: dict[str, Any] = {"batch_size": batch_size, "progress": progress}
    matrix = embed_rows(
        encoder, chunk_texts.__getitem__, e5_sources, old.get(EMBEDDINGS), fresh,
        tokens=states, **options,
    )  # fmt: skip
    embedded = int(np.count_nonzero(e5_sources == NEW))
    arrays = {
        EMBEDDINGS: matrix,
        "sentence_spans": spans,
        "sentence_embeddings": embed_rows(
            encoder, sentence_text, sentence_sources,
            old.get("sentence_embeddings"), fresh, **options,
        ),
    }  # fmt: skip
    packed, written = None, {}
    if states is not None:
        # Written as they are stacked, not gathered into one array first: see write_stacked.
        states_file = scratch_path(vectors_dir, f"{STATES}.npy")
        blocks, offsets = stack_tokens(
            TokenStates.of_build(old) if same_tokens else None, e5_sources, states
        )
        width = blocks[0].codes.shape[1] if blocks else 0
        write_stacked(states_file, [block.codes for block in blocks], width, np.int8)
        packed = TokenStates.pack(blocks, offsets, codes=np.load(states_file, mmap_mode="r"))
        arrays[SCALES], arrays[OFFSETS] = packed.scales, packed.offsets
        written[f"{STATES}.npy"] = states_file
        del blocks
        states.clear()
    if second is not None:
        same_second = previous is not None and previous.manifest.get("second_model") == second_info
        fresh2: dict[str, np.ndarray] = {}
        for name, text, rows in (
            ("second_embeddings", chunk_texts.__getitem__, sources),
            ("second_sentence_embeddings", sentence_text, sentence_sources),
        ):
            arrays[name] = embed_rows(
                second, text, rows, old.get(name) if same_second else None, fresh2,
                **options,
            )  # fmt: skip

    grow = None
    if previous is not None and _extends(e5_sources, previous.index.ntotal):
        grow = (previous.index, previous.manifest.get("index", {}))
    index, index_spec = build_faiss_index(matrix, grow=grow)
    langs = [c.chunk.lang for c in chunks]
    arrays[CANDIDATES_ARRAY] = find_candidates(
        langs, index, matrix, _carried_candidates(previous, e5_sources, langs)
    )
    extra = [arrays["second_embeddings"]] if second is not None else []
    translations = align_parallel(
        langs,
        index,
        matrix,
        extra,
        [c.chunk.doc_id for c in chunks],
        packed,
        candidates=arrays[CANDIDATES_ARRAY],
    )
    lexical = LexicalIndex.build(chunk_texts)
    manifest = {
        "model": _model_entry(encoder, previous),
        **settings,
        "index": index_spec,
        "chunking": chunking,
        "counts": {
            "documents": len(records),
            "chunks": len(chunks),
            "sentences": len(spans),
        },
        "languages": sorted(set(langs)),
    }
    build = write_build(
        vectors_dir,
        index=index,
        arrays=arrays,
        chunks=chunks,
        documents=records,
        manifest=manifest,
        tables={"translations": translations},
        writers={LEXICAL_DIR: lexical.save},
        written=written,
    )
    return BuildSummary(
        len(records), len(chunks), embedded, len(chunks) - embedded, skipped,
        spans=len(spans), spans_embedded=int(np.count_nonzero(sentence_sources == NEW)),
        changed=True, build=build.name,
    )  # fmt: skip

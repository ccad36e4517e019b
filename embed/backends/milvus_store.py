"""A build's layout in Milvus, and how a finished local build is published there.

Milvus 2.3 holds one vector field per collection, so rows live in four collections:
``passages`` (the e5 vector of each chunk, with its language, document, chunk record and token
states), ``spans`` (the e5 vector of each sentence and clause, with its offsets in the chunk),
``second`` and ``second_spans`` (the second encoder's vectors). Each row's id is a digest of what
it holds (:func:`row_ids`, :func:`span_ids`): a row that did not change keeps its id from build
to build. What depends on a row's place in the build (its position, its spans' range, its
translation links) and the global statistics (languages, language centroids, the BM25 index)
are a build's ``meta`` collection of byte blobs, one collection per build.

The four row collections exist twice under an alias, as slots ``s0`` and ``s1``: the live
build's rows fill one, and a publication brings the other up to date with the new build
(upserting the rows it lacks, deleting those the new build dropped), writes the new build's
meta, and moves the alias, which names the live build's meta collection: the one atomic step
that switches readers. Readers stay on the collections of the build they opened, and the
publication moves the alias only once every row is written and visible at the ``Bounded``
consistency that searches use, so an interrupted publication leaves readers on the live build;
the next one finds what the slot holds and carries on from there.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import math
import re
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embed.store.builds import IndexData
from embed.store.faiss_index import HNSW_EF_CONSTRUCTION, HNSW_M, choose_index_type
from embed.store.format import (
    EMBEDDINGS,
    LEXICAL_DIR,
    SECOND_EMBEDDINGS,
    SECOND_SENTENCE_EMBEDDINGS,
    SENTENCE_EMBEDDINGS,
    SENTENCE_SPANS,
    TOKEN_STATES,
    TRANSLATIONS,
    BackendUnavailable,
    StoreError,
)
from embed.store.token_states import TokenStates

logger = logging.getLogger(__name__)

# The collection of each per-row array.
COLLECTIONS = {
    EMBEDDINGS: "passages",
    SENTENCE_EMBEDDINGS: "spans",
    SECOND_EMBEDDINGS: "second",
    SECOND_SENTENCE_EMBEDDINGS: "second_spans",
}
META = "meta"
SLOTS = ("s0", "s1")
# Milvus's longest VARCHAR; blobs are cut into base64 parts that fit.
VARCHAR_MAX = 65_535
_PART_BYTES = VARCHAR_MAX // 4 * 3
# Rows per insert call: well under Milvus's 64 MiB message limit with token states.
_INSERT_ROWS = 256
# Ids per delete or query expression.
_ID_BATCH = 4096
# How long a write takes to become visible at Bounded consistency (Milvus's common.gracefulTime).
GRACEFUL_SECONDS = 5.0
# How long the build readers left stays untouched after the alias moved: readers check the
# alias every second or so (XLSEARCH_RELOAD_INTERVAL), then load the new build.
SETTLE_SECONDS = 30.0
_BUILD_TAG = re.compile(r"[^0-9A-Za-z_]")
# Milvus's code for a collection not loaded yet (after a restart, it loads them again by itself).
_NOT_LOADED = 101
_ID_MASK = (1 << 63) - 1
# Odd 64-bit multiplier (the golden ratio's): a span's id mixes its row's id with its number.
_SPAN_MIX = np.uint64(0x9E3779B97F4A7C15)
# The build fields that decide what a row holds besides its chunk record: the models and how
# token states and spans are made.
_ROW_IDENTITY = ("model", "second_model", "tokens", "chunking")


def call(client: Any, method: str, collection: str, **arguments: Any) -> Any:
    """``client.<method>(collection, **arguments)``, with Milvus's failures as
    :class:`~embed.store.format.BackendUnavailable`; a collection that a restarted server has
    not loaded yet is loaded, and the call made again once."""
    from pymilvus.exceptions import MilvusException

    for attempt in range(2):
        try:
            return getattr(client, method)(collection, **arguments)
        except MilvusException as exc:
            if exc.code == _NOT_LOADED and attempt == 0:
                try:
                    client.load_collection(collection, timeout=30)
                    continue
                except MilvusException as again:
                    exc = again
            raise BackendUnavailable(f"Milvus cannot answer: {exc.message}") from exc
    raise AssertionError("unreachable")


def connect(uri: str, token: str | None = None) -> Any:
    """A ``MilvusClient`` for ``uri`` (``http://host:19530``), with ``token`` on a secured one."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise StoreError(
            "the Milvus backend needs pymilvus: pip install 'xlsearch[distributed]'"
        ) from exc
    from pymilvus.exceptions import MilvusException

    # A Milvus 2.3 server does not return an iterator's session timestamp: the client uses its
    # own, as documented, and warns about it at every iterator.
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    try:
        return MilvusClient(uri=uri, token=token or "")
    except MilvusException as exc:
        raise BackendUnavailable(f"cannot reach Milvus at {uri}: {exc.message}") from exc


def slot_names(prefix: str, slot: str) -> dict[str, str]:
    """The row collections of ``slot`` under ``prefix``, by kind (``passages``, ...)."""
    return {kind: f"{prefix}__{slot}__{kind}" for kind in COLLECTIONS.values()}


def meta_name(prefix: str, build: str) -> str:
    """The meta collection of ``build`` under ``prefix``."""
    return f"{prefix}__{_BUILD_TAG.sub('_', build)}__{META}"


def row_ids(data: IndexData) -> np.ndarray:
    """Each chunk row's id: a 63-bit digest of its record and of what made its vectors, spans
    and token states (so an unchanged row keeps its id in the next build).

    Raises:
        StoreError: Two rows of the build got the same id (a digest collision).
    """
    spec = data.manifest.model_dump(mode="json")
    identity = json.dumps({key: spec.get(key) for key in _ROW_IDENTITY}, sort_keys=True)
    ids = np.empty(len(data.chunks), dtype=np.int64)
    for row, stored in enumerate(data.chunks):
        record = json.dumps(vars(stored.chunk), sort_keys=True, ensure_ascii=False)
        digest = hashlib.blake2b(f"{identity}\n{record}".encode(), digest_size=8).digest()
        ids[row] = int.from_bytes(digest, "little") & _ID_MASK
    if len(np.unique(ids)) != len(ids):
        raise StoreError("two rows of the build have the same Milvus id; publish it again")
    return ids


def span_ids(rows: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """The ids of spans: each one's row id (``rows``) mixed with its number within the row
    (``numbers``, from 0), so that a row that kept its id keeps its spans' ids."""
    with np.errstate(over="ignore"):
        mixed = rows.astype(np.uint64) * _SPAN_MIX + (numbers.astype(np.uint64) + np.uint64(1))
    return (mixed & np.uint64(_ID_MASK)).astype(np.int64)


def span_numbers(span_rows: np.ndarray) -> np.ndarray:
    """Each span's number within its row, for a build's ``span_rows`` (a row's spans together)."""
    rows = np.asarray(span_rows, dtype=np.int64)
    return np.arange(len(rows)) - np.searchsorted(rows, rows)


def blob_parts(data: bytes) -> list[str]:
    """``data`` as base64 strings that each fit a VARCHAR field."""
    return [
        base64.b64encode(data[i : i + _PART_BYTES]).decode("ascii")
        for i in range(0, max(len(data), 1), _PART_BYTES)
    ]


def join_parts(parts: list[str]) -> bytes:
    """The bytes :func:`blob_parts` cut."""
    return b"".join(base64.b64decode(part) for part in parts)


def array_bytes(array: np.ndarray) -> bytes:
    """``array`` in the ``.npy`` format."""
    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(array), allow_pickle=False)
    return out.getvalue()


def bytes_array(data: bytes) -> np.ndarray:
    """The array :func:`array_bytes` wrote."""
    return np.asarray(np.load(io.BytesIO(data), allow_pickle=False))


def token_blob(codes: np.ndarray, scales: np.ndarray) -> bytes:
    """One passage's token states: its int8 codes, then its float32 scales."""
    return np.ascontiguousarray(codes, np.int8).tobytes() + scales.astype(np.float32).tobytes()


def blob_tokens(data: bytes, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The codes and scales :func:`token_blob` wrote."""
    count = len(data) // (dim + 4)
    codes = np.frombuffer(data, np.int8, count * dim).reshape(count, dim)
    return codes, np.frombuffer(data, np.float32, count, offset=count * dim)


def _vector_index(client: Any, rows: int) -> Any:
    """An exact index or HNSW, as :func:`embed.store.faiss_index.choose_index_type` chooses for
    the local build, so that both backends rank alike."""
    params = client.prepare_index_params()
    if choose_index_type(rows) == "Flat":
        params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    else:
        params.add_index(
            field_name="vector",
            index_type="HNSW",
            metric_type="IP",
            params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
        )
    return params


def _schema(client: Any, kind: str, dim: int, token_fields: int) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    if kind == META:
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("data", DataType.VARCHAR, max_length=VARCHAR_MAX)
        # Every Milvus 2.3 collection needs a vector field; the meta rows have nothing to find.
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
        return schema
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    if kind == "passages":
        schema.add_field("lang", DataType.VARCHAR, max_length=64)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=4096)
        schema.add_field("chunk", DataType.JSON)
        for part in range(token_fields):
            schema.add_field(f"tokens{part}", DataType.VARCHAR, max_length=VARCHAR_MAX)
    elif kind == "spans":
        schema.add_field("begin", DataType.INT64)
        schema.add_field("end", DataType.INT64)
    return schema


def live_build(client: Any, prefix: str) -> str | None:
    """The meta collection the alias ``prefix`` points at, or ``None`` when there is none."""
    from pymilvus.exceptions import MilvusException

    try:
        if prefix not in client.list_aliases().get("aliases", []):
            return None
        return str(client.describe_alias(prefix)["collection_name"])
    except MilvusException as exc:
        raise BackendUnavailable(f"Milvus cannot answer: {exc.message}") from exc


def _records(
    data: IndexData, kind: str, ids: np.ndarray, positions: np.ndarray
) -> Iterator[dict[str, Any]]:
    """The ``kind`` collection's records of the rows (or spans) at ``positions``."""
    array = next(a for a, k in COLLECTIONS.items() if k == kind)
    vectors = data.arrays[array]
    if kind == "passages":
        tokens = TokenStates.of_build(data.arrays) if TOKEN_STATES in data.arrays else None
        fields = token_fields(data)
    spans = data.arrays.get(SENTENCE_SPANS, np.zeros((0, 3), np.int32))
    for position in positions.tolist():
        record: dict[str, Any] = {"id": int(ids[position]), "vector": vectors[position]}
        if kind == "passages":
            stored = data.chunks[position]
            record.update(
                lang=stored.chunk.lang, doc_id=stored.chunk.doc_id, chunk=vars(stored.chunk)
            )
            parts = []
            if tokens is not None:
                parts = blob_parts(token_blob(tokens[position].codes, tokens[position].scales))
            for part in range(fields):
                record[f"tokens{part}"] = parts[part] if part < len(parts) else ""
        elif kind == "spans":
            record.update(begin=int(spans[position, 1]), end=int(spans[position, 2]))
        yield record


def token_fields(data: IndexData) -> int:
    """How many VARCHAR fields the longest passage's token states take."""
    if TOKEN_STATES not in data.arrays:
        return 0
    offsets = data.arrays["token_offsets"]
    longest = int(np.max(np.diff(offsets))) if len(offsets) > 1 else 0
    dim = int(data.arrays[TOKEN_STATES].shape[1])
    return max(1, math.ceil(longest * (dim + 4) / _PART_BYTES))


def _meta_blobs(
    data: IndexData, statistics: Mapping[str, np.ndarray], slot: str, ids: np.ndarray
) -> dict[str, bytes]:
    """The build's side tables and global statistics, by name."""
    names = sorted({c.chunk.lang for c in data.chunks})
    code_of = {lang: code for code, lang in enumerate(names)}
    codes = [code_of[c.chunk.lang] for c in data.chunks]
    spans = data.arrays.get(SENTENCE_SPANS, np.zeros((0, 3), np.int32))
    blobs = {
        "slot": slot.encode(),
        "manifest": data.manifest.model_dump_json().encode(),
        "documents": json.dumps(data.documents, ensure_ascii=False).encode(),
        "languages": json.dumps(names).encode(),
        "language_codes": array_bytes(np.asarray(codes, dtype=np.int16)),
        "row_ids": array_bytes(ids),
        "span_rows": array_bytes(spans[:, 0].astype(np.int32)),
        "translations": json.dumps(data.tables.get(TRANSLATIONS, [])).encode(),
        "token_fields": str(token_fields(data)).encode(),
        "dimensions": json.dumps(
            {a: int(data.arrays[a].shape[1]) for a in COLLECTIONS if a in data.arrays}
        ).encode(),
        # When readers are switched to it; the next publication leaves the slot they leave
        # alone for SETTLE_SECONDS after that.
        "switched_at": str(time.time() + GRACEFUL_SECONDS).encode(),
    }
    if TOKEN_STATES in data.arrays:
        blobs["token_dim"] = str(int(data.arrays[TOKEN_STATES].shape[1])).encode()
    for name, array in statistics.items():
        blobs[f"statistics/{name}"] = array_bytes(array)
    lexical = data.path / LEXICAL_DIR
    if lexical.is_dir():
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            tar.add(lexical, arcname=LEXICAL_DIR)
        blobs["lexical"] = out.getvalue()
    return blobs


def _meta_blob(client: Any, meta: str, name: str) -> bytes | None:
    """One small blob of a meta collection (a single part), or ``None``."""
    found = call(
        client, "query", meta, ids=[f"{name}#000000"], output_fields=["data"],
        consistency_level="Strong",
    )  # fmt: skip
    return join_parts([found[0]["data"]]) if found else None


def build_slot(client: Any, meta: str) -> str:
    """The slot whose rows the build of the meta collection ``meta`` reads."""
    return (_meta_blob(client, meta, "slot") or SLOTS[0].encode()).decode()


def _count(client: Any, name: str) -> int:
    found = client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")
    return int(found[0]["count(*)"])


def _held_ids(client: Any, name: str) -> np.ndarray:
    """Every id ``name`` holds, read at Strong consistency."""
    iterator = client.query_iterator(
        name, batch_size=16_384, filter="id >= 0", output_fields=["id"],
        consistency_level="Strong",
    )  # fmt: skip
    held: list[int] = []
    while batch := iterator.next():
        held += [int(row["id"]) for row in batch]
    iterator.close()
    return np.asarray(held, dtype=np.int64)


def _prepare(client: Any, name: str, kind: str, dim: int, fields: int, rows: int) -> None:
    """Make ``name`` ready for a build's rows of ``kind``: kept when its schema fits (the
    vector size, the token fields), else made anew (another model, longer passages)."""
    if client.has_collection(name):
        described = {f["name"]: f for f in client.describe_collection(name)["fields"]}
        size = described.get("vector", {}).get("params", {}).get("dim")
        tokens = sum(1 for field in described if field.startswith("tokens"))
        if int(size or 0) == dim and (kind != "passages" or tokens == fields):
            return
        logger.info("Milvus collection %s does not fit this build; it is made anew", name)
        client.drop_collection(name)
    # Only passages are searched; the other collections are read by primary key, and an
    # exact index costs nothing to build.
    client.create_collection(
        name,
        schema=_schema(client, kind, dim, fields),
        index_params=_vector_index(client, rows if kind == "passages" else 0),
        consistency_level="Bounded",
    )


def _bring_up_to_date(
    client: Any, name: str, data: IndexData, kind: str, ids: np.ndarray
) -> tuple[int, int]:
    """Upsert into ``name`` the rows of ``data`` it lacks and delete those ``data`` dropped.

    Returns:
        How many rows were written, and how many deleted.
    """
    held = _held_ids(client, name)
    gone = np.setdiff1d(held, ids)
    for start in range(0, len(gone), _ID_BATCH):
        client.delete(name, ids=gone[start : start + _ID_BATCH].tolist())
    missing = np.flatnonzero(~np.isin(ids, held))
    batch: list[dict[str, Any]] = []
    for record in _records(data, kind, ids, missing):
        batch.append(record)
        if len(batch) >= _INSERT_ROWS:
            client.upsert(name, batch)
            batch = []
    if batch:
        client.upsert(name, batch)
    return len(missing), len(gone)


@dataclass(frozen=True)
class Publication:
    """What :func:`publish_build` did.

    Attributes:
        moved: Whether the alias moved (``False``: it pointed at this build already).
        written: Rows (of all four row collections) upserted.
        deleted: Rows deleted.
    """

    moved: bool
    written: int = 0
    deleted: int = 0


def publish_build(
    data: IndexData,
    statistics: Mapping[str, np.ndarray],
    client: Any,
    prefix: str,
    *,
    settle: float = SETTLE_SECONDS,
) -> Publication:
    """Bring Milvus up to date with a finished local build and point the alias ``prefix`` at it.

    The slot the live build does not use receives the rows it lacks and loses those the build
    dropped; unchanged rows are not sent again.

    Args:
        data: The build (see :func:`embed.store.builds.load_index`).
        statistics: The global statistics the ranking needs besides the rows (the language
            correction's arrays), stored with the build rather than recomputed by readers.
        client: A ``MilvusClient`` (see :func:`connect`).
        prefix: The alias readers open, and the prefix of the collections.
        settle: Seconds after the live build's switch before the slot its readers left is
            written: readers still on the build before it finish on it.

    Returns:
        Whether the alias moved, and how many rows were written and deleted.
    """
    meta = meta_name(prefix, data.name)
    live = live_build(client, prefix)
    if live == meta:
        return Publication(moved=False)
    slot = SLOTS[1] if live is not None and build_slot(client, live) == SLOTS[0] else SLOTS[0]
    if live is not None:
        switched = float(_meta_blob(client, live, "switched_at") or 0)
        time.sleep(max(0.0, switched + settle - time.time()))
    # The build before the live one described the slot about to change: no reader may open it.
    _prune(client, prefix, keep={live} if live else set())
    ids = row_ids(data)
    rows = data.arrays.get(SENTENCE_SPANS, np.zeros((0, 3), np.int32))[:, 0]
    wanted = {"passages": ids, "spans": span_ids(ids[rows], span_numbers(rows)), "second": ids}
    wanted["second_spans"] = wanted["spans"]
    names = slot_names(prefix, slot)
    fields = token_fields(data)
    written = deleted = 0
    for array, kind in COLLECTIONS.items():
        if array not in data.arrays:
            if client.has_collection(names[kind]):
                client.drop_collection(names[kind])
            continue
        dim = int(data.arrays[array].shape[1])
        _prepare(client, names[kind], kind, dim, fields, len(data.chunks))
        upserted, dropped = _bring_up_to_date(client, names[kind], data, kind, wanted[kind])
        written, deleted = written + upserted, deleted + dropped
    logger.info("Milvus slot %s of %s: %d rows written, %d deleted", slot, prefix, written, deleted)
    meta_rows = [
        {"key": f"{name}#{part:06d}", "data": text, "vector": [0.0, 0.0]}
        for name, blob in _meta_blobs(data, statistics, slot, ids).items()
        for part, text in enumerate(blob_parts(blob))
    ]
    if client.has_collection(meta):
        # Left over from an interrupted publication of this build: never live, safe to drop.
        client.drop_collection(meta)
    meta_index = client.prepare_index_params()
    meta_index.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
    client.create_collection(meta, schema=_schema(client, META, 0, 0), index_params=meta_index)
    for start in range(0, len(meta_rows), 64):
        client.insert(meta, meta_rows[start : start + 64])
    # No flush: Milvus logs every write before acknowledging it, and flushing costs seconds.
    finished = time.monotonic()
    expected = {
        names[kind]: len(wanted[kind]) for a, kind in COLLECTIONS.items() if a in data.arrays
    }
    for name, count in {**expected, meta: len(meta_rows)}.items():
        found = _count(client, name)
        if found != count:
            raise StoreError(f"Milvus holds {found} rows of {name}, {count} were written")
    time.sleep(max(0.0, GRACEFUL_SECONDS - (time.monotonic() - finished)))
    if live is None:
        client.create_alias(meta, prefix)
    else:
        client.alter_alias(meta, prefix)
    logger.info("Milvus alias %s now points at build %s", prefix, data.name)
    _prune(client, prefix, keep={meta, live} if live else {meta})
    return Publication(moved=True, written=written, deleted=deleted)


def _prune(client: Any, prefix: str, keep: set[str]) -> None:
    """Drop the collections under ``prefix`` other than the slots and the metas in ``keep``."""
    slots = {name for slot in SLOTS for name in slot_names(prefix, slot).values()}
    for name in client.list_collections():
        if name.startswith(prefix + "__") and name not in slots and name not in keep:
            client.drop_collection(name)


def read_meta(client: Any, meta: str) -> dict[str, bytes]:
    """Every blob of a build's meta collection, by name."""
    parts: dict[str, list[tuple[str, str]]] = {}
    iterator = call(
        client,
        "query_iterator",
        meta,
        batch_size=256,
        filter='key != ""',
        output_fields=["key", "data"],
    )
    rows: list[dict[str, Any]] = []
    while batch := iterator.next():
        rows += batch
    iterator.close()
    for row in rows:
        name, part = str(row["key"]).rsplit("#", 1)
        parts.setdefault(name, []).append((part, str(row["data"])))
    return {name: join_parts([text for _, text in sorted(found)]) for name, found in parts.items()}


def unpack_lexical(blob: bytes) -> Path:
    """The BM25 folder of a meta blob, unpacked into a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="xlsearch-bm25-"))
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        tar.extractall(folder, filter="data")
    return folder / LEXICAL_DIR

"""A build's layout in Milvus, and how a finished local build is published there.

A build becomes five collections named after it (Milvus 2.3 holds one vector field per
collection): ``passages`` (the e5 vector of each chunk row, with its language, document, chunk
record, span range, translation links and token states), ``spans`` (the e5 vector of each
sentence and clause, with its row and offsets), ``second`` and ``second_spans`` (the second
encoder's vectors) and ``meta`` (the manifest, the document records and the build's global
statistics: languages, language centroids, the BM25 index, stored as byte blobs). The alias
named by the settings points at the live build's ``meta`` collection: moving it is the one
atomic step that switches readers to a new build, and a reader stays on the collections of the
build it opened. Publication moves the alias only once every row is written and visible at the
``Bounded`` consistency that searches use, so an interrupted publication leaves readers on the
previous complete build.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import re
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from embed.index.faiss_index import HNSW_EF_CONSTRUCTION, HNSW_M, choose_index_type
from embed.index.format import (
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
from embed.index.store import IndexData
from embed.index.token_store import TokenStates

logger = logging.getLogger(__name__)

# The collection of each per-row array.
COLLECTIONS = {
    EMBEDDINGS: "passages",
    SENTENCE_EMBEDDINGS: "spans",
    SECOND_EMBEDDINGS: "second",
    SECOND_SENTENCE_EMBEDDINGS: "second_spans",
}
META = "meta"
# Milvus's longest VARCHAR; blobs are cut into base64 parts that fit.
VARCHAR_MAX = 65_535
_PART_BYTES = VARCHAR_MAX // 4 * 3
# Rows per insert call: well under Milvus's 64 MiB message limit with token states.
_INSERT_ROWS = 256
# How long a write takes to become visible at Bounded consistency (Milvus's common.gracefulTime).
GRACEFUL_SECONDS = 5.0
_BUILD_TAG = re.compile(r"[^0-9A-Za-z_]")


# Milvus's code for a collection not loaded yet (after a restart, it loads them again by itself).
_NOT_LOADED = 101


def call(client: Any, method: str, collection: str, **arguments: Any) -> Any:
    """``client.<method>(collection, **arguments)``, with Milvus's failures as
    :class:`~embed.index.format.BackendUnavailable`; a collection that a restarted server has
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

    try:
        return MilvusClient(uri=uri, token=token or "")
    except MilvusException as exc:
        raise BackendUnavailable(f"cannot reach Milvus at {uri}: {exc.message}") from exc


def collection_names(prefix: str, build: str) -> dict[str, str]:
    """The collections of ``build`` under ``prefix``, by kind (``passages``, ..., ``meta``)."""
    tag = _BUILD_TAG.sub("_", build)
    return {kind: f"{prefix}__{tag}__{kind}" for kind in [*COLLECTIONS.values(), META]}


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
    """An exact index or HNSW, as :func:`embed.index.faiss_index.choose_index_type` chooses for
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
        schema.add_field("span_first", DataType.INT64)
        schema.add_field("span_count", DataType.INT64)
        schema.add_field("translations", DataType.JSON)
        for part in range(token_fields):
            schema.add_field(f"tokens{part}", DataType.VARCHAR, max_length=VARCHAR_MAX)
    elif kind == "spans":
        schema.add_field("row", DataType.INT64)
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


def _rows(data: IndexData) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every row to insert, as ``(kind, row)``."""
    spans = data.arrays.get(SENTENCE_SPANS, np.zeros((0, 3), np.int32))
    first = np.searchsorted(spans[:, 0], np.arange(len(data.chunks) + 1))
    translations = data.tables.get(TRANSLATIONS, [])
    tokens = TokenStates.of_build(data.arrays) if TOKEN_STATES in data.arrays else None
    fields = token_fields(data)
    embeddings = data.arrays[EMBEDDINGS]
    for row, stored in enumerate(data.chunks):
        record: dict[str, Any] = {
            "id": row,
            "vector": embeddings[row],
            "lang": stored.chunk.lang,
            "doc_id": stored.chunk.doc_id,
            "chunk": vars(stored.chunk),
            "span_first": int(first[row]),
            "span_count": int(first[row + 1] - first[row]),
            # A Milvus 2.3 JSON field holds an object, not a list.
            "translations": {"links": translations[row] if row < len(translations) else []},
        }
        parts = blob_parts(token_blob(tokens[row].codes, tokens[row].scales)) if tokens else []
        for part in range(fields):
            record[f"tokens{part}"] = parts[part] if part < len(parts) else ""
        yield "passages", record
    for span, (row, begin, end) in enumerate(spans.tolist()):
        vector = data.arrays[SENTENCE_EMBEDDINGS][span]
        yield "spans", {"id": span, "vector": vector, "row": row, "begin": begin, "end": end}
    for array, kind in (
        (SECOND_EMBEDDINGS, "second"),
        (SECOND_SENTENCE_EMBEDDINGS, "second_spans"),
    ):
        for row, vector in enumerate(data.arrays.get(array, [])):
            yield kind, {"id": row, "vector": vector}


def token_fields(data: IndexData) -> int:
    """How many VARCHAR fields the longest passage's token states take."""
    if TOKEN_STATES not in data.arrays:
        return 0
    offsets = data.arrays["token_offsets"]
    longest = int(np.max(np.diff(offsets))) if len(offsets) > 1 else 0
    dim = int(data.arrays[TOKEN_STATES].shape[1])
    return max(1, math.ceil(longest * (dim + 4) / _PART_BYTES))


def _meta_blobs(data: IndexData, statistics: Mapping[str, np.ndarray]) -> dict[str, bytes]:
    """The build's side tables and global statistics, by name."""
    names = sorted({c.chunk.lang for c in data.chunks})
    code_of = {lang: code for code, lang in enumerate(names)}
    codes = [code_of[c.chunk.lang] for c in data.chunks]
    spans = data.arrays.get(SENTENCE_SPANS, np.zeros((0, 3), np.int32))
    blobs = {
        "manifest": data.manifest.model_dump_json().encode(),
        "documents": json.dumps(data.documents, ensure_ascii=False).encode(),
        "languages": json.dumps(names).encode(),
        "language_codes": array_bytes(np.asarray(codes, dtype=np.int16)),
        "span_rows": array_bytes(spans[:, 0].astype(np.int32)),
        "token_fields": str(token_fields(data)).encode(),
        "dimensions": json.dumps(
            {a: int(data.arrays[a].shape[1]) for a in COLLECTIONS if a in data.arrays}
        ).encode(),
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


def publish_build(
    data: IndexData,
    statistics: Mapping[str, np.ndarray],
    client: Any,
    prefix: str,
    *,
    keep: int = 2,
) -> bool:
    """Write a finished local build into Milvus and point the alias ``prefix`` at it.

    Args:
        data: The build (see :func:`embed.index.store.load_index`).
        statistics: The global statistics the ranking needs besides the rows (the language
            correction's arrays), stored with the build rather than recomputed by readers.
        client: A ``MilvusClient`` (see :func:`connect`).
        prefix: The alias readers open, and the prefix of the build's collections.
        keep: Builds kept under ``prefix``, the live one included: readers still on the
            previous build finish on it.

    Returns:
        Whether the alias moved (``False``: it already pointed at this build).
    """
    names = collection_names(prefix, data.name)
    if live_build(client, prefix) == names[META]:
        return False
    for name in names.values():
        # Left over from an interrupted publication of this build: never live, safe to drop.
        if client.has_collection(name):
            client.drop_collection(name)
    dims = {
        kind: int(data.arrays[a].shape[1]) for a, kind in COLLECTIONS.items() if a in data.arrays
    }
    fields = token_fields(data)
    for kind, dim in dims.items():
        # Only passages are searched; the other collections are read by primary key, and an
        # exact index costs nothing to build.
        rows = len(data.chunks) if kind == "passages" else 0
        client.create_collection(
            names[kind],
            schema=_schema(client, kind, dim, fields),
            index_params=_vector_index(client, rows),
            consistency_level="Bounded",
        )
    meta_index = client.prepare_index_params()
    meta_index.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
    client.create_collection(
        names[META], schema=_schema(client, META, 0, 0), index_params=meta_index
    )
    batch: dict[str, list[dict[str, Any]]] = {}
    for kind, record in _rows(data):
        batch.setdefault(kind, []).append(record)
        if len(batch[kind]) >= _INSERT_ROWS:
            client.insert(names[kind], batch.pop(kind))
    for kind, records in batch.items():
        client.insert(names[kind], records)
    meta_rows = [
        {"key": f"{name}#{part:06d}", "data": text, "vector": [0.0, 0.0]}
        for name, blob in _meta_blobs(data, statistics).items()
        for part, text in enumerate(blob_parts(blob))
    ]
    for start in range(0, len(meta_rows), 64):
        client.insert(names[META], meta_rows[start : start + 64])
    # No flush: Milvus logs every write before acknowledging it, and flushing costs seconds.
    written = time.monotonic()
    expected = {"passages": len(data.chunks), META: len(meta_rows)}
    for kind, count in expected.items():
        found = client.query(
            names[kind], filter="", output_fields=["count(*)"], consistency_level="Strong"
        )[0]["count(*)"]
        if found != count:
            raise StoreError(f"Milvus holds {found} rows of {names[kind]}, {count} were written")
    time.sleep(max(0.0, GRACEFUL_SECONDS - (time.monotonic() - written)))
    if live_build(client, prefix) is None:
        client.create_alias(names[META], prefix)
    else:
        client.alter_alias(names[META], prefix)
    logger.info("Milvus alias %s now points at build %s", prefix, data.name)
    _prune(client, prefix, keep)
    return True


def _prune(client: Any, prefix: str, keep: int) -> None:
    """Drop the collections of all but the live build and the ``keep - 1`` newest others."""
    live = live_build(client, prefix)
    live_build_prefix = live.rsplit("__", 1)[0] if live else None
    names = [name for name in client.list_collections() if name.startswith(prefix + "__")]
    # Build names start with their UTC time, so that sorting them sorts by age.
    builds = sorted({name.rsplit("__", 1)[0] for name in names} - {live_build_prefix})
    for build in builds[: max(0, len(builds) - (keep - 1))]:
        for name in names:
            if name.rsplit("__", 1)[0] == build:
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

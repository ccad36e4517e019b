"""The clustered backend: a build served from Milvus (see :mod:`embed.backends.milvus_store`).

Candidates come from Milvus's vector search, with the language filter as a Milvus expression;
the candidates' vectors, spans, token states and records are fetched by id, and kept in a
bounded cache, since the same rows come back query after query. The side tables and global
statistics (manifest, documents, rows' ids, languages, span ranges, translation links, language
correction, BM25) are read once, when the build is opened. Rows are known by their position in
the build, as in the local backend, and mapped to and from their Milvus ids. Nothing here keeps
a corpus-sized array of vectors.
"""

from __future__ import annotations

import json
import shutil
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from embed.backends.base import Candidates, RowFilter, SpanRuns
from embed.backends.milvus_store import (
    COLLECTIONS,
    META,
    blob_tokens,
    bytes_array,
    call,
    join_parts,
    live_build,
    read_meta,
    slot_names,
    span_ids,
    unpack_lexical,
)
from embed.ingest.chunking import Chunk
from embed.models.tokens import QuantisedTokens
from embed.store.bm25 import LexicalIndex
from embed.store.format import (
    EMBEDDINGS,
    SECOND_SENTENCE_EMBEDDINGS,
    SENTENCE_EMBEDDINGS,
    BackendUnavailable,
    Manifest,
    StoreError,
)
from embed.store.token_states import TokenStates

# Rows (and spans) of each collection whose fetched fields are kept between queries.
CACHE_ROWS = 50_000
# What every fetch of passages asks for besides what its caller needs.
_ROW_FIELDS = ("chunk",)
# The arrays whose rows are spans (the others' are chunks).
_SPAN_ARRAYS = frozenset({SENTENCE_EMBEDDINGS, SECOND_SENTENCE_EMBEDDINGS})
# HNSW's search depth, as the local build's (embed.store.faiss_index.HNSW_EF_SEARCH) but never
# below the number of results asked for, which Milvus requires.
_EF_SEARCH = 64


def _expression(where: RowFilter | None) -> str:
    """``where`` as a Milvus boolean expression, which the search applies inside itself."""
    terms = []
    if where is not None and where.lang is not None:
        terms.append(f"lang in {json.dumps(sorted(where.lang))}")
    if where is not None and where.docs is not None:
        terms.append(f"doc_id in {json.dumps(sorted(where.docs), ensure_ascii=False)}")
    return " and ".join(terms)


class _Cache(OrderedDict[int, dict[str, Any]]):
    """The last fetched records of one collection, by id, the least recently used dropped
    first once there are more than ``size``."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def keep(self, key: int, value: dict[str, Any]) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class MilvusIndex:
    """:class:`~embed.backends.base.IndexBackend` over a build published to Milvus.

    Args:
        client: A ``MilvusClient`` (see :func:`embed.backends.milvus_store.connect`).
        meta: The build's meta collection (the alias's target when it was opened).
    """

    def __init__(self, client: Any, meta: str) -> None:
        self.client = client
        self.meta_collection = meta
        blobs = read_meta(client, meta)
        if "manifest" not in blobs:
            raise StoreError(f"Milvus collection {meta} holds no build manifest")
        self._blobs = blobs
        self._manifest = Manifest.model_validate_json(blobs["manifest"])
        self._documents: dict[str, dict[str, Any]] = json.loads(blobs["documents"])
        names = json.loads(blobs["languages"])
        self._langs: np.ndarray = np.array(names, dtype=object)[
            bytes_array(blobs["language_codes"])
        ]
        self._dimensions: dict[str, int] = json.loads(blobs["dimensions"])
        self._token_fields = int(blobs["token_fields"])
        self._token_dim = int(blobs.get("token_dim", b"0"))
        self._translations: list[list[list[float]]] = json.loads(blobs["translations"])
        self._ids: np.ndarray = bytes_array(blobs["row_ids"])
        self._id_order = np.argsort(self._ids)
        self._span_rows = bytes_array(blobs["span_rows"]).astype(np.int64)
        self._span_first = np.searchsorted(self._span_rows, np.arange(len(self._ids) + 1))
        prefix = meta.rsplit("__", 2)[0]
        kinds = slot_names(prefix, blobs["slot"].decode())
        self._collections = {array: kinds[kind] for array, kind in COLLECTIONS.items()}
        self._cache = {array: _Cache(CACHE_ROWS) for array in COLLECTIONS}

    @classmethod
    def open(cls, client: Any, prefix: str) -> MilvusIndex:
        """The live build under the alias ``prefix``."""
        meta = live_build(client, prefix)
        if meta is None or not meta.endswith("__" + META):
            command = "xlsearch rebuild-index --backend milvus"
            raise StoreError(f"Milvus has no build under {prefix!r}: run `{command}`")
        return cls(client, meta)

    @property
    def name(self) -> str:
        return self._manifest.build or self.meta_collection

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    def __len__(self) -> int:
        return len(self._langs)

    @property
    def documents(self) -> Mapping[str, dict[str, Any]]:
        return self._documents

    def _milvus_ids(self, array: str, positions: np.ndarray) -> np.ndarray:
        """The Milvus ids of the rows (or, for span arrays, the spans) at ``positions``."""
        if array not in _SPAN_ARRAYS:
            return np.asarray(self._ids[positions])
        rows = self._span_rows[positions]
        return span_ids(self._ids[rows], positions - self._span_first[rows])

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        """The rows of chunk ids found in Milvus, ``-1`` for an id this build does not hold
        (a row of another build, met by a reader that has not switched to it yet)."""
        if not len(self._ids):
            return np.full(len(ids), -1, dtype=np.int64)
        at = np.searchsorted(self._ids, ids, sorter=self._id_order)
        at = np.minimum(at, len(self._ids) - 1)
        rows = self._id_order[at]
        return np.where(self._ids[rows] == ids, rows, -1)

    def _fetch(
        self, array: str, positions: Sequence[int], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The records of the rows (or spans) at ``positions``, in that order, in the
        collection of ``array``, with at least ``fields``; what the cache lacks is fetched in
        one call."""
        cache = self._cache[array]
        wanted = [int(i) for i in positions]
        missing = sorted(
            {i for i in wanted if i not in cache or any(f not in cache[i] for f in fields)}
        )
        found: dict[int, dict[str, Any]] = {}
        if missing:
            ids = self._milvus_ids(array, np.asarray(missing, dtype=np.int64))
            position_of = dict(zip(ids.tolist(), missing, strict=True))
            stored = [part for f in fields for part in self._stored_fields(f)]
            for record in call(
                self.client,
                "query",
                self._collections[array],
                ids=ids.tolist(),
                output_fields=stored,
            ):
                key = position_of[int(record["id"])]
                found[key] = {**cache.get(key, {}), **self._decode(record)}
                cache.keep(key, found[key])
        try:
            return [found[i] if i in found else cache[i] for i in wanted]
        except KeyError as exc:
            raise BackendUnavailable(
                f"Milvus no longer holds row {exc} of {array} of build {self.name}: a newer "
                "build replaced it"
            ) from exc

    def forget(self) -> None:
        """Drop every cached record: the next queries fetch all they need, as they do for
        rows not seen before (bench/scale_out.py measures both)."""
        for cache in self._cache.values():
            cache.clear()

    def _stored_fields(self, field: str) -> list[str]:
        """The Milvus fields that hold ``field`` (token states span several)."""
        if field == "tokens":
            return [f"tokens{part}" for part in range(self._token_fields)]
        return [field]

    def _decode(self, record: dict[str, Any]) -> dict[str, Any]:
        """A fetched record with its vector as an array and its token states decoded, once,
        as they are cached."""
        if "vector" in record:
            record["vector"] = np.asarray(record["vector"], dtype=np.float32)
        if self._token_fields and "tokens0" in record:
            # A passage without content tokens has empty fields: it gets no token states.
            parts = [record.pop(f"tokens{part}") for part in range(self._token_fields)]
            codes, scales = blob_tokens(join_parts([p for p in parts if p]), self._token_dim)
            record["tokens"] = QuantisedTokens(codes, scales)
        return record

    def _fetch_rows(self, rows: np.ndarray | list[int], *fields: str) -> list[dict[str, Any]]:
        """The passages collection's records of ``rows``: their chunk and ``fields``."""
        return self._fetch(EMBEDDINGS, [int(row) for row in rows], [*_ROW_FIELDS, *fields])

    def chunk(self, row: int) -> Chunk:
        return Chunk(**self._fetch_rows([row])[0]["chunk"])

    def document_rows(self, doc_id: str) -> list[int]:
        if doc_id not in self._documents:
            return []
        quoted = json.dumps(doc_id)
        found = call(
            self.client,
            "query",
            self._collections[EMBEDDINGS],
            filter=f"doc_id == {quoted}",
            output_fields=["id"],
        )
        rows = self._positions(np.array([int(record["id"]) for record in found], np.int64))
        return sorted(int(row) for row in rows if row >= 0)

    def chunk_languages(self) -> np.ndarray:
        return self._langs

    def candidates(
        self, vectors: np.ndarray, wanted: int, where: RowFilter | None = None
    ) -> list[Candidates]:
        if not len(self) or (where is not None and where.docs is not None and not where.docs):
            return [Candidates(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in vectors]
        found = call(
            self.client,
            "search",
            self._collections[EMBEDDINGS],
            data=[v.tolist() for v in np.asarray(vectors, np.float32)],
            limit=min(wanted, len(self)),
            filter=_expression(where),
            search_params={"params": {"ef": max(_EF_SEARCH, wanted)}},
            output_fields=[],
        )
        lists = []
        for hits in found:
            rows = self._positions(np.array([hit["id"] for hit in hits], dtype=np.int64))
            scores = np.array([hit["distance"] for hit in hits], dtype=np.float32)
            lists.append(Candidates(rows[rows >= 0], scores[rows >= 0]))
        # The ranking reads each candidate's record next: the records the cache lacks are
        # fetched now, in one call, rather than one call per row later.
        self._fetch_rows([int(row) for found_rows in lists for row in found_rows.rows])
        return lists

    def has(self, array: str) -> bool:
        return array in self._dimensions

    def vectors(self, array: str, rows: np.ndarray | slice) -> np.ndarray:
        if isinstance(rows, slice):
            raise StoreError("the Milvus backend fetches vectors by row, never a whole array")
        ids = np.asarray(rows, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self._dimensions[array]), dtype=np.float32)
        # A span's offsets come with its vector: the results' highlights then need no call.
        fields = ["vector", "begin", "end"] if array == SENTENCE_EMBEDDINGS else ["vector"]
        records = self._fetch(array, ids.tolist(), fields)
        return np.stack([record["vector"] for record in records])

    def span_runs(self, rows: np.ndarray) -> SpanRuns | None:
        rows = np.asarray(rows, dtype=np.int64)
        starts = self._span_first[rows]
        lengths = self._span_first[rows + 1] - starts
        if not len(lengths) or not bool(np.all(lengths > 0)):
            return None
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        run = np.repeat(np.arange(len(rows)), lengths)
        return SpanRuns(starts[run] + np.arange(len(run)) - offsets[run], run, offsets)

    def span(self, span: int) -> tuple[int, int]:
        record = self._fetch(SENTENCE_EMBEDDINGS, [span], ["begin", "end"])[0]
        return int(record["begin"]), int(record["end"])

    def span_rows(self) -> np.ndarray:
        return self._span_rows

    @cached_property
    def token_states(self) -> MilvusTokenStates | None:
        return MilvusTokenStates(self) if self._token_fields else None

    @cached_property
    def lexical(self) -> LexicalIndex | None:
        blob = self._blobs.get("lexical")
        if blob is None:
            return None
        folder = unpack_lexical(blob)
        try:
            return LexicalIndex.load(folder)
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)

    def translations(self, row: int) -> list[list[float]]:
        return list(self._translations[row]) if row < len(self._translations) else []

    def statistics(self) -> Mapping[str, np.ndarray] | None:
        prefix = "statistics/"
        return {
            name[len(prefix) :]: bytes_array(blob)
            for name, blob in self._blobs.items()
            if name.startswith(prefix)
        }

    def token_blocks(self, rows: np.ndarray) -> list[QuantisedTokens]:
        """The token states of ``rows``, fetched (and cached) with their records."""
        return [record["tokens"] for record in self._fetch_rows(rows, "tokens")]


class MilvusTokenStates:
    """:class:`~embed.store.token_states.TokenSource` of a Milvus build: the token states of
    the rows a query scores, fetched with their records."""

    def __init__(self, index: MilvusIndex) -> None:
        self._index = index

    def __getitem__(self, row: int) -> QuantisedTokens:
        return self._index.token_blocks(np.array([row]))[0]

    def maxsim(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        blocks = self._index.token_blocks(rows)
        return TokenStates.pack(blocks).maxsim(query, np.arange(len(rows)))

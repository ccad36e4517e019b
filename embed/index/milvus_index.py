"""The clustered backend: a build served from Milvus (see :mod:`embed.index.milvus_store`).

Candidates come from Milvus's vector search, with the language filter as a Milvus expression;
the candidates' vectors, spans, token states and records are fetched by primary key, and kept in
a bounded cache, since the same rows come back query after query. The side tables and global
statistics (manifest, documents, languages, language correction, BM25) are read once, when the
build is opened. Nothing here keeps a corpus-sized array of vectors.
"""

from __future__ import annotations

import json
import shutil
from collections import OrderedDict
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np

from embed.index.backend import Candidates, SpanRuns
from embed.index.bm25 import LexicalIndex
from embed.index.format import Manifest, StoreError
from embed.index.milvus_store import (
    COLLECTIONS,
    META,
    blob_tokens,
    bytes_array,
    call,
    join_parts,
    live_build,
    read_meta,
    unpack_lexical,
)
from embed.index.token_store import TokenStates
from embed.ingest.chunking import Chunk
from embed.models.tokens import QuantisedTokens

# Rows (and spans) whose fetched data is kept between queries.
_CACHE_ROWS = 50_000
# HNSW's search depth, as the local build's (embed.index.faiss_index.HNSW_EF_SEARCH) but never
# below the number of results asked for, which Milvus requires.
_EF_SEARCH = 64


class _Cache(OrderedDict[int, dict[str, Any]]):
    """The last fetched rows, by id, the least recently used dropped first."""

    def keep(self, key: int, value: dict[str, Any]) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > _CACHE_ROWS:
            self.popitem(last=False)


class MilvusIndex:
    """:class:`~embed.index.backend.IndexBackend` over a build published to Milvus.

    Args:
        client: A ``MilvusClient`` (see :func:`embed.index.milvus_store.connect`).
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
        prefix = meta.rsplit("__", 1)[0]
        self._collections = {array: f"{prefix}__{kind}" for array, kind in COLLECTIONS.items()}
        self._rows = _Cache()
        self._spans = _Cache()

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

    def _fetch_rows(self, rows: np.ndarray | list[int], *fields: str) -> list[dict[str, Any]]:
        """The passages collection's records of ``rows`` (in that order), with ``fields``."""
        wanted = [int(r) for r in rows]
        missing = sorted({r for r in wanted if r not in self._rows or any(
            f not in self._rows[r] for f in fields)})  # fmt: skip
        if missing:
            found = call(
                self.client,
                "query",
                self._collections["embeddings"],
                ids=missing,
                output_fields=list({"chunk", "span_first", "span_count", "translations", *fields}),
            )
            for record in found:
                self._rows.keep(int(record["id"]), record)
        if any(r not in self._rows for r in wanted):
            raise StoreError(f"Milvus build {self.name} lacks rows of its own passages")
        return [self._rows[r] for r in wanted]

    def chunk(self, row: int) -> Chunk:
        return Chunk(**self._fetch_rows([row])[0]["chunk"])

    def document_rows(self, doc_id: str) -> list[int]:
        if doc_id not in self._documents:
            return []
        quoted = json.dumps(doc_id)
        found = call(
            self.client,
            "query",
            self._collections["embeddings"],
            filter=f"doc_id == {quoted}",
            output_fields=["id"],
        )
        return sorted(int(record["id"]) for record in found)

    def chunk_languages(self) -> np.ndarray:
        return self._langs

    def candidates(self, vectors: np.ndarray, wanted: int, lang: str | None) -> list[Candidates]:
        if not len(self):
            return [Candidates(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in vectors]
        found = call(
            self.client,
            "search",
            self._collections["embeddings"],
            data=[v.tolist() for v in np.asarray(vectors, np.float32)],
            limit=min(wanted, len(self)),
            filter=f"lang == {json.dumps(lang)}" if lang else "",
            search_params={"params": {"ef": max(_EF_SEARCH, wanted)}},
            output_fields=[],
        )
        return [
            Candidates(
                np.array([hit["id"] for hit in hits], dtype=np.int64),
                np.array([hit["distance"] for hit in hits], dtype=np.float32),
            )
            for hits in found
        ]

    def has(self, array: str) -> bool:
        return array in self._dimensions

    def vectors(self, array: str, rows: np.ndarray | slice) -> np.ndarray:
        if isinstance(rows, slice):
            raise StoreError("the Milvus backend fetches vectors by row, never a whole array")
        ids = np.asarray(rows, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self._dimensions[array]), dtype=np.float32)
        unique = np.unique(ids).tolist()
        found = call(
            self.client, "query", self._collections[array], ids=unique, output_fields=["vector"]
        )
        by_id = {int(r["id"]): r["vector"] for r in found}
        return np.array([by_id[int(i)] for i in ids], dtype=np.float32)

    def span_runs(self, rows: np.ndarray) -> SpanRuns | None:
        records = self._fetch_rows(rows)
        lengths = np.array([r["span_count"] for r in records], dtype=np.int64)
        if not len(lengths) or not bool(np.all(lengths > 0)):
            return None
        starts = np.array([r["span_first"] for r in records], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        run = np.repeat(np.arange(len(rows)), lengths)
        return SpanRuns(starts[run] + np.arange(len(run)) - offsets[run], run, offsets)

    def span(self, span: int) -> tuple[int, int]:
        if span not in self._spans:
            for record in call(
                self.client,
                "query",
                self._collections["sentence_embeddings"],
                ids=[span],
                output_fields=["begin", "end"],
            ):
                self._spans.keep(int(record["id"]), record)
        record = self._spans[span]
        return int(record["begin"]), int(record["end"])

    def span_rows(self) -> np.ndarray:
        return bytes_array(self._blobs["span_rows"])

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
        return list(self._fetch_rows([row])[0]["translations"]["links"])

    def statistics(self) -> Mapping[str, np.ndarray] | None:
        prefix = "statistics/"
        return {
            name[len(prefix) :]: bytes_array(blob)
            for name, blob in self._blobs.items()
            if name.startswith(prefix)
        }

    def token_blocks(self, rows: np.ndarray) -> list[QuantisedTokens]:
        """The token states of ``rows``, fetched (and cached) with their records."""
        fields = [f"tokens{part}" for part in range(self._token_fields)]
        dim = int(self._blobs["token_dim"])
        blocks = []
        for record in self._fetch_rows(rows, *fields):
            codes, scales = blob_tokens(join_parts([p for f in fields if (p := record[f])]), dim)
            blocks.append(QuantisedTokens(codes, scales))
        return blocks


class MilvusTokenStates:
    """:class:`~embed.index.token_store.TokenSource` of a Milvus build: the token states of
    the rows a query scores, fetched with their records."""

    def __init__(self, index: MilvusIndex) -> None:
        self._index = index

    def __getitem__(self, row: int) -> QuantisedTokens:
        return self._index.token_blocks(np.array([row]))[0]

    def maxsim(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        blocks = self._index.token_blocks(rows)
        return TokenStates.pack(blocks).maxsim(query, np.arange(len(rows)))

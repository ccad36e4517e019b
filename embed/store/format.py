"""The build format: file and array names, every format version, the typed manifest, and the one
check of whether a build can be served and reused by these models and this version.

A build folder holds the files named here (see docs/index-format.md). Its ``manifest.json`` is a
:class:`Manifest`; a rebuild and a searcher ask :func:`compatibility` which of the build's parts
this version would have made the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

# Format versions: bump one when what it names changes for the same input, so that a rebuild
# makes that part anew instead of reusing it.
FORMAT_VERSION = 1  # the folder layout and manifest
READER_VERSION = 3  # how a seed file becomes a document record (embed/ingest/), in its digest
CHUNKER_VERSION = 3  # chunks and the spans they are matched by (embed/ingest/chunking.py)
TOKENS_VERSION = 2  # which token states are kept, and how (embed/models/tokens.py)
LEXICAL_VERSION = 3  # the BM25 tokenizer (embed/store/bm25.py)
ALIGNMENT_VERSION = 5  # how parallel passages are linked (embed/indexing/alignment.py)

# Files of a build folder.
MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
CHUNKS_FILE = "chunks.jsonl"
DOCUMENTS_FILE = "documents.json"
LEXICAL_DIR = "bm25"

# Arrays, each saved as ``<name>.npy``; row ``i`` of a per-chunk array belongs to chunk ``i``.
EMBEDDINGS = "embeddings"
SENTENCE_SPANS = "sentence_spans"  # (chunk row, begin, end) of each sentence and clause
SENTENCE_EMBEDDINGS = "sentence_embeddings"
SECOND_EMBEDDINGS = "second_embeddings"
SECOND_SENTENCE_EMBEDDINGS = "second_sentence_embeddings"
TOKEN_STATES = "token_states"
TOKEN_SCALES = "token_scales"
TOKEN_OFFSETS = "token_offsets"
ALIGNMENT_CANDIDATES = "alignment_candidates"
LEXICAL_TOKENS = "lexical_tokens"  # each passage's BM25 term ids, which the next build reuses
LEXICAL_OFFSETS = "lexical_offsets"

# Tables, each saved as ``<name>.json``.
TRANSLATIONS = "translations"


class StoreError(RuntimeError):
    """The index folder is missing, incomplete, corrupt or from an incompatible build."""


class BackendUnavailable(StoreError):
    """The index's server (Milvus) cannot be reached or cannot answer now; retrying later may
    succeed."""


class ModelMismatchError(StoreError):
    """The index was built with a different model than the one offered to search it."""


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ModelEntry(_Entry):
    """The primary encoder a build was embedded with."""

    name: str
    checksum: str
    dimension: int
    prompts: dict[str, str] = Field(default_factory=dict)


class SecondModelEntry(_Entry):
    """The second encoder, whose vectors the ranking fuses in."""

    name: str
    checksum: str
    dimension: int


class TokensEntry(_Entry):
    """Which hidden state the token states were taken from, and by which version."""

    layer: int
    version: int = TOKENS_VERSION


class ChunkingEntry(_Entry):
    """How documents were cut into chunks."""

    version: int
    max_tokens: int


class IndexSpec(_Entry):
    """The FAISS index type and its parameters."""

    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    metric: str = "inner_product"


class Counts(_Entry):
    """How much a build holds."""

    documents: int
    chunks: int
    sentences: int = 0


class SeedsEntry(_Entry):
    """The seeds folder a build was made from.

    Attributes:
        path: The folder, absolute.
        relative: The folder as seen from the index folder, so that a project moved whole (its
            seeds and index together) is still known for the same seeds.
    """

    path: str
    relative: str

    def same_folder(self, other: SeedsEntry) -> bool:
        """Whether ``other`` names this folder, where it is or moved with its index."""
        return self.path == other.path or self.relative == other.relative


def seeds_entry(seeds_dir: Path, vectors_dir: Path) -> SeedsEntry:
    """What a build of ``seeds_dir`` into ``vectors_dir`` records of its seeds folder."""
    seeds, vectors = seeds_dir.resolve(), vectors_dir.resolve()
    return SeedsEntry(path=str(seeds), relative=Path(os.path.relpath(seeds, vectors)).as_posix())


class SkippedSeed(_Entry):
    """A seed the build could not index, and why."""

    source: str
    reason: str


class BuildSpec(_Entry):
    """What a rebuild decides about a build: its models, versions, index and contents.

    Fields a build of an earlier version lacks are ``None``: that part is then not reused.
    ``seeds`` and ``skipped`` say which folder it was made from and which of its seeds could not
    be indexed (``None`` and empty for a build from before they were recorded).
    """

    model: ModelEntry
    second_model: SecondModelEntry | None = None
    lexical_version: int | None = None
    alignment_version: int | None = None
    tokens: TokensEntry | None = None
    index: IndexSpec
    chunking: ChunkingEntry | None = None
    counts: Counts
    languages: list[str] = Field(default_factory=list)
    seeds: SeedsEntry | None = None
    skipped: list[SkippedSeed] = Field(default_factory=list)


class Manifest(BuildSpec):
    """A written build's ``manifest.json``: its :class:`BuildSpec` and the files it holds.

    Attributes:
        format: :data:`FORMAT_VERSION` of the writer.
        build: The build's name (its folder).
        built_at: When it was written (ISO 8601, UTC).
        checksum: The algorithm of ``files``; builds written before it was recorded used
            SHA-256.
        files: Checksum of every file, by path relative to the build folder.
    """

    format: int
    build: str
    built_at: str
    checksum: str = "sha256"
    files: dict[str, str]

    def to_json(self) -> str:
        """The manifest as written to ``manifest.json``."""
        return self.model_dump_json(indent=2)


@dataclass(frozen=True)
class Expected:
    """What this version, with these models, writes into a build's :class:`BuildSpec`.

    Attributes:
        model_checksum: The primary encoder's checksum.
        second_model: The second encoder's entry, or ``None`` when there is none.
        tokens: How token states are taken, or ``None`` for a model without layers.
        chunking: How documents are chunked.
    """

    model_checksum: str
    second_model: SecondModelEntry | None
    tokens: TokensEntry | None
    chunking: ChunkingEntry


@dataclass(frozen=True)
class Compatibility:
    """Which parts of a build this version and these models would have made the same way.

    A searcher serves a build whose ``model`` matches and ranks without the parts that do not;
    a rebuild reuses the parts that match and makes the others anew.
    """

    model: bool
    second_model: bool
    tokens: bool
    chunking: bool
    lexical: bool
    alignment: bool

    @property
    def stale(self) -> list[str]:
        """The parts that do not match, by name."""
        return [f.name for f in fields(self) if not getattr(self, f.name)]


class PrimaryModel(Protocol):
    """What a build records of its primary encoder (see :class:`embed.models.encoder.Encoder`)."""

    @property
    def checksum(self) -> str: ...

    @property
    def token_layer(self) -> int | None: ...

    @property
    def max_tokens(self) -> int: ...


class SecondModel(Protocol):
    """What a build records of its second encoder."""

    @property
    def name(self) -> str: ...

    @property
    def checksum(self) -> str: ...

    @property
    def dimension(self) -> int: ...


def expected_spec(encoder: PrimaryModel, second: SecondModel | None) -> Expected:
    """What a build made now by ``encoder`` and ``second`` records of them (neither is loaded)."""
    second_entry = None
    if second is not None:
        second_entry = SecondModelEntry(
            name=second.name, checksum=second.checksum, dimension=second.dimension
        )
    return Expected(
        model_checksum=encoder.checksum,
        second_model=second_entry,
        tokens=tokens_entry(encoder.token_layer),
        chunking=ChunkingEntry(version=CHUNKER_VERSION, max_tokens=encoder.max_tokens),
    )


def _same_model(a: SecondModelEntry | None, b: SecondModelEntry | None) -> bool:
    return a is None if b is None else a is not None and a.checksum == b.checksum


def compatibility(spec: BuildSpec, expected: Expected) -> Compatibility:
    """Compare a build's spec with what this version and these models would write.

    Models are told apart by their weights' checksums, not their names.
    """
    return Compatibility(
        model=spec.model.checksum == expected.model_checksum,
        second_model=_same_model(spec.second_model, expected.second_model),
        tokens=spec.tokens == expected.tokens,
        chunking=spec.chunking == expected.chunking,
        lexical=spec.lexical_version == LEXICAL_VERSION,
        alignment=spec.alignment_version == ALIGNMENT_VERSION,
    )


def tokens_entry(layer: int | None) -> TokensEntry | None:
    """How a build's token states are taken from ``layer`` (``None``: the model keeps none)."""
    return None if layer is None else TokensEntry(layer=layer)

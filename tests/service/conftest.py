"""Fixtures for the service tests: apps over the session's seed index, copies to change."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embed.indexing.rebuild import rebuild_index
from embed.models.encoder import Encoder, TextEncoder
from service.app import create_app
from service.settings import ServiceSettings

# A document on a topic no seed touches, in a nested folder, to show up after a rebuild.
NEW_DOC_ID = "world/asia/honey_festival"
NEW_DOC_TEXT = """Issyk-Kul beekeepers open the first mountain honey festival

Beekeepers from the shores of Lake Issyk-Kul opened the first mountain honey festival in Karakol,
where two hundred apiaries showed wildflower honey, beeswax candles and hand-carved hives.

Visitors tasted honey from sainfoin and thyme meadows, and a jury of pollination scientists
awarded the prize for the darkest buckwheat honey to a family apiary from Tup district.
"""
NEW_DOC_QUERY = "honey festival of beekeepers and their apiaries"


def make_settings(vectors: Path, seeds: Path, **extra: object) -> ServiceSettings:
    """Service settings over ``vectors``/``seeds``, the reload watcher off unless asked for."""
    return ServiceSettings.model_validate(
        {"vectors_dir": vectors, "seeds_dir": seeds, "reload_interval": 0, **extra}
    )


@pytest.fixture(scope="session")
def client(
    seed_vectors: Path, seeds_copy: Path, encoder: Encoder, second: TextEncoder | None
) -> Iterator[TestClient]:
    """A client of the app serving the session's seed index (read-only: never reload it)."""
    app = create_app(make_settings(seed_vectors, seeds_copy), encoder=encoder, second=second)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def vectors_copy(tmp_path: Path, seed_vectors: Path) -> Path:
    """A private copy of the seed index, for tests that replace or break builds."""
    target = tmp_path / "vectors"
    shutil.copytree(seed_vectors, target)
    return target


@pytest.fixture
def grown_seeds(tmp_path: Path, seeds_copy: Path) -> Path:
    """The seeds plus :data:`NEW_DOC_TEXT` at ``world/asia/honey_festival.txt``."""
    target = tmp_path / "seeds"
    shutil.copytree(seeds_copy, target)
    nested = target / (NEW_DOC_ID + ".txt")
    nested.parent.mkdir(parents=True)
    nested.write_text(NEW_DOC_TEXT, encoding="utf-8")
    return target


@pytest.fixture
def app_client(
    encoder: Encoder, second: TextEncoder | None
) -> Iterator[Callable[[ServiceSettings], TestClient]]:
    """Start apps with other settings; each is shut down at the end of the test."""
    started: list[TestClient] = []

    def start(settings: ServiceSettings) -> TestClient:
        test_client = TestClient(create_app(settings, encoder=encoder, second=second))
        test_client.__enter__()
        started.append(test_client)
        return test_client

    yield start
    for test_client in reversed(started):
        test_client.__exit__(None, None, None)


@pytest.fixture
def rebuild(encoder: Encoder, second: TextEncoder | None) -> Callable[[Path, Path], str]:
    """Rebuild ``vectors`` from ``seeds`` with the session models; returns the new build's name."""

    def run(seeds: Path, vectors: Path) -> str:
        summary = rebuild_index(seeds, vectors, encoder, second=second)
        assert summary.build is not None
        return summary.build

    return run


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port

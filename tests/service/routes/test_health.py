"""``GET /health``: size, model and build of the index once ready; 503 before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from embed.models.encoder import Encoder
from embed.store.builds import current_build, read_manifest
from service.settings import ServiceSettings
from tests.service.conftest import make_settings


def test_health_reports_the_index(client: TestClient, seed_vectors: Path, encoder: Encoder) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    health = response.json()
    build = current_build(seed_vectors)
    assert build is not None
    manifest = read_manifest(build)
    assert health["status"] == "ok" and health["ready"] is True
    assert health["build"] == build.name
    assert health["built_at"] == manifest.built_at
    assert health["loaded_at"]
    assert (health["documents"], health["passages"]) == (5, 46)
    assert health["languages"] == ["en", "ru"]
    assert health["model"] == {
        "name": encoder.name,
        "checksum": encoder.checksum,
        "dimension": 384,
    }
    second = manifest.second_model
    assert health["second_model"] == (
        second.model_dump(include={"name", "checksum", "dimension"}) if second else None
    )
    assert health["stale"] == []
    assert health["error"] is None


def test_without_an_index_health_is_503_and_search_says_why(
    app_client: Callable[[ServiceSettings], TestClient], tmp_path: Path, seeds_copy: Path
) -> None:
    client = app_client(make_settings(tmp_path / "empty", seeds_copy))

    health = client.get("/health")
    search = client.get("/search", params={"q": "x"})

    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert "no index in" in health.json()["error"]["message"]
    assert search.status_code == 503
    assert "run `xlsearch rebuild-index`" in search.json()["detail"]

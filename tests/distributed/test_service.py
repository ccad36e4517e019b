"""The service on the Milvus backend: its state in /health, 503 while Milvus is away, recovery."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from embed.models.encoder import Encoder, TextEncoder
from service.app import create_app
from service.settings import ServiceSettings
from tests.distributed.conftest import ALIAS

# Milvus restarts in about 10 s here and loads its collections again in a few more.
RECOVERY_S = 120


def test_milvus_going_away_gives_503_and_the_service_recovers(
    milvus_server: Any, published: str, encoder: Encoder, second: TextEncoder | None
) -> None:
    settings = ServiceSettings(
        backend="milvus", milvus_uri=milvus_server.uri, milvus_collection=ALIAS,
        reload_interval=0.5, result_cache=0,
    )  # fmt: skip
    with TestClient(create_app(settings, encoder=encoder, second=second)) as client:
        found = client.get("/search", params={"q": "Who chaired the meeting in Bishkek?", "k": 3})
        assert found.status_code == 200 and len(found.json()["results"]) == 3
        health = client.get("/health").json()
        assert (health["backend"], health["reachable"], health["ready"]) == ("milvus", True, True)

        milvus_server.stop()
        down = client.get("/search", params={"q": "Bortnikov thanked Japarov", "k": 3})
        assert down.status_code == 503, down.text
        assert "unavailable" in down.json()["detail"]
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["reachable"] is False

        milvus_server.start()
        deadline, answer = time.monotonic() + RECOVERY_S, down
        while answer.status_code == 503 and time.monotonic() < deadline:
            time.sleep(1)
            answer = client.get("/search", params={"q": "Bortnikov thanked Japarov", "k": 3})
        assert answer.status_code == 200, answer.text
        assert client.get("/health").json()["reachable"] is True

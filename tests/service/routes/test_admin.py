"""``POST /reload`` and the watcher: new builds are served without a restart, broken ones not."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embed.store.builds import CURRENT, current_build
from embed.store.format import MANIFEST
from service.settings import ServiceSettings
from tests.service.conftest import NEW_DOC_ID, NEW_DOC_QUERY, make_settings

StartApp = Callable[[ServiceSettings], TestClient]


def _top_doc(client: TestClient) -> str:
    hits = client.get("/search", params={"q": NEW_DOC_QUERY, "k": 1}).json()["results"]
    return str(hits[0]["doc_id"])


def test_reload_switches_to_the_new_build(
    app_client: StartApp,
    vectors_copy: Path,
    grown_seeds: Path,
    rebuild: Callable[[Path, Path], str],
) -> None:
    client = app_client(make_settings(vectors_copy, grown_seeds))
    old = client.get("/health").json()["build"]
    assert _top_doc(client) != NEW_DOC_ID

    new = rebuild(grown_seeds, vectors_copy)
    response = client.post("/reload")

    assert response.status_code == 200
    assert response.json() == {"reloaded": True, "build": new, "previous": old}
    assert _top_doc(client) == NEW_DOC_ID
    health = client.get("/health").json()
    assert (health["build"], health["documents"]) == (new, 6)


def test_reload_without_a_new_build_changes_nothing(client: TestClient) -> None:
    build = client.get("/health").json()["build"]

    response = client.post("/reload")

    assert response.json() == {"reloaded": False, "build": build, "previous": build}


def test_watcher_notices_a_new_build_by_itself(
    app_client: StartApp,
    vectors_copy: Path,
    grown_seeds: Path,
    rebuild: Callable[[Path, Path], str],
) -> None:
    client = app_client(make_settings(vectors_copy, grown_seeds, reload_interval=0.1))

    new = rebuild(grown_seeds, vectors_copy)

    deadline = time.monotonic() + 10
    while client.get("/health").json()["build"] != new:
        assert time.monotonic() < deadline, "the new build was not picked up within 10 s"
        time.sleep(0.1)
    assert _top_doc(client) == NEW_DOC_ID


@pytest.mark.parametrize(
    ("header", "status", "detail"),
    [
        (None, 401, "this endpoint needs the X-API-Key header"),
        ("wrong", 401, "the X-API-Key is wrong"),
        ("s3cret", 200, None),
    ],
)
def test_reload_needs_the_api_key_when_one_is_set(
    app_client: StartApp,
    seed_vectors: Path,
    seeds_copy: Path,
    header: str | None,
    status: int,
    detail: str | None,
) -> None:
    client = app_client(make_settings(seed_vectors, seeds_copy, api_key="s3cret"))
    headers = {"X-API-Key": header} if header is not None else {}

    response = client.post("/reload", headers=headers)

    assert response.status_code == status
    if detail is not None:
        assert response.json()["detail"] == detail
    assert client.get("/search", params={"q": "x", "k": 1}).status_code == 200


def _corrupt_files(build: Path) -> None:
    with (build / "chunks.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("not json\n")


def _other_model(build: Path) -> None:
    manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    manifest["model"] = {**manifest["model"], "name": "other/model", "checksum": "0" * 64}
    (build / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize(
    ("breakage", "message"),
    [(_corrupt_files, "corrupt (checksum mismatch)"), (_other_model, "'other/model'")],
)
def test_a_build_that_cannot_be_loaded_leaves_the_old_one_serving(
    app_client: StartApp,
    vectors_copy: Path,
    seeds_copy: Path,
    breakage: Callable[[Path], None],
    message: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = app_client(make_settings(vectors_copy, seeds_copy))
    live = current_build(vectors_copy)
    assert live is not None
    broken = live.parent / "29991231T000000000000Z-broken"
    shutil.copytree(live, broken)
    breakage(broken)
    (vectors_copy / CURRENT).write_text(broken.name + "\n", encoding="utf-8")

    response = client.post("/reload")

    assert response.status_code == 409
    assert message in response.json()["detail"]
    assert f"still serving build {live.name}" in response.json()["detail"]
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["build"] == live.name
    assert health.json()["error"]["build"] == broken.name
    assert message in health.json()["error"]["message"]
    assert any(message in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    search = client.get("/search", params={"q": "security", "k": 1})
    assert search.status_code == 200
    assert search.json()["build"] == live.name

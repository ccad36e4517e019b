"""``xlsearch serve --watch``: seeds added, edited, deleted and renamed while serving are
searchable (or gone) without a command; a failed rebuild shows in ``/health`` and changes nothing
that is served; watching stops with the server."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from embed.models.encoder import Encoder, TextEncoder
from service.app import create_app
from tests.conftest import checkout_env
from tests.service.conftest import NEW_DOC_ID, NEW_DOC_QUERY, NEW_DOC_TEXT, free_port, make_settings

pytestmark = pytest.mark.slow

XLSEARCH = Path(sys.executable).with_name("xlsearch")
START_TIMEOUT = 180.0
# From a change on disk to the new content answering searches: the quiet period, an incremental
# rebuild of the seeds and the switch (docs/api.md, "Watching the seeds", has the typical time).
WATCH_TIMEOUT = 60.0
EDITED_TEXT = """Karakol observatory measures how fast the glaciers of Terskey Ala-Too melt

Glaciologists at the Karakol high-mountain observatory installed stakes and time-lapse cameras
on the Karabatkak glacier to measure how many metres of ice the summer melt takes each year.
"""
EDITED_QUERY = "glaciologists measure glacier ice melt with stakes and cameras"
RENAMED_FROM = "001_5bcb32c10d9a48df"
RENAMED_TO = "archive/renamed_article"
RENAMED_QUERY = "Жапаров встретился с руководителями органов безопасности СНГ"


@dataclass(frozen=True)
class Served:
    """A ``serve --watch`` process over a copy of the seeds."""

    base: str
    seeds: Path
    log: Path
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, seeds_copy: Path, seed_vectors: Path
) -> Iterator[Served]:
    """``serve --watch`` over copies of the session's seeds and index, the reload check off so
    that only the watch switches builds; stopped when the module's tests are done."""
    root = tmp_path_factory.mktemp("serve-watch")
    seeds, vectors, log = root / "seeds", root / "vectors", root / "server.log"
    shutil.copytree(seeds_copy, seeds)
    shutil.copytree(seed_vectors, vectors)
    base = f"http://127.0.0.1:{free_port()}"
    # A copy of the index beside a copy of the seeds: another folder than it was built from.
    command = [str(XLSEARCH), "serve", "--watch", "--seeds", str(seeds), "--vectors", str(vectors),
               "--switch-seeds"]  # fmt: skip
    command += ["--host", "127.0.0.1", "--port", base.rsplit(":", 1)[1]]
    env = checkout_env(XLSEARCH_RELOAD_INTERVAL="0")
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while _health(base) is None:
            assert process.poll() is None, f"server exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"not ready in time:\n{log.read_text()}"
            time.sleep(0.25)
        yield Served(base, seeds, log, process)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Stop the server as a terminal would; its exit status (killed if it hangs)."""
    process.terminate()
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise


def _health(base: str) -> dict[str, Any] | None:
    """``/health`` once it answers 200, else ``None``."""
    try:
        response = httpx.get(f"{base}/health", timeout=5)
    except httpx.TransportError:
        return None
    body: dict[str, Any] = response.json()
    return body if response.status_code == 200 else None


def _search(served: Served, query: str) -> dict[str, Any]:
    # A flat list: these tests follow one document's passages, not the fact its twin shows.
    params = {"q": query, "k": 5, "group": "none"}
    response = httpx.get(f"{served.base}/search", params=params, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _hits(served: Served, query: str) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = _search(served, query)["results"]
    return hits


def _until(served: Served, done: Callable[[], bool], what: str) -> float:
    """Seconds until ``done()`` holds, checked a few times a second; fails after the bound."""
    started = time.monotonic()
    while not done():
        assert served.process.poll() is None, f"server exited:\n{served.log.read_text()}"
        if time.monotonic() - started > WATCH_TIMEOUT:
            pytest.fail(f"{what}: not within {WATCH_TIMEOUT} s\n{served.log.read_text()}")
        time.sleep(0.25)
    return time.monotonic() - started


def _found(served: Served, query: str, doc_id: str, text: str) -> bool:
    return any(h["doc_id"] == doc_id and text in h["text"] for h in _hits(served, query))


def _document(served: Served, doc_id: str) -> httpx.Response:
    return httpx.get(f"{served.base}/documents/{doc_id}", timeout=10)


def test_a_seed_added_edited_and_deleted_is_found_found_anew_and_gone(served: Served) -> None:
    path = served.seeds / f"{NEW_DOC_ID}.txt"
    path.parent.mkdir(parents=True)
    path.write_text(NEW_DOC_TEXT, encoding="utf-8")
    # A seed that cannot be read is skipped with a warning, as in any rebuild: no failure.
    broken = served.seeds / "broken.pdf"
    broken.write_bytes(b"not a PDF")
    added = _until(
        served, lambda: _found(served, NEW_DOC_QUERY, NEW_DOC_ID, "honey festival"), "added"
    )

    path.write_text(EDITED_TEXT, encoding="utf-8")
    edited = _until(
        served, lambda: _found(served, EDITED_QUERY, NEW_DOC_ID, "Karabatkak glacier"), "edited"
    )
    text = _document(served, NEW_DOC_ID).json()["text"]
    assert "glacier" in text and "honey" not in text
    assert not any("honey" in hit["text"] for hit in _hits(served, NEW_DOC_QUERY))

    path.unlink()
    broken.unlink()
    deleted = _until(served, lambda: _document(served, NEW_DOC_ID).status_code == 404, "deleted")
    assert all(hit["doc_id"] != NEW_DOC_ID for hit in _hits(served, EDITED_QUERY))

    print(f"searchable after: added {added:.1f} s, edited {edited:.1f} s, deleted {deleted:.1f} s")
    health = _health(served.base)
    assert health is not None and health["status"] == "ok"
    assert health["watch"]["enabled"] is True and health["watch"]["last_error"] is None
    assert f"skipped {broken}: " in served.log.read_text()


def test_a_renamed_seed_is_deleted_under_its_old_id_and_added_under_the_new(
    served: Served,
) -> None:
    (served.seeds / "archive").mkdir()
    (served.seeds / f"{RENAMED_FROM}.txt").rename(served.seeds / f"{RENAMED_TO}.txt")

    _until(served, lambda: _document(served, RENAMED_FROM).status_code == 404, "renamed")

    assert _document(served, RENAMED_TO).status_code == 200
    hits = _hits(served, RENAMED_QUERY)
    assert any(hit["doc_id"] == RENAMED_TO for hit in hits)
    assert all(hit["doc_id"] != RENAMED_FROM for hit in hits)


def test_a_failed_rebuild_shows_in_health_keeps_serving_and_is_retried(served: Served) -> None:
    before = _health(served.base)
    assert before is not None
    away = served.seeds.with_name("seeds-away")
    served.seeds.rename(away)
    try:
        _until(served, lambda: (_health(served.base) or {})["watch"]["last_error"], "failure")
        health = _health(served.base)
        assert health is not None and health["status"] == "degraded"
        assert "seeds folder" in health["watch"]["last_error"]
        assert health["watch"]["failed_at"] and health["build"] == before["build"]
        answer = _search(served, RENAMED_QUERY)
        assert answer["build"] == before["build"]
        assert any(hit["doc_id"] == RENAMED_TO for hit in answer["results"])
    finally:
        away.rename(served.seeds)

    # The folder's return is a change: the rebuild is tried again and succeeds.
    _until(served, lambda: (_health(served.base) or {})["status"] == "ok", "retried")
    health = _health(served.base)
    assert health is not None and health["build"] == before["build"]
    assert health["watch"]["last_error"] is None and health["watch"]["failed_at"] is None
    assert health["watch"]["last_rebuild"] > before["watch"]["last_rebuild"]
    log = served.log.read_text()
    assert "rebuild after a change in" in log and "still serving the previous build" in log


def test_the_server_stops_with_its_watch(served: Served) -> None:
    started = time.monotonic()

    status = _stop(served.process)

    log = served.log.read_text()
    # uvicorn shuts down, then ends with the signal it caught.
    assert status in (0, -signal.SIGTERM), log
    assert time.monotonic() - started < 30
    assert "Application shutdown complete" in log and "Traceback" not in log


def test_watching_stops_with_the_app(
    corpus: tuple[Path, Path],
    encoder: Encoder,
    second: TextEncoder | None,
) -> None:
    seeds, vectors = corpus
    settings = make_settings(vectors, seeds, watch=True, watch_debounce_ms=100)

    with TestClient(create_app(settings, encoder=encoder, second=second)) as client:
        assert client.get("/health").json()["watch"]["enabled"] is True
        assert any(thread.name == "seeds-watch" for thread in threading.enumerate())

    assert not any(thread.name == "seeds-watch" for thread in threading.enumerate())

"""``xlsearch serve`` as a real process after the seeds changed: up to date at once, a quiet log."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from embed.store.builds import current_build
from tests.conftest import checkout_env
from tests.service.conftest import NEW_DOC_QUERY, free_port

pytestmark = pytest.mark.slow

XLSEARCH = Path(sys.executable).with_name("xlsearch")
START_TIMEOUT = 180.0
EDITED_DOC_ID = "000_ede25ed87fc7c0a3"
ADDED_PARAGRAPH = (
    "Beekeepers from the shores of Lake Issyk-Kul opened the first mountain honey festival in "
    "Karakol, where two hundred apiaries showed wildflower honey and hand-carved hives."
)


@dataclass(frozen=True)
class Started:
    """A server started on edited seeds, and what it logged until it was ready."""

    base: str
    seeds: Path
    old_build: str
    log: str


@pytest.fixture(scope="module")
def started(
    tmp_path_factory: pytest.TempPathFactory, seeds_copy: Path, seed_vectors: Path
) -> Iterator[Started]:
    """``serve`` over the session index after one seed gained a paragraph and an empty seed
    appeared; stopped when the module's tests are done."""
    root = tmp_path_factory.mktemp("serve-start")
    seeds, vectors, log_path = root / "seeds", root / "vectors", root / "server.log"
    shutil.copytree(seeds_copy, seeds)
    shutil.copytree(seed_vectors, vectors)
    old_build = current_build(vectors)
    assert old_build is not None
    edited = seeds / f"{EDITED_DOC_ID}.txt"
    edited.write_text(f"{edited.read_text('utf-8')}\n{ADDED_PARAGRAPH}\n", encoding="utf-8")
    (seeds / "blank.txt").write_bytes(b"")

    base = f"http://127.0.0.1:{free_port()}"
    # A copy of the index beside a copy of the seeds: another folder than it was built from.
    command = [str(XLSEARCH), "serve", "--seeds", str(seeds), "--vectors", str(vectors),
               "--switch-seeds"]  # fmt: skip
    command += ["--host", "127.0.0.1", "--port", base.rsplit(":", 1)[1]]
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env=checkout_env()
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _ready(base):
            assert server.poll() is None, f"server exited early:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"not ready in time:\n{log_path.read_text()}"
            time.sleep(0.25)
        yield Started(base, seeds, old_build.name, log_path.read_text("utf-8"))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_an_edited_seed_is_searchable_as_soon_as_serve_starts(started: Started) -> None:
    response = httpx.get(f"{started.base}/search", params={"q": NEW_DOC_QUERY, "k": 1}, timeout=30)

    assert response.status_code == 200
    body = response.json()
    assert body["build"] != started.old_build
    assert body["results"][0]["doc_id"] == EDITED_DOC_ID
    assert body["results"][0]["text"] == ADDED_PARAGRAPH
    assert f"seeds changed: new build {body['build']}" in started.log


def test_a_skipped_seed_is_warned_about_once(started: Started) -> None:
    lines = [line for line in started.log.splitlines() if "blank.txt" in line]

    assert lines == [
        f"WARNING embed.indexing.plan: skipped {started.seeds / 'blank.txt'}: empty file"
    ]


def test_starting_logs_no_error_or_traceback(started: Started) -> None:
    for marker in ("ModuleNotFoundError", "Traceback", "ERROR"):
        assert marker not in started.log


def test_a_log_that_is_no_terminal_gets_no_progress_bars(started: Started) -> None:
    # The server embedded the edited seed while starting, with its log in a file.
    assert "seeds changed: new build" in started.log
    for bar in ("Batches", "Loading weights", "it/s]"):
        assert bar not in started.log

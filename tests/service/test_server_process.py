"""``xlsearch serve`` as a real process, switched to the index ``rebuild-index`` makes meanwhile."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from embed.store.builds import current_build
from tests.service.conftest import NEW_DOC_ID, NEW_DOC_QUERY, NEW_DOC_TEXT, free_port

pytestmark = pytest.mark.slow

XLSEARCH = Path(sys.executable).with_name("xlsearch")
START_TIMEOUT = 180.0
SWITCH_TIMEOUT = 60.0


@dataclass(frozen=True)
class Outcome:
    """One query sent while the index was being replaced."""

    status: int  # 0 when no HTTP answer came at all
    build: str | None
    found_new: bool


def _wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert server.poll() is None, f"server exited early:\n{log.read_text()}"
        try:
            response = httpx.get(f"{base}/health", timeout=5)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 200:
            health: dict[str, object] = response.json()
            return health
        time.sleep(0.25)
    pytest.fail(f"server not ready within {START_TIMEOUT} s:\n{log.read_text()}")


def _query_until(base: str, stop: threading.Event, outcomes: list[Outcome]) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        # Two queries a second leave the two cores mostly to the rebuild this test waits for.
        while not stop.wait(0.5):
            try:
                response = client.get("/search", params={"q": NEW_DOC_QUERY, "k": 3})
            except httpx.HTTPError:
                outcomes.append(Outcome(0, None, False))
                continue
            if response.status_code != 200:
                outcomes.append(Outcome(response.status_code, None, False))
                continue
            body = response.json()
            found = any(hit["doc_id"] == NEW_DOC_ID for hit in body["results"])
            outcomes.append(Outcome(200, body["build"], found))


def test_served_index_is_replaced_by_a_rebuild_while_queries_keep_succeeding(
    tmp_path: Path, seeds_copy: Path, seed_vectors: Path
) -> None:
    seeds, vectors, log = tmp_path / "seeds", tmp_path / "vectors", tmp_path / "server.log"
    shutil.copytree(seeds_copy, seeds)
    # The session's index of these seeds, made with the same models: building it again in the
    # server would only cost time (test_cli checks that a fresh `serve` builds first).
    shutil.copytree(seed_vectors, vectors)
    base = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "XLSEARCH_RELOAD_INTERVAL": "0.5"}
    # One thread for the server's models, so that the rebuild gets a core of its own.
    server_env = {**env, "XLSEARCH_THREADS": "1"}
    # --switch-seeds: where the index is a copy, it was built from another seeds folder.
    command = [str(XLSEARCH), "serve", "--vectors", str(vectors), "--seeds", str(seeds),
               "--switch-seeds"]  # fmt: skip
    command += ["--host", "127.0.0.1", "--port", base.rsplit(":", 1)[1]]
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env=server_env
        )
    stop = threading.Event()
    outcomes: list[Outcome] = []
    querying = threading.Thread(target=_query_until, args=(base, stop, outcomes), daemon=True)
    try:
        old_build = _wait_ready(base, server, log)["build"]
        querying.start()
        nested = seeds / f"{NEW_DOC_ID}.txt"
        nested.parent.mkdir(parents=True)
        nested.write_text(NEW_DOC_TEXT, encoding="utf-8")

        rebuild = [str(XLSEARCH), "rebuild-index", "--seeds", str(seeds), "--vectors", str(vectors)]
        rebuilt = subprocess.run(
            [*rebuild, "--json"], capture_output=True, env=env, timeout=240, check=False
        )
        assert rebuilt.returncode == 0, rebuilt.stderr.decode()
        assert json.loads(rebuilt.stdout)["embedded"] >= 1
        live = current_build(vectors)
        assert live is not None and live.name != old_build

        deadline = time.monotonic() + SWITCH_TIMEOUT
        while not any(o.found_new for o in outcomes):
            assert time.monotonic() < deadline, f"new content not served:\n{log.read_text()}"
            assert querying.is_alive()
            time.sleep(0.2)
        time.sleep(1)  # a few more queries on the new index
    finally:
        stop.set()
        if querying.is_alive():
            querying.join(timeout=35)
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)

    assert outcomes, "no query was sent"
    assert [o.status for o in outcomes] == [200] * len(outcomes)
    builds = [o.build for o in outcomes]
    switch = builds.index(live.name)
    # One switch, never back: every answer came whole from the old build or from the new one.
    assert set(builds[:switch]) == {old_build}
    assert set(builds[switch:]) == {live.name}
    assert all(o.found_new == (o.build == live.name) for o in outcomes)

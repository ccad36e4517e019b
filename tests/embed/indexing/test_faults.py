"""Crash, interrupt, corruption, lock and disk-full faults around ``rebuild-index``.

Rebuilds run as real processes forked by :mod:`tests.embed.indexing.fault_worker` (which loads the
model
once) and are killed with real signals at random moments while they work; one test interrupts the
real ``xlsearch rebuild-index`` command. Every trial is bounded in time and stops by itself.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from embed.indexing.rebuild import rebuild_index
from embed.models.encoder import Encoder, TextEncoder
from embed.store import builds as store
from embed.store.builds import current_build, load_index, read_manifest
from embed.store.format import MANIFEST, StoreError
from tests.conftest import ROOT

QUERY = "Who chaired the meeting of security services in Bishkek?"
WORKER_TIMEOUT = 120.0


def _default_sigint() -> None:
    """Give a child the default SIGINT disposition before it starts.

    A shell starts background jobs with SIGINT ignored, a child inherits that, and Python then
    leaves it ignored instead of raising KeyboardInterrupt: without this, the interrupt tests
    would pass or fail by how pytest was launched.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Worker:
    """The fault worker process; see its module for the protocol."""

    def __init__(self) -> None:
        env = {**os.environ, "XLSEARCH_SECOND_MODEL": "", "PYTHONUNBUFFERED": "1",
               "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.embed.indexing.fault_worker"],
            cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            preexec_fn=_default_sigint,
        )  # fmt: skip
        self.running: set[int] = set()
        assert self._line() == "ready"

    def _line(self, timeout: float = WORKER_TIMEOUT) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"fault worker silent for {timeout} s")
        line = self.proc.stdout.readline()
        assert line, "fault worker died"
        return line.strip()

    def _send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def start(self, seeds: Path, vectors: Path, errors: Path, *flags: str) -> int:
        """Fork a rebuild of ``vectors`` from ``seeds``; its stderr goes to ``errors``."""
        self._send("\t".join([str(seeds), str(vectors), str(errors), "nowait", *flags]))
        kind, pid = self._line().split()
        assert kind == "pid"
        self.running.add(int(pid))
        return int(pid)

    def wait(self, pid: int) -> int:
        """Exit code of a started rebuild (negative: the signal that killed it)."""
        self._send(f"wait {pid}")
        kind, code = self._line().split()
        assert kind == "exit"
        self.running.discard(pid)
        return int(code)

    def run(self, seeds: Path, vectors: Path, errors: Path) -> int:
        return self.wait(self.start(seeds, vectors, errors))

    def close(self) -> None:
        # A rebuild left running by a failed test would outlive the worker.
        for pid in self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    w = Worker()
    try:
        yield w
    finally:
        w.close()


@pytest.fixture(scope="module")
def plain_vectors(
    tmp_path_factory: pytest.TempPathFactory, seeds_copy: Path, seed_vectors: Path, encoder: Encoder
) -> Path:
    """The seed index as built without the second encoder (embeddings reused from the session's)."""
    vectors = tmp_path_factory.mktemp("plain") / "vectors"
    shutil.copytree(seed_vectors, vectors)
    rebuild_index(seeds_copy, vectors, encoder, second=None)
    return vectors


@pytest.fixture
def corpus(tmp_path: Path, seeds_copy: Path, plain_vectors: Path) -> tuple[Path, Path]:
    seeds, vectors = tmp_path / "seeds", tmp_path / "vectors"
    shutil.copytree(seeds_copy, seeds)
    shutil.copytree(plain_vectors, vectors)
    return seeds, vectors


def _snapshot(vectors: Path, query: np.ndarray) -> tuple[str, list[object], list[list[int]]]:
    """Build name, chunk table and the FAISS answer to a fixed query vector."""
    data = load_index(vectors)
    _, ids = data.index.search(query, 10)
    return data.name, [(c.key, c.chunk) for c in data.chunks], ids.tolist()


def _new_article(seeds: Path, trial: int) -> str:
    """Add an article no earlier trial wrote, so that the next rebuild writes a new build."""
    doc_id = f"trial_{trial:03d}"
    paragraphs = [f"Border guards report on checkpoint number {trial} in the Fergana valley."] + [
        f"Paragraph {p} of report {trial}: officers from Osh and Batken discussed "
        f"patrol {trial * 10 + p} and the reopening of the road." for p in range(6)
    ]  # fmt: skip
    (seeds / f"{doc_id}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return doc_id


def _staging(vectors: Path) -> list[str]:
    return [p.name for p in (vectors / store.BUILDS).iterdir() if p.name.startswith(".")]


def _assert_complete(vectors: Path) -> None:
    build = current_build(vectors)
    assert build is not None and not build.name.startswith(".")
    read_manifest(build)  # every listed file present with its checksum


def test_a_rebuild_killed_inside_a_progress_bar_does_not_stall_the_next(
    corpus: tuple[Path, Path], worker: Worker, tmp_path: Path
) -> None:
    # The kill trials below land anywhere, once inside tqdm's lock: every later rebuild of
    # the worker then waited on it (see fault_worker), and the rest of this module timed out.
    seeds, vectors = corpus
    errors = tmp_path / "holding.err"
    pid = worker.start(seeds, vectors, errors, "holdbar")
    deadline = time.monotonic() + 30
    while not errors.is_file() or "holding" not in errors.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, "the child never took the lock"
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    assert worker.wait(pid) == -signal.SIGKILL
    doc_id = _new_article(seeds, 0)
    assert worker.run(seeds, vectors, tmp_path / "after.err") == 0
    assert doc_id in load_index(vectors).documents


@pytest.mark.slow
def test_sigkill_at_random_moments_never_breaks_the_live_index(
    corpus: tuple[Path, Path], worker: Worker, encoder: Encoder, tmp_path: Path
) -> None:
    seeds, vectors = corpus
    query = encoder.encode_queries([QUERY])
    rng = random.Random(20261123)
    # Calibrate: how long one rebuild that embeds a new article takes here, the faster of two
    # (the first reads files the second finds cached), so that most kills land inside a rebuild.
    durations = []
    for article in (0, 99):
        _new_article(seeds, article)
        begun = time.monotonic()
        assert worker.run(seeds, vectors, tmp_path / f"calibrate{article}.err") == 0
        durations.append(time.monotonic() - begun)
    duration = min(durations)
    started = time.monotonic()
    killed = 0
    for trial in range(1, 21):
        assert time.monotonic() - started < 240, "the kill trials took too long"
        before = _snapshot(vectors, query)
        doc_id = _new_article(seeds, trial)
        pid = worker.start(seeds, vectors, tmp_path / f"kill{trial}.err")
        delay = rng.uniform(0.05, duration)
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        code = worker.wait(pid)
        after = _snapshot(vectors, query)
        if code == -signal.SIGKILL:
            killed += 1
        else:
            # Rebuilds here ran faster than calibrated (a loaded calibration, a warmer cache):
            # later kills are drawn within the time this one is known to have taken at most.
            duration = min(duration, delay)
        if after[0] == before[0]:
            assert after == before, f"trial {trial}: the live build changed its answers"
        else:  # the kill came after the switch: the new build must be whole and hold the article
            _assert_complete(vectors)
            assert doc_id in load_index(vectors).documents
    assert killed >= 15, f"only {killed} of 20 rebuilds were still running when killed"
    assert worker.run(seeds, vectors, tmp_path / "final.err") == 0
    assert "trial_020" in load_index(vectors).documents
    assert _staging(vectors) == []
    _assert_complete(vectors)


@pytest.mark.slow
def test_sigint_exits_130_with_a_message_and_leaves_nothing_half_written(
    corpus: tuple[Path, Path], worker: Worker, encoder: Encoder, tmp_path: Path
) -> None:
    seeds, vectors = corpus
    query = encoder.encode_queries([QUERY])
    rng = random.Random(7)
    interrupted = 0
    for trial in range(1, 7):
        before = _snapshot(vectors, query)
        _new_article(seeds, trial)
        errors = tmp_path / f"int{trial}.err"
        pid = worker.start(seeds, vectors, errors)
        time.sleep(rng.uniform(0.05, 1.0))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        code = worker.wait(pid)
        message = errors.read_text(encoding="utf-8")
        assert "Traceback" not in message
        assert code in (0, 130), message
        if code == 130:
            interrupted += 1
            assert "error: interrupted" in message
            assert _snapshot(vectors, query) == before
        _assert_complete(vectors)
    assert interrupted >= 3
    assert worker.run(seeds, vectors, tmp_path / "final.err") == 0
    assert _staging(vectors) == []
    _assert_complete(vectors)


@pytest.mark.slow
def test_the_real_command_interrupted_mid_embedding_exits_130_cleanly(
    tmp_path: Path, seeds_copy: Path
) -> None:
    vectors = tmp_path / "vectors"
    errors = tmp_path / "stderr"
    env = {**os.environ, "XLSEARCH_SECOND_MODEL": ""}
    # --progress: its bar on stderr (a file here, not a terminal) tells that embedding began.
    command = [sys.executable, "-m", "service.cli", "rebuild-index", "--progress",
               "--seeds", str(seeds_copy), "--vectors", str(vectors)]  # fmt: skip
    with errors.open("wb") as sink:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stderr=sink, stdout=subprocess.PIPE,
            preexec_fn=_default_sigint,
        )  # fmt: skip
        deadline = time.monotonic() + WORKER_TIMEOUT
        # A cold build embeds 46 passages: interrupt as soon as the first batch starts.
        while b"Batches" not in errors.read_bytes() and proc.poll() is None:
            assert time.monotonic() < deadline, "rebuild never started embedding"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    message = errors.read_text(encoding="utf-8")
    assert code == 130, message
    assert "error: interrupted" in message and "Traceback" not in message
    assert current_build(vectors) is None
    assert not (vectors / store.BUILDS).exists() or _staging(vectors) == []


def test_two_rebuilds_at_once_one_waits_out_clearly(
    corpus: tuple[Path, Path], worker: Worker, tmp_path: Path
) -> None:
    seeds, vectors = corpus
    _new_article(seeds, 1)
    first = worker.start(seeds, vectors, tmp_path / "a.err")
    second = worker.start(seeds, vectors, tmp_path / "b.err")
    codes = sorted([worker.wait(first), worker.wait(second)])
    messages = (tmp_path / "a.err").read_text() + (tmp_path / "b.err").read_text()
    assert codes == [0, 1], messages
    assert "another rebuild of" in messages and "is running" in messages
    assert "Traceback" not in messages
    _assert_complete(vectors)
    assert "trial_001" in load_index(vectors).documents
    assert _staging(vectors) == []


@contextlib.contextmanager
def _tmpfs(path: Path, size: int) -> Iterator[Path]:
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def test_disk_full_is_a_clean_error_and_the_old_index_survives(
    corpus: tuple[Path, Path], worker: Worker, encoder: Encoder, tmp_path: Path
) -> None:
    seeds, vectors = corpus
    used = sum(p.stat().st_size for p in vectors.rglob("*") if p.is_file())
    query = encoder.encode_queries([QUERY])
    # Room for the live build and a third of another: the next build runs out of space.
    with _tmpfs(tmp_path / "small", used + used // 3 + 64 * 1024) as small:
        shutil.copytree(vectors, small / "vectors")
        full = small / "vectors"
        before = _snapshot(full, query)
        _new_article(seeds, 1)
        errors = tmp_path / "full.err"
        code = worker.run(seeds, full, errors)
        message = errors.read_text(encoding="utf-8")
        assert code == 1, message
        assert "error:" in message and "No space left on device" in message
        assert f"cannot write a new build in {full}" in message
        live = current_build(full)
        assert live is not None
        size = sum(p.stat().st_size for p in live.rglob("*") if p.is_file())
        assert f"a new build needs about {size / 1e6:,.0f} MB free" in message
        assert "Traceback" not in message
        assert _staging(full) == []
        assert _snapshot(full, query) == before


def _files(build: Path) -> list[str]:
    return [*sorted(read_manifest(build).files), MANIFEST]


def test_every_truncated_or_corrupted_file_of_a_build_is_named(
    corpus: tuple[Path, Path],
) -> None:
    _, vectors = corpus
    build = current_build(vectors)
    assert build is not None
    names = _files(build)
    assert {"bm25/vocab.index.json", "embeddings.npy", "sentence_spans.npy"} <= set(names)
    for name in names:
        path = build / name
        original = path.read_bytes()
        for damaged in (original[: len(original) // 2], original[:-1] + bytes([original[-1] ^ 1])):
            path.write_bytes(damaged)
            with pytest.raises(StoreError, match=name.replace(".", r"\.")):
                load_index(vectors)
        path.unlink()
        with pytest.raises(StoreError, match=f"{name.replace('.', chr(92) + '.')} is missing"):
            load_index(vectors)
        path.write_bytes(original)
    assert load_index(vectors).name == build.name


def test_a_bad_manifest_or_pointer_is_named(corpus: tuple[Path, Path]) -> None:
    _, vectors = corpus
    build = current_build(vectors)
    assert build is not None
    manifest = build / MANIFEST
    for content in (b"", b"{", b"[]", b'{"format": 99}', b'{"format": 1, "files": {}}'):
        manifest.write_bytes(content)
        with pytest.raises(StoreError, match=r"manifest\.json"):
            load_index(vectors)
    (vectors / store.CURRENT).write_text("../escape", encoding="utf-8")
    with pytest.raises(StoreError, match="CURRENT is corrupt"):
        load_index(vectors)


def test_a_running_service_keeps_serving_and_reports_a_corrupt_new_build(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None
) -> None:
    """End to end over HTTP (tests/service/test_state.py covers the state object alone)."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import ServiceSettings

    seeds, vectors = corpus
    settings = ServiceSettings.model_validate(
        {"vectors_dir": vectors, "seeds_dir": seeds, "reload_interval": 0, "second_model": ""}
    )
    with TestClient(create_app(settings, encoder=encoder, second=None)) as client:
        served = client.get("/health").json()["build"]
        live = current_build(vectors)
        assert live is not None
        broken = live.parent / "29991231T000000000000Z-broken"
        shutil.copytree(live, broken)
        npy = broken / "sentence_embeddings.npy"
        npy.write_bytes(npy.read_bytes()[:100])
        (vectors / store.CURRENT).write_text(broken.name, encoding="utf-8")

        reload = client.post("/reload")
        health = client.get("/health")
        search = client.get("/search", params={"q": QUERY, "k": 1})

    assert reload.status_code == 409 and "sentence_embeddings.npy" in reload.json()["detail"]
    body = health.json()
    assert health.status_code == 200 and body["status"] == "degraded"
    assert body["build"] == served and body["error"]["build"] == broken.name
    assert "sentence_embeddings.npy is corrupt" in body["error"]["message"]
    assert search.status_code == 200 and search.json()["build"] == served

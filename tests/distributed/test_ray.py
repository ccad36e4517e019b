"""Rebuilding on Ray Data: the same build as in-process, only changed chunks sent, nothing left."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from embed.cli import run_rebuild
from embed.settings import EmbedSettings
from embed.store.builds import load_index
from embed.store.format import EMBEDDINGS, SECOND_EMBEDDINGS, SENTENCE_EMBEDDINGS, TOKEN_STATES
from tests.distributed.server import in_loopback_namespace

# The arrays of one build made twice the same way, on two engines: the same graph runs, in
# batches of other sizes.
TOLERANCE = 1e-5


def _ray_processes(grace_s: float = 15.0) -> list[str]:
    """Names of the Ray processes still running in this (process) namespace after up to
    ``grace_s`` seconds for exiting ones to end (dead ones not yet reaped are not counted)."""
    deadline = time.monotonic() + grace_s
    while True:
        names = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (comm) state ...": comm may hold spaces, so split at the last ")".
                comm, state = stat.read_text().rsplit(")", 1)
            except (OSError, ValueError):
                continue
            name = comm.split("(", 1)[1]
            if state.split()[0] != "Z" and name.startswith(("raylet", "gcs_server", "ray::")):
                names.append(name)
        if not names or time.monotonic() > deadline:
            return names
        time.sleep(0.5)


@pytest.fixture(autouse=True)
def _loopback_only() -> None:
    if not in_loopback_namespace():
        pytest.skip("Ray probes outside addresses: run through tests/test_distributed.py")


@pytest.fixture
def ray_dir() -> Iterator[Path]:
    """A short folder for a local Ray's files: its socket paths must stay under 108 bytes,
    which a pytest temporary folder's name does not leave room for."""
    folder = Path(tempfile.mkdtemp(prefix="xlray-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_ray_build_equals_the_in_process_one_and_sends_only_changes(
    seeds_copy: Path,
    seed_vectors: Path,
    tmp_path: Path,
    ray_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(seeds_copy, seeds)
    (seeds / "broken.txt").write_bytes(b"\x00\x01\x02 not text" * 50)
    settings = EmbedSettings(
        seeds_dir=seeds, vectors_dir=tmp_path / "vectors", engine="ray",
        ray_temp_dir=ray_dir,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="embed.indexing.ray_engine"):
        summary = run_rebuild(settings, progress=False)
    assert f"reading {summary.documents + 1} seeds on" in caplog.text, "seeds are read on Ray"
    assert summary.embedded == summary.chunks and summary.spans_embedded == summary.spans
    assert [item["source"] for item in summary.skipped] == ["broken.txt"]
    assert "binary" in summary.skipped[0]["reason"]
    assert not _ray_processes(), "the local Ray must be stopped when the rebuild ends"

    ours, reference = load_index(settings.vectors_dir), load_index(seed_vectors)
    assert [c.chunk for c in ours.chunks] == [c.chunk for c in reference.chunks]
    assert ours.documents == reference.documents
    for name in (EMBEDDINGS, SENTENCE_EMBEDDINGS, SECOND_EMBEDDINGS, "second_sentence_embeddings"):
        assert float(np.abs(ours.arrays[name] - reference.arrays[name]).max()) < TOLERANCE, name
    codes = np.asarray(ours.arrays[TOKEN_STATES], dtype=np.int16)
    assert int(np.abs(codes - np.asarray(reference.arrays[TOKEN_STATES])).max()) <= 1

    edited = sorted(seeds.glob("*.txt"))[0]
    edited.write_text(edited.read_text("utf-8") + "\n\nA new closing paragraph.\n", "utf-8")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="embed.indexing.ray_engine"):
        again = run_rebuild(settings, progress=False)
    assert again.changed and again.embedded == 1, "only the new paragraph goes to Ray"
    assert "reading 2 seeds on" in caplog.text, "only the edited seed and the refused one are read"
    assert not _ray_processes()

"""The build folder's files: arrays written block by block, scratch files, pruning, checksums."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import xxhash

from embed.store import builds as store
from embed.store.builds import prune_builds, read_manifest, scratch_path, write_stacked
from embed.store.format import FORMAT_VERSION, MANIFEST, StoreError


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_stacked_blocks_load_as_their_concatenation(tmp_path: Path, dtype: type) -> None:
    rng = np.random.default_rng(0)
    blocks = [rng.normal(size=(n, 6)) * 10 for n in (3, 0, 5)]  # float64 in: stored as dtype
    path = tmp_path / "stacked.npy"
    write_stacked(path, blocks, 6, dtype)
    loaded = np.load(path, mmap_mode="r")
    assert loaded.dtype == dtype and loaded.shape == (8, 6)
    assert np.array_equal(loaded, np.concatenate(blocks).astype(dtype))


def test_no_blocks_is_an_empty_array_of_the_given_width(tmp_path: Path) -> None:
    write_stacked(tmp_path / "empty.npy", [], 4, np.int8)
    assert np.load(tmp_path / "empty.npy").shape == (0, 4)


def test_a_block_of_another_width_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="width 4"):
        write_stacked(tmp_path / "bad.npy", [np.zeros((2, 4)), np.zeros((2, 3))], 4, np.int8)


def test_a_full_disk_names_the_index_folder(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    path = scratch_path(tmp_path / "vectors", "states.npy")
    path.symlink_to("/dev/full")
    with pytest.raises(StoreError, match=r"cannot write a new build in .*vectors.*untouched"):
        write_stacked(path, [np.ones((4, 4))], 4, np.int8)


def test_a_killed_rebuilds_scratch_file_is_pruned(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors"
    leftover = vectors / store.BUILDS / ".tmp-0badcafe-token_states.npy"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")
    assert prune_builds(vectors) == [leftover]
    assert not leftover.exists()


def _hand_made_build(folder: Path, **manifest: object) -> Path:
    folder.mkdir()
    (folder / "data.bin").write_bytes(b"token states")
    fields = {
        "format": FORMAT_VERSION,
        "build": folder.name,
        "built_at": "2026-11-01T00:00:00+00:00",
        "model": {"name": "m", "checksum": "0" * 64, "dimension": 4},
        "index": {"type": "Flat"},
        "counts": {"documents": 0, "chunks": 0},
        **manifest,
    }
    (folder / MANIFEST).write_text(json.dumps(fields), encoding="utf-8")
    return folder


def test_a_build_from_before_xxh3_is_checked_with_its_sha256(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"token states").hexdigest()
    build = _hand_made_build(tmp_path / "old", files={"data.bin": digest})
    assert read_manifest(build).files == {"data.bin": digest}
    (build / "data.bin").write_bytes(b"token statez")
    with pytest.raises(StoreError, match=r"data\.bin is corrupt"):
        read_manifest(build)


def test_a_build_checks_its_files_with_the_algorithm_it_names(tmp_path: Path) -> None:
    digest = xxhash.xxh3_128(b"token states").hexdigest()
    build = _hand_made_build(tmp_path / "new", checksum="xxh3_128", files={"data.bin": digest})
    assert read_manifest(build).checksum == store.CHECKSUM
    unknown = _hand_made_build(tmp_path / "md5", checksum="md5", files={"data.bin": digest})
    with pytest.raises(StoreError, match="unknown checksum 'md5'"):
        read_manifest(unknown)


def test_a_manifest_missing_a_field_is_refused_by_name(tmp_path: Path) -> None:
    digest = xxhash.xxh3_128(b"token states").hexdigest()
    build = _hand_made_build(tmp_path / "b", checksum="xxh3_128", files={"data.bin": digest})
    raw = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    del raw["model"]
    (build / MANIFEST).write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(StoreError, match=r"manifest\.json is unreadable: .*model"):
        read_manifest(build)

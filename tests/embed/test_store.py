"""The build folder's files: arrays written block by block, scratch files, pruning."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from embed import store
from embed.store import StoreError, prune_builds, scratch_path, write_stacked


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

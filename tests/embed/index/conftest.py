"""Fixtures for the index tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def corpus(tmp_path: Path, seeds_copy: Path, seed_vectors: Path) -> tuple[Path, Path]:
    """A writable copy of the seeds and of their built index."""
    seeds, vectors = tmp_path / "seeds", tmp_path / "vectors"
    shutil.copytree(seeds_copy, seeds)
    shutil.copytree(seed_vectors, vectors)
    return seeds, vectors

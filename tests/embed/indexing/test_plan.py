"""Planning a rebuild: what changed, without the model's weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embed.indexing.plan import plan_rebuild
from embed.indexing.reuse import NEW
from embed.models.encoder import Encoder, TextEncoder
from embed.settings import EmbedSettings, load_encoders


@pytest.fixture
def fresh_encoder(settings: EmbedSettings) -> Encoder:
    """An encoder whose model has not been loaded (the session's has)."""
    return load_encoders(settings)[0]


def test_an_unchanged_corpus_plans_nothing_and_loads_no_model(
    corpus: tuple[Path, Path], fresh_encoder: Encoder, second: TextEncoder | None
) -> None:
    seeds, vectors = corpus
    plan = plan_rebuild(seeds, vectors, fresh_encoder, second, 1 << 22)
    assert plan.unchanged and plan.counts is not None and plan.counts.documents == 5
    assert plan.previous is None and plan.chunks == []
    assert "model" not in fresh_encoder.__dict__


def test_an_edited_paragraph_is_the_only_new_row(
    corpus: tuple[Path, Path], fresh_encoder: Encoder, second: TextEncoder | None
) -> None:
    seeds, vectors = corpus
    path = seeds / "004_c2ed28fc8de17507.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\nA new closing paragraph.\n", "utf-8")
    plan = plan_rebuild(seeds, vectors, fresh_encoder, second, 1 << 22)
    assert not plan.unchanged and plan.reuse is not None and plan.reuse.stale == []
    new = np.flatnonzero(plan.sources == NEW)
    assert [plan.chunks[row].chunk.text for row in new] == ["A new closing paragraph."]
    assert len(plan.chunks) == len(plan.sources) == 47
    # Every reused chunk keeps its spans; only the new paragraph's are split anew.
    assert set(plan.spans[plan.span_sources == NEW, 0].tolist()) == set(new.tolist())
    assert "model" not in fresh_encoder.__dict__


def test_a_seed_too_large_is_skipped_by_name(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None
) -> None:
    seeds, vectors = corpus
    plan = plan_rebuild(seeds, vectors, encoder, second, 100)
    assert len(plan.skipped) == 5 and all("too large" in s["reason"] for s in plan.skipped)
    assert plan.records == {} and not plan.unchanged

"""IndexState: swapping searchers, and keeping the old one when a build cannot be loaded."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from embed.backends.factory import LocalSource
from embed.models.encoder import Encoder, TextEncoder
from embed.store.builds import CURRENT, current_build
from service.state import IndexState
from tests.service.conftest import NEW_DOC_ID, NEW_DOC_QUERY


@pytest.fixture
def state(vectors_copy: Path, encoder: Encoder, second: TextEncoder | None) -> IndexState:
    """An index state over a private copy of the seed index, nothing loaded yet."""
    return IndexState(LocalSource(vectors_copy), encoder, second)


def _break_pointer_to_copy(vectors: Path) -> str:
    """Point CURRENT at a copy of the live build whose FAISS file is corrupt."""
    live = current_build(vectors)
    assert live is not None
    broken = live.parent / "29991231T000000000000Z-broken"
    shutil.copytree(live, broken)
    (broken / "index.faiss").write_bytes(b"garbage")
    (vectors / CURRENT).write_text(broken.name, encoding="utf-8")
    return broken.name


def test_reload_swaps_the_reference_and_keeps_the_old_searcher_intact(
    vectors_copy: Path,
    state: IndexState,
    grown_seeds: Path,
    rebuild: Callable[[Path, Path], str],
) -> None:
    assert state.reload().changed
    before = state.searcher
    assert before is not None

    new = rebuild(grown_seeds, vectors_copy)
    outcome = state.reload()

    assert (outcome.changed, outcome.build, outcome.previous) == (True, new, before.build)
    assert state.searcher is not None and NEW_DOC_ID in state.searcher.backend.documents
    # A request that took the old searcher before the swap still gets answers from it alone.
    assert len(before) == 46
    assert all(r.chunk.doc_id != NEW_DOC_ID for r in before.search(NEW_DOC_QUERY, k=46))


def test_a_failed_build_is_reported_once_and_not_retried_until_forced(
    vectors_copy: Path, state: IndexState, caplog: pytest.LogCaptureFixture
) -> None:
    state.reload()
    serving = state.searcher
    broken = _break_pointer_to_copy(vectors_copy)

    first = state.reload()
    again = state.reload()
    forced = state.reload(force=True)

    assert state.searcher is serving
    for outcome in (first, again, forced):
        assert not outcome.changed and outcome.error is not None
        assert outcome.error.build == broken and "index.faiss is corrupt" in outcome.error.message
    errors = [r for r in caplog.records if r.name == "service.state" and r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "still serving build" in errors[0].getMessage()


def test_pointing_back_at_the_served_build_clears_the_error(
    vectors_copy: Path, state: IndexState
) -> None:
    state.reload()
    assert state.searcher is not None
    served = state.searcher.build
    _break_pointer_to_copy(vectors_copy)
    assert state.reload().error is not None

    (vectors_copy / CURRENT).write_text(served, encoding="utf-8")

    assert state.reload().error is None and state.error is None


def test_a_corrupt_pointer_is_an_error_not_a_crash(vectors_copy: Path, state: IndexState) -> None:
    state.reload()
    (vectors_copy / CURRENT).write_text("../../etc", encoding="utf-8")

    outcome = state.reload()

    assert outcome.error is not None and outcome.error.build is None
    assert "is corrupt" in outcome.error.message
    assert state.searcher is not None

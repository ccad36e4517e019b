"""Recent results: a repeated query skips the models, a new build never answers from old ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from embed.backends.factory import LocalSource
from embed.ingest.chunking import Chunk
from embed.models.encoder import Encoder, TextEncoder
from embed.ranking.results import SearchResult
from service.cache import ResultCache
from service.state import IndexState
from tests.service.conftest import NEW_DOC_ID, NEW_DOC_QUERY


def _result(name: str) -> list[SearchResult]:
    chunk = Chunk(
        doc_id=name, paragraph=1, part=0, start=0, end=1, text="x", lang="en", title="t",
        date=None, source=f"{name}.txt", url=None,
    )  # fmt: skip
    return [SearchResult(rank=1, score=1.0, chunk=chunk)]


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = ResultCache(2)
    for name in ("a", "b"):
        cache.put(("build", name, 5, None), _result(name))
    assert cache.get(("build", "a", 5, None)) is not None  # "a" is now the most recent
    cache.put(("build", "c", 5, None), _result("c"))
    assert cache.get(("build", "b", 5, None)) is None
    assert cache.get(("build", "a", 5, None)) == _result("a")
    assert len(cache) == 2 and (cache.hits, cache.misses) == (2, 1)


def test_a_cache_of_size_zero_keeps_nothing() -> None:
    cache = ResultCache(0)
    cache.put(("build", "a", 5, None), _result("a"))
    assert cache.get(("build", "a", 5, None)) is None and len(cache) == 0


def test_a_repeated_query_skips_the_models_until_a_new_build_is_served(
    vectors_copy: Path,
    encoder: Encoder,
    second: TextEncoder | None,
    grown_seeds: Path,
    rebuild: Callable[[Path, Path], str],
) -> None:
    state = IndexState(LocalSource(vectors_copy), encoder, second, cache_size=16)
    assert state.reload().changed and state.searcher is not None
    first = state.search(state.searcher, [NEW_DOC_QUERY, "Bortnikov"], 5, None)
    batches = state.batcher.batches
    again = state.search(state.searcher, ["Bortnikov", NEW_DOC_QUERY], 5, None)
    assert state.batcher.batches == batches, "both queries were answered from the cache"
    assert again == first[::-1]
    # Another k is another request: it runs.
    state.search(state.searcher, ["Bortnikov"], 3, None)
    assert state.batcher.batches == batches + 1

    rebuild(grown_seeds, vectors_copy)
    assert state.reload().changed  # its warm-up query is a batch of its own
    batches = state.batcher.batches
    fresh = state.search(state.searcher, [NEW_DOC_QUERY], 5, None)[0]
    assert state.batcher.batches == batches + 1, "a new build searches again"
    assert fresh[0].chunk.doc_id == NEW_DOC_ID != first[0][0].chunk.doc_id
    state.close()

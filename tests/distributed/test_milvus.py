"""Serving from Milvus: the same rankings as the local build, and atomic, durable publication."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embed.index.build import rebuild_index
from embed.index.factory import MilvusSource
from embed.index.milvus_index import MilvusIndex
from embed.index.milvus_store import collection_names, live_build, publish_build
from embed.index.store import load_index
from embed.models.encoder import Encoder, TextEncoder
from embed.publish import publish_to_milvus
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings
from tests.distributed.conftest import ALIAS, publish_settings

ROOT = Path(__file__).resolve().parents[2]
# Milvus computes the candidates' inner products itself; they differ from FAISS's in the last
# bits of a float32, which the fused scores carry.
SCORE_TOLERANCE = 1e-4


def _queries() -> list[str]:
    lines = (ROOT / "bench" / "queries" / "seeds.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["query"] for line in lines if line.strip() and line[0] != "#"]


@pytest.fixture(scope="module")
def milvus_searcher(
    milvus: Any, published: str, encoder: Encoder, second: TextEncoder | None,
    settings: EmbedSettings,
) -> Searcher:  # fmt: skip
    return Searcher(MilvusIndex.open(milvus, ALIAS), encoder, second, settings.ranking)


def _same_results(local: list[Any], remote: list[Any]) -> None:
    assert [(r.chunk, r.highlights) for r in remote] == [(r.chunk, r.highlights) for r in local]
    assert [[t.chunk for t in r.translations] for r in remote] == [
        [t.chunk for t in r.translations] for r in local
    ]
    assert np.allclose([r.score for r in remote], [r.score for r in local], atol=SCORE_TOLERANCE)


@pytest.mark.parametrize("lang", [None, "ru", "en"])
def test_rankings_equal_the_local_builds(
    searcher: Searcher, milvus_searcher: Searcher, lang: str | None
) -> None:
    assert milvus_searcher.build == searcher.build
    for query in _queries():
        _same_results(
            searcher.search(query, k=10, lang=lang), milvus_searcher.search(query, k=10, lang=lang)
        )


def test_documents_passages_and_similar_ones_equal_the_local_builds(
    searcher: Searcher, milvus_searcher: Searcher
) -> None:
    assert len(milvus_searcher) == len(searcher)
    assert milvus_searcher.languages == searcher.languages
    assert milvus_searcher.document_count == searcher.document_count
    for doc_id in searcher.backend.documents:
        local, remote = searcher.document(doc_id), milvus_searcher.document(doc_id)
        assert remote is not None and local is not None and remote.chunks == local.chunks
        found = milvus_searcher.similar(doc_id, local.chunks[1].paragraph, k=5)
        expected = searcher.similar(doc_id, local.chunks[1].paragraph, k=5)
        assert found is not None and expected is not None
        _same_results(expected[1], found[1])
    assert milvus_searcher.document("no-such-document") is None


def test_publishing_the_live_build_again_changes_nothing(
    milvus: Any, published: str, seed_vectors: Path, milvus_server: Any
) -> None:
    before = live_build(milvus, ALIAS)
    assert not publish_to_milvus(publish_settings(seed_vectors, milvus_server.uri))
    assert live_build(milvus, ALIAS) == before == collection_names(ALIAS, published)["meta"]


def test_new_builds_switch_readers_at_once_and_an_interrupted_one_switches_none(
    milvus: Any,
    milvus_server: Any,
    published: str,
    seeds_copy: Path,
    seed_vectors: Path,
    tmp_path: Path,
    encoder: Encoder,
    second: TextEncoder | None,
) -> None:
    seeds, vectors = tmp_path / "seeds", tmp_path / "vectors"
    shutil.copytree(seeds_copy, seeds)
    shutil.copytree(seed_vectors, vectors)
    source = MilvusSource(milvus_server.uri, ALIAS)
    reader = source.open()
    first = source.current()

    added = "The Milvus test council met in Reykjavik to discuss geothermal energy."
    (seeds / "reykjavik.txt").write_text(f"Reykjavik meeting\n\n{added}\n", "utf-8")
    rebuild_index(seeds, vectors, encoder, second=second)
    new = load_index(vectors)
    with pytest.raises(ValueError):
        # A statistic that cannot be stored fails the publication after every row is written.
        publish_build(new, {"broken": np.array([object()], dtype=object)}, milvus, ALIAS)
    assert source.current() == first, "an interrupted publication must not move readers"
    assert source.open().name == published

    assert publish_to_milvus(publish_settings(vectors, milvus_server.uri))
    assert source.current() == collection_names(ALIAS, new.name)["meta"]
    fresh = Searcher(source.open(), encoder, second)
    assert fresh.search("geothermal energy in Reykjavik", k=1)[0].chunk.text == added
    # A reader that opened the previous build finishes on it.
    assert len(reader) == len(new.chunks) - 2 and reader.chunk(0).text

    (seeds / "reykjavik.txt").unlink()
    rebuild_index(seeds, vectors, encoder, second=second)
    assert publish_to_milvus(publish_settings(vectors, milvus_server.uri))
    builds = {n.rsplit("__", 1)[0] for n in milvus.list_collections() if n.startswith(ALIAS + "__")}
    assert len(builds) == 2, f"the live build and the one before it are kept: {sorted(builds)}"
    assert collection_names(ALIAS, published)["meta"] not in milvus.list_collections()

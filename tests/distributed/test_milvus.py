"""Serving from Milvus: the same rankings as the local build, and atomic, durable publication."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embed.backends.factory import MilvusSource
from embed.backends.milvus import MilvusIndex
from embed.backends.milvus_store import (
    SLOTS,
    build_slot,
    live_build,
    meta_name,
    publish_build,
    row_ids,
    slot_names,
    span_ids,
    span_numbers,
)
from embed.indexing.rebuild import rebuild_index
from embed.models.encoder import Encoder, TextEncoder
from embed.publish import publish_to_milvus
from embed.ranking.filters import DocumentFilter
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings
from embed.store.builds import IndexData, load_index
from embed.store.format import SENTENCE_SPANS
from tests.conftest import checkout_env
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


@pytest.mark.parametrize(
    ("lang", "docs"),
    [(None, ("002_9319827ac0fa4145",)), ("ru", ("001_5bcb32c10d9a48df", "000_ede25ed87fc7c0a3"))],
)
def test_filtered_rankings_equal_the_local_builds(
    searcher: Searcher, milvus_searcher: Searcher, lang: str | None, docs: tuple[str, ...]
) -> None:
    filters = DocumentFilter(docs=docs)
    backend = searcher.backend
    rows = [row for doc in docs for row in backend.document_rows(doc)]
    allowed = [row for row in rows if lang is None or backend.chunk(row).lang == lang]
    for query in _queries()[:10]:
        local = searcher.search(query, k=10, lang=lang, filters=filters)
        assert {r.chunk.doc_id for r in local} <= set(docs) and len(local) == min(10, len(allowed))
        _same_results(local, milvus_searcher.search(query, k=10, lang=lang, filters=filters))


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
    assert not publish_to_milvus(publish_settings(seed_vectors, milvus_server.uri)).moved
    assert live_build(milvus, ALIAS) == before == meta_name(ALIAS, published)


def _row_ids(data: IndexData) -> set[tuple[str, int]]:
    """The Milvus ids of a build's rows and spans (each is stored once per encoder)."""
    ids = row_ids(data)
    rows = data.arrays[SENTENCE_SPANS][:, 0]
    spans = span_ids(ids[rows], span_numbers(rows))
    return {("row", int(i)) for i in ids} | {("span", int(i)) for i in spans}


def test_publications_send_only_changes_switch_readers_at_once_and_resume_after_a_failure(
    milvus: Any,
    milvus_server: Any,
    published: str,
    corpus: tuple[Path, Path],
    encoder: Encoder,
    second: TextEncoder | None,
) -> None:
    seeds, vectors = corpus
    source = MilvusSource(milvus_server.uri, ALIAS)
    reader = source.open()
    first = source.current()
    encoders = 2 if second is not None else 1

    added = "The Milvus test council met in Reykjavik to discuss geothermal energy."
    (seeds / "reykjavik.txt").write_text(f"Reykjavik meeting\n\n{added}\n", "utf-8")
    rebuild_index(seeds, vectors, encoder, second=second)
    new = load_index(vectors)
    with pytest.raises(ValueError):
        # A statistic that cannot be stored fails the publication after every row is written.
        publish_build(new, {"broken": np.array([object()], dtype=object)}, milvus, ALIAS, settle=0)
    assert source.current() == first, "an interrupted publication must not move readers"
    assert source.open().name == published

    publication = publish_to_milvus(publish_settings(vectors, milvus_server.uri))
    assert publication.moved and source.current() == meta_name(ALIAS, new.name)
    assert (publication.written, publication.deleted) == (0, 0), "the failed one wrote the rows"
    fresh = Searcher(source.open(), encoder, second)
    assert fresh.search("geothermal energy in Reykjavik", k=1)[0].chunk.text == added
    # A reader that opened the previous build finishes on it.
    assert len(reader) == len(new.chunks) - 2 and reader.chunk(0).text

    # Back to the seeds build's rows: the slot being written holds them already.
    (seeds / "reykjavik.txt").unlink()
    rebuild_index(seeds, vectors, encoder, second=second)
    publication = publish_to_milvus(publish_settings(vectors, milvus_server.uri))
    assert publication.moved and (publication.written, publication.deleted) == (0, 0)
    assert meta_name(ALIAS, published) not in milvus.list_collections()
    metas = [n for n in milvus.list_collections() if n.startswith(ALIAS) and n.endswith("meta")]
    assert len(metas) == 2, f"the live build's meta and the one before it are kept: {metas}"

    # One paragraph more, against the slot holding the Reykjavik build: the new paragraph's rows
    # are sent, the Reykjavik seed's deleted, nothing else moves.
    edited = sorted(seeds.glob("*.txt"))[0]
    paragraph = "The council also agreed on a joint cyber-security exercise in Almaty next spring."
    edited.write_text(edited.read_text("utf-8") + f"\n\n{paragraph}\n", "utf-8")
    rebuild_index(seeds, vectors, encoder, second=second)
    latest = load_index(vectors)
    publication = publish_to_milvus(publish_settings(vectors, milvus_server.uri))
    assert publication.written == encoders * len(_row_ids(latest) - _row_ids(new)) > 0
    assert publication.deleted == encoders * len(_row_ids(new) - _row_ids(latest)) > 0
    fresh = Searcher(source.open(), encoder, second)
    assert fresh.search("cyber-security exercise in Almaty", k=1)[0].chunk.text == paragraph
    assert not [
        r for r in fresh.search("geothermal energy in Reykjavik", k=10) if r.chunk.text == added
    ]


# A publication in a process of its own, one row per Milvus call, so that the test can kill it
# while it writes rows.
_SLOW_PUBLICATION = """
import sys
from embed.backends import milvus_store
from embed.publish import publish_to_milvus
from embed.ranking.filters import DocumentFilter
from embed.settings import EmbedSettings

milvus_store._INSERT_ROWS = 1
publish_to_milvus(EmbedSettings(
    vectors_dir=sys.argv[1], backend="milvus", milvus_uri=sys.argv[2],
    milvus_collection=sys.argv[3], milvus_settle=0,
))
"""


def test_a_publication_killed_while_writing_rows_leaves_readers_on_the_live_build(
    milvus: Any,
    milvus_server: Any,
    published: str,
    corpus: tuple[Path, Path],
    encoders: tuple[Encoder, TextEncoder | None],
) -> None:
    (seeds, vectors), (encoder, second) = corpus, encoders
    sentences = [
        f"Delegation {n} of the Milvus test council discussed border security in Osh "
        f"on day {n}, and its members signed protocol number {n}." for n in range(1, 13)
    ]  # fmt: skip
    text = "Killed publication\n\n" + "\n\n".join(
        " ".join(sentences[i : i + 3]) for i in range(0, 12, 3)
    )
    (seeds / "killed.txt").write_text(text + "\n", "utf-8")
    rebuild_index(seeds, vectors, encoder, second=second)
    build = load_index(vectors)
    source = MilvusSource(milvus_server.uri, ALIAS)
    live = source.current()
    before = Searcher(source.open(), encoder, second)
    query = "border security talks in Osh"
    expected = [r.chunk for r in before.search(query, k=5)]

    slot = next(slot for slot in SLOTS if slot != build_slot(milvus, live))
    spans = slot_names(ALIAS, slot)["spans"]
    new_spans = [i for kind, i in _row_ids(build) if kind == "span"]
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_PUBLICATION, str(vectors), milvus_server.uri, ALIAS],
        cwd=ROOT, env=checkout_env(),
    )  # fmt: skip
    try:
        deadline, written = time.monotonic() + 120, 0
        while not written and process.poll() is None and time.monotonic() < deadline:
            written = len(
                milvus.query(spans, ids=new_spans, output_fields=["id"], consistency_level="Strong")
            ) if milvus.has_collection(spans) else 0  # fmt: skip
        process.kill()
    finally:
        process.kill()
        process.wait(timeout=30)
    assert 0 < written < len(new_spans), "killed while it wrote the spans"

    assert source.current() == live, "readers stay on the live build"
    after = Searcher(source.open(), encoder, second)
    assert [r.chunk for r in after.search(query, k=5)] == expected
    publication = publish_to_milvus(publish_settings(vectors, milvus_server.uri))
    assert publication.moved and source.current() == meta_name(ALIAS, build.name)
    found = Searcher(source.open(), encoder, second).search(query, k=1)[0]
    assert found.chunk.doc_id == "killed"

"""The embedded backend: candidates by language, document rows, spans."""

from __future__ import annotations

from embed.ranking.searcher import Searcher


def test_a_language_filter_fills_the_candidates_from_that_language_only(
    searcher: Searcher,
) -> None:
    backend = searcher.backend
    vectors = searcher.embed_queries(["Совещание руководителей спецслужб"]).vectors
    for lang in ("en", "ru"):
        found = backend.candidates(vectors, 10, lang)[0]
        assert len(found.rows) == 10
        assert set(backend.chunk_languages()[found.rows].tolist()) == {lang}
        assert list(found.scores) == sorted(found.scores, reverse=True)


def test_a_documents_rows_come_in_reading_order_without_a_scan(searcher: Searcher) -> None:
    backend = searcher.backend
    rows = backend.document_rows("000_ede25ed87fc7c0a3")
    assert [backend.chunk(row).paragraph for row in rows] == sorted(
        backend.chunk(row).paragraph for row in rows
    )
    assert {backend.chunk(row).doc_id for row in rows} == {"000_ede25ed87fc7c0a3"}
    assert backend.document_rows("no-such-document") == []
    document = searcher.document("000_ede25ed87fc7c0a3")
    assert document is not None and document.chunks[0].paragraph == 0

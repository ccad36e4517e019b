"""Marking the part of a result's passage that matched."""

from __future__ import annotations

from embed.ingest.chunking import Chunk
from embed.ranking.results import SearchResult
from service.highlight import split_at_match

TEXT = "The council met in Bishkek. Beekeepers sold honey. The delegates left."
CHUNK = Chunk(
    doc_id="d", paragraph=1, part=0, start=0, end=len(TEXT), text=TEXT, lang="en",
    title="t", date=None, source="d.txt", url=None,
)  # fmt: skip


def test_the_best_sentence_is_cut_out() -> None:
    result = SearchResult(1, 1.0, CHUNK, highlights=[(28, 50)])

    assert split_at_match(result) == (
        "The council met in Bishkek. ",
        "Beekeepers sold honey.",
        " The delegates left.",
    )


def test_without_sentence_offsets_the_whole_passage_is_the_match() -> None:
    assert split_at_match(SearchResult(1, 1.0, CHUNK)) == ("", TEXT, "")

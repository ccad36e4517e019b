"""What a rebuild copies from the previous build: rows by chunk key, in runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embed.indexing import reuse
from embed.indexing.reuse import NEW, chunk_sources, embed_rows, sentence_table, stack_tokens
from embed.models.encoder import Encoder
from embed.models.tokens import QuantisedTokens
from embed.store.builds import IndexData, load_index
from embed.store.format import EMBEDDINGS
from embed.store.token_states import TokenStates


@pytest.fixture(scope="module")
def previous(seed_vectors: Path) -> IndexData:
    return load_index(seed_vectors)


def _shuffled_sources(previous: IndexData) -> np.ndarray:
    """Sources of a new build: the previous rows reordered, some dropped, two new rows (the
    first of them just before previous row 0, which does not continue it)."""
    rows = np.arange(len(previous.chunks))
    return np.concatenate([rows[10:20], [NEW], rows[:5], rows[30:], [NEW]])


def test_chunk_sources_finds_each_chunk_by_key(previous: IndexData) -> None:
    chunks = [previous.chunks[3], previous.chunks[0], previous.chunks[3]]
    assert chunk_sources(previous.chunks, chunks).tolist() == [3, 0, 3]
    assert chunk_sources(None, chunks).tolist() == [NEW] * 3


def test_a_repeated_key_keeps_each_occurrence_on_its_own_row(previous: IndexData) -> None:
    old = [previous.chunks[0], previous.chunks[1], previous.chunks[0], previous.chunks[2]]
    assert chunk_sources(old, old).tolist() == [0, 1, 2, 3]
    assert chunk_sources(old, [*old, old[0]]).tolist() == [0, 1, 2, 3, 2]


def test_reused_chunks_keep_their_sentences_without_being_split_again(
    previous: IndexData, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = _shuffled_sources(previous)
    chunks = [previous.chunks[s] if s != NEW else previous.chunks[1] for s in sources.tolist()]
    expected, _ = sentence_table(chunks, sources)
    split: list[str] = []
    real = reuse.match_spans

    def spy(text: str) -> list[tuple[int, int]]:
        split.append(text)
        return real(text)

    monkeypatch.setattr(reuse, "match_spans", spy)
    spans, origins = sentence_table(chunks, sources, previous.arrays["sentence_spans"])
    assert np.array_equal(spans, expected)
    assert len(split) == 2  # only the two new rows
    old = previous.arrays["sentence_spans"]
    found = origins != NEW
    assert np.array_equal(old[origins[found], 1:], spans[found, 1:])
    assert np.array_equal(sources[spans[found, 0]], old[origins[found], 0])
    assert set(spans[~found, 0].tolist()) == {10, len(sources) - 1}


def test_embed_rows_copies_reused_rows_and_embeds_each_new_text_once(
    previous: IndexData, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["Совещание руководителей спецслужб", "A meeting of security chiefs"]
    rows = [texts[0], "(reused)", texts[1], texts[0], "(reused)"]
    sources = np.array([NEW, 4, NEW, NEW, 0])
    embedded: list[str] = []
    real = encoder.encode_passages

    def spy(batch: list[str], **kwargs: object) -> np.ndarray:
        embedded.extend(batch)
        return real(batch)

    monkeypatch.setattr(encoder, "encode_passages", spy)
    fresh: dict[str, np.ndarray] = {}
    old = previous.arrays[EMBEDDINGS]
    matrix = embed_rows(
        encoder, rows.__getitem__, sources, old, fresh, batch_size=8, progress=False
    )
    assert embedded == texts
    assert np.array_equal(matrix[[1, 4]], old[[4, 0]])
    assert np.array_equal(matrix[0], matrix[3])
    assert np.allclose(matrix[2], real([texts[1]])[0], atol=1e-5)
    again = embed_rows(encoder, rows.__getitem__, sources, old, fresh, batch_size=8, progress=False)
    assert embedded == texts and np.array_equal(again, matrix)  # ``fresh`` answered


def test_embed_rows_keeps_token_states_of_the_rows_it_embeds(
    previous: IndexData, encoder: Encoder
) -> None:
    rows = ["Антитеррористический центр СНГ", "(reused)", "Антитеррористический центр СНГ"]
    tokens: dict[int, QuantisedTokens] = {}
    embed_rows(
        encoder, rows.__getitem__, np.array([NEW, 2, NEW]), previous.arrays[EMBEDDINGS], {},
        batch_size=8, progress=False, tokens=tokens,
    )  # fmt: skip
    assert sorted(tokens) == [0, 2] and len(tokens[0]) > 0
    assert tokens[0] is tokens[2]


def test_stacked_tokens_are_each_rows_states_in_few_blocks(previous: IndexData) -> None:
    old = TokenStates.of_build(previous.arrays)
    sources = _shuffled_sources(previous)
    fresh = {row: old[1] for row in np.flatnonzero(sources == NEW).tolist()}
    blocks, offsets = stack_tokens(old, sources, fresh)
    packed = TokenStates.pack(blocks, offsets)
    for row, source in enumerate(sources.tolist()):
        want = old[source if source != NEW else 1]
        got = packed[row]
        assert np.array_equal(got.codes, want.codes) and np.array_equal(got.scales, want.scales)
    # Three runs of the previous rows, and the two new rows.
    assert len(blocks) == 5
    assert stack_tokens(old, np.zeros(0, dtype=np.int64), {})[1].tolist() == [0]

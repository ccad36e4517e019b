"""The build format: the typed manifest and the one compatibility check."""

from __future__ import annotations

import pytest

from embed.store.format import (
    ALIGNMENT_VERSION,
    CHUNKER_VERSION,
    LEXICAL_VERSION,
    BuildSpec,
    ChunkingEntry,
    Counts,
    Expected,
    IndexSpec,
    ModelEntry,
    SecondModelEntry,
    TokensEntry,
    compatibility,
    tokens_entry,
)

E5 = ModelEntry(name="e5", checksum="a" * 64, dimension=384)
USEM = SecondModelEntry(name="usem3", checksum="b" * 64, dimension=512)
CHUNKING = ChunkingEntry(version=CHUNKER_VERSION, max_tokens=512)


def _spec(**changes: object) -> BuildSpec:
    spec = BuildSpec(
        model=E5,
        second_model=USEM,
        lexical_version=LEXICAL_VERSION,
        alignment_version=ALIGNMENT_VERSION,
        tokens=tokens_entry(8),
        index=IndexSpec(type="Flat"),
        chunking=CHUNKING,
        counts=Counts(documents=1, chunks=2, sentences=3),
    )
    return spec.model_copy(update=changes)


EXPECTED = Expected(E5.checksum, USEM, tokens_entry(8), CHUNKING)


def test_a_build_made_by_this_version_and_these_models_is_current() -> None:
    assert compatibility(_spec(), EXPECTED).stale == []


@pytest.mark.parametrize(
    ("changes", "stale"),
    [
        ({"model": E5.model_copy(update={"checksum": "c" * 64})}, ["model"]),
        ({"second_model": None}, ["second_model"]),
        ({"tokens": TokensEntry(layer=8, version=1)}, ["tokens"]),
        ({"tokens": None}, ["tokens"]),
        ({"chunking": None}, ["chunking"]),
        ({"lexical_version": LEXICAL_VERSION - 1}, ["lexical"]),
        ({"alignment_version": None}, ["alignment"]),
    ],
)
def test_each_part_made_another_way_is_named(changes: dict[str, object], stale: list[str]) -> None:
    assert compatibility(_spec(**changes), EXPECTED).stale == stale


def test_models_are_told_apart_by_their_weights_not_their_names() -> None:
    renamed = _spec(
        model=E5.model_copy(update={"name": "a local copy"}),
        second_model=USEM.model_copy(update={"name": "another name"}),
    )
    assert compatibility(renamed, EXPECTED).stale == []


def test_a_manifest_of_an_earlier_version_reads_with_its_missing_parts_unset() -> None:
    spec = BuildSpec.model_validate(
        {
            "model": E5.model_dump(),
            "index": {"type": "HNSW32", "params": {"efSearch": 64}},
            "counts": {"documents": 1, "chunks": 2},
        }
    )
    assert (spec.tokens, spec.chunking, spec.alignment_version) == (None, None, None)
    assert compatibility(spec, EXPECTED).stale == [
        "second_model", "tokens", "chunking", "lexical", "alignment",
    ]  # fmt: skip

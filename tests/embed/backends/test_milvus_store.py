"""How a build is laid out in Milvus: blobs, token states and row ids (no server needed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from embed.backends.milvus_store import (
    VARCHAR_MAX,
    array_bytes,
    blob_parts,
    blob_tokens,
    bytes_array,
    join_parts,
    meta_name,
    row_ids,
    slot_names,
    span_ids,
    span_numbers,
    token_blob,
)
from embed.store.builds import load_index


def test_blobs_are_cut_into_parts_that_fit_a_varchar_and_join_back() -> None:
    data = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    parts = blob_parts(data)
    assert len(parts) > 1 and all(len(part) <= VARCHAR_MAX for part in parts)
    assert join_parts(parts) == data
    assert join_parts(blob_parts(b"")) == b""


def test_token_states_round_trip_including_a_passage_without_tokens() -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(-127, 128, (75, 384), dtype=np.int8)
    scales = rng.random(75, dtype=np.float32)
    back_codes, back_scales = blob_tokens(join_parts(blob_parts(token_blob(codes, scales))), 384)
    assert np.array_equal(back_codes, codes) and np.array_equal(back_scales, scales)
    empty_codes, empty_scales = blob_tokens(token_blob(codes[:0], scales[:0]), 384)
    assert empty_codes.shape == (0, 384) and empty_scales.shape == (0,)


def test_arrays_round_trip_and_collection_names_are_valid() -> None:
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert np.array_equal(bytes_array(array_bytes(array)), array)
    names = [*slot_names("xlsearch", "s0").values(), meta_name("xlsearch", "2026T01Z-405af3d7")]
    assert len(set(names)) == 5 and all(name.replace("_", "").isalnum() for name in names)
    assert meta_name("a__b", "x-1").rsplit("__", 2)[0] == "a__b", "the alias is found again"


def test_a_row_keeps_its_id_while_its_record_and_models_do_not_change(seed_vectors: Path) -> None:
    data = load_index(seed_vectors)
    ids = row_ids(data)
    assert len(set(ids.tolist())) == len(ids) and int(ids.min()) >= 0
    assert np.array_equal(row_ids(data), ids), "ids are a digest, not a counter"

    # The first row moves to the end: every row keeps its id.
    moved = dataclasses.replace(data, chunks=[*data.chunks[1:], data.chunks[0]])
    assert np.array_equal(row_ids(moved), np.roll(ids, -1))
    # An edited chunk gets a new id; the others keep theirs.
    first = data.chunks[0]
    edited = dataclasses.replace(first, chunk=dataclasses.replace(first.chunk, text="Edited."))
    changed = row_ids(dataclasses.replace(data, chunks=[edited, *data.chunks[1:]]))
    assert changed[0] != ids[0] and np.array_equal(changed[1:], ids[1:])
    # Another primary model makes other vectors: every id changes.
    model = data.manifest.model.model_copy(update={"checksum": "another"})
    other = dataclasses.replace(data, manifest=data.manifest.model_copy(update={"model": model}))
    assert not set(row_ids(other).tolist()) & set(ids.tolist())


def test_span_ids_follow_their_rows_and_are_unique() -> None:
    span_rows = np.array([0, 0, 0, 1, 3, 3])
    numbers = span_numbers(span_rows)
    assert numbers.tolist() == [0, 1, 2, 0, 0, 1]
    rows = np.array([11, 22, 33, 44], dtype=np.int64)
    ids = span_ids(rows[span_rows], numbers)
    assert len(set(ids.tolist())) == len(ids) and int(ids.min()) >= 0
    # Row 1 dropped: the spans of rows 0 and 3 keep their ids.
    kept = np.array([0, 0, 0, 2, 2])
    again = span_ids(np.array([11, 33, 44], dtype=np.int64)[kept], span_numbers(kept))
    assert again.tolist() == [*ids[:3].tolist(), *ids[4:].tolist()]

"""How a build's blobs and token states are laid out in Milvus fields (no server needed)."""

from __future__ import annotations

import numpy as np

from embed.index.milvus_store import (
    VARCHAR_MAX,
    array_bytes,
    blob_parts,
    blob_tokens,
    bytes_array,
    collection_names,
    join_parts,
    token_blob,
)


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
    names = collection_names("xlsearch", "20261206T011032820006Z-405af3d7")
    assert set(names) == {"passages", "spans", "second", "second_spans", "meta"}
    assert all(name.replace("_", "").isalnum() for name in names.values())

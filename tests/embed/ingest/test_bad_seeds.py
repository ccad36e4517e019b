"""Hostile seed folders through a real rebuild: each file indexed or skipped by name, no crash."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from embed.indexing.rebuild import rebuild_index
from embed.ingest.documents import MAX_SEED_BYTES
from embed.models.encoder import Encoder
from embed.store.builds import load_index

SECRET = "TOP-SECRET-OUTSIDE-THE-CORPUS"


def test_a_hostile_seeds_folder_indexes_the_good_and_names_the_bad(
    tmp_path: Path,
    seeds_copy: Path,
    seed_vectors: Path,
    encoder: Encoder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seeds, vectors = tmp_path / "seeds", tmp_path / "vectors"
    shutil.copytree(seeds_copy, seeds)
    shutil.copytree(seed_vectors, vectors)
    outside = tmp_path / "outside.txt"
    outside.write_text(f"{SECRET}\n\nThis file lives outside the seeds folder.", encoding="utf-8")
    bad = {
        "empty.txt": b"",
        "binary.txt": bytes(range(256)) * 40,
        "latin1.txt": "Café au lait, crème brûlée, naïve façade.".encode("latin-1"),
        "utf16.txt": "Совет безопасности собрался в Бишкеке.".encode("utf-16"),
        "nul.txt": b"A normal title\n\nSome text\x00with a NUL byte inside.",
    }
    for name, data in bad.items():
        (seeds / name).write_bytes(data)
    (seeds / "escape.txt").symlink_to(outside)
    (seeds / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    # 50 MB of plausible text: must be refused quickly by size, not embedded for minutes.
    line = "Border guards of Kyrgyzstan and Tajikistan met at the checkpoint again today. "
    with (seeds / "huge.txt").open("w", encoding="utf-8") as handle:
        handle.write("A huge report\n\n")
        for _ in range(50 * 1024 * 1024 // len(line) // 1000 + 1):
            handle.write(line * 1000 + "\n\n")
    assert (seeds / "huge.txt").stat().st_size > MAX_SEED_BYTES
    odd = seeds / "новости мира" / "Отчёт о встрече 2024.txt"
    odd.parent.mkdir()
    odd.write_text(
        "Встреча пограничников в Оше\n\nПограничники Кыргызстана и Таджикистана встретились "
        "на пункте пропуска и обсудили открытие дороги.\n",
        encoding="utf-8",
    )

    started = time.monotonic()
    summary = rebuild_index(seeds, vectors, encoder, second=None)
    took = time.monotonic() - started

    skipped = {Path(item["source"]).name: item["reason"] for item in summary.skipped}
    assert set(skipped) == {*bad, "escape.txt", "linked_dir", "huge.txt"}
    assert "too large" in skipped["huge.txt"]
    assert "outside the seeds root" in skipped["escape.txt"]
    assert "UTF-16" in skipped["utf16.txt"] and "NUL" in skipped["nul.txt"]
    for name in skipped:
        assert name in caplog.text
    assert took < 60, f"rebuild took {took:.0f} s"
    data = load_index(vectors)
    assert "новости мира/Отчёт о встрече 2024" in data.documents
    assert summary.documents == 6
    assert all(SECRET not in stored.chunk.text for stored in data.chunks)

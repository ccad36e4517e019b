"""The check every format reader's tests share: a bad file is refused, by its reader and by
``read_document``, with the reason and the file's name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from embed.ingest.documents import SeedError, read_document
from embed.ingest.extracted import Extracted, Unreadable


def assert_refused(
    read: Callable[[bytes], Extracted], folder: Path, name: str, data: bytes, reason: str
) -> None:
    """``read`` refuses ``data`` saying ``reason``, and so does ``read_document`` naming ``name``.

    Args:
        read: The format's reader.
        folder: An empty seeds folder to write ``name`` into.
        name: The file name, of the reader's format.
        data: The file's bytes.
        reason: A regular expression the reason must match.
    """
    with pytest.raises(Unreadable, match=reason):
        read(data)
    (folder / name).write_bytes(data)
    with pytest.raises(SeedError, match=f"{name}: {reason}"):
        read_document(folder / name, folder)

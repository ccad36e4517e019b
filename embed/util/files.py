"""Files written whole or not at all, and files hashed without reading them into memory."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_BLOCK = 1 << 20
# Names what replacing() writes before the rename: whoever cleans up after a crash (a killed
# rebuild's leftovers, say) finds them by it.
TMP_PREFIX = ".tmp-"


def update_digest(digest: Any, path: Path) -> Any:
    """Feed the bytes of ``path`` to a hashlib-style ``digest``, a block at a time."""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest


def write_durable(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to the disk."""
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename into it) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def replacing(target: Path, *, folder: bool = False) -> Iterator[Path]:
    """A fresh path beside ``target``, renamed onto it when the block succeeds.

    A crash or an error leaves ``target`` as it was (absent, or the previous file or folder
    whole), never half-written; the temporary file or folder is removed.

    Args:
        target: The file or folder to write.
        folder: Yield a new empty folder rather than a path for the caller to create.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-{target.name}"
    if folder:
        tmp.mkdir()
    try:
        yield tmp
        if folder and target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()

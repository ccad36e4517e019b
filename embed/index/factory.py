"""Index backends by name: the one place that knows every implementation of the seam."""

from __future__ import annotations

from pathlib import Path

from embed.index.backend import IndexBackend

BACKENDS = ("local",)


def open_backend(kind: str, location: Path) -> IndexBackend:
    """Open the live build of a backend chosen by name.

    Args:
        kind: ``local`` (the embedded FAISS build in a ``vectors/`` folder).
        location: Where the backend keeps its builds.

    Raises:
        ValueError: For an unknown kind.
        StoreError: When the build cannot be loaded.
    """
    if kind == "local":
        from embed.index.local import LocalIndex

        return LocalIndex.open(location)
    raise ValueError(f"unknown index backend {kind!r} (known: {', '.join(BACKENDS)})")

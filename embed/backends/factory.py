"""Index backends by name: the one place that knows every implementation of the seam.

A :class:`BuildSource` says which build is live and opens it; the service polls it to swap in
new builds, whichever backend holds them.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from embed.backends.base import IndexBackend

BACKENDS = ("local", "milvus")


class BuildSource(Protocol):
    """Where a backend's builds live."""

    kind: str

    @property
    def location(self) -> str:
        """Where, for people (a folder, a Milvus alias and address)."""
        ...

    def current(self) -> str | None:
        """An identity of the live build (``None`` when there is none), cheap to ask often."""
        ...

    def open(self) -> IndexBackend:
        """The live build."""
        ...


class LocalSource:
    """The FAISS builds of a ``vectors/`` folder."""

    kind = "local"

    def __init__(self, vectors_dir: Path) -> None:
        self.vectors_dir = vectors_dir

    @property
    def location(self) -> str:
        return str(self.vectors_dir.absolute())

    def current(self) -> str | None:
        from embed.store.builds import current_build

        build = current_build(self.vectors_dir)
        return None if build is None else build.name

    def open(self) -> IndexBackend:
        from embed.backends.local import LocalIndex

        return LocalIndex.open(self.vectors_dir)


class MilvusSource:
    """The builds published to a Milvus server under one alias."""

    kind = "milvus"

    def __init__(self, uri: str, alias: str, token: str | None = None) -> None:
        self.uri = uri
        self.alias = alias
        self.token = token

    @property
    def location(self) -> str:
        return f"Milvus alias {self.alias} at {self.uri}"

    @cached_property
    def client(self) -> Any:
        """One ``MilvusClient``; it reconnects by itself after the server restarts."""
        from embed.backends.milvus_store import connect

        return connect(self.uri, self.token)

    def current(self) -> str | None:
        from embed.backends.milvus_store import live_build

        return live_build(self.client, self.alias)

    def open(self) -> IndexBackend:
        from embed.backends.milvus import MilvusIndex

        return MilvusIndex.open(self.client, self.alias)


def open_source(kind: str, location: str | Path, **options: Any) -> BuildSource:
    """The builds of a backend chosen by name.

    Args:
        kind: ``local`` (``location`` is a ``vectors/`` folder) or ``milvus`` (``location`` is
            the server's URI; ``options``: ``alias`` and ``token``).
        location: Where the backend keeps its builds.

    Raises:
        ValueError: For an unknown kind.
    """
    if kind == "local":
        return LocalSource(Path(location))
    if kind == "milvus":
        return MilvusSource(str(location), options["alias"], options.get("token"))
    raise ValueError(f"unknown index backend {kind!r} (known: {', '.join(BACKENDS)})")


def open_backend(kind: str, location: str | Path, **options: Any) -> IndexBackend:
    """Open the live build of a backend chosen by name (see :func:`open_source`).

    Raises:
        ValueError: For an unknown kind.
        StoreError: When the build cannot be loaded.
    """
    return open_source(kind, location, **options).open()

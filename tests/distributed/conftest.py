"""A real Milvus server for the distributed tests, started once per run.

The server binds every interface, so these tests run only inside a loopback-only network
namespace: ``tests/test_distributed.py`` starts them there (``unshare``), and a run anywhere
else skips them. The server lives in the run's temporary folder and is stopped at its end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embed.backends.milvus_store import connect
from embed.publish import publish_to_milvus
from embed.settings import EmbedSettings
from embed.store.builds import load_index
from tests.distributed.server import MilvusProcess, in_loopback_namespace

# The alias the seeds build is published under.
ALIAS = "seeds"


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusProcess]:
    if not in_loopback_namespace():
        pytest.skip("Milvus binds every interface: run through tests/test_distributed.py")
    # pymilvus logs a traceback for every failed call, which the fault tests make on purpose.
    logging.getLogger("pymilvus").addFilter(lambda record: False)
    server = MilvusProcess(tmp_path_factory.mktemp("milvus"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def milvus(milvus_server: MilvusProcess) -> Any:
    """A client of the session's server."""
    return connect(milvus_server.uri)


def publish_settings(vectors: Path, uri: str) -> EmbedSettings:
    """Settings that publish ``vectors``'s live build to the server at ``uri``."""
    return EmbedSettings(
        vectors_dir=vectors, backend="milvus", milvus_uri=uri, milvus_collection=ALIAS,
        milvus_settle=0,
    )  # fmt: skip


@pytest.fixture(scope="session")
def published(milvus_server: MilvusProcess, seed_vectors: Path) -> str:
    """The seeds build, published under :data:`ALIAS`; its build name."""
    assert publish_to_milvus(publish_settings(seed_vectors, milvus_server.uri)).moved
    return load_index(seed_vectors).name

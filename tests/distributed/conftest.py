"""A real Milvus server for the distributed tests, started once per run.

The server binds every interface, so these tests run only inside a loopback-only network
namespace: ``tests/test_distributed.py`` starts them there (``unshare``), and a run anywhere
else skips them. The server lives in the run's temporary folder and is stopped at its end.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embed.index.milvus_store import connect
from embed.index.store import load_index
from embed.publish import publish_to_milvus
from embed.settings import EmbedSettings

# Milvus's own start-up script probes ports without SO_REUSEADDR: after a restart the old
# port's TIME_WAIT sockets move the server to another one, and clients lose it.
PORT = 19530
# The alias the seeds build is published under.
ALIAS = "seeds"


def in_loopback_namespace() -> bool:
    """Whether this process sees the loopback interface and nothing else."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def _bind_reusing(_: Any, port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return sock
    except OSError:
        sock.close()
        return None


class MilvusProcess:
    """The Milvus standalone server of the ``milvus`` package, in a folder of its own."""

    def __init__(self, base: Path) -> None:
        import milvus

        milvus.MilvusServerConfig.try_bind_port = _bind_reusing
        self.server = milvus.MilvusServer()
        self.server.set_base_dir(str(base))
        self.server.listen_port = PORT
        # A killed server's sessions must expire before it starts again (30 s by default).
        self.server.config.set("common.session.ttl", 5)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.listen_port}"

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()


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
        vectors_dir=vectors, backend="milvus", milvus_uri=uri, milvus_collection=ALIAS
    )


@pytest.fixture(scope="session")
def published(milvus_server: MilvusProcess, seed_vectors: Path) -> str:
    """The seeds build, published under :data:`ALIAS`; its build name."""
    assert publish_to_milvus(publish_settings(seed_vectors, milvus_server.uri))
    return load_index(seed_vectors).name

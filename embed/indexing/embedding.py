"""The second stage of a rebuild: every vector and token state of the new build.

Rows the :class:`~embed.indexing.plan.Plan` takes from the live build are copied from its memory
maps (:mod:`embed.indexing.reuse`); the others are embedded, each distinct text once. Token states
are written to a scratch file as they are stacked, never gathered in memory first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embed.indexing.plan import Plan
from embed.indexing.reuse import NEW, embed_rows, stack_tokens
from embed.models.encoder import Encoder, TextEncoder
from embed.models.tokens import QuantisedTokens
from embed.store.builds import scratch_path, write_stacked
from embed.store.format import (
    EMBEDDINGS,
    SECOND_EMBEDDINGS,
    SECOND_SENTENCE_EMBEDDINGS,
    SENTENCE_EMBEDDINGS,
    SENTENCE_SPANS,
    TOKEN_OFFSETS,
    TOKEN_SCALES,
    TOKEN_STATES,
)
from embed.store.token_states import TokenStates


@dataclass
class Embedded:
    """The new build's arrays.

    Attributes:
        arrays: Saved as ``<name>.npy`` (see :mod:`embed.store.format`).
        written: Files already written (the token states), by their name in the build.
        tokens: The token states, read back through a memory map, or ``None``.
        primary_sources: Each chunk's row in the live build whose e5 vector (and token
            states) it copied, or ``NEW``: a chunk whose states are taken anew is embedded
            anew, so this differs from the plan's ``sources`` when the states changed.
        embedded: Chunks embedded by the primary model.
        spans_embedded: Sentences and clauses embedded.
    """

    arrays: dict[str, np.ndarray]
    primary_sources: np.ndarray
    written: dict[str, Path] = field(default_factory=dict)
    tokens: TokenStates | None = None
    embedded: int = 0
    spans_embedded: int = 0


def embed_plan(
    plan: Plan,
    vectors_dir: Path,
    encoder: Encoder,
    second: TextEncoder | None,
    *,
    batch_size: int,
    progress: bool,
) -> Embedded:
    """Copy or embed every row of the planned build.

    Args:
        plan: What to build (:func:`embed.indexing.plan.plan_rebuild`).
        vectors_dir: The index folder (the token states' scratch file goes there).
        encoder: The primary model.
        second: The second encoder, if enabled.
        batch_size: Passages per encode batch.
        progress: Show a progress bar while embedding.
    """
    texts = [stored.chunk.text for stored in plan.chunks]
    spans = plan.spans

    def span_text(row: int) -> str:
        chunk, begin, end = (int(value) for value in spans[row])
        return texts[chunk][begin:end]

    old = plan.previous.arrays if plan.previous is not None else {}
    with_tokens = plan.expected.tokens is not None
    # The chunk's vector comes from the same forward pass as its token states: a chunk whose
    # states must be taken anew is embedded anew.
    primary = plan.sources
    if with_tokens and not plan.reused("tokens"):
        primary = np.full_like(plan.sources, NEW)
    fresh: dict[str, np.ndarray] = {}
    states: dict[int, QuantisedTokens] | None = {} if with_tokens else None
    options: dict[str, Any] = {"batch_size": batch_size, "progress": progress}
    matrix = embed_rows(
        encoder, texts.__getitem__, primary, old.get(EMBEDDINGS), fresh, tokens=states, **options
    )
    sentences = embed_rows(
        encoder, span_text, plan.span_sources, old.get(SENTENCE_EMBEDDINGS), fresh, **options
    )
    result = Embedded(
        arrays={EMBEDDINGS: matrix, SENTENCE_SPANS: spans, SENTENCE_EMBEDDINGS: sentences},
        primary_sources=primary,
        embedded=int(np.count_nonzero(primary == NEW)),
        spans_embedded=int(np.count_nonzero(plan.span_sources == NEW)),
    )
    if states is not None:
        previous = TokenStates.of_build(old) if plan.reused("tokens") else None
        result.tokens = _write_tokens(vectors_dir, previous, primary, states, result)
        states.clear()
    if second is not None:
        same_second = plan.reused("second_model")
        fresh2: dict[str, np.ndarray] = {}
        for name, text, rows in (
            (SECOND_EMBEDDINGS, texts.__getitem__, plan.sources),
            (SECOND_SENTENCE_EMBEDDINGS, span_text, plan.span_sources),
        ):
            result.arrays[name] = embed_rows(
                second, text, rows, old.get(name) if same_second else None, fresh2, **options
            )
    return result


def _write_tokens(
    vectors_dir: Path,
    previous: TokenStates | None,
    sources: np.ndarray,
    fresh: dict[int, QuantisedTokens],
    result: Embedded,
) -> TokenStates:
    """Stack the token states into a scratch file and add their scales and offsets to
    ``result``; the states read back through a memory map."""
    path = scratch_path(vectors_dir, f"{TOKEN_STATES}.npy")
    blocks, offsets = stack_tokens(previous, sources, fresh)
    width = blocks[0].codes.shape[1] if blocks else 0
    write_stacked(path, [block.codes for block in blocks], width, np.int8)
    packed = TokenStates.pack(blocks, offsets, codes=np.load(path, mmap_mode="r"))
    result.arrays[TOKEN_SCALES], result.arrays[TOKEN_OFFSETS] = packed.scales, packed.offsets
    result.written[f"{TOKEN_STATES}.npy"] = path
    return packed

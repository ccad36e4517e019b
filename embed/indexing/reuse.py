"""What a rebuild copies from the previous build instead of computing it again.

A chunk whose key (the model's checksum and its text) names a row of the previous build is
that row again: its sentence spans, its vectors and its sentences' vectors, its token states
are copied from the previous build's memory maps, whole runs of rows at a time. An edit to one
paragraph of a 100k-passage corpus thus neither splits nor looks up the other passages one by
one. What is left is embedded, each distinct text once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise

import numpy as np

from embed.ingest.chunking import match_spans
from embed.models.encoder import Encoder, TextEncoder
from embed.models.tokens import QuantisedTokens
from embed.store.builds import StoredChunk
from embed.store.token_states import TokenStates

__all__ = ["NEW", "chunk_sources", "embed_rows", "sentence_table", "stack_tokens"]

# The source row of a row that the previous build does not have.
NEW = -1


def chunk_sources(
    previous: Sequence[StoredChunk] | None, chunks: Sequence[StoredChunk]
) -> np.ndarray:
    """Each chunk's row among the ``previous`` build's chunks with the same key, or :data:`NEW`.

    A key found on several rows (a boilerplate paragraph, a title used twice) is matched
    occurrence by occurrence, so that rows that did not move keep their own row: runs stay
    whole, and a build that only added chunks at its end begins with the previous one's rows.
    """
    rows: dict[str, list[int]] = {}
    for row, stored in enumerate(previous or ()):
        rows.setdefault(stored.key, []).append(row)
    seen: Counter[str] = Counter()
    sources = []
    for stored in chunks:
        found = rows.get(stored.key)
        sources.append(found[min(seen[stored.key], len(found) - 1)] if found else NEW)
        seen[stored.key] += 1
    return np.array(sources, dtype=np.int64)


def sentence_table(
    chunks: Sequence[StoredChunk],
    sources: np.ndarray,
    previous_spans: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(chunk row, begin, end)`` of every sentence (and clause, see
    :func:`~embed.ingest.chunking.match_spans`) of every chunk, in row order, and each one's row in
    ``previous_spans``, or :data:`NEW`.

    Args:
        chunks: The new build's chunks.
        sources: Their :func:`chunk_sources`.
        previous_spans: The previous build's sentence table, when its chunks were split into
            sentences as they are now; a chunk found there keeps its sentences unsplit.
    """
    if previous_spans is None:
        sources = np.full(len(chunks), NEW, dtype=np.int64)
        previous_spans = np.zeros((0, 3), dtype=np.int32)
    starts = np.searchsorted(previous_spans[:, 0], np.arange(sources.max(initial=NEW) + 2))
    reused = sources != NEW
    split = {
        row: np.asarray(match_spans(chunks[row].chunk.text), dtype=np.int64).reshape(-1, 2)
        for row in np.flatnonzero(~reused).tolist()
    }
    counts = np.zeros(len(chunks), dtype=np.int64)
    counts[reused] = starts[sources[reused] + 1] - starts[sources[reused]]
    counts[list(split)] = [len(found) for found in split.values()]
    rows = np.repeat(np.arange(len(chunks)), counts)
    first = np.concatenate([[0], np.cumsum(counts)])
    origins = starts[np.where(reused, sources, 0)][rows] + np.arange(len(rows)) - first[rows]
    origins[~reused[rows]] = NEW
    table = np.zeros((len(rows), 3), dtype=np.int32)
    table[:, 0] = rows
    table[origins != NEW, 1:] = previous_spans[origins[origins != NEW], 1:]
    for row, found in split.items():
        table[first[row] : first[row + 1], 1:] = found
    return table, origins


def embed_rows(
    encoder: TextEncoder,
    texts: Callable[[int], str],
    sources: np.ndarray,
    previous: np.ndarray | None,
    fresh: dict[str, np.ndarray],
    *,
    batch_size: int,
    progress: bool,
    tokens: dict[int, QuantisedTokens] | None = None,
) -> np.ndarray:
    """One vector per row: copied from ``previous`` where the row has a source, embedded
    where it has none.

    Args:
        encoder: The model of the vectors.
        texts: The text of a row (asked only of the rows to embed).
        sources: Each row's row in ``previous``, or :data:`NEW`.
        previous: The previous build's vectors of this kind, if it has them.
        fresh: Vectors this build has embedded already, by text: looked up before embedding,
            and updated.
        batch_size: Passages per encode batch.
        progress: Show a progress bar while embedding.
        tokens: When given (``encoder`` must then be an :class:`Encoder`), the token states of
            each embedded row are added to it by row, from the same forward pass; texts in
            ``fresh`` are then embedded again, since their states were not kept.

    Returns:
        The ``(len(sources), dimension)`` float32 matrix.
    """
    # The previous vectors' width, when there are some: asking the encoder may load its model.
    width = previous.shape[1] if previous is not None else encoder.dimension
    matrix = np.zeros((len(sources), width), dtype=np.float32)
    if previous is None:
        sources = np.full(len(sources), NEW, dtype=np.int64)
    have = sources != NEW
    if have.any():
        assert previous is not None
        matrix[have] = previous[sources[have]]
    missing = np.flatnonzero(~have).tolist()
    by_text: dict[str, list[int]] = {}
    for row in missing:
        by_text.setdefault(texts(row), []).append(row)
    unseen = [text for text in by_text if tokens is not None or text not in fresh]
    if unseen and tokens is not None:
        assert isinstance(encoder, Encoder)
        vectors, states = encoder.encode_passages_with_tokens(
            unseen, batch_size=batch_size, progress=progress
        )
        for text, state in zip(unseen, states, strict=True):
            tokens.update(dict.fromkeys(by_text[text], state))
    elif unseen:
        vectors = encoder.encode_passages(unseen, batch_size=batch_size, progress=progress)
    if unseen:
        fresh.update(zip(unseen, vectors, strict=True))
    for text, rows in by_text.items():
        matrix[rows] = fresh[text]
    return matrix


def stack_tokens(
    previous: TokenStates | None, sources: np.ndarray, fresh: Mapping[int, QuantisedTokens]
) -> tuple[list[QuantisedTokens], np.ndarray]:
    """The token states of a new build as blocks to stack in order, and their offset table.

    A run of rows that were consecutive in ``previous`` is one block, sliced from its memory
    map and so read only as it is written; every other row is its own block from ``fresh``.

    Args:
        previous: The previous build's token states, when taken the same way as now.
        sources: Each row's row in ``previous``, or :data:`NEW`.
        fresh: The token states of the rows not taken from ``previous``, by row.
    """
    if previous is None:
        sources = np.full(len(sources), NEW, dtype=np.int64)
    if not len(sources):
        return [], np.zeros(1, dtype=np.int64)
    new = sources == NEW
    breaks = np.concatenate([[True], (sources[1:] != sources[:-1] + 1) | new[1:] | new[:-1]])
    blocks: list[QuantisedTokens] = []
    lengths = np.zeros(len(sources), dtype=np.int64)
    for begin, end in pairwise([*np.flatnonzero(breaks).tolist(), len(sources)]):
        first = int(sources[begin])
        if first == NEW:
            blocks.append(fresh[begin])
            lengths[begin] = len(fresh[begin])
            continue
        assert previous is not None
        offsets = previous.offsets[first : first + end - begin + 1]
        rows = slice(offsets[0], offsets[-1])
        blocks.append(QuantisedTokens(previous.codes[rows], previous.scales[rows]))
        lengths[begin:end] = np.diff(offsets)
    return blocks, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

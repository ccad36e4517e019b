"""What a search returns: ranked passages with their scores, highlights and translations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from embed.ingest.chunking import Chunk


@dataclass(frozen=True)
class Translation:
    """A passage in another language that says the same thing.

    Attributes:
        chunk: The counterpart passage.
        score: Mean cosine between the two passages over the encoders.
    """

    chunk: Chunk
    score: float


@dataclass(frozen=True)
class SearchResult:
    """One ranked passage.

    Attributes:
        rank: 1-based position in the result list.
        score: The fused ranking score (a weighted sum of per-channel z-scores, or of RRF
            scores), or its translation's when that is higher; comparable within one result
            list only.
        chunk: The passage and its metadata.
        scores: Raw score per channel (cosines for dense channels, BM25 for ``lexical``).
        highlights: ``(begin, end)`` offsets in ``chunk.text`` of the best-matching sentence
            or clause.
        translations: Parallel passages in other languages.
    """

    rank: int
    score: float
    chunk: Chunk
    scores: dict[str, float] = field(default_factory=dict)
    highlights: list[tuple[int, int]] = field(default_factory=list)
    translations: list[Translation] = field(default_factory=list)


@dataclass(frozen=True)
class StoredDocument:
    """A document as the index stored it, and its passages in reading order.

    Attributes:
        record: The document record kept in the build (title, date, lang, text, ...).
        chunks: Its passages, title (paragraph 0) first.
    """

    record: dict[str, Any]
    chunks: list[Chunk]

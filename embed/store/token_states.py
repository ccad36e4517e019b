"""A build's token states: every passage's tokens in one int8 matrix, and MaxSim over them.

The states come from the encoder (:mod:`embed.models.tokens`, quantised per passage as they are
embedded); a build stacks them with an offset table and reads them through a memory map, so
that a search brings only its candidates' tokens into memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from embed.models.tokens import QuantisedTokens
from embed.store.format import TOKEN_OFFSETS, TOKEN_SCALES, TOKEN_STATES
from embed.util.blas import blas_threads


class TokenSource(Protocol):
    """What the ranking asks of a build's token states, wherever they are kept."""

    def __getitem__(self, row: int) -> QuantisedTokens:
        """The token states of passage ``row``."""
        ...

    def maxsim(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """ColBERT's score of each passage in ``rows`` for the query's token states."""
        ...


@dataclass(frozen=True)
class TokenStates:
    """The token states of every passage of a build.

    Attributes:
        codes: ``(tokens, dim)`` int8, the passages' tokens one after the other.
        scales: ``(tokens,)`` float32, the scale of each row of ``codes``.
        offsets: ``(passages + 1,)``: passage ``i`` owns rows ``offsets[i]:offsets[i + 1]``.
    """

    codes: np.ndarray
    scales: np.ndarray
    offsets: np.ndarray

    @classmethod
    def pack(
        cls,
        blocks: Sequence[QuantisedTokens],
        offsets: np.ndarray | None = None,
        codes: np.ndarray | None = None,
    ) -> TokenStates:
        """Join tokens into one matrix, its scales and offsets.

        Args:
            blocks: Tokens in row order: each passage's, or runs of passages' when ``offsets``
                is given.
            offsets: The passages' offset table; by default each block is one passage.
            codes: The blocks' codes already stacked (a build's, written block by block and
                read back through a memory map); stacked here when not given.
        """
        if codes is None:
            width = blocks[0].codes.shape[1] if blocks else 0
            codes = np.concatenate([np.zeros((0, width), np.int8), *(b.codes for b in blocks)])
        scales = np.concatenate([np.zeros(0, np.float32), *(b.scales for b in blocks)])
        return cls(codes, scales, cls.offsets_of(blocks) if offsets is None else offsets)

    @classmethod
    def of_build(cls, arrays: Mapping[str, np.ndarray]) -> TokenStates:
        """The token states among a build's arrays."""
        return cls(arrays[TOKEN_STATES], arrays[TOKEN_SCALES], arrays[TOKEN_OFFSETS])

    @staticmethod
    def offsets_of(per_passage: Sequence[QuantisedTokens]) -> np.ndarray:
        """The offset table of passages' tokens stacked in order."""
        lengths = [len(t) for t in per_passage]
        return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)

    def __getitem__(self, row: int) -> QuantisedTokens:
        rows = slice(self.offsets[row], self.offsets[row + 1])
        return QuantisedTokens(self.codes[rows], self.scales[rows])

    def coverage(self, a: int, b: int) -> float:
        """How fully one of passages ``a`` and ``b`` says what the other says: the MaxSim of
        the shorter one's tokens against the longer one's (a translation that merges two
        paragraphs covers each of them, not the reverse)."""
        short, long = (a, b) if len(self[a]) <= len(self[b]) else (b, a)
        return float(self.maxsim(self[short].decode(), np.array([long]))[0])

    def maxsim(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """ColBERT's score of each passage in ``rows``: the mean over the query's tokens of
        the best cosine to any of the passage's tokens (0 for a query or passage with none).

        Args:
            query: ``(query tokens, dim)`` normalised states of the query.
            rows: Passage rows to score.
        """
        scores = np.zeros(len(rows), dtype=np.float32)
        if not len(query):
            return scores
        transposed = np.ascontiguousarray(query.T, dtype=np.float32)
        # One product per passage on its rows: gathering the candidates' tokens into one
        # matrix first copies more than the products cost.
        with blas_threads(1):
            for i, row in enumerate(rows.tolist()):
                start, stop = self.offsets[row], self.offsets[row + 1]
                if stop > start:
                    products = self.codes[start:stop].astype(np.float32) @ transposed
                    products *= self.scales[start:stop, None]
                    scores[i] = products.max(axis=0).mean()
        return scores

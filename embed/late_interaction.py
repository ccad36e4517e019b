"""Late interaction: a query and a passage compared token by token (ColBERT's MaxSim).

A pooled vector blurs a passage into one point: a question about the 44th meeting of one
council scores about the same against the paragraph on the 54th meeting of another, and the
numbers, names and acronyms that tell them apart barely move it. MaxSim keeps the tokens: each
query token takes its best cosine over the passage's tokens, and the passage scores the mean
of those (Khattab & Zaharia, 2020, "ColBERT"). Across languages the tokens meet in the
middle of the encoder, not at its top: the last layer is trained for the pooled vector, while
the middle layers align words with their translations (Jalili Sabet et al., 2020,
"SimAlign"). Fused at weight 1 with e5-small (12 layers), layer 8 took XQuAD-dev en->ru from
0.929 to 0.945 hit@1, where the prototype that chose the layer had the last layer at 0.930
(bench/RESULTS.md has the channel's gain on every set), so the states are taken at
:data:`DEPTH` of the stack.

The encoder computes those states in the forward pass that makes the pooled vector, so the
channel costs no extra model time; a build keeps them, all passages' tokens in one matrix with
an offset table (:class:`TokenStates`), without the special tokens and the prompt. They are the
largest part of a build by far (about 180 tokens of 384 numbers per XQuAD paragraph), so they are
kept as int8 with one float32 scale per token (:class:`QuantisedTokens`): a quarter of float32's
bytes, cosines to the original within 0.0004; every XQuAD-dev and seeds figure stayed the same to
four decimals, and Tatoeba lost one query of 1000 in one direction (bench/RESULTS.md). float16
would halve them only, and numpy widens it eight times slower than int8.
They are read from disk on demand (a memory map), so that a search brings only its candidates'
tokens into memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from embed.blas import blas_threads

# Where the token states are taken, as a fraction of the encoder's layers (8 of 12 for e5).
DEPTH = 2 / 3
# Bump when the stored states change for the same model and text (layer choice, which tokens).
TOKENS_VERSION = 2
STATES = "token_states"
SCALES = "token_scales"
OFFSETS = "token_offsets"


def token_layer(num_layers: int) -> int:
    """The hidden-state index (0 = embeddings) whose token states are compared."""
    return max(1, round(num_layers * DEPTH))


def manifest_entry(layer: int | None) -> dict[str, int] | None:
    """How a build's token states were taken, as its manifest records them (``None``: none)."""
    return None if layer is None else {"layer": layer, "version": TOKENS_VERSION}


def prompt_length(count: Callable[[str], int], prompt: str) -> int:
    """How many tokens ``prompt`` adds in front of a text.

    Args:
        count: The number of tokens of a text, special tokens left out.
        prompt: The prefix (``"query: "`` for e5); empty for a model without prompts.
    """
    if not prompt:
        return 0
    # Counting the prompt alone would include the lone "▁" of its trailing space.
    return count(prompt + "a") - count("a")


def content_tokens(states: np.ndarray, keep: np.ndarray, prompt_tokens: int) -> list[np.ndarray]:
    """L2-normalised states of each row's own tokens: padding, special tokens and the
    ``prompt_tokens`` that open every input (e5's ``query:``/``passage:``) left out.

    Args:
        states: ``(batch, sequence, dim)`` hidden states of one layer.
        keep: ``(batch, sequence)``, true for tokens that are neither padding nor special.
        prompt_tokens: How many tokens the prompt adds in front of the text.
    """
    rows = []
    for row in range(len(keep)):
        positions = np.flatnonzero(keep[row])[prompt_tokens:]
        tokens = np.asarray(states[row, positions], dtype=np.float32)
        norms = np.linalg.norm(tokens, axis=1, keepdims=True)
        rows.append(tokens / np.maximum(norms, 1e-12))
    return rows


@dataclass(frozen=True)
class QuantisedTokens:
    """One passage's normalised token states as int8 codes with a scale per token.

    Attributes:
        codes: ``(tokens, dim)`` int8; token ``t`` is ``codes[t] * scales[t]``.
        scales: ``(tokens,)`` float32.
    """

    codes: np.ndarray
    scales: np.ndarray

    @classmethod
    def quantise(cls, tokens: np.ndarray) -> QuantisedTokens:
        """Codes of ``(tokens, dim)`` float states: each token spread over the int8 range by
        its largest entry, then scaled back to its own length (symmetric, so that a product of
        codes is a product of the states; and a unit state stays a unit vector, so that its
        products stay cosines)."""
        tokens = np.asarray(tokens, dtype=np.float32)
        peak = np.abs(tokens).max(axis=1, keepdims=True)
        codes = np.rint(tokens * (127 / np.where(peak > 0, peak, 1))).astype(np.int8)
        lengths = np.linalg.norm(codes.astype(np.float32), axis=1)
        scales = np.linalg.norm(tokens, axis=1) / np.where(lengths > 0, lengths, 1)
        return cls(codes, scales.astype(np.float32))

    def __len__(self) -> int:
        return len(self.codes)

    def decode(self) -> np.ndarray:
        """The states as float32, ``(tokens, dim)``."""
        states: np.ndarray = self.codes.astype(np.float32)
        states *= self.scales[:, None]
        return states


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
        """The token states among a build's arrays (``STATES``, ``SCALES``, ``OFFSETS``)."""
        return cls(arrays[STATES], arrays[SCALES], arrays[OFFSETS])

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

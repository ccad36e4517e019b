"""Late interaction: a query and a passage compared token by token (ColBERT's MaxSim).

A pooled vector blurs a passage into one point: a question about the 44th meeting of one
council scores about the same against the paragraph on the 54th meeting of another, and the
numbers, names and acronyms that tell them apart barely move it. MaxSim keeps the tokens: each
query token takes its best cosine over the passage's tokens, and the passage scores the mean
of those (Khattab & Zaharia, 2020, "ColBERT"). Across languages the tokens meet in the
middle of the encoder, not at its top: the last layer is trained for the pooled vector, while
the middle layers align words with their translations (Jalili Sabet et al., 2020,
"SimAlign"). On XQuAD-dev layer 8 of e5-small's 12 ranked well above the last one
(docs/decisions.md; the channel's gain on every set is in docs/ranking.md), so the states are
taken at :data:`DEPTH` of the stack.

The encoder computes those states in the forward pass that makes the pooled vector, so the
channel costs no extra model time; a build keeps them, all passages' tokens in one matrix with
an offset table (:class:`TokenStates`), without the special tokens and the prompt. They are the
largest part of a build by far (a vector per token, not per passage), so they are kept as
int8 with one float32 scale per token (:class:`QuantisedTokens`): a quarter of float32's
bytes at the same ranking quality; float16 would halve them only, and numpy widens it more
slowly than int8 (docs/decisions.md, "Quantisation"). They are read from disk on demand (a
memory map), so that a search brings only its candidates' tokens into memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from embed.util.arrays import l2_normalise

# Where the token states are taken, as a fraction of the encoder's layers (8 of 12 for e5).
DEPTH = 2 / 3


def token_layer(num_layers: int) -> int:
    """The hidden-state index (0 = embeddings) whose token states are compared."""
    return max(1, round(num_layers * DEPTH))


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
        rows.append(l2_normalise(np.asarray(states[row, positions], dtype=np.float32)))
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

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
an offset table (:class:`TokenStates`), without the special tokens and the prompt. They stay
float32 (numpy converts float16 slower than the products it would save) and are read from disk
on demand (a memory map), so that a search brings only its candidates' tokens into memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from embed.blas import blas_threads

# Where the token states are taken, as a fraction of the encoder's layers (8 of 12 for e5).
DEPTH = 2 / 3
# Bump when the stored states change for the same model and text (layer choice, which tokens).
TOKENS_VERSION = 1
STATES = "token_states"
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
class TokenStates:
    """The token states of every passage of a build.

    Attributes:
        states: ``(tokens, dim)`` float32, the passages' tokens one after the other.
        offsets: ``(passages + 1,)``: passage ``i`` owns ``states[offsets[i]:offsets[i + 1]]``.
    """

    states: np.ndarray
    offsets: np.ndarray

    @classmethod
    def pack(cls, per_passage: Sequence[np.ndarray]) -> TokenStates:
        """Join per-passage ``(tokens, dim)`` arrays into one matrix and its offsets."""
        offsets = cls.offsets_of(per_passage)
        if not per_passage:
            return cls(np.zeros((0, 0), dtype=np.float32), offsets)
        return cls(np.concatenate(per_passage).astype(np.float32), offsets)

    @staticmethod
    def offsets_of(per_passage: Sequence[np.ndarray]) -> np.ndarray:
        """The offset table of per-passage ``(tokens, dim)`` arrays stacked in order."""
        lengths = [len(t) for t in per_passage]
        return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)

    def __getitem__(self, row: int) -> np.ndarray:
        return self.states[self.offsets[row] : self.offsets[row + 1]]

    def coverage(self, a: int, b: int) -> float:
        """How fully one of passages ``a`` and ``b`` says what the other says: the MaxSim of
        the shorter one's tokens against the longer one's (a translation that merges two
        paragraphs covers each of them, not the reverse)."""
        short, long = (a, b) if len(self[a]) <= len(self[b]) else (b, a)
        return float(self.maxsim(self[short], np.array([long]))[0])

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
        # One product per passage on a view of its rows: gathering the candidates' tokens into
        # one matrix first copies more than the products cost.
        with blas_threads(1):
            for i, row in enumerate(rows.tolist()):
                start, stop = self.offsets[row], self.offsets[row + 1]
                if stop > start:
                    scores[i] = (self.states[start:stop] @ transposed).max(axis=0).mean()
        return scores

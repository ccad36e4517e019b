"""What the encoders make of queries: the inputs every ranking stage reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from embed.ingest.language import UNDETERMINED, detect_language


class QueryEmbeddings(NamedTuple):
    """What the encoders make of a batch of queries, row ``i`` for query ``i``.

    Attributes:
        vectors: Primary-encoder query vectors.
        second: Second-encoder vectors, or ``None`` when no second-encoder channel is on.
        tokens: Each query's token states for the late-interaction channel, or ``None``
            when it is off.
    """

    vectors: np.ndarray
    second: np.ndarray | None = None
    tokens: list[np.ndarray] | None = None

    def rows(self, start: int, stop: int) -> QueryEmbeddings:
        """The embeddings of queries ``start`` to ``stop``."""
        return QueryEmbeddings(
            self.vectors[start:stop],
            None if self.second is None else self.second[start:stop],
            None if self.tokens is None else self.tokens[start:stop],
        )

    def query(self, i: int, text: str | None) -> Query:
        """Query ``i`` alone, with its text (``None``: the lexical channel is skipped) and the
        language that text is identified as."""
        return Query(
            text,
            self.vectors[i],
            None if self.second is None else self.second[i],
            None if self.tokens is None else self.tokens[i],
            UNDETERMINED if text is None else detect_language(text),
        )


@dataclass(frozen=True)
class Query:
    """One query as the channels read it.

    Attributes:
        text: The query text, for BM25 (``None``: that channel is skipped).
        vector: Its primary-encoder vector.
        second: Its second-encoder vector, if that encoder is on.
        tokens: Its token states, if the token channel is on.
        lang: The language its text is written in (``und``: too short to tell, or no text).
            The text tells it better than the vector, whose nearest language centroid a name
            of another script can sway.
    """

    text: str | None
    vector: np.ndarray
    second: np.ndarray | None = None
    tokens: np.ndarray | None = None
    lang: str = UNDETERMINED

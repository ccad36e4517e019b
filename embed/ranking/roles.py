"""Passage roles and document context: body text answers, titles and captions frame it.

A title, a one-line caption or a lead that repeats a sentence of the article names the topic in
few words, so its vector sits close to any question on that topic and it outranks the paragraph
that holds the answer. Such passages are *context*: they lose a fixed offset from their fused
score, and what they (and every other passage of the document) score lifts the document's
passages through the document's best score. What each part gains: docs/ranking.md, "Passage
roles and document context".
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from embed.backends.base import IndexBackend

# Rows whose role is remembered; a role is read from the passage and its document once.
_ROLE_CACHE = 1 << 16


class PassageRoles:
    """Which passages of an index are context, and the document context of scores.

    Args:
        backend: The index.
        short_words: A passage of at most this many words is a one-line caption.
    """

    def __init__(self, backend: IndexBackend, short_words: int) -> None:
        self.backend = backend
        self.short_words = short_words
        self._is_context = lru_cache(maxsize=_ROLE_CACHE)(self._context_of)

    def context(self, rows: np.ndarray) -> np.ndarray:
        """Whether each row is a context passage: its document's title (paragraph 0), a
        passage of at most ``short_words`` words, or one whose text another passage of its
        document repeats in full (a lead or caption); or the translation of one."""
        return np.fromiter((self._is_context(int(row)) for row in rows), bool, len(rows))

    def _context_of(self, row: int) -> bool:
        # A role is the fact's, not the language's: a caption stays one where its
        # translation runs past the word limit.
        return self._own_context(row) or any(
            self._own_context(int(twin)) for twin, _ in self.backend.translations(row)
        )

    def _own_context(self, row: int) -> bool:
        chunk = self.backend.chunk(row)
        if chunk.paragraph == 0 or len(chunk.text.split()) <= self.short_words:
            return True
        return any(
            other != row and chunk.text in self.backend.chunk(other).text
            for other in self.backend.document_rows(chunk.doc_id)
        )

    def document_context(self, fused: np.ndarray, rows: np.ndarray, weight: float) -> np.ndarray:
        """Each score blended with its document's best among ``rows``:
        ``(score + weight * best) / (1 + weight)``, so that a document of one passage keeps
        its score and a passage that does not repeat the topic is lifted by the one that does.
        """
        documents = [self.backend.chunk(int(row)).doc_id for row in rows]
        _, inverse = np.unique(np.array(documents, dtype=object), return_inverse=True)
        best = np.full(int(inverse.max()) + 1, -np.inf)
        np.maximum.at(best, inverse, fused)
        return (fused + weight * best[inverse]) / (1 + weight)

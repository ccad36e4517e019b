"""The lexical channel: BM25 over a script-neutral Latin form of the text.

Across languages, words rarely match, but names and numbers do once both sides are written the
same way. An English word is stemmed with Snowball; a Russian word is transliterated to ASCII
(``anyascii``) and loses its case ending (Snowball's Russian stemmer cuts names too deep:
"Жапаров" -> "жапар"). Both are then folded to a coarse phonetic key, so that English spellings
of Russian names meet their Cyrillic originals ("Жапарова" -> "japarov" <- "Japarov",
"Нагиев" -> "nagiev" <- "Nagiyev").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from embed.util.text import CYRILLIC

# Digits and letters apart, so that "55th", "55-м" and "55" all yield the token "55".
_WORD = re.compile(r"\d+|[^\W\d_]+")
# Russian noun/adjective case endings (transliterated), stripped when a stem of 4+ letters stays.
_RU_ENDING = re.compile(
    r"(?<=\w{4})(?:ogo|ego|omu|emu|ami|iami|akh|iakh|ykh|ikh|om|em|ym|im|oi|ei|ia|iu|a|u|e|y|i|o)$"
)
# Applied in order to the ASCII form; collapses transliteration variants of the same sound.
_FOLDS = (
    (re.compile(r"zh|dzh|dj"), "j"),
    (re.compile(r"kh"), "h"),
    (re.compile(r"ts|tz"), "c"),
    # A glide after a vowel is spelt y, i, j or not at all ("Tokayev"/"Токаев", "й" in
    # "Azerbaijan"/"Азербайджан"): drop it.
    (re.compile(r"(?<=[aeiou])[iy](?![aeiou])|(?<=[aeiou])y(?=[aeiou])"), ""),
    (re.compile(r"y"), "i"),
    (re.compile(r"([a-z])\1+"), r"\1"),
    (re.compile(r"[^a-z0-9]"), ""),
)


@cache
def _stemmer(language: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(language)


# A word's key depends on the word alone, and words repeat (Zipf): each distinct word is keyed
# once rather than at every occurrence, which dominated indexing a large corpus
# (docs/benchmarks.md, bench/rebuild_scale.py).
@lru_cache(maxsize=1 << 17)
def _key(word: str) -> str:
    from anyascii import anyascii

    if word.isupper():
        # An acronym ("RATS", "РАТС") is a name, not an inflected word: stemming "RATS" to
        # "rat" would part it from its transliterated Cyrillic twin.
        latin = anyascii(word).lower()
    elif CYRILLIC.search(word):
        latin = _RU_ENDING.sub("", anyascii(word.lower()).lower())
    else:
        latin = anyascii(_stemmer("english").stemWord(word.lower())).lower()
    for pattern, replacement in _FOLDS:
        latin = pattern.sub(replacement, latin)
    return latin


def lexical_tokens(text: str) -> list[str]:
    """Script-neutral tokens of ``text`` for BM25 (stemmed, transliterated, folded)."""
    return [key for key in map(_key, _WORD.findall(text)) if key]


class LexicalIndex:
    """BM25 (``bm25s``) over the lexical tokens of a fixed list of passages."""

    def __init__(self, retriever: Any) -> None:
        self._retriever = retriever

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        """Index ``texts``; row ``i`` of every score vector is ``texts[i]``."""
        import bm25s

        # bm25s sets its own logger to DEBUG, which floods any root handler with index chatter.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        retriever = bm25s.BM25()
        corpus = [lexical_tokens(t) or ["\0"] for t in texts]
        retriever.index(bm25s.tokenization.Tokenized(*_to_ids(corpus)), show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(folder)))

    def languages_per_term(self, groups: np.ndarray) -> np.ndarray:
        """For each term id, in how many language groups it occurs.

        Args:
            groups: The language group (0, 1, ...) of each passage.
        """
        # bm25s keeps its scores as a sparse term-by-passage table: term t's passages are
        # indices[indptr[t]:indptr[t + 1]].
        indptr = np.asarray(self._retriever.scores["indptr"])
        passages = np.asarray(self._retriever.scores["indices"])
        terms = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
        n = int(groups.max()) + 1 if len(groups) else 1
        # One integer per (term, group) pair: np.unique on a flat array is a plain sort.
        pairs = np.unique(terms * n + groups[passages])
        return np.bincount(pairs // n, minlength=len(self._retriever.vocab_dict))

    def scores(self, query: str, terms: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of ``query`` against every passage (zeros when nothing matches).

        Args:
            query: The query text.
            terms: Which term ids may match (a boolean mask over the vocabulary); all if
                ``None``.
        """
        vocab = self._retriever.vocab_dict
        ids = [vocab[t] for t in lexical_tokens(query) if t in vocab]
        if terms is not None:
            ids = [i for i in ids if terms[i]]
        n = self._retriever.scores["num_docs"]
        if not ids:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(ids), dtype=np.float32)


def _to_ids(corpus: list[list[str]]) -> tuple[list[list[int]], dict[str, int]]:
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(token, len(vocab)) for token in doc] for doc in corpus]
    return ids, vocab

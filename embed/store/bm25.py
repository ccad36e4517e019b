"""The lexical channel: BM25 over a script-neutral Latin form of the text.

Across languages, words rarely match, but names and numbers do once both sides are written the
same way. Each word is analysed by its passage's language (:data:`~embed.ingest.languages.
LANGUAGES`): stemmed with that language's Snowball stemmer where PyStemmer has one (English,
Armenian, Hindi, Persian, Turkish, ...), a Russian word instead loses its case ending (Snowball's
Russian stemmer cuts names too deep: "Жапаров" -> "жапар"), and a word of a language with no
stemmer (Kazakh, Ukrainian, Georgian, ...) is left whole: Russian endings are not stripped from
other Cyrillic languages. Chinese, written without spaces, is indexed as overlapping character
pairs, as Lucene's CJK analyser does. Every key is then transliterated to ASCII (``anyascii``)
and folded to a coarse phonetic form, so that spellings of one name meet across scripts
("Жапарова" -> "japarov" <- "Japarov", "Тоқаев" -> "tokaev" <- "Tokayev").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import regex

from embed.ingest.language import UNDETERMINED
from embed.ingest.languages import LANGUAGES
from embed.store.format import LEXICAL_OFFSETS, LEXICAL_TOKENS
from embed.util.text import HAN, script_of

# Digits and letters apart, so that "55th", "55-м" and "55" all yield the token "55"; a word
# keeps its combining marks (Devanagari and Thai vowel signs, Arabic harakat); a run of Han
# characters is a word of its own, even beside Latin letters.
_WORD = regex.compile(r"\d+|\p{Han}+|(?:(?!\p{Han})[\p{L}\p{M}\u200c])+")
# Russian noun/adjective case endings (transliterated), stripped when a stem of 4+ letters stays.
_RU_ENDING = re.compile(
    r"(?<=\w{4})(?:ogo|ego|omu|emu|ami|iami|akh|iakh|ykh|ikh|om|em|ym|im|oi|ei|ia|iu|a|u|e|y|i|o)$"
)
# Applied in order to the ASCII form; collapses transliteration variants of the same sound.
_FOLDS = (
    (re.compile(r"zh|dzh|dj"), "j"),
    (re.compile(r"kh"), "h"),
    # Kazakh and Uzbek "қ"/"q" is the "к"/"k" of Russian spellings of the same name.
    (re.compile(r"q"), "k"),
    (re.compile(r"ts|tz"), "c"),
    # A glide after a vowel is spelt y, i, j or not at all ("Tokayev"/"Токаев"/"Токаєв", "й"
    # in "Azerbaijan"/"Азербайджан"): drop it.
    (re.compile(r"(?<=[aeiou])[iy]"), ""),
    (re.compile(r"y"), "i"),
    (re.compile(r"([a-z])\1+"), r"\1"),
    (re.compile(r"[^a-z0-9]"), ""),
)


@cache
def _stemmer(language: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(language)


# How a Cyrillic word of a Russian text (or of one whose language is not known) loses its
# ending; a stemmer's name otherwise.
_RUSSIAN = "russian endings"


def _rule(script: str, lang: str) -> str | None:
    """How a word of ``script`` in a passage of ``lang`` is reduced: a Snowball stemmer, the
    Russian ending rule, or ``None`` (left whole)."""
    known = LANGUAGES.get(lang)
    if known is None:
        # The rules the index had before it knew languages: English and Russian.
        return "english" if script == "Latn" else _RUSSIAN if script == "Cyrl" else None
    if lang == "ru":
        return _RUSSIAN if script == "Cyrl" else "english" if script == "Latn" else None
    if known.script == script or (known.script not in ("Latn", "Cyrl") and script == "other"):
        return known.stemmer
    # A Latin word in a text of another script is most often an English name or term.
    return "english" if script == "Latn" else None


# A word's key depends on the word and its rule alone, and words repeat (Zipf): each distinct
# pair is keyed once rather than at every occurrence, which dominated indexing a large corpus
# (docs/benchmarks.md, bench/archive.py).
@lru_cache(maxsize=1 << 17)
def _key(word: str, rule: str | None) -> str:
    from anyascii import anyascii

    if word.isupper():
        # An acronym ("RATS", "РАТС") is a name, not an inflected word: stemming "RATS" to
        # "rat" would part it from its transliterated Cyrillic twin.
        latin = anyascii(word).lower()
    elif rule == _RUSSIAN:
        latin = _RU_ENDING.sub("", anyascii(word.lower()).lower())
    elif rule is not None:
        latin = anyascii(_stemmer(rule).stemWord(word.lower())).lower()
    else:
        latin = anyascii(word.lower()).lower()
    for pattern, replacement in _FOLDS:
        latin = pattern.sub(replacement, latin)
    return latin


def lexical_tokens(text: str, lang: str = UNDETERMINED) -> list[str]:
    """Script-neutral tokens of ``text`` for BM25 (stemmed, transliterated, folded).

    Args:
        text: A passage or a query.
        lang: Its language (ISO 639-1), which picks each word's stemmer; ``und`` analyses
            Latin words as English and Cyrillic ones as Russian.
    """
    return [key for word in _WORD.findall(text) for key in _word_keys(word, lang)]


# A word's keys depend on the word and its passage's language alone: cached by that pair, a
# repeated word costs one lookup instead of its script, its rule and its key.
@lru_cache(maxsize=1 << 18)
def _word_keys(word: str, lang: str) -> tuple[str, ...]:
    if HAN.match(word):
        pairs = [word[i : i + 2] for i in range(max(len(word) - 1, 1))]
        keys = [_key(pair, None) for pair in pairs]
    else:
        keys = [_key(word, _rule(script_of(word[0]), lang))]
    return tuple(key for key in keys if key)


@dataclass(frozen=True)
class PassageTokens:
    """Each passage's term ids in its index's vocabulary, kept with a build so that the next one
    analyses only its new passages: passage ``i``'s are ``ids[offsets[i]:offsets[i + 1]]``."""

    ids: np.ndarray
    offsets: np.ndarray

    def row(self, passage: int) -> list[int]:
        ids: list[int] = self.ids[self.offsets[passage] : self.offsets[passage + 1]].tolist()
        return ids

    def arrays(self) -> dict[str, np.ndarray]:
        """The build arrays that hold them."""
        return {LEXICAL_TOKENS: self.ids, LEXICAL_OFFSETS: self.offsets}

    @classmethod
    def of_build(cls, arrays: Mapping[str, np.ndarray]) -> PassageTokens | None:
        """A build's passage tokens, or ``None`` for a build made before it kept them."""
        if LEXICAL_TOKENS not in arrays or LEXICAL_OFFSETS not in arrays:
            return None
        return cls(arrays[LEXICAL_TOKENS], arrays[LEXICAL_OFFSETS])


@dataclass(frozen=True)
class Reuse:
    """What a new index takes from the live one instead of analysing it again.

    Attributes:
        vocabulary: The live index's term ids, which the new one keeps (a term that no passage
            has any more scores nothing: BM25 depends on the passages' terms, not on the ids).
        tokens: The live index's passage tokens.
        sources: Each new passage's row in the live index, or a negative number to analyse it.
    """

    vocabulary: Mapping[str, int]
    tokens: PassageTokens
    sources: np.ndarray


class LexicalIndex:
    """BM25 (``bm25s``) over the lexical tokens of a fixed list of passages."""

    def __init__(self, retriever: Any, tokens: PassageTokens | None = None) -> None:
        self._retriever = retriever
        self.tokens = tokens

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        langs: Sequence[str] | None = None,
        reuse: Reuse | None = None,
    ) -> LexicalIndex:
        """Index ``texts``, each analysed as its language in ``langs`` (all ``und`` if not
        given); row ``i`` of every score vector is ``texts[i]``.

        Args:
            texts: The passages.
            langs: Their languages.
            reuse: The live index's tokens of the passages it already holds.
        """
        import bm25s

        # bm25s sets its own logger to DEBUG, which floods any root handler with index chatter.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        langs = langs if langs is not None else [UNDETERMINED] * len(texts)
        vocab: dict[str, int] = dict(reuse.vocabulary) if reuse is not None else {}
        corpus: list[list[int]] = []
        for row, (text, lang) in enumerate(zip(texts, langs, strict=True)):
            if reuse is not None and reuse.sources[row] >= 0:
                corpus.append(reuse.tokens.row(int(reuse.sources[row])))
                continue
            words = lexical_tokens(text, lang) or ["\0"]
            corpus.append([vocab.setdefault(word, len(vocab)) for word in words])
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenization.Tokenized(corpus, vocab), show_progress=False)
        offsets = np.zeros(len(corpus) + 1, dtype=np.int64)
        np.cumsum([len(ids) for ids in corpus], out=offsets[1:])
        ids = np.fromiter(chain.from_iterable(corpus), dtype=np.int32, count=int(offsets[-1]))
        return cls(retriever, PassageTokens(ids, offsets))

    @property
    def vocabulary(self) -> Mapping[str, int]:
        """Each term's id."""
        vocab: Mapping[str, int] = self._retriever.vocab_dict
        return vocab

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder))

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> LexicalIndex:
        """The index saved in ``folder`` (with ``mmap``, its score table memory-mapped)."""
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=mmap))

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

    def scores(
        self, query: str, terms: np.ndarray | None = None, lang: str = UNDETERMINED
    ) -> np.ndarray:
        """BM25 score of ``query`` against every passage (zeros when nothing matches).

        Args:
            query: The query text.
            lang: The query's language, which picks each word's stemmer.
            terms: Which term ids may match (a boolean mask over the vocabulary); all if
                ``None``.
        """
        vocab = self._retriever.vocab_dict
        ids = [vocab[t] for t in lexical_tokens(query, lang) if t in vocab]
        if terms is not None:
            ids = [i for i in ids if terms[i]]
        n = self._retriever.scores["num_docs"]
        if not ids:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(ids), dtype=np.float32)

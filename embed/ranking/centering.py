"""Language centering: takes the same-language preference out of cross-lingual scores.

Multilingual encoders place texts of one language closer to each other than meaning alone
would: a Russian query scores every Russian passage a little higher than its English
equivalent. In a corpus of several languages that bias decides near ties, so a Russian
paraphrase outranks the English passage that answers. Subtracting each language's mean vector
from its passages removes the shared language component (Libovický et al., 2020, "On the
Language Neutrality of Pre-trained Multilingual Representations"). For a query ``q`` and a
passage ``p`` of language ``L`` the centred score is ``q·p − q·μ_L``: the raw cosine minus the
query's mean cosine to all of ``L``'s passages, so the index itself is unchanged and the
correction costs one small matrix product per query. The lexical channel has the same bias in a
stronger form (a query's ordinary words match only passages of its own language) and gets the
same correction: each BM25 score minus the query's mean BM25 score over the passage's language.
A shift leaves the spread: among the passages of the query's language, its ordinary words still
pick out same-topic paragraphs that a passage of another language cannot match, so the search
also keeps only the terms found in two languages or more, when its candidates hold two
languages (:meth:`LanguageCorrection.lexical_terms`).

With a single language the offset is the same for every passage and the ranking does not move,
so centering only starts when two languages have :data:`MIN_ROWS` passages each (and
:data:`MIN_SHARE` of the index). Passages of
undetermined language (``und``: mostly short ones) or of a language too rare to estimate (often
a misdetection) join the language whose mean vector is nearest to theirs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from embed.backends.base import IndexBackend
from embed.ingest.language import UNDETERMINED
from embed.store.format import (
    EMBEDDINGS,
    SECOND_EMBEDDINGS,
    SECOND_SENTENCE_EMBEDDINGS,
    SENTENCE_EMBEDDINGS,
)

MIN_ROWS = 10
# ... and this share of all passages: a dozen short sentences the identifier calls Ukrainian in a
# thousand Russian ones are misdetections, and their mean is no language's (docs/languages.md).
MIN_SHARE = 0.02
# Passages per language whose MaxSim standardises the token channel (each costs a MaxSim per
# query): fewer leave the spread too noisy, more change nothing (docs/ranking.md).
TOKEN_SAMPLE = 16
# The dense arrays whose scores are centred, and whether each holds spans (else chunks).
_DENSE_ARRAYS = {
    EMBEDDINGS: False,
    SENTENCE_EMBEDDINGS: True,
    SECOND_EMBEDDINGS: False,
    SECOND_SENTENCE_EMBEDDINGS: True,
}


def language_groups(langs: Sequence[str], vectors: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The language group of each row, for centering, and the number of groups.

    Args:
        langs: The detected language of each row.
        vectors: The rows' embeddings (to place rows of undetermined or rare language).

    Returns:
        ``(groups, n)``, or ``None`` when fewer than two languages have ``MIN_ROWS`` rows and
        ``MIN_SHARE`` of them all.
    """
    counts = Counter(langs)
    least = max(MIN_ROWS, MIN_SHARE * len(langs))
    known = sorted(lang for lang, n in counts.items() if lang != UNDETERMINED and n >= least)
    if len(known) < 2:
        return None
    index = {lang: group for group, lang in enumerate(known)}
    groups = np.array([index.get(lang, -1) for lang in langs], dtype=np.int64)
    stray = groups < 0
    if stray.any():
        means = group_means(vectors, groups, len(known))
        groups[stray] = np.argmax(vectors[stray] @ means.T, axis=1)
    return groups, len(known)


def group_means(vectors: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Mean vector of each group (rows with a negative group are left out; an empty group's
    mean is zero)."""
    means = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    for group in range(n):
        members = vectors[groups == group]
        if len(members):
            means[group] = members.mean(axis=0, dtype=np.float64)
    return means


class LanguageCentroids:
    """Per-language mean vectors of one embedding array.

    Args:
        vectors: One row per passage (or sentence), L2-normalised.
        groups: The language group of each row (see :func:`language_groups`).
        n: How many groups there are.
    """

    def __init__(self, vectors: np.ndarray, groups: np.ndarray, n: int) -> None:
        self.centroids = group_means(vectors, groups, n)

    @classmethod
    def of_means(cls, centroids: np.ndarray) -> LanguageCentroids:
        """Centroids computed before (stored with a build)."""
        made = cls.__new__(cls)
        made.centroids = centroids
        return made

    def offsets(self, query: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """``q·μ_L`` for the language group ``L`` of each row."""
        return np.asarray((self.centroids @ query)[groups])


def standardise(
    values: np.ndarray, groups: np.ndarray, samples: Mapping[int, np.ndarray]
) -> np.ndarray:
    """Each value as a z-score within its group: minus the mean of the group's sample scores,
    over their spread (a score that stands out as far in either language scores the same).

    Args:
        values: One score per row.
        groups: The language group of each row; every group must have a sample.
        samples: Scores of a sample of each group's passages, for the same query.
    """
    means = {group: float(sample.mean()) for group, sample in samples.items()}
    spreads = {group: max(float(sample.std()), 1e-6) for group, sample in samples.items()}
    mean = np.array([means[g] for g in groups.tolist()])
    spread = np.array([spreads[g] for g in groups.tolist()])
    return np.asarray((values - mean) / spread, dtype=np.float64)


@dataclass(frozen=True)
class LanguageCorrection:
    """The language state of one index, made once when it is loaded.

    Attributes:
        groups: The language group of each chunk row (see :func:`language_groups`).
        n: How many groups there are.
        centroids: Per-language mean vectors of each dense array the index holds.
        shared_terms: The BM25 terms found in passages of two groups or more (``None``
            without a BM25 index).
        token_samples: For each group, a fixed sample of its rows, whose MaxSim gives the
            token channel's mean and spread in that language.
    """

    groups: np.ndarray
    n: int
    centroids: dict[str, LanguageCentroids]
    shared_terms: np.ndarray | None
    token_samples: list[np.ndarray]

    @classmethod
    def of(cls, backend: IndexBackend) -> LanguageCorrection | None:
        """The correction for ``backend``'s passages; ``None`` when fewer than two languages
        have enough of them for centering to matter. A backend that stores it with the build
        (:meth:`~embed.backends.base.IndexBackend.statistics`) is not read row by row."""
        stored = backend.statistics()
        if stored is not None:
            return cls.from_arrays(stored)
        found = language_groups(
            list(backend.chunk_languages()), backend.vectors(EMBEDDINGS, slice(None))
        )
        if found is None:
            return None
        groups, n = found
        centroids = {}
        for array, spans in _DENSE_ARRAYS.items():
            if backend.has(array):
                # A span takes the group of its chunk.
                rows = groups[backend.span_rows()] if spans else groups
                centroids[array] = LanguageCentroids(backend.vectors(array, slice(None)), rows, n)
        lexical = backend.lexical
        shared = lexical.languages_per_term(groups) > 1 if lexical is not None else None
        return cls(groups, n, centroids, shared, _samples(groups, n))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The correction as named arrays, to be stored with a build."""
        arrays = {
            "groups": self.groups,
            "n": np.array([self.n]),
            "token_samples": np.concatenate(self.token_samples),
            "token_sample_sizes": np.array([len(s) for s in self.token_samples]),
        }
        arrays.update({f"centroids/{a}": c.centroids for a, c in self.centroids.items()})
        if self.shared_terms is not None:
            arrays["shared_terms"] = self.shared_terms
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> LanguageCorrection | None:
        """The correction :meth:`to_arrays` stored (``None`` from an empty mapping: the
        build had no correction)."""
        if not arrays:
            return None
        bounds = np.cumsum(arrays["token_sample_sizes"])[:-1]
        return cls(
            groups=arrays["groups"],
            n=int(arrays["n"][0]),
            centroids={
                name.split("/", 1)[1]: LanguageCentroids.of_means(value)
                for name, value in arrays.items()
                if name.startswith("centroids/")
            },
            shared_terms=arrays.get("shared_terms"),
            token_samples=list(np.split(arrays["token_samples"], bounds)),
        )

    def offsets(self, array: str, query: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
        """``q·μ_L`` of each row's language for the scores of ``array``, if it is centred."""
        centroids = self.centroids.get(array)
        return None if centroids is None else centroids.offsets(query, self.groups[rows])

    def query_group(self, query: np.ndarray) -> int:
        """The language group of a query: the one whose passages' mean e5 vector is nearest
        (the language component that centering removes is what tells it)."""
        return int(np.argmax(self.centroids[EMBEDDINGS].centroids @ query))

    def lexical_terms(self, rows: np.ndarray) -> np.ndarray | None:
        """The terms BM25 may match for these candidates: the shared ones when they hold two
        languages; all (``None``) when they hold one (a ``lang`` filter), as nothing then
        competes across languages and a word of that language tells its passages apart."""
        if len(np.unique(self.groups[rows])) < 2:
            return None
        return self.shared_terms

    def lexical_offsets(self, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The query's mean BM25 score over each row's language; ``scores`` covers every
        passage."""
        means = group_means(scores[:, None], self.groups, self.n)[:, 0]
        return np.asarray(means[self.groups[rows]])


def _samples(groups: np.ndarray, n: int) -> list[np.ndarray]:
    """Up to :data:`TOKEN_SAMPLE` rows of each language group, spread evenly."""
    samples = []
    for group in range(n):
        members = np.flatnonzero(groups == group)
        picks = np.linspace(0, len(members) - 1, min(len(members), TOKEN_SAMPLE))
        samples.append(members[np.unique(picks.round().astype(np.int64))])
    return samples

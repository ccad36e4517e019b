"""Parallel passages: link each chunk to the chunk of another language that says the same thing.

Similarity is the mean cosine over the available encoders (e5 passage vectors, and the second
encoder's when it is enabled). Links are made in two rounds:

1. Across the corpus, a pair is linked when each side is the other's best match in the other
   language (mutual best), or when one side's best match is very close. A weak link between
   two documents that share nothing else (two reports of different meetings) is then dropped:
   it is kept only when at least half of the shorter document is linked to the other one.
   With the build's token states (:mod:`embed.late_interaction`), a pair that is not very close
   must also align word by word: two paragraphs on one topic are close as wholes, but a
   translation is close token for token.
2. Within two documents found parallel that way, the chunks still unlinked are paired by mutual
   best among themselves, and a chunk left over joins its closest counterpart when that one is
   close enough: a title, a short line, or a paragraph that the translation merges with the
   next one (the seeds' 001 paragraph 4 holds 000's paragraphs 4 and 5).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from embed.late_interaction import TokenStates

# Bump when the links this module makes change: an index built with older links is rebuilt.
ALIGNMENT_VERSION = 5
# Mean of e5 (~0.9 for translations) and USE (~0.5-0.8) cosines, chosen on XQuAD-dev: with every
# paragraph in both languages, 0.55-0.65 keep all 123 true links (0.70 loses one, and 1.6
# points of hit@1 on XQuAD-parallel with it) and make no wrong one; in XQuAD-mixed, where no
# paragraph has a translation, mutual best matches between same-topic paragraphs make 28 false
# links at 0.55, 14 at 0.65 and 3 at 0.70. At 0.65 ranking through translations costs the
# mixed set nothing (bench/RESULTS.md). The 000 <-> 001 seed pairs are found at any of these.
MIN_SIMILARITY = 0.65
# A best match this close is linked even when not mutual (a paragraph the translation splits).
ONE_SIDED_SIMILARITY = 0.80
# Round 2, inside parallel documents. On 000 <-> 001 the true pairs left for this round score
# 0.64-0.74 and the paragraphs without a translation at most 0.58 (to each other) and 0.66 (to
# any paragraph of the other document).
PAIR_IN_DOCUMENT = 0.60
JOIN_IN_DOCUMENT = 0.70
# Share of the shorter document's chunks that must be linked for two documents to be parallel.
PARALLEL_SHARE = 0.5
# Round 1's word-by-word check (TokenStates.coverage, e5's layer-8 tokens) of links closer than
# ONE_SIDED_SIMILARITY. The true links of XQuAD-parallel and the seeds cover at least 0.636;
# 13 of XQuAD-mixed's 14 false links (similarity 0.65-0.74) cover 0.52-0.60, the last (two
# consecutive paragraphs of one article) 0.66.
MIN_COVERAGE = 0.62
CANDIDATES = 16

Links = list[list[tuple[int, float]]]
# Mean cosine over the encoders between one chunk and several others.
Similarity = Callable[[int, np.ndarray], np.ndarray]


def align_parallel(
    langs: Sequence[str],
    index: Any,
    primary: np.ndarray,
    extra: Sequence[np.ndarray] = (),
    docs: Sequence[str] | None = None,
    tokens: TokenStates | None = None,
) -> Links:
    """Find the counterparts of every chunk in the other languages.

    Args:
        langs: Language of each chunk.
        index: FAISS index over ``primary`` (used to find candidates).
        primary: ``(n, d)`` normalized chunk vectors of the primary encoder.
        extra: More ``(n, d_i)`` normalized chunk vectors (other encoders), averaged in.
        docs: Document of each chunk; enables the document-level rounds (see the module).
        tokens: Token states of the chunks; enables round 1's word-by-word check.

    Returns:
        For each chunk, ``(row, similarity)`` of its linked counterparts, best first.
    """
    n = len(langs)
    links: Links = [[] for _ in range(n)]
    if n < 2:
        return links

    def similarity(row: int, others: np.ndarray) -> np.ndarray:
        sims = primary[others] @ primary[row]
        for vectors in extra:
            sims = sims + vectors[others] @ vectors[row]
        return np.asarray(sims / (1 + len(extra)))

    lang = np.asarray(langs, dtype=object)
    best: dict[int, tuple[int, float]] = {}
    for row, cands in _candidates(lang, index, primary).items():
        sims = similarity(row, cands)
        top = int(np.argmax(sims))
        best[row] = (int(cands[top]), float(sims[top]))
    for row, (other, sim) in best.items():
        mutual = best.get(other, (-1, 0.0))[0] == row
        if sim < MIN_SIMILARITY or not (mutual or sim >= ONE_SIDED_SIMILARITY):
            continue
        # A pair as close as a one-sided link needs no second opinion (and costs no MaxSim).
        if (
            tokens is None
            or sim >= ONE_SIDED_SIMILARITY
            or tokens.coverage(row, other) >= MIN_COVERAGE
        ):
            _link(links, row, other, sim)
    if docs is not None:
        doc = np.asarray(docs, dtype=object)
        for a, b in _parallel_documents(links, doc):
            rows_a, rows_b = np.flatnonzero(doc == a), np.flatnonzero(doc == b)
            other_language = lang[rows_a][:, None] != lang[rows_b][None, :]
            _fill_pair(links, rows_a, rows_b, similarity, other_language)
    for row_links in links:
        row_links.sort(key=lambda link: -link[1])
    return links


def _link(links: Links, a: int, b: int, sim: float) -> None:
    if all(other != b for other, _ in links[a]):
        links[a].append((b, round(sim, 4)))
        links[b].append((a, round(sim, 4)))


def _parallel_documents(links: Links, doc: np.ndarray) -> list[tuple[str, str]]:
    """Drop weak links between documents that are not parallel; return the parallel pairs."""
    sizes = Counter(doc.tolist())

    def pair(row: int, other: int) -> tuple[str, str]:
        first, second = sorted((doc[row], doc[other]))
        return first, second

    pairs = Counter(
        pair(row, other)
        for row, row_links in enumerate(links)
        for other, _ in row_links
        if row < other
    )
    parallel = {
        pair
        for pair, count in pairs.items()
        if count >= PARALLEL_SHARE * min(sizes[pair[0]], sizes[pair[1]])
    }
    for row, row_links in enumerate(links):
        row_links[:] = [
            (other, sim)
            for other, sim in row_links
            if sim >= ONE_SIDED_SIMILARITY or pair(row, other) in parallel
        ]
    return sorted(parallel)


def _fill_pair(
    links: Links,
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    similarity: Similarity,
    allowed: np.ndarray,
) -> None:
    """Round 2 inside two parallel documents (see the module docstring); ``allowed`` masks
    the pairs of chunks in different languages."""
    sims = np.stack([similarity(int(row), rows_b) for row in rows_a])
    sims = np.where(allowed, sims, -np.inf)
    free_a = np.array([not links[int(r)] for r in rows_a])
    free_b = np.array([not links[int(r)] for r in rows_b])
    if free_a.any() and free_b.any():
        among = np.where(free_a[:, None] & free_b[None, :], sims, -np.inf)
        for a in np.flatnonzero(free_a).tolist():
            b = int(np.argmax(among[a]))
            mutual = int(np.argmax(among[:, b])) == a
            if mutual and among[a, b] >= PAIR_IN_DOCUMENT:
                _link(links, int(rows_a[a]), int(rows_b[b]), float(among[a, b]))
    # Leftovers of either document, first a's then b's, join their closest counterpart.
    for rows, others, table in ((rows_a, rows_b, sims), (rows_b, rows_a, sims.T)):
        for i, row in enumerate(rows.tolist()):
            j = int(np.argmax(table[i]))
            if not links[row] and table[i, j] >= JOIN_IN_DOCUMENT:
                _link(links, row, int(others[j]), float(table[i, j]))


def _candidates(lang: np.ndarray, index: Any, primary: np.ndarray) -> dict[int, np.ndarray]:
    """The nearest chunks of each other language, per chunk, searched one language at a time.

    A search over the whole index would return mostly chunks of the query's own language (the
    encoders place one language's texts closer together), leaving a translation out of the
    candidates; restricting each search to one target language keeps it in.
    """
    import faiss

    found: dict[int, list[np.ndarray]] = {}
    for target in sorted(set(lang.tolist())):
        members = np.flatnonzero(lang == target)
        queries = np.flatnonzero(lang != target)
        if not len(queries):
            continue
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(members))  # type: ignore[call-arg]
        _, ids = index.search(
            np.ascontiguousarray(primary[queries], dtype=np.float32),
            min(len(members), CANDIDATES),
            params=params,
        )
        for row, row_ids in zip(queries.tolist(), ids, strict=True):
            found.setdefault(row, []).append(row_ids[row_ids >= 0])
    return {row: np.concatenate(parts) for row, parts in found.items() if sum(map(len, parts))}

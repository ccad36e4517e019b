"""The third stage of a rebuild: what is derived from the vectors and texts.

The FAISS index (grown in place when the new build only appends rows to the live one), each
chunk's nearest chunks of every other language and the parallel-passage links made from them
(:mod:`embed.indexing.alignment`), and the BM25 index (:mod:`embed.store.bm25`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from embed.indexing.alignment import Carried, Links, align_parallel, carried_rows, find_candidates
from embed.indexing.embedding import Embedded
from embed.indexing.plan import Plan
from embed.store.bm25 import LexicalIndex, PassageTokens, Reuse
from embed.store.faiss_index import build_faiss_index
from embed.store.format import (
    ALIGNMENT_CANDIDATES,
    EMBEDDINGS,
    LEXICAL_DIR,
    SECOND_EMBEDDINGS,
    IndexSpec,
)
from embed.util.timing import timed


@dataclass
class Derived:
    """The indexes of a new build.

    Attributes:
        index: The FAISS index over the primary vectors.
        spec: Its type and parameters.
        candidates: Each chunk's nearest chunks of every other language.
        translations: Each chunk's parallel passages, ``[row, similarity]`` pairs.
        lexical: The BM25 index.
        seconds: Seconds spent on each (``faiss``, ``alignment``, ``bm25``).
    """

    index: Any
    spec: IndexSpec
    candidates: np.ndarray
    translations: Links
    lexical: LexicalIndex
    seconds: dict[str, float]


def _extends(sources: np.ndarray, rows: int) -> bool:
    """Whether a build whose chunks have these sources begins with the ``rows`` chunks of the
    previous one, in their order (seeds were only added, after the others)."""
    return rows <= len(sources) and np.array_equal(sources[:rows], np.arange(rows))


def _carried_candidates(plan: Plan, sources: np.ndarray) -> Carried | None:
    """What the new build's alignment candidates can take over from the live build's: its
    table, when it has one made the same way, and the rows whose vectors were copied from it
    (``sources``, the primary encoder's)."""
    previous = plan.previous
    if previous is None or ALIGNMENT_CANDIDATES not in previous.arrays:
        return None
    if not plan.reused("alignment"):
        return None
    old_langs = [stored.chunk.lang for stored in previous.chunks]
    return Carried(
        previous.arrays[ALIGNMENT_CANDIDATES],
        previous.manifest.languages,
        carried_rows(sources, old_langs, plan.languages),
    )


def _lexical_reuse(plan: Plan) -> Reuse | None:
    """The live build's BM25 tokens of the passages the new build keeps, when it has them and
    analysed them as this version does; a passage whose language changed (or a text repeated,
    which :func:`carried_rows` leaves out too) is analysed again."""
    previous = plan.previous
    if previous is None or not plan.reused("lexical"):
        return None
    tokens = PassageTokens.of_build(previous.arrays)
    if tokens is None:
        return None
    old_langs = [stored.chunk.lang for stored in previous.chunks]
    sources = carried_rows(plan.sources, old_langs, plan.languages)
    vocabulary = LexicalIndex.load(previous.path / LEXICAL_DIR, mmap=True).vocabulary
    return Reuse(vocabulary, tokens, sources)


def derive(plan: Plan, embedded: Embedded) -> Derived:
    """Build the FAISS index, the alignment and BM25 over the planned chunks' vectors."""
    matrix = embedded.arrays[EMBEDDINGS]
    sources = embedded.primary_sources
    grow = None
    previous = plan.previous
    seconds: dict[str, float] = {}
    with timed(seconds, "faiss"):
        if previous is not None and _extends(sources, previous.index.ntotal):
            grow = (previous.index, previous.manifest.index.model_dump())
        index, description = build_faiss_index(matrix, grow=grow)
    langs = plan.languages
    with timed(seconds, "alignment"):
        candidates = find_candidates(langs, index, matrix, _carried_candidates(plan, sources))
        second = embedded.arrays.get(SECOND_EMBEDDINGS)
        translations = align_parallel(
            langs,
            index,
            matrix,
            [second] if second is not None else [],
            [stored.chunk.doc_id for stored in plan.chunks],
            embedded.tokens,
            candidates=candidates,
        )
    with timed(seconds, "bm25"):
        lexical = LexicalIndex.build(
            [stored.chunk.text for stored in plan.chunks], langs, reuse=_lexical_reuse(plan)
        )
    return Derived(index, IndexSpec(**description), candidates, translations, lexical, seconds)

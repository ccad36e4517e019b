"""One result per fact: a passage and its translations are shown once.

A passage ranks as high as its translation (:mod:`embed.ranking.translations`), so a flat list
alternates copies of one fact in two languages and pushes the next answer out. Grouped, the
fact is shown by one of its passages, the others listed under its ``translations``.
"""

from __future__ import annotations

import numpy as np

from embed.backends.base import IndexBackend
from embed.ingest.language import UNDETERMINED
from embed.ranking.roles import PassageRoles

# Links between two documents that make them translations of each other, not a chance pair.
PARALLEL_LINKS = 2


def one_per_fact(
    backend: IndexBackend,
    order: np.ndarray,
    rows: np.ndarray,
    k: int,
    query_lang: str = UNDETERMINED,
    roles: PassageRoles | None = None,
) -> np.ndarray:
    """The first ``k`` facts of a ranking, each shown by one passage.

    A fact is shown by its first passage in ``order``, except that a passage in the query's
    language gives way to its twin in another language when their documents are translations
    of each other (linked by :data:`PARALLEL_LINKS` passages or more), and a title or caption
    to its body-text twin. A lone link between two documents may join neighbouring paragraphs
    rather than translations; there the better ranked passage is kept (docs/ranking.md).

    Args:
        backend: The index, for the translation links.
        order: Positions in ``rows``, best first: the passages that may be results.
        rows: The scored rows.
        k: How many facts to keep.
        query_lang: The language the query is written in (:data:`UNDETERMINED`: no passage
            gives way for its language).
        roles: Which passages are context (titles, captions), if the ranking tells them.

    Returns:
        Positions in ``rows``, one per fact, best first.
    """
    position = {int(rows[i]): int(i) for i in order.tolist()}
    parallel: dict[tuple[str, str], bool] = {}

    def translated(row: int, twin: int) -> bool:
        pair = (backend.chunk(row).doc_id, backend.chunk(twin).doc_id)
        if pair not in parallel:
            links = sum(
                any(backend.chunk(int(other)).doc_id == pair[1] for other, _ in
                    backend.translations(own))
                for own in backend.document_rows(pair[0])
            )  # fmt: skip
            parallel[pair] = links >= PARALLEL_LINKS
        return parallel[pair]

    def is_context(row: int) -> bool:
        return roles is not None and bool(roles.context(np.array([row]))[0])

    shown: list[int] = []
    taken: set[int] = set()
    for i in order.tolist():
        row = int(rows[i])
        if row in taken:
            continue
        twins = [t for t, _ in backend.translations(row)]
        free = [int(t) for t in twins if int(t) in position and int(t) not in taken]
        body = [t for t in free if not is_context(t)]
        if not is_context(row):
            free = body
        chosen = i
        if query_lang != UNDETERMINED and backend.chunk(row).lang == query_lang:
            other = [t for t in free if backend.chunk(t).lang != query_lang and translated(row, t)]
            chosen = position[other[0]] if other else i
        elif is_context(row) and body:
            chosen = position[body[0]]
        taken.add(row)
        taken.update(int(t) for t in twins)
        taken.update(int(other) for other, _ in backend.translations(int(rows[chosen])))
        shown.append(chosen)
        if len(shown) == k:
            break
    return np.array(shown, dtype=np.int64)

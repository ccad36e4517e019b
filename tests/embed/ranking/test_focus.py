"""Question focus: the numbers a question gives, matched in every script."""

from __future__ import annotations

import numpy as np

from embed.ranking.focus import NumberMatch, numbers_of
from embed.ranking.searcher import Searcher


def test_numbers_are_read_alike_in_every_script() -> None:
    assert numbers_of("the 55th session") == {"55"}
    assert numbers_of("на 55-м заседании") == {"55"}
    assert numbers_of("第55次会议") == {"55"}
    assert numbers_of("55-sessiyada, 2023-2027, 07") == {"55", "2023", "2027", "7"}
    assert numbers_of("no number") == frozenset()


def test_a_passage_scores_the_share_of_the_questions_numbers_it_holds(searcher: Searcher) -> None:
    backend = searcher.backend
    rows = backend.document_rows("002_9319827ac0fa4145")
    match = NumberMatch(backend)

    scores = match.score("the 55th session on October 4", np.array(rows))
    by_paragraph = {backend.chunk(r).paragraph: s for r, s in zip(rows, scores, strict=True)}

    assert scores is not None
    assert by_paragraph[1] == 0.5  # "On October 4, ..."
    assert by_paragraph[2] == 0.5  # "... at this 55th session ..."
    assert by_paragraph[3] == 0.0
    assert match.score("which countries?", np.array(rows)) is None

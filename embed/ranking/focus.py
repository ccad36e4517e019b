"""Question focus: the numbers a question gives decide between passages of one topic.

A pooled vector hardly moves when "54th" becomes "55th", and news about one council's 54th and
55th meetings shares every other word. Digits are written alike in every language of the
region ("55th", "55-м", "第55次", "55-sessiyada"), so the share of the question's numbers that
a passage holds is a script-neutral feature; it is added to the fused score with a weight
(docs/ranking.md, "Question focus").
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from embed.backends.base import IndexBackend

_NUMBER = re.compile(r"\d+")
_ROW_CACHE = 1 << 16


def numbers_of(text: str) -> frozenset[str]:
    """The numbers written in digits in ``text``, without leading zeros ("07" is "7")."""
    return frozenset(number.lstrip("0") or "0" for number in _NUMBER.findall(text))


class NumberMatch:
    """The share of a question's numbers each passage holds.

    Args:
        backend: The index whose passages are matched.
    """

    def __init__(self, backend: IndexBackend) -> None:
        self.backend = backend
        self._numbers = lru_cache(maxsize=_ROW_CACHE)(self._numbers_of_row)

    def _numbers_of_row(self, row: int) -> frozenset[str]:
        return numbers_of(self.backend.chunk(row).text)

    def score(self, query: str, rows: np.ndarray) -> np.ndarray | None:
        """For each row, the share of ``query``'s numbers its passage holds (``None``: the
        query has no number)."""
        wanted = numbers_of(query)
        if not wanted:
            return None
        return np.fromiter(
            (len(wanted & self._numbers(int(row))) / len(wanted) for row in rows),
            np.float64,
            len(rows),
        )

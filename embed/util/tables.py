"""Tables: Markdown (readable in a terminal and in bench/RESULTS.md) and CSV (spreadsheets)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TextIO


def markdown_table(rows: Sequence[Mapping[str, Any]], cell: Callable[[Any], str] = str) -> str:
    """``rows`` as a Markdown table, the first row's keys as the columns (a key a row lacks
    is an empty cell).

    Args:
        rows: The rows, one mapping each.
        cell: How a value is written.
    """
    if not rows:
        return ""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += [
        "| " + " | ".join(cell(row[c]) if c in row else "" for c in columns) + " |" for row in rows
    ]
    return "\n".join(lines)


def write_csv(
    out: TextIO,
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    lineterminator: str = "\r\n",
) -> None:
    """A header row of ``columns``, then each row's values of them (``None`` as an empty cell).

    Args:
        out: Where to write.
        rows: The rows, one mapping each.
        columns: The keys written, in order.
        lineterminator: The line ending (CSV's own by default; ``\n`` for a terminal).
    """
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow(columns)
    writer.writerows(["" if row[c] is None else row[c] for c in columns] for row in rows)

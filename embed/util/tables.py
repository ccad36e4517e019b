"""Markdown tables: readable in a terminal and in bench/RESULTS.md."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


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

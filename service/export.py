"""Search results as JSON lines or CSV, for scripts and spreadsheets."""

from __future__ import annotations

import io
import json
from typing import Any

from fastapi import Response

from embed import write_csv
from service.schemas import QueryResults, ResultFormat, SearchHit

# The CSV's columns, in order: what a spreadsheet needs to read and cite a passage.
CSV_COLUMNS = (
    "rank", "doc_id", "title", "lang", "language", "date", "paragraph", "page", "score", "text",
    "link",
)  # fmt: skip
_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
# Excel reads a CSV without a byte-order mark in the system's legacy code page, and Cyrillic
# comes out as mojibake; with one it reads UTF-8 (and other readers skip it).
BOM = "\ufeff"


def negotiated(requested: ResultFormat | None, accept: str | None) -> ResultFormat:
    """The format asked for by the ``format`` parameter, else by the ``Accept`` header."""
    if requested is not None:
        return requested
    accept = (accept or "").lower()
    if "text/csv" in accept:
        return "csv"
    if "application/x-ndjson" in accept or "application/jsonl" in accept:
        return "jsonl"
    return "json"


def export(hits: list[SearchHit], format: ResultFormat) -> Response:
    """``hits`` as one JSON object per line, or as CSV with a header row (not for ``json``)."""
    return _rows([hit.model_dump(mode="json") for hit in hits], format, CSV_COLUMNS)


def export_batch(answers: list[QueryResults], format: ResultFormat) -> Response:
    """Every query's results of a batch as :func:`export` writes them, each row with its
    ``query`` first."""
    rows = [
        {"query": answer.query, **hit.model_dump(mode="json")}
        for answer in answers
        for hit in answer.results
    ]
    return _rows(rows, format, ("query", *CSV_COLUMNS))


def hits_csv(rows: list[dict[str, Any]], columns: tuple[str, ...] = CSV_COLUMNS) -> str:
    """Result rows (:class:`SearchHit` dumped to JSON types) as CSV, byte-order mark first: the
    API's and the command line's CSV."""
    out = io.StringIO()
    out.write(BOM)
    write_csv(out, rows, columns)
    return out.getvalue()


def _rows(rows: list[dict[str, Any]], format: ResultFormat, columns: tuple[str, ...]) -> Response:
    if format == "jsonl":
        body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    else:
        body = hits_csv(rows, columns)
    return Response(
        content=body,
        media_type=_MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="xlsearch-results.{format}"'},
    )

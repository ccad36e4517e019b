"""Search results as JSON lines or CSV, for scripts and spreadsheets."""

from __future__ import annotations

import io

from fastapi import Response

from embed import write_csv
from service.schemas import ResultFormat, SearchHit

# The CSV's columns, in order: what a spreadsheet needs to read and cite a passage.
CSV_COLUMNS = (
    "rank", "doc_id", "title", "lang", "date", "paragraph", "page", "score", "text", "link",
)  # fmt: skip
_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


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
    if format == "jsonl":
        body = "".join(hit.model_dump_json() + "\n" for hit in hits)
    else:
        out = io.StringIO()
        write_csv(out, (hit.model_dump(include=set(CSV_COLUMNS)) for hit in hits), CSV_COLUMNS)
        body = out.getvalue()
    return Response(content=body, media_type=_MEDIA_TYPES[format])

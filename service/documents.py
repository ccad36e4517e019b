"""Documents as the index stored them: looked up by id, never read from disk at request time."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fastapi import HTTPException, status

from embed import Searcher, StoredDocument

_DRIVE = re.compile(r"^[A-Za-z]:")


def _leaves_root(candidate: str) -> bool:
    parts = candidate.split("/")
    return (
        candidate.startswith("/")
        or "\\" in candidate
        or "\x00" in candidate
        or _DRIVE.match(candidate) is not None
        or any(part in {"", ".", ".."} for part in parts)
    )


def check_doc_id(doc_id: str) -> None:
    """Refuse ids that are not plain relative paths (``..``, absolute, encoded forms).

    Ids are only ever looked up in the index, so such an id could never reach the filesystem;
    it is still refused with its own message rather than reported as merely unknown.

    Raises:
        HTTPException: 400 saying what an id must look like.
    """
    # Check the id once decoded again too: "%2e%2e" arrives as literal text when a client
    # encoded it twice, and must not pass for an odd but harmless name.
    if any(_leaves_root(form) for form in {doc_id, unquote(doc_id)}):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail=f"doc_id {doc_id!r} is not allowed: ids are paths relative to the seeds "
            "folder, without '..' or '.' parts, empty parts, backslashes or a leading '/'",
        )


def find_document(searcher: Searcher, doc_id: str) -> StoredDocument:
    """The document ``doc_id`` of the searcher's index.

    Raises:
        HTTPException: 400 for an id that tries to leave the seeds folder, 404 for an unknown one.
    """
    check_doc_id(doc_id)
    found = searcher.document(doc_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no document {doc_id!r} in the index (ids are seed paths, without '.txt' "
            "for a plain-text seed)",
        )
    return found

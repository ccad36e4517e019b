"""``/documents/{doc_id}``: a document of the index as JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from embed import Chunk
from service.deps import SearcherDep
from service.documents import find_document
from service.schemas import DOC_ID, DocumentOut, ParagraphOut, SourceRef, error_responses
from service.searching import document_url

router = APIRouter(tags=["documents"])


@router.get(
    "/documents/{doc_id:path}",
    responses=error_responses(400, 404, 422, 503),
    summary="A document with its passages",
)
def get_document(
    doc_id: Annotated[str, Path(description=DOC_ID)],
    request: Request,
    searcher: SearcherDep,
) -> DocumentOut:
    """The document as indexed: metadata, full text, and its passages with their offsets."""
    view = find_document(searcher, doc_id)
    record = view.record
    return DocumentOut(
        doc_id=record["doc_id"],
        title=record["title"],
        date=record["date"],
        lang=record["lang"],
        author=record["author"],
        publisher=record["publisher"],
        source=SourceRef(file=record["source"], url=record["url"]),
        link=str(document_url(request, record["doc_id"])),
        text=record["text"],
        paragraphs=[_paragraph(chunk) for chunk in view.chunks],
    )


def _paragraph(chunk: Chunk) -> ParagraphOut:
    return ParagraphOut(
        number=chunk.paragraph, part=chunk.part, page=chunk.page, start=chunk.start,
        end=chunk.end, lang=chunk.lang, text=chunk.text,
    )  # fmt: skip

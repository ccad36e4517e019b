"""The pages for people: ``/`` (search) and ``/view/{doc_id}`` (a document, passage marked)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from embed import Chunk
from service.batching import Scope
from service.deps import SearchContextDep, SearcherDep
from service.documents import find_document
from service.highlight import split_at_match
from service.schemas import K_DEFAULT, K_MAX, SearchHit
from service.searching import check_lang, check_queries, to_hit

router = APIRouter(include_in_schema=False)

# Autoescape everything, whatever the template's extension: seed text is data, never markup.
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parents[1] / "templates"),
        autoescape=True,
    )
)


def _web_url(url: str | None) -> str | None:
    """``url`` when it is safe to put in a link (http or https), else ``None``."""
    if url and urlsplit(url).scheme.lower() in {"http", "https"}:
        return url
    return None


@dataclass(frozen=True)
class PageHit:
    """A result as the search page shows it: the passage cut around its best sentence."""

    hit: SearchHit
    before: str
    marked: str
    after: str
    web_url: str | None


@dataclass(frozen=True)
class PagePart:
    """A passage of the document page and whether it is the one linked to."""

    chunk: Chunk
    marked: bool


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Any:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/", response_class=HTMLResponse, name="search_page")
def search_page(
    ctx: SearchContextDep,
    q: str = "",
    lang: str = "",
    k: Annotated[int, Query(ge=1, le=K_MAX)] = K_DEFAULT,
) -> Any:
    """The search form, and the results when a query was given."""
    request, searcher = ctx.request, ctx.searcher
    context: dict[str, Any] = {
        "q": q,
        "lang": lang,
        "languages": sorted(searcher.languages),
        "hits": [],
        "searched": bool(q.strip()),
        "error": None,
    }
    if not q.strip():
        return _page(request, "search.html", context)
    try:
        check_queries([q], ctx.settings)
        code = check_lang(lang, searcher)
    except HTTPException as exc:
        return _page(request, "search.html", {**context, "error": exc.detail}, exc.status_code)
    (results,) = ctx.state.search(searcher, [q], k, Scope(code))
    context["hits"] = [
        PageHit(to_hit(result, request), *split_at_match(result), _web_url(result.chunk.url))
        for result in results
    ]
    return _page(request, "search.html", context)


@router.get("/view/{doc_id:path}", response_class=HTMLResponse, name="document_page")
def document_page(
    request: Request,
    searcher: SearcherDep,
    doc_id: str,
    start: Annotated[int | None, Query(ge=0)] = None,
    end: Annotated[int | None, Query(ge=0)] = None,
) -> Any:
    """A document, one anchor per paragraph (``#p3``), the passage ``start``-``end`` marked."""
    try:
        view = find_document(searcher, doc_id)
    except HTTPException as exc:
        error = {"title": "Document not shown", "error": exc.detail}
        return _page(request, "error.html", error, exc.status_code)

    def marked(chunk: Chunk) -> bool:
        return start is not None and end is not None and chunk.start < end and start < chunk.end

    paragraphs = [
        (number, [PagePart(chunk, marked(chunk)) for chunk in parts])
        for number, parts in groupby(view.chunks, key=lambda c: c.paragraph)
    ]
    context: dict[str, Any] = {
        "doc": view.record,
        "paragraphs": paragraphs,
        "web_url": _web_url(view.record.get("url")),
    }
    return _page(request, "document.html", context)

"""The pages for people: ``/`` (search), ``/similar-page/{doc_id}/{paragraph}`` (passages like a
stored one) and ``/view/{doc_id}`` (a document, passage marked, translations beside it)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import jinja2
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import Field
from starlette.datastructures import URL
from starlette.routing import Match

from embed import Chunk, Searcher, SearchResult, language_name
from service.batching import Scope
from service.deps import SearchContext, SearchContextDep, SearcherDep
from service.documents import find_document
from service.highlight import split_at_match
from service.schemas import K_DEFAULT, K_MAX, FilterParams, SearchHit, SimilarRequest
from service.searching import (
    check_filters,
    check_lang,
    check_page,
    check_queries,
    filter_note,
    links_of,
    passage_link,
    to_hit,
)

# Autoescape everything, whatever the template's extension: seed text is data, never markup.
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(FilePath(__file__).resolve().parents[1] / "templates"),
        autoescape=True,
    )
)
templates.env.globals["K_DEFAULT"] = K_DEFAULT
templates.env.filters["language_name"] = language_name
# The document field suggests ids from a datalist; past this many the list would weigh more
# than the page it helps, and any id can still be typed.
DOCUMENT_CHOICES = 1000
# The pages a document page's "back to results" link may lead to.
RESULT_PAGES = frozenset({"search_page", "similar_page"})


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Any:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _error_page(request: Request, title: str, exc: HTTPException) -> Any:
    return _page(request, "error.html", {"title": title, "error": exc.detail}, exc.status_code)


class PageRoute(APIRoute):
    """A route of a page: invalid input is answered with a page saying what is wrong, not with
    the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, with its validation errors turned into an error page."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                message = "; ".join(
                    f"{'.'.join(map(str, error['loc'][1:]))}: {error['msg']}"
                    for error in exc.errors()
                )
                invalid = HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=message)
                response: Response = _error_page(request, "Invalid request", invalid)
                return response

        return page_handler


router = APIRouter(include_in_schema=False, route_class=PageRoute)


class PageQuery(FilterParams):
    """The search page's query string: the API's filters, the query and which page to show."""

    q: str = ""
    k: int = Field(K_DEFAULT, ge=1, le=K_MAX)
    offset: int = Field(0, ge=0, le=K_MAX)


def strength(hit: SearchHit) -> float | None:
    """How close a result is, from 0 to 1, for the page's bar: its passage's cosine to the query.

    The ranking's fused score only orders one list and can be negative, so the page shows the
    dense channel's cosine instead; ``None`` when the ranking has no such channel.
    """
    cosine = hit.scores.get("dense")
    return None if cosine is None else min(max(cosine, 0.0), 1.0)


@dataclass(frozen=True)
class PageHit:
    """A result as the result pages show it: the passage cut around its best sentence, and the
    links out of it."""

    hit: SearchHit
    before: str
    marked: str
    after: str
    web_url: str | None
    view: str  # its document page, knowing the result list it was opened from
    similar: str  # the passages like it, under the same filters
    strength: float | None


@dataclass(frozen=True)
class PagePart:
    """A passage of the document page and whether it is the one linked to."""

    chunk: Chunk
    marked: bool


@dataclass(frozen=True)
class Counterpart:
    """A passage of another language that says the same as a paragraph of the document page."""

    chunk: Chunk
    link: str


@dataclass(frozen=True)
class PageParagraph:
    """A paragraph of the document page: its passages, its translations, and its links."""

    number: int
    parts: list[PagePart]
    translations: list[Counterpart]
    similar: str


def _web_url(url: str | None) -> str | None:
    """``url`` when it is safe to put in a link (http or https), else ``None``."""
    if url and urlsplit(url).scheme.lower() in {"http", "https"}:
        return url
    return None


def _filter_query(params: FilterParams) -> str:
    """The filters ``params`` sets, as a query string (empty when it sets none)."""
    fields = params.model_dump(include=set(FilterParams.model_fields), exclude_defaults=True)
    return urlencode({name: value for name, value in fields.items() if value}, doseq=True)


def _similar_url(request: Request, chunk: Chunk, filters: str = "") -> str:
    """The page of passages like ``chunk``, under the ``filters`` query string."""
    url = request.url_for(
        "similar_page", doc_id=quote(chunk.doc_id, safe="/"), paragraph=str(chunk.paragraph)
    )
    return str(url.replace(query=filters))


def _opened_from(link: str, results: str) -> str:
    """``link`` to a document page, telling it the result list ``results`` it was opened from."""
    parts = urlsplit(link)
    query = "&".join(filter(None, [parts.query, urlencode({"from": results})]))
    return urlunsplit(parts._replace(query=query))


def _results_link(value: str) -> str:
    """The link back to the result list ``value`` names: a search or similar-passages page of
    this service, as a path and query string.

    Only the path of one of those pages is taken, so that the link cannot lead off the
    service (no scheme, host, backslash or control character: browsers read ``/\\host`` and
    ``/<tab>/host`` as another host).

    Raises:
        HTTPException: 400 when ``value`` is anything else.
    """
    parts = urlsplit(value)
    scope = {"type": "http", "path": parts.path, "root_path": "", "method": "GET"}
    if (
        not parts.scheme
        and not parts.netloc
        and value.isprintable()
        and "\\" not in value
        and any(
            route.name in RESULT_PAGES and route.matches(scope)[0] is Match.FULL
            for route in router.routes
            if isinstance(route, APIRoute)
        )
    ):
        return urlunsplit(("", "", parts.path, parts.query, ""))
    raise HTTPException(
        status.HTTP_400_BAD_REQUEST,
        detail=f"from {value!r} is not a result page of this service: it must be the path and "
        "query string of a search or similar-passages page, such as /?q=Bishkek",
    )


def _here(request: Request) -> str:
    """The path and query string of the page being answered."""
    return urlunsplit(("", "", request.url.path, request.url.query, ""))


def _page_hits(request: Request, results: Sequence[SearchResult], filters: str) -> list[PageHit]:
    """The results as the result pages show them, their links carrying ``filters``."""
    here, links = _here(request), links_of(request)
    hits = []
    for result in results:
        hit = to_hit(result, links)
        hits.append(
            PageHit(
                hit,
                *split_at_match(result),
                web_url=_web_url(result.chunk.url),
                view=_opened_from(hit.link, here),
                similar=_similar_url(request, result.chunk, filters),
                strength=strength(hit),
            )
        )
    return hits


def _form_context(searcher: Searcher, params: FilterParams) -> dict[str, Any]:
    """What the filter fields of a result page show: the choices and the values given."""
    documents = searcher.backend.documents
    # The first ids in order, without sorting every document at each page.
    shown = heapq.nsmallest(DOCUMENT_CHOICES, documents)
    return {
        "params": params,
        "languages": sorted(searcher.language_counts.items()),
        "documents": [(doc_id, documents[doc_id].get("title") or "") for doc_id in shown],
        "values": searcher.filter_values,
        "skipped": searcher.manifest.skipped,
        "error": None,
        "note": None,
    }


def _paging(ctx: SearchContext, params: PageQuery, shown: int) -> dict[str, URL | None]:
    """The links to the pages before and after this one (``None`` where there is none)."""
    url, following = ctx.request.url, params.offset + params.k
    previous = url.include_query_params(offset=max(params.offset - params.k, 0))
    pages: dict[str, URL | None] = {"previous": previous if params.offset else None, "next": None}
    if shown == params.k and following <= K_MAX:
        try:
            check_page(following, params.k, ctx.searcher)
        except HTTPException:
            return pages  # the next page would lie past the ranked candidates
        pages["next"] = url.include_query_params(offset=following)
    return pages


@router.get("/", response_class=HTMLResponse, name="search_page")
def search_page(ctx: SearchContextDep, params: Annotated[PageQuery, Query()]) -> Any:
    """The search form, and a page of results when a query was given."""
    request, searcher = ctx.request, ctx.searcher
    context = {**_form_context(searcher, params), "hits": [], "searched": bool(params.q.strip())}
    if not context["searched"]:
        return _page(request, "search.html", context)
    try:
        check_queries([params.q], ctx.settings)
        lang = check_lang(params.lang, searcher)
        filters = check_filters(params, searcher)
        depth = check_page(params.offset, params.k, searcher)
    except HTTPException as exc:
        return _page(request, "search.html", {**context, "error": exc.detail}, exc.status_code)
    (results,) = ctx.state.search(
        searcher, [params.q], depth, Scope(lang, filters, params.group != "none")
    )
    hits = _page_hits(request, results[params.offset :][: params.k], _filter_query(params))
    context.update(
        hits=hits,
        weak=searcher.is_weak(results),
        note=filter_note(filters, searcher),
        **_paging(ctx, params, len(hits)),
    )
    return _page(request, "search.html", context)


@router.get(
    "/similar-page/{doc_id:path}/{paragraph}", response_class=HTMLResponse, name="similar_page"
)
def similar_page(
    ctx: SearchContextDep,
    doc_id: str,
    paragraph: Annotated[int, Path(ge=0)],
    params: Annotated[SimilarRequest, Query()],
) -> Any:
    """The passages like paragraph ``paragraph`` of ``doc_id``, that passage shown first."""
    request, searcher = ctx.request, ctx.searcher
    context = _form_context(searcher, params)
    try:
        lang = check_lang(params.lang, searcher)
        filters = check_filters(params, searcher)
    except HTTPException as exc:
        return _page(request, "similar.html", {**context, "error": exc.detail}, exc.status_code)
    found = searcher.similar(doc_id, paragraph, params.k, lang, filters)
    if found is None:
        missing = HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no paragraph {paragraph} of document {doc_id!r} in the index",
        )
        return _error_page(request, "Passage not shown", missing)
    passage, results = found
    context.update(
        note=filter_note(filters, searcher),
        passage=passage,
        passage_link=_opened_from(passage_link(request, passage), _here(request)),
        hits=_page_hits(request, results, _filter_query(params)),
    )
    return _page(request, "similar.html", context)


def _paragraphs(
    request: Request, searcher: Searcher, doc_id: str, parts: list[PagePart]
) -> list[PageParagraph]:
    """The document page's paragraphs, each with the passages of other languages that the index
    links to its own (its parallel passages, which results list under "Also in")."""
    rows = zip(parts, searcher.backend.document_rows(doc_id), strict=True)
    found = []
    for number, group in groupby(rows, key=lambda pair: pair[0].chunk.paragraph):
        passages = list(group)
        others = {
            (t.chunk.doc_id, t.chunk.paragraph, t.chunk.part): t.chunk
            for _, row in passages
            for t in searcher.translations(row)
        }
        found.append(
            PageParagraph(
                number,
                [part for part, _ in passages],
                [Counterpart(chunk, passage_link(request, chunk)) for chunk in others.values()],
                _similar_url(request, passages[0][0].chunk),
            )
        )
    return found


def _check_span(start: int | None, end: int | None, length: int) -> None:
    """Refuse a passage to mark that cannot be one of the document's ``length`` characters.

    Raises:
        HTTPException: 422 when only one end is given, ``start`` is past ``end``, or ``end``
            is past the text.
    """
    if start is None and end is None:
        return
    if start is None or end is None:
        problem = "start and end go together: give both, or neither"
    elif start >= end:
        problem = f"start ({start}) must be before end ({end})"
    elif end > length:
        problem = f"end ({end}) is past the end of the text ({length} characters)"
    else:
        return
    raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=problem)


@router.get("/view/{doc_id:path}", response_class=HTMLResponse, name="document_page")
def document_page(
    request: Request,
    searcher: SearcherDep,
    doc_id: str,
    start: Annotated[int | None, Query(ge=0)] = None,
    end: Annotated[int | None, Query(ge=0)] = None,
    results: Annotated[str | None, Query(alias="from", max_length=4096)] = None,
) -> Any:
    """A document, one anchor per paragraph (``#p3``), the passage ``start``-``end`` marked;
    ``from`` is the result list it was opened from, for a link back."""
    try:
        view = find_document(searcher, doc_id)
        back = None if results is None else _results_link(results)
        _check_span(start, end, len(view.record["text"]))
    except HTTPException as exc:
        return _error_page(request, "Document not shown", exc)

    def marked(chunk: Chunk) -> bool:
        return start is not None and end is not None and chunk.start < end and start < chunk.end

    parts = [PagePart(chunk, marked(chunk)) for chunk in view.chunks]
    context: dict[str, Any] = {
        "doc": view.record,
        "paragraphs": _paragraphs(request, searcher, doc_id, parts),
        "web_url": _web_url(view.record.get("url")),
        "back": back,
    }
    return _page(request, "document.html", context)

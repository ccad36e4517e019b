"""``/search`` and ``/search/batch``: ranked passages as JSON."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from starlette.concurrency import run_in_threadpool

from service.batching import Scope
from service.deps import SearchContext, SearchContextDep
from service.documents import check_doc_id
from service.export import export, export_batch, negotiated
from service.schemas import (
    BatchSearchRequest,
    BatchSearchResponse,
    QueryResults,
    SearchRequest,
    SearchResponse,
    SimilarRequest,
    error_responses,
)
from service.searching import (
    check_filters,
    check_lang,
    check_page,
    check_queries,
    filter_note,
    links_of,
    to_hit,
)

router = APIRouter(tags=["search"])
_ERRORS = error_responses(422, 503)
# The other formats of one query's results (see service.export).
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    200: {"content": {"text/csv": {}, "application/x-ndjson": {}}},
}


async def _search_one(params: SearchRequest, ctx: SearchContext) -> SearchResponse | Response:
    started = time.perf_counter()
    check_queries([params.q], ctx.settings)
    lang = check_lang(params.lang, ctx.searcher)
    filters = check_filters(params, ctx.searcher)
    depth = check_page(params.offset, params.k, ctx.searcher)
    (results,) = await ctx.state.search_async(
        ctx.searcher, [params.q], depth, Scope(lang, filters, params.group != "none")
    )
    links = links_of(ctx.request)
    hits = [to_hit(result, links) for result in results[params.offset :][: params.k]]
    format = negotiated(params.format, ctx.request.headers.get("accept"))
    if format != "json":
        return export(hits, format)
    return SearchResponse(
        query=params.q,
        took_ms=round((time.perf_counter() - started) * 1000, 1),
        build=ctx.searcher.build,
        weak_match=ctx.searcher.is_weak(results),
        filter_note=filter_note(filters, ctx.searcher),
        results=hits,
    )


# The models and FAISS run on the query batcher's worker thread (see service.batching); these
# endpoints only await it, so the event loop is never blocked and concurrent requests share
# one forward pass.
@router.get(
    "/search", response_model=SearchResponse, responses=_RESPONSES, summary="Search (query string)"
)
async def search_get(
    params: Annotated[SearchRequest, Query()], ctx: SearchContextDep
) -> SearchResponse | Response:
    """Rank the passages closest in meaning to `q`, in any language unless `lang` is given."""
    return await _search_one(params, ctx)


@router.post(
    "/search", response_model=SearchResponse, responses=_RESPONSES, summary="Search (JSON body)"
)
async def search_post(body: SearchRequest, ctx: SearchContextDep) -> SearchResponse | Response:
    """The same as `GET /search`, with the parameters in a JSON body."""
    return await _search_one(body, ctx)


@router.post(
    "/search/batch",
    response_model=BatchSearchResponse,
    responses=_RESPONSES,
    summary="Search several queries at once",
)
async def search_batch(
    body: BatchSearchRequest, ctx: SearchContextDep
) -> BatchSearchResponse | Response:
    """Answer every query of the batch from the same index, embedding them in one model call."""
    started = time.perf_counter()
    check_queries(body.queries, ctx.settings, batch=True)
    lang = check_lang(body.lang, ctx.searcher)
    filters = check_filters(body, ctx.searcher)
    depth = check_page(body.offset, body.k, ctx.searcher)
    results = await ctx.state.search_async(
        ctx.searcher, body.queries, depth, Scope(lang, filters, body.group != "none")
    )
    links = links_of(ctx.request)
    answers = [
        QueryResults(
            query=query,
            weak_match=ctx.searcher.is_weak(found),
            results=[to_hit(r, links) for r in found[body.offset :][: body.k]],
        )
        for query, found in zip(body.queries, results, strict=True)
    ]
    format = negotiated(body.format, ctx.request.headers.get("accept"))
    if format != "json":
        return export_batch(answers, format)
    return BatchSearchResponse(
        took_ms=round((time.perf_counter() - started) * 1000, 1),
        build=ctx.searcher.build,
        filter_note=filter_note(filters, ctx.searcher),
        results=answers,
    )


@router.get(
    "/similar/{doc_id:path}/{paragraph}",
    response_model=SearchResponse,
    responses=error_responses(400, 404, 422, 503),
    summary="Passages like a stored one",
)
async def similar(
    doc_id: Annotated[
        str, Path(description="Id of the passage's document (as in `doc_id` of a result).")
    ],
    paragraph: Annotated[int, Path(ge=0, description="The passage's paragraph number.")],
    params: Annotated[SimilarRequest, Query()],
    ctx: SearchContextDep,
) -> SearchResponse:
    """Passages that say the same thing as a stored passage, or related things, in any language
    unless `lang` is given: ranked as `/search` ranks a query, from the passage's own stored
    vectors (no model runs), the passage itself left out. `query` holds the passage's text."""
    started = time.perf_counter()
    check_doc_id(doc_id)
    lang = check_lang(params.lang, ctx.searcher)
    filters = check_filters(params, ctx.searcher)
    found = await run_in_threadpool(
        ctx.searcher.similar, doc_id, paragraph, params.k, lang, filters
    )
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no passage {doc_id!r} paragraph {paragraph} in the index "
            "(see GET /documents/{doc_id} for a document's paragraphs)",
        )
    passage, results = found
    links = links_of(ctx.request)
    return SearchResponse(
        query=passage.text,
        took_ms=round((time.perf_counter() - started) * 1000, 1),
        build=ctx.searcher.build,
        weak_match=ctx.searcher.is_weak(results),
        filter_note=filter_note(filters, ctx.searcher),
        results=[to_hit(result, links) for result in results],
    )

"""``/search`` and ``/search/batch``: ranked passages as JSON."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from service.deps import SearchContext, SearchContextDep
from service.export import export, negotiated
from service.schemas import (
    BatchSearchRequest,
    BatchSearchResponse,
    QueryResults,
    SearchRequest,
    SearchResponse,
    error_responses,
)
from service.searching import check_lang, check_page, check_queries, to_hit

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
    depth = check_page(params.offset, params.k, ctx.searcher)
    (results,) = await ctx.state.search_async(ctx.searcher, [params.q], depth, lang)
    hits = [to_hit(result, ctx.request) for result in results[params.offset :][: params.k]]
    format = negotiated(params.format, ctx.request.headers.get("accept"))
    if format != "json":
        return export(hits, format)
    return SearchResponse(
        query=params.q,
        took_ms=round((time.perf_counter() - started) * 1000, 1),
        build=ctx.searcher.build,
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


@router.post("/search/batch", responses=_ERRORS, summary="Search several queries at once")
async def search_batch(body: BatchSearchRequest, ctx: SearchContextDep) -> BatchSearchResponse:
    """Answer every query of the batch from the same index, embedding them in one model call."""
    started = time.perf_counter()
    check_queries(body.queries, ctx.settings, batch=True)
    lang = check_lang(body.lang, ctx.searcher)
    results = await ctx.state.search_async(ctx.searcher, body.queries, body.k, lang)
    return BatchSearchResponse(
        took_ms=round((time.perf_counter() - started) * 1000, 1),
        build=ctx.searcher.build,
        results=[
            QueryResults(query=query, results=[to_hit(r, ctx.request) for r in found])
            for query, found in zip(body.queries, results, strict=True)
        ],
    )

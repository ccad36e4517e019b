"""The FastAPI application: routers, error handlers, and the index loaded once at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from embed import BackendUnavailable, Encoder, TextEncoder, build_source, load_encoders
from service.metrics import Metrics, reload_and_count, reload_counted
from service.middleware import ServiceMiddleware, configure_logging
from service.routes import admin, apidocs, documents, health, pages, search
from service.settings import ServiceSettings
from service.state import IndexState
from service.watch import SeedsWatch

logger = logging.getLogger(__name__)

_DESCRIPTION = """
Semantic search over English and Russian news: a query in either language finds passages in both.

Results point into the documents' text (`doc_id`, `start`, `end`, and `page` for a PDF) and to a
page of this service that shows the passage in its document (`link`). Every error is JSON with a
`detail` sentence.
"""


_WHERE = {"query": "query parameter", "body": "in the body", "path": "in the path"}


def _location(loc: Sequence[int | str]) -> str:
    """``("body", "queries", 2)`` -> ``queries[2] (in the body)``."""
    if not loc:
        return "request"
    kind = str(loc[0])
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:]).lstrip(".")
    if not field:
        return "the request body" if kind == "body" else kind
    return f"{field} ({_WHERE.get(kind, kind)})"


def _message(error: dict[str, Any]) -> str:
    """One validator finding as a sentence naming the field."""
    if error.get("type") == "json_invalid":
        reason = error.get("ctx", {}).get("error", "malformed")
        return f"the request body is not valid JSON: {reason}"
    return f"{_location(error.get('loc', ()))}: {error.get('msg', 'invalid')}"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 whose ``detail`` is a sentence, the validator's findings kept under ``errors``."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    messages = [_message(e) for e in errors]
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "detail": "; ".join(messages) or "invalid request",
            "errors": jsonable_encoder(
                [{"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
            ),
        },
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to an HTTP error, except for a JSON body that is not UTF-8: FastAPI's
    parser calls that a 400 "error parsing the body", which is invalid input (422) that can be
    named."""
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if exc.status_code == status.HTTP_400_BAD_REQUEST and isinstance(cause, UnicodeDecodeError):
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": f"the request body is not valid UTF-8 (byte {cause.start})"},
        )
    return await http_exception_handler(request, exc)


async def _backend_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503: the index's server went away; the request can be retried."""
    logger.warning("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": f"the index is unavailable: {exc}"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: log it with its traceback, answer without one."""
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "internal error; the server log has the details"},
    )


async def _watch(state: IndexState, metrics: Metrics, interval: float) -> None:
    """Look at ``vectors/CURRENT`` every ``interval`` seconds and switch to a new build."""
    while True:
        await asyncio.sleep(interval)
        await reload_counted(state, metrics)


def create_app(
    settings: ServiceSettings | None = None,
    encoder: Encoder | None = None,
    second: TextEncoder | None = None,
) -> FastAPI:
    """Build the service.

    The index and the models are loaded when the app starts (its lifespan), not here.

    Args:
        settings: Paths, limits and the API key; read from ``XLSEARCH_*`` variables if omitted.
        encoder: The primary model, when one is loaded already (tests share theirs). When
            omitted, both encoders are the ones ``settings`` names.
        second: The second encoder to fuse into the ranking; only used with ``encoder``.

    Returns:
        The FastAPI application.
    """
    settings = settings or ServiceSettings()
    configure_logging(settings.log_json)
    metrics = Metrics()
    if not settings.ranking.weak_weights:
        logger.warning(
            "answers are not judged weak or not (weak_match null): no rule is set for model %s; "
            "bench/weak_match.py fits one to set as XLSEARCH_RANKING__WEAK_WEIGHTS and "
            "__WEAK_BELOW",
            settings.model,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        primary, other = (encoder, second) if encoder is not None else load_encoders(settings)
        state = IndexState(
            build_source(settings),
            primary,
            other,
            settings.ranking,
            batch_window=settings.batch_window_ms / 1000,
            cache_size=settings.result_cache,
        )
        app.state.index = state
        metrics.index.state = state
        await reload_counted(state, metrics)
        watcher = (
            asyncio.create_task(_watch(state, metrics, settings.reload_interval))
            if settings.reload_interval > 0
            else None
        )
        seeds_watch = (
            SeedsWatch(settings, (primary, other), lambda: reload_and_count(state, metrics))
            if settings.watch
            else None
        )
        app.state.seeds_watch = seeds_watch
        if seeds_watch is not None:
            seeds_watch.start()
        try:
            yield
        finally:
            if seeds_watch is not None:
                # In a worker thread: stopping waits for a rebuild under way.
                await asyncio.to_thread(seeds_watch.stop)
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            state.close()

    app = FastAPI(
        title="xlsearch",
        summary="Cross-language semantic search over the region's news, in English, Russian and "
        "the region's other languages.",
        description=_DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        # Served by service.routes.apidocs from local files instead of FastAPI's CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(BackendUnavailable, _backend_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key"],
        )
    app.add_middleware(ServiceMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    for module in (search, documents, health, admin, pages, apidocs):
        app.include_router(module.router)
    app.mount(apidocs.ASSETS_URL, apidocs.assets(), name="apidocs-assets")
    return app

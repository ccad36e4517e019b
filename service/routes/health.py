"""``/health``: is an index loaded, which one, did the last reload fail, and the seeds watch."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from embed import ModelEntry, SecondModelEntry, StoreError
from service.deps import IndexStateDep
from service.schemas import HealthResponse, LoadErrorOut, ModelOut, SkippedOut, WatchOut
from service.watch import SeedsWatch, WatchStatus

router = APIRouter(tags=["service"])


def _model(entry: ModelEntry | SecondModelEntry | None) -> ModelOut | None:
    """A model as the manifest records it (prompts left out)."""
    if entry is None:
        return None
    return ModelOut(name=entry.name, checksum=entry.checksum, dimension=entry.dimension)


def _watch(seeds_watch: SeedsWatch | None) -> WatchOut:
    """The seeds watch's state (``None``: the seeds are not watched)."""
    found = seeds_watch.status if seeds_watch is not None else WatchStatus()
    return WatchOut(enabled=seeds_watch is not None, **vars(found))


@router.get(
    "/health",
    summary="Service and index state",
    responses={
        503: {
            "model": HealthResponse,
            "description": "No index is loaded (yet), or its backend cannot be reached.",
        }
    },
)
def health(state: IndexStateDep, request: Request, response: Response) -> HealthResponse:
    """200 with the index's size, model and build time once an index is loaded and its
    backend answers, else 503."""
    searcher = state.searcher
    error = LoadErrorOut(**vars(state.error)) if state.error is not None else None
    watch = _watch(request.app.state.seeds_watch)
    try:
        state.source.current()
        reachable = True
    except (StoreError, OSError):
        reachable = False
    if searcher is None or not reachable:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    if searcher is None:
        return HealthResponse(
            status="unavailable", backend=state.source.kind, reachable=reachable, ready=False,
            build=None, built_at=None, loaded_at=None, documents=0, passages=0, languages=[],
            model=None, second_model=None, stale=[], location=state.source.location,
            error=error, watch=watch,
        )  # fmt: skip
    manifest = searcher.manifest
    failed = error is not None or watch.last_error is not None
    return HealthResponse(
        status="unavailable" if not reachable else "degraded" if failed else "ok",
        backend=state.source.kind,
        reachable=reachable,
        ready=reachable,
        build=searcher.build,
        built_at=manifest.built_at,
        loaded_at=state.loaded_at,
        documents=searcher.document_count,
        passages=len(searcher),
        languages=sorted(searcher.languages),
        model=_model(manifest.model),
        second_model=_model(manifest.second_model),
        stale=searcher.compatibility.stale,
        seeds=manifest.seeds.path if manifest.seeds is not None else None,
        location=state.source.location,
        skipped=[SkippedOut(source=s.source, reason=s.reason) for s in manifest.skipped],
        error=error,
        watch=watch,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    # For the scraper, not part of the JSON API.
    include_in_schema=False,
)
def metrics(request: Request) -> Response:
    """Requests by route and status, latency histograms, 5xx errors, reloads, and the served
    index's size and build time, in the Prometheus text format."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)

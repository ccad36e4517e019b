"""``/reload``: switch to the build ``xlsearch rebuild-index`` made, without a restart."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, status

from service.deps import IndexStateDep, require_api_key
from service.metrics import reload_counted
from service.schemas import ReloadResponse, error_responses

router = APIRouter(tags=["service"])


@router.post(
    "/reload",
    dependencies=[Depends(require_api_key)],
    responses=error_responses(401, 409, 422),
    summary="Load the newest index now",
)
async def reload_index(state: IndexStateDep, request: Request) -> ReloadResponse:
    """Serve the build `vectors/CURRENT` names, if it is not served already.

    The service also notices new builds by itself within `reload_interval` seconds; this makes it
    immediate. Needs the `X-API-Key` header when the service has an API key. When the build
    cannot be loaded, the previous one stays in service and the answer is 409.
    """
    outcome = await reload_counted(state, request.app.state.metrics, force=True)
    if outcome.error is not None:
        still = f"; still serving build {outcome.build}" if outcome.build else ""
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"cannot load the new index: {outcome.error.message}{still}",
        )
    return ReloadResponse(reloaded=outcome.changed, build=outcome.build, previous=outcome.previous)

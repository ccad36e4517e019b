"""Dependencies shared by the routers: settings, the index state, the searcher, the API key."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from embed import Searcher
from service.settings import ServiceSettings
from service.state import IndexState


async def get_settings(request: Request) -> ServiceSettings:
    """The settings the app was created with."""
    settings: ServiceSettings = request.app.state.settings
    return settings


async def get_index_state(request: Request) -> IndexState:
    """The holder of the live searcher."""
    state: IndexState = request.app.state.index
    return state


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
IndexStateDep = Annotated[IndexState, Depends(get_index_state)]


async def get_searcher(state: IndexStateDep) -> Searcher:
    """The searcher this request uses from start to end, even if a reload swaps it meanwhile.

    Raises:
        HTTPException: 503 while no index could be loaded yet.
    """
    searcher = state.searcher
    if searcher is None:
        reason = state.error.message if state.error else "the index is still loading"
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"no index: {reason}")
    return searcher


SearcherDep = Annotated[Searcher, Depends(get_searcher)]


@dataclass(frozen=True)
class SearchContext:
    """What a search request needs: its URL (for links), the limits, and one searcher."""

    request: Request
    settings: ServiceSettings
    state: IndexState
    searcher: Searcher


async def get_search_context(
    request: Request, settings: SettingsDep, state: IndexStateDep, searcher: SearcherDep
) -> SearchContext:
    """Bundle the dependencies every search endpoint takes."""
    return SearchContext(request, settings, state, searcher)


SearchContextDep = Annotated[SearchContext, Depends(get_search_context)]


async def require_api_key(
    settings: SettingsDep,
    x_api_key: Annotated[
        str | None,
        Header(description="The API key, required when the service is configured with one."),
    ] = None,
) -> None:
    """Let the request through only with the configured API key (any request when none is set).

    Raises:
        HTTPException: 401 when the key is missing or wrong.
    """
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode()
    if x_api_key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail="this endpoint needs the X-API-Key header"
        )
    if not hmac.compare_digest(x_api_key.encode(), expected):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="the X-API-Key is wrong")

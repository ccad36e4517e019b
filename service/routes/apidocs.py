"""``/docs`` (Swagger UI) and ``/redoc`` with their scripts served by this service, not a CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank with no network;
the fastapi-offline package ships the same files, which :func:`assets` serves.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from service.middleware import inline_script_hashes

ASSETS_URL = "/static/apidocs"

router = APIRouter(include_in_schema=False)


def assets() -> StaticFiles:
    """Swagger UI's and ReDoc's scripts, Swagger UI's style sheet and the pages' icon."""
    return StaticFiles(packages=[("fastapi_offline", "static")])


def _policy(*script_sources: str, workers: str = "'none'") -> str:
    """The pages' Content-Security-Policy: their assets and API calls stay on this service."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(["'self'", *script_sources]),
            # Both UIs set style attributes and inject <style> elements as they render.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            f"worker-src {workers}",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _urls(request: Request) -> tuple[str, str]:
    """The OpenAPI schema's URL and the assets' folder, behind any proxy prefix."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{root}{request.app.openapi_url}", f"{root}{ASSETS_URL}"


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI: every endpoint, with a form to try it."""
    openapi, static = _urls(request)
    page = get_swagger_ui_html(
        openapi_url=openapi,
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{static}/swagger-ui-bundle.js",
        swagger_css_url=f"{static}/swagger-ui.css",
        swagger_favicon_url=f"{static}/favicon.png",
    )
    # The page starts Swagger UI from one inline script: allowed by its hash, nothing else.
    scripts = inline_script_hashes(bytes(page.body).decode())
    page.headers["Content-Security-Policy"] = _policy(*scripts)
    return page


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc: the same schema as one long page."""
    openapi, static = _urls(request)
    page = get_redoc_html(
        openapi_url=openapi,
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{static}/redoc.standalone.js",
        redoc_favicon_url=f"{static}/favicon.png",
        with_google_fonts=False,
    )
    # ReDoc searches in a web worker that it starts from a blob: URL.
    page.headers["Content-Security-Policy"] = _policy(workers="blob:")
    return page

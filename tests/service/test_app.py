"""The app as a whole: OpenAPI contract, error handlers, CORS."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.service.conftest import make_settings


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    schema: dict[str, Any] = client.get("/openapi.json").json()
    return schema


def test_every_endpoint_is_documented(openapi: dict[str, Any]) -> None:
    operations = {(path, method) for path, ops in openapi["paths"].items() for method in ops}

    assert operations == {
        ("/search", "get"),
        ("/search", "post"),
        ("/search/batch", "post"),
        ("/similar/{doc_id}/{paragraph}", "get"),
        ("/documents/{doc_id}", "get"),
        ("/health", "get"),
        ("/reload", "post"),
    }


def test_every_field_and_parameter_is_described(openapi: dict[str, Any]) -> None:
    undocumented = [
        f"{name}.{field}"
        for name, schema in openapi["components"]["schemas"].items()
        for field, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    ]
    undocumented += [
        f"{method.upper()} {path} {param['name']}"
        for path, ops in openapi["paths"].items()
        for method, op in ops.items()
        for param in op.get("parameters", [])
        if not param.get("description")
    ]

    assert undocumented == []


def test_search_parameters_carry_their_limits(openapi: dict[str, Any]) -> None:
    params = {p["name"]: p for p in openapi["paths"]["/search"]["get"]["parameters"]}

    assert params["q"]["required"] is True
    assert "1000" in params["q"]["description"]
    assert (params["k"]["schema"]["minimum"], params["k"]["schema"]["maximum"]) == (1, 100)
    assert params["k"]["schema"]["default"] == 10
    assert params["lang"]["required"] is False


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_their_assets_from_the_service(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert assets and all(url.startswith("/static/apidocs/") for url in assets)
    for url in assets:
        assert client.get(url).status_code == 200, url


def test_unexpected_errors_are_json_without_a_traceback(
    seed_vectors: Path, seeds_copy: Path
) -> None:
    app = create_app(make_settings(seed_vectors, seeds_copy))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    # Not entered as a context manager: this route needs no index, so no lifespan runs.
    response = TestClient(app, raise_server_exceptions=False).get("/boom")

    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the server log has the details"}
    assert "secret internals" not in response.text


def test_cors_is_off_by_default_and_on_for_configured_origins(
    client: TestClient, seed_vectors: Path, seeds_copy: Path
) -> None:
    origin = {"Origin": "http://localhost:3000"}
    app = create_app(make_settings(seed_vectors, seeds_copy, cors_origins=[origin["Origin"]]))

    default = client.get("/openapi.json", headers=origin)
    allowed = TestClient(app).get("/openapi.json", headers=origin)

    assert "access-control-allow-origin" not in default.headers
    assert allowed.headers["access-control-allow-origin"] == origin["Origin"]

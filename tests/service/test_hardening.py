"""Request limits, security headers, request ids, logs and /metrics of the running app."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from httpx import Response

from embed.store.builds import CURRENT, current_build
from service.settings import ServiceSettings
from tests.service.conftest import make_settings

DOC_ID = "000_ede25ed87fc7c0a3"


def test_a_body_over_the_limit_is_413_and_one_under_it_is_served(client: TestClient) -> None:
    limit = ServiceSettings.model_fields["max_body_bytes"].default
    big = json.dumps({"q": "x" * limit, "k": 1})

    over = client.post("/search", content=big, headers={"Content-Type": "application/json"})
    chunked = client.post(
        "/search/batch",
        content=iter([b'{"queries": ["', b"y" * limit, b'"]}']),  # no Content-Length
        headers={"Content-Type": "application/json"},
    )
    under = client.post("/search", json={"q": "Bishkek meeting", "k": 1})

    assert over.status_code == 413 and "larger than 65536 bytes" in over.json()["detail"]
    assert chunked.status_code == 413
    assert under.status_code == 200


def test_unknown_fields_are_refused_by_name(client: TestClient) -> None:
    response = client.post("/search", json={"q": "Bishkek", "k": 1, "limit": 5})

    assert response.status_code == 422
    assert "limit" in response.json()["detail"]


def _allows_exactly_its_inline_scripts(page: Response) -> None:
    """The page's policy allows each of its inline scripts by hash, and no other inline code."""
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    script_src = csp.split("script-src")[1].split(";")[0]
    assert "'unsafe-inline'" not in script_src
    scripts = re.findall(r"<script>(.*?)</script>", page.text, re.S)
    assert scripts, f"{page.url} has an inline script"
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src


def test_html_pages_carry_security_headers_and_a_csp_that_allows_their_own_script(
    client: TestClient,
) -> None:
    page = client.get(f"/view/{DOC_ID}", params={"start": 312, "end": 371})
    api = client.get("/health")
    # Swagger UI's page sets a policy of its own, for its assets and its one inline script.
    docs = client.get("/docs")

    for response in (page, api, docs):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
    _allows_exactly_its_inline_scripts(page)
    _allows_exactly_its_inline_scripts(docs)
    assert "content-security-policy" not in api.headers


def test_request_ids_are_made_honoured_or_replaced(client: TestClient) -> None:
    made = client.get("/health").headers["x-request-id"]
    kept = client.get("/health", headers={"X-Request-ID": "trace-42.a:b"})
    insane = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces" + "x" * 200})

    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert kept.headers["x-request-id"] == "trace-42.a:b"
    assert re.fullmatch(r"[0-9a-f]{32}", insane.headers["x-request-id"])


def test_json_logs_carry_the_request_id(
    app_client: Callable[[ServiceSettings], TestClient], seed_vectors: Path, seeds_copy: Path
) -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    old_level = root.level
    formatters = [(h, h.formatter) for h in root.handlers]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        client = app_client(make_settings(seed_vectors, seeds_copy, log_json=True))
        client.get("/health", headers={"X-Request-ID": "json-log-1"})
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for other, formatter in formatters:  # create_app made every root handler write JSON
            other.setFormatter(formatter)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [r for r in records if r["logger"] == "service.access"]
    assert access and access[-1]["request_id"] == "json-log-1"
    assert access[-1]["status"] == 200 and access[-1]["path"] == "/health"
    assert {"time", "level", "message", "duration_ms"} <= set(access[-1])


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + ("{" if labels else " ")):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels} in:\n{text}")


def test_metrics_count_requests_errors_latency_index_and_reloads(
    app_client: Callable[[ServiceSettings], TestClient], vectors_copy: Path, seeds_copy: Path
) -> None:
    client = app_client(make_settings(vectors_copy, seeds_copy))
    client.get("/search", params={"q": "Bishkek", "k": 1})
    client.get("/search", params={"q": " ", "k": 1})
    client.get("/documents/nope")
    live = current_build(vectors_copy)
    assert live is not None
    broken = live.parent / "29991231T000000000000Z-broken"
    shutil.copytree(live, broken)
    (broken / "index.faiss").write_bytes(b"garbage")
    (vectors_copy / CURRENT).write_text(broken.name, encoding="utf-8")
    client.post("/reload")

    response = client.get("/metrics")
    text = response.text

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    total = "xlsearch_requests_total"
    assert _sample(text, total, route="/search", method="GET", status="200") == 1
    assert _sample(text, total, route="/search", method="GET", status="422") == 1
    assert _sample(text, total, route="/documents/{doc_id:path}", status="404") == 1
    assert _sample(text, "xlsearch_request_duration_seconds_count", route="/search") == 2
    assert _sample(text, "xlsearch_index_chunks") == 46
    assert _sample(text, "xlsearch_index_documents") == 5
    assert _sample(text, "xlsearch_index_built_timestamp_seconds") > 1.7e9
    assert _sample(text, "xlsearch_reloads_total", outcome="changed") == 1  # the start-up load
    assert _sample(text, "xlsearch_reloads_total", outcome="failed") == 1
    assert "xlsearch_errors_total" in text

"""Filters by document, publisher or site and date on /search, /search/batch and /similar."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.settings import ServiceSettings
from tests.service.conftest import make_settings

BORTNIKOV_RU = "001_5bcb32c10d9a48df"
BORTNIKOV_EN = "000_ede25ed87fc7c0a3"  # the one seed with a date: 2024-05-24T15:13
OTHER_EN = "002_9319827ac0fa4145"
QUERY = "Director of the FSB Bortnikov chaired the meeting"


def _docs(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["doc_id"] for hit in response.json()["results"]]


def test_doc_filters_return_k_passages_of_those_documents_only(client: TestClient) -> None:
    found = _docs(client.get("/search", params={"q": QUERY, "k": 10, "doc": [OTHER_EN]}))
    assert found == [OTHER_EN] * 8, "all 8 passages of the document, though others rank higher"
    both = _docs(
        client.get("/search", params={"q": QUERY, "k": 30, "doc": [OTHER_EN, BORTNIKOV_RU]})
    )
    assert set(both) == {OTHER_EN, BORTNIKOV_RU} and len(both) == 8 + 13
    body = {"q": QUERY, "k": 5, "doc": [BORTNIKOV_RU], "lang": "ru"}
    assert _docs(client.post("/search", json=body)) == [BORTNIKOV_RU] * 5


def test_dates_are_inclusive_and_leave_undated_documents_out(client: TestClient) -> None:
    that_day = {"q": QUERY, "k": 20, "date_from": "2024-05-24", "date_to": "2024-05-24"}
    assert set(_docs(client.get("/search", params=that_day))) == {BORTNIKOV_EN}
    later = {"q": QUERY, "date_from": "2024-05-25"}
    assert _docs(client.get("/search", params=later)) == []


def test_source_matches_a_publisher_or_a_site(
    tmp_path: Path,
    seeds_copy: Path,
    vectors_copy: Path,
    rebuild: Callable[[Path, Path], str],
    app_client: Callable[[ServiceSettings], TestClient],
) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(seeds_copy, seeds)
    sidecar = {"publisher": "Kabar", "url": "https://en.kabar.kg/news/meeting-of-security-chiefs"}
    (seeds / f"{OTHER_EN}.json").write_text(json.dumps(sidecar), "utf-8")
    rebuild(seeds, vectors_copy)
    client = app_client(make_settings(vectors_copy, seeds))
    for source in ("kabar.kg", "KABAR", "en.kabar.kg"):
        found = _docs(client.get("/search", params={"q": QUERY, "k": 20, "source": source}))
        assert set(found) == {OTHER_EN} and len(found) == 8, source
    assert _docs(client.get("/search", params={"q": QUERY, "source": "tass.ru"})) == []


def test_similar_passages_take_the_filters(client: TestClient) -> None:
    response = client.get(f"/similar/{BORTNIKOV_EN}/2", params={"k": 3, "doc": BORTNIKOV_RU})
    assert _docs(response) == [BORTNIKOV_RU] * 3


def test_a_batch_takes_filters_pages_and_formats(client: TestClient) -> None:
    queries = [QUERY, "Бортников поблагодарил Жапарова за теплый прием"]
    body: dict[str, Any] = {"queries": queries, "k": 3, "doc": [BORTNIKOV_RU]}
    whole = client.post("/search/batch", json={**body, "k": 6}).json()["results"]
    page = client.post("/search/batch", json={**body, "offset": 3}).json()["results"]
    for full, second_page in zip(whole, page, strict=True):
        assert {h["doc_id"] for h in full["results"]} == {BORTNIKOV_RU}
        assert [h["rank"] for h in second_page["results"]] == [4, 5, 6]
        assert [h["paragraph"] for h in second_page["results"]] == [
            h["paragraph"] for h in full["results"][3:]
        ]
    lines = client.post("/search/batch", json={**body, "format": "jsonl"}).text.splitlines()
    assert [json.loads(line)["query"] for line in lines] == [queries[0]] * 3 + [queries[1]] * 3
    response = client.post("/search/batch", json=body, headers={"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert list(rows[0])[:2] == ["query", "rank"] and len(rows) == 6


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"doc": ["no-such-document"]}, "no document 'no-such-document' in the index"),
        ({"date_from": "24.05.2024"}, "date_from must be a date as YYYY-MM-DD"),
        ({"date_to": "2024-13-01"}, "date_to must be a date as YYYY-MM-DD"),
        ({"date_from": "2024-06-01", "date_to": "2024-05-01"}, "is after date_to"),
        ({"doc": [f"d{i}" for i in range(101)]}, "doc"),
    ],
)
def test_bad_filters_are_a_422_that_names_the_problem(
    client: TestClient, params: dict[str, Any], message: str
) -> None:
    for response in (
        client.get("/search", params={"q": QUERY, **params}),
        client.post("/search/batch", json={"queries": [QUERY], **params}),
        client.get(f"/similar/{BORTNIKOV_EN}/2", params=params),
    ):
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"]

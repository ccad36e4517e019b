"""``GET /documents/{doc_id}``: the stored document, and ids that must be refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embed.ingest.layout import normalize_space
from service.settings import ServiceSettings
from tests.service.conftest import NEW_DOC_ID, make_settings

DOC = "000_ede25ed87fc7c0a3"


def test_document_has_metadata_text_and_numbered_paragraphs(
    client: TestClient, seeds_copy: Path
) -> None:
    response = client.get(f"/documents/{DOC}")

    assert response.status_code == 200
    doc = response.json()
    source = (seeds_copy / f"{DOC}.txt").read_text(encoding="utf-8")
    assert doc["doc_id"] == DOC
    assert doc["title"] == "Sadyr Japarov meets with heads of special services of CIS member states"
    assert (doc["date"], doc["lang"], doc["language"]) == ("2024-05-24T15:13", "en", "English")
    assert doc["source"] == {"file": f"{DOC}.txt", "url": None}
    assert doc["link"] == f"http://testserver/view/{DOC}"
    assert doc["text"] == source
    assert {"author", "publisher"} <= set(doc)
    numbers = [p["number"] for p in doc["paragraphs"]]
    assert numbers == list(range(len(numbers)))
    for paragraph in doc["paragraphs"]:
        assert set(paragraph) == {"number", "part", "page", "start", "end", "lang", "text"}
        assert paragraph["page"] is None
        assert normalize_space(source[paragraph["start"] : paragraph["end"]]) == paragraph["text"]


def test_nested_document_ids_work(
    app_client: Callable[[ServiceSettings], TestClient],
    vectors_copy: Path,
    grown_seeds: Path,
    rebuild: Callable[[Path, Path], str],
) -> None:
    rebuild(grown_seeds, vectors_copy)
    client = app_client(make_settings(vectors_copy, grown_seeds))

    doc = client.get(f"/documents/{NEW_DOC_ID}").json()

    assert doc["doc_id"] == NEW_DOC_ID
    assert doc["source"]["file"] == f"{NEW_DOC_ID}.txt"
    assert client.get(doc["link"]).status_code == 200


def test_unknown_document_is_a_404_that_says_so(client: TestClient) -> None:
    response = client.get("/documents/no_such_doc")

    assert response.status_code == 404
    assert response.json()["detail"].startswith("no document 'no_such_doc' in the index")


def test_file_name_with_txt_is_not_an_id(client: TestClient) -> None:
    assert client.get(f"/documents/{DOC}.txt").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
        "%2e%2e%2fetc%2fpasswd",
        "%252e%252e%252fetc%252fpasswd",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "..%5C..%5Cwindows%5Cwin.ini",
        "C:%5Cwindows%5Cwin.ini",
        "seeds/%2e/x",
        "x%00y",
    ],
)
def test_ids_leaving_the_seeds_folder_are_a_400(client: TestClient, path: str) -> None:
    response = client.get(f"/documents/{path}")

    assert response.status_code == 400
    assert "is not allowed: ids are paths relative to the seeds folder" in response.json()["detail"]


@pytest.mark.parametrize("path", ["../../etc/passwd", "a/../../etc/passwd"])
def test_literal_dot_dot_never_reaches_a_document(client: TestClient, path: str) -> None:
    # Clients and servers resolve literal "../" before routing; whatever route it lands on,
    # the answer is a 4xx with a message, never a file.
    response = client.get(f"/documents/{path}")

    assert 400 <= response.status_code < 500
    assert response.json()["detail"]

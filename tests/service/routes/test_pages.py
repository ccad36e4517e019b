"""``/`` and ``/view/{doc_id}`` as HTML (the browser test drives them in Chromium)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from service.settings import ServiceSettings
from tests.service.conftest import make_settings

DOC = "001_5bcb32c10d9a48df"


def test_empty_search_page_has_the_form_and_the_languages(client: TestClient) -> None:
    page = client.get("/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'name="q"' in page.text
    assert '<option value="en"' in page.text and '<option value="ru"' in page.text
    assert "<ol" not in page.text


def test_results_show_score_language_title_marked_passage_and_source(client: TestClient) -> None:
    page = client.get("/", params={"q": "Bortnikov chaired the meeting", "lang": "ru", "k": 3})

    assert page.status_code == 200
    items = re.findall(r'<li class="result".*?</li>', page.text, flags=re.S)
    assert len(items) == 3
    for item in items:
        assert 'data-lang="ru"' in item
        assert re.search(r'class="score"[^>]*>-?\d+\.\d{3}<', item)
        assert "руководителями органов безопасности" in item  # the title
        assert re.search(r"<mark>[^<]+</mark>", item)
        assert f"{DOC}.txt</a>" in item
        assert f'href="http://testserver/view/{DOC}?start=' in item


def test_bad_query_on_the_page_shows_the_message(client: TestClient) -> None:
    page = client.get("/", params={"q": "x" * 1001})

    assert page.status_code == 422
    assert "q is 1001 characters long; the limit is 1000 characters" in page.text


def test_document_page_anchors_paragraphs_and_marks_the_passage(client: TestClient) -> None:
    doc = client.get(f"/documents/{DOC}").json()
    target = next(p for p in doc["paragraphs"] if p["number"] == 11)

    page = client.get(f"/view/{DOC}", params={"start": target["start"], "end": target["end"]})

    assert page.status_code == 200
    anchors = re.findall(r'id="p(\d+)"', page.text)
    assert anchors == [str(p["number"]) for p in doc["paragraphs"]]
    assert re.findall(r"<mark>(.*?)</mark>", page.text, flags=re.S) == [target["text"]]


def test_document_page_for_an_unknown_or_escaping_id_is_an_error_page(
    client: TestClient,
) -> None:
    unknown = client.get("/view/nope")
    escaping = client.get("/view/..%2F..%2Fetc%2Fpasswd")

    assert unknown.status_code == 404 and "no document" in unknown.text
    assert escaping.status_code == 400 and "is not allowed" in escaping.text


def test_seed_markup_is_escaped_on_both_pages(
    app_client: Callable[[ServiceSettings], TestClient],
    tmp_path: Path,
    rebuild: Callable[[Path, Path], str],
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "markup.txt").write_text(
        "Title with <script>alert(1)</script>\n\nBody text with <b>html</b> in it.\n",
        encoding="utf-8",
    )
    rebuild(seeds, tmp_path / "vectors")
    client = app_client(make_settings(tmp_path / "vectors", seeds))

    search = client.get("/", params={"q": "html in the body text"}).text
    document = client.get("/view/markup").text

    for page in (search, document):
        assert "<script>alert(1)</script>" not in page
        assert "<b>html</b>" not in page
        assert "&lt;b&gt;html&lt;/b&gt;" in page


def test_results_page_shows_translations_and_the_score_breakdown(client: TestClient) -> None:
    page = client.get("/", params={"q": "Bortnikov thanked Japarov for the warm welcome"}).text
    assert 'class="translation-link"' in page
    assert "/view/001_5bcb32c10d9a48df?start=" in page
    assert "why this rank" in page and "dense_sentence" in page

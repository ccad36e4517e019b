"""Seeds of every format through the service: results, links, documents and their pages."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from embed.indexing.rebuild import BuildSummary, rebuild_index
from embed.models.encoder import Encoder, TextEncoder
from service.app import create_app
from tests.embed.ingest.pdfs import make_pdf
from tests.service.conftest import make_settings

PAGES = Path(__file__).parents[2] / "embed" / "ingest" / "pages"
REPORT = [
    ["Honey harvest report for Issyk-Kul", "Beekeepers counted their hives in March."],
    [
        "The harvest of mountain honey in Karakol doubled, and the sainfoin meadows gave the "
        "darkest honey of the season.",
    ],
]
NOTES = """# Notes on the beekeepers' festival

## Programme

The festival opens with a tasting of [thyme honey](https://example.org/thyme) in Karakol.
"""


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, encoder: Encoder, second: TextEncoder | None
) -> tuple[Path, Path, BuildSummary]:
    """A seeds folder with a page in each language, a PDF, Markdown notes and two bad files,
    and its index."""
    seeds = tmp_path_factory.mktemp("formats") / "seeds"
    seeds.mkdir()
    shutil.copy(PAGES / "en_security_council.html", seeds / "council.html")
    shutil.copy(PAGES / "ru_security_council.html", seeds / "sovet.htm")
    (seeds / "harvest.pdf").write_bytes(make_pdf(REPORT))
    (seeds / "festival.md").write_text(NOTES, encoding="utf-8")
    (seeds / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really a PDF at all\n")
    (seeds / "shell.html").write_text(
        '<html><body><div id="root"></div><script src="/app.js"></script></body></html>',
        encoding="utf-8",
    )
    vectors = seeds.parent / "vectors"
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    return seeds, vectors, summary


@pytest.fixture(scope="module")
def client(
    built: tuple[Path, Path, BuildSummary], encoder: Encoder, second: TextEncoder | None
) -> Iterator[TestClient]:
    seeds, vectors, _ = built
    with TestClient(create_app(make_settings(vectors, seeds), encoder=encoder, second=second)) as c:
        yield c


def test_unreadable_files_are_skipped_by_name(built: tuple[Path, Path, BuildSummary]) -> None:
    _, _, summary = built
    assert summary.documents == 4
    reasons = {item["source"]: item["reason"] for item in summary.skipped}
    # Named as the documents' sources are: relative to the seeds folder.
    assert set(reasons) == {"broken.pdf", "shell.html"}
    assert reasons["broken.pdf"].startswith("damaged PDF (PDFSyntaxError: ")
    assert reasons["shell.html"] == "no main text found in the page"


def test_skipped_seeds_are_listed_in_health_and_on_the_page(
    built: tuple[Path, Path, BuildSummary], client: TestClient
) -> None:
    seeds, vectors, _ = built

    health = client.get("/health").json()
    page = client.get("/").text

    assert health["status"] == "ok"
    assert health["seeds"] == str(seeds.resolve())
    assert health["location"] == str(vectors.absolute())
    assert {item["source"]: item["reason"] for item in health["skipped"]}["shell.html"] == (
        "no main text found in the page"
    )
    assert "2 seeds could not be indexed" in page
    assert "<code>shell.html</code>: no main text found in the page" in page


def test_a_pdf_passage_knows_its_page_and_links_to_itself(client: TestClient) -> None:
    hits = client.get("/search", params={"q": "darkest mountain honey harvest", "k": 1}).json()
    hit = hits["results"][0]
    assert (hit["doc_id"], hit["page"], hit["source"]["file"]) == ("harvest.pdf", 2, "harvest.pdf")
    assert hit["text"] == REPORT[1][0]

    view = client.get(hit["link"])
    assert view.status_code == 200
    assert re.findall(r"<mark>(.*?)</mark>", view.text, flags=re.S) == [hit["text"]]
    assert re.findall(r'<p class="meta page" id="page(\d+)">', view.text) == ["2"]

    doc = client.get("/documents/harvest.pdf").json()
    assert [(p["number"], p["page"]) for p in doc["paragraphs"]] == [(0, 1), (1, 1), (2, 2)]
    assert doc["text"][hit["start"] : hit["end"]] == hit["text"]


def test_a_page_is_served_as_its_main_text_with_its_metadata(client: TestClient) -> None:
    query = "Japarov welcomed the delegations of the special services"
    hit = client.get("/search", params={"q": query, "k": 1, "lang": "en"}).json()["results"][0]
    assert (hit["doc_id"], hit["title"], hit["date"], hit["page"]) == (
        "council.html", "CIS security chiefs meet in Bishkek", "2024-10-03", None,
    )  # fmt: skip
    assert hit["source"] == {
        "file": "council.html",
        "url": "https://steppewire.example/world/2024/10/03/cis-security-chiefs-bishkek",
    }
    view = client.get(hit["link"]).text
    assert re.findall(r"<mark>(.*?)</mark>", view, flags=re.S) == [hit["text"]]
    # The view shows the extracted text: no markup of the page, none of its boilerplate.
    for absent in ("<nav", "cookie", "Related articles", "USD 84.79", "All rights reserved"):
        assert absent not in view
    assert "Steppe Wire" in view and "Aigerim Sadykova" in view

    doc = client.get("/documents/sovet.htm").json()
    assert (doc["lang"], doc["publisher"], doc["author"]) == (
        "ru", "Вести Азии", "Нурлан Абдыкеримов",
    )  # fmt: skip
    assert "Читайте также" not in doc["text"] and "<" not in doc["text"]


def test_markdown_headings_are_passages(client: TestClient) -> None:
    doc = client.get("/documents/festival.md").json()
    assert [p["text"] for p in doc["paragraphs"]] == [
        "Notes on the beekeepers' festival",
        "Programme",
        "The festival opens with a tasting of thyme honey in Karakol.",
    ]
    hit = client.get("/search", params={"q": "thyme honey tasting", "k": 1}).json()["results"][0]
    assert hit["doc_id"] == "festival.md"
    assert client.get(hit["link"]).status_code == 200

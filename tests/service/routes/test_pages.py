"""``/`` and ``/view/{doc_id}`` as HTML (the browser test drives them in Chromium)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.settings import ServiceSettings
from tests.service.conftest import make_settings

DOC = "001_5bcb32c10d9a48df"
DATED = "000_ede25ed87fc7c0a3"  # the one seed with a date: 2024-05-24
QUERY = "Bortnikov chaired the meeting"
_RESULT = re.compile(
    r'<li class="result" value="(\d+)" data-rank="\d+" data-lang="(\w+)" '
    r'data-doc-id="([^"]+)" data-paragraph="(\d+)"'
)


def _results(html: str) -> list[tuple[int, str, str, int]]:
    """``(rank, lang, doc_id, paragraph)`` of each result on a result page."""
    return [(int(r), lang, doc, int(p)) for r, lang, doc, p in _RESULT.findall(html)]


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
        assert re.search(r'class="score">[01]\.\d{2}<', item)
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


@pytest.mark.parametrize(
    ("span", "problem"),
    [
        ({"start": 50, "end": 10}, "start (50) must be before end (10)"),
        ({"start": 5000, "end": 6000}, "end (6000) is past the end of the text (4440 characters)"),
        ({"start": 10}, "start and end go together"),
    ],
)
def test_document_page_refuses_a_passage_it_cannot_mark(
    client: TestClient, span: dict[str, int], problem: str
) -> None:
    page = client.get(f"/view/{DOC}", params=span)

    assert page.status_code == 422 and problem in page.text


def test_search_page_refuses_a_query_with_a_control_character(client: TestClient) -> None:
    page = client.get("/", params={"q": "Bishkek\x00meeting"})

    assert page.status_code == 422 and "q holds the control character U+0000" in page.text


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


def test_filters_narrow_the_results_and_stay_in_the_form(client: TestClient) -> None:
    by_doc = client.get("/", params={"q": QUERY, "doc": DOC, "source": "", "date_to": ""})
    by_date = client.get(
        "/", params={"q": QUERY, "date_from": "2024-05-01", "date_to": "2024-05-31"}
    )

    assert by_doc.status_code == by_date.status_code == 200
    assert {doc for _, _, doc, _ in _results(by_doc.text)} == {DOC}
    assert f'name="doc" value="{DOC}"' in by_doc.text
    assert {doc for _, _, doc, _ in _results(by_date.text)} == {DATED}
    assert 'name="date_from" value="2024-05-01"' in by_date.text
    assert 'name="date_to" value="2024-05-31"' in by_date.text
    assert f'<option value="{DATED}">' in by_date.text  # the documents to choose from


def test_language_and_source_filters_on_the_page(client: TestClient) -> None:
    russian = client.get("/", params={"q": QUERY, "lang": "ru"})
    no_source = client.get("/", params={"q": QUERY, "source": "tass.ru"})

    assert {lang for _, lang, _, _ in _results(russian.text)} == {"ru"}
    assert '<option value="ru" selected>' in russian.text
    assert (
        no_source.status_code == 200
        and "No passages found: no document matches every filter" in no_source.text
    )
    assert 'name="source" value="tass.ru"' in no_source.text


def test_bad_filters_and_pages_show_the_message_in_the_page(client: TestClient) -> None:
    cases = {
        (("date_from", "2024-13-40"),): "date_from must be a date as YYYY-MM-DD",
        (("date_from", "2024-06-01"), ("date_to", "2024-05-01")): "date_from (2024-06-01) is after",
        (("doc", "nope"),): "no document &#39;nope&#39; in the index",
        (("lang", "xx"),): "the index has no passages in xx",
        (("offset", "95"),): "offset + k is 105",
        (("k", "0"),): "k: Input should be greater than or equal to 1",
    }
    for extra, message in cases.items():
        page = client.get("/", params=[("q", QUERY), *extra])

        assert page.status_code == 422, extra
        assert page.headers["content-type"].startswith("text/html")
        assert message in page.text, extra
        assert 'role="alert"' in page.text


def test_second_page_continues_the_ranks_with_links_both_ways(client: TestClient) -> None:
    first = client.get("/", params={"q": QUERY})
    second = client.get("/", params={"q": QUERY, "offset": 10})

    assert [rank for rank, *_ in _results(first.text)] == list(range(1, 11))
    assert [rank for rank, *_ in _results(second.text)] == list(range(11, 21))
    assert _results(second.text)[0][2:] != _results(first.text)[0][2:]
    assert 'rel="next" href="http://testserver/?q=Bortnikov+chaired+the+meeting&amp;offset=10"' in (
        first.text
    )
    assert 'rel="prev"' not in first.text
    assert 'offset=0">← previous' in second.text and 'offset=20">next →' in second.text


def test_no_next_link_past_the_last_result(client: TestClient) -> None:
    page = client.get("/", params={"q": QUERY, "doc": DATED})

    assert 0 < len(_results(page.text)) < 10
    assert 'rel="next"' not in page.text


def test_page_shows_no_fused_scores(client: TestClient) -> None:
    page = client.get("/", params={"q": QUERY})
    api = client.get("/search", params={"q": QUERY}).json()["results"]

    shown = [float(s) for s in re.findall(r'class="score">([^<]+)<', page.text)]
    assert shown == [round(hit["scores"]["dense"], 2) for hit in api]
    assert all(0 <= score <= 1 for score in shown)
    assert "<meter" in page.text


def test_similar_page_shows_the_passage_then_its_translation_first(client: TestClient) -> None:
    page = client.get(f"/similar-page/{DATED}/2")
    english = client.get(f"/similar-page/{DATED}/2", params={"lang": "en"})

    assert page.status_code == 200
    assert "The 54th meeting of the Council is taking place in Bishkek." in page.text
    assert _results(page.text)[0] == (1, "ru", DOC, 2)
    assert (DATED, 2) not in {(doc, p) for _, _, doc, p in _results(page.text)}
    assert {lang for _, lang, _, _ in _results(english.text)} == {"en"}
    assert '<option value="en" selected>' in english.text


def test_results_link_to_similar_passages_under_the_same_filters(client: TestClient) -> None:
    page = client.get("/", params={"q": QUERY, "lang": "ru"})

    links = re.findall(r'class="similar-link" href="([^"]+)"', page.text)
    assert len(links) == 10
    assert all(link.startswith(f"http://testserver/similar-page/{DOC}/") for link in links)
    assert all(link.endswith("?lang=ru") for link in links)


def test_similar_page_errors(client: TestClient) -> None:
    unknown = client.get(f"/similar-page/{DATED}/999")
    bad_date = client.get(f"/similar-page/{DATED}/2", params={"date_to": "yesterday"})

    assert unknown.status_code == 404 and "no paragraph 999" in unknown.text
    assert bad_date.status_code == 422 and "date_to must be a date" in bad_date.text


def test_document_page_links_back_to_the_results_it_was_opened_from(client: TestClient) -> None:
    search = client.get("/", params={"q": QUERY, "lang": "ru", "offset": 10})
    link = re.search(r'class="passage-link" href="([^"]+)"', search.text)
    assert link is not None

    view = client.get(link.group(1).replace("&amp;", "&"))
    plain = client.get(f"/view/{DOC}")

    assert view.status_code == 200
    back = re.search(r'<nav class="back"><a href="([^"]+)"', view.text)
    assert back is not None
    assert (
        back.group(1).replace("&amp;", "&") == "/?q=Bortnikov+chaired+the+meeting&lang=ru&offset=10"
    )
    assert "back to results" not in plain.text


def test_document_page_refuses_a_back_link_that_leaves_the_results(client: TestClient) -> None:
    for target in [
        "https://evil.example/?q=x",
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "javascript:alert(1)",
        f"/view/{DOC}",
        "/search?q=x",
    ]:
        page = client.get(f"/view/{DOC}", params={"from": target})

        assert page.status_code == 400, target
        assert "is not a result page of this service" in page.text
        assert 'evil.example/"' not in page.text  # never a link


def test_document_page_shows_translations_beside_their_paragraphs(client: TestClient) -> None:
    page = client.get(f"/view/{DATED}").text

    parallel = re.search(
        r'<section class="parallel" aria-label="Paragraph 2 and its translation">(.*?)</section>',
        page,
        flags=re.S,
    )
    assert parallel is not None
    assert 'id="p2" lang="en"' in parallel.group(1)
    assert '<blockquote lang="ru"' in parallel.group(1)
    assert "В Бишкеке проходит 54-ое заседание" in parallel.group(1)
    assert f"/view/{DOC}?start=" in parallel.group(1)
    assert f'href="http://testserver/similar-page/{DATED}/2"' in page


def test_the_page_says_when_nothing_matches_well(client: TestClient) -> None:
    weak = client.get("/", params={"q": "recipe for chocolate cake with strawberries"})
    assert weak.status_code == 200 and "Nothing in the index matches this query well" in weak.text
    good = client.get("/", params={"q": "Bortnikov thanked Japarov for the warm welcome"})
    assert good.status_code == 200 and "matches this query well" not in good.text

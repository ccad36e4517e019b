"""``GET/POST /search`` and ``POST /search/batch`` through the real model and index."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from fastapi.testclient import TestClient

from embed.ingest.layout import normalize_space
from service.settings import ServiceSettings
from tests.service.conftest import make_settings

BORTNIKOV_RU = "001_5bcb32c10d9a48df"
BORTNIKOV_EN = "000_ede25ed87fc7c0a3"
EN_QUERY = "Director of the FSB Bortnikov chaired the meeting"
RU_QUERY = "Бортников поблагодарил Жапарова за теплый прием"
HIT_FIELDS = {
    "rank", "score", "text", "doc_id", "title", "lang", "language", "date",
    "paragraph", "part", "page", "start", "end", "link", "source",
    "scores", "highlights", "translations",
}  # fmt: skip
CHANNELS = {"dense", "dense_sentence", "second", "second_sentence", "lexical", "tokens"}


def _search(client: TestClient, method: str, **params: Any) -> Any:
    if method == "GET":
        return client.get("/search", params=params)
    return client.post("/search", json=params)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_search_returns_ranked_results_with_every_field(
    client: TestClient, method: str, seeds_copy: Path
) -> None:
    response = _search(client, method, q=EN_QUERY, k=5)

    assert response.status_code == 200
    body = response.json()
    assert body["query"] == EN_QUERY
    assert body["took_ms"] >= 0
    assert body["build"]
    hits = body["results"]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    for hit in hits:
        assert set(hit) == HIT_FIELDS
        source = (seeds_copy / hit["source"]["file"]).read_text(encoding="utf-8")
        assert hit["source"] == {"file": hit["doc_id"] + ".txt", "url": None}
        assert hit["page"] is None
        assert hit["text"].split()[0] in source[hit["start"] : hit["end"]]
        assert hit["text"].split()[-1] in source[hit["start"] : hit["end"]]
        assert (hit["lang"], hit["language"]) in {("en", "English"), ("ru", "Russian")}
        assert {(t["lang"], t["language"]) for t in hit["translations"]} <= {
            ("en", "English"),
            ("ru", "Russian"),
        }
        assert hit["title"] and isinstance(hit["paragraph"], int)
        assert set(hit["scores"]) == CHANNELS
        assert 0 < hit["scores"]["dense"] <= 1 and 0 < hit["scores"]["tokens"] <= 1
        (mark,) = hit["highlights"]
        assert 0 <= mark["start"] < mark["end"] <= len(hit["text"])


def test_offsets_and_date_point_into_the_seed(client: TestClient, seeds_copy: Path) -> None:
    hit = client.get("/search", params={"q": EN_QUERY, "lang": "en", "k": 1}).json()["results"][0]

    source = (seeds_copy / f"{BORTNIKOV_EN}.txt").read_text(encoding="utf-8")
    assert hit["doc_id"] == BORTNIKOV_EN
    assert normalize_space(source[hit["start"] : hit["end"]]) == hit["text"]
    assert "Bortnikov" in hit["text"]
    assert hit["date"] == "2024-05-24T15:13"


def test_link_opens_the_document_page_with_the_passage_marked(client: TestClient) -> None:
    hit = client.get("/search", params={"q": EN_QUERY, "lang": "ru", "k": 1}).json()["results"][0]

    link = urlsplit(hit["link"])
    assert (link.scheme, link.netloc) == ("http", "testserver")
    assert link.path == f"/view/{hit['doc_id']}"
    assert link.query == f"start={hit['start']}&end={hit['end']}"
    assert link.fragment == f"p{hit['paragraph']}"
    page = client.get(hit["link"])
    assert page.status_code == 200
    assert f'id="p{hit["paragraph"]}"' in page.text
    assert f"<mark>{hit['text'][:40]}" in page.text


def test_links_follow_the_host_of_each_request(client: TestClient) -> None:
    # Document paths are resolved once per app; the host must still be each request's own.
    hosts = ["search.example.org", "127.0.0.1:8000", "search.example.org"]
    for host in hosts:
        body = client.get("/search", params={"q": EN_QUERY, "k": 3}, headers={"Host": host})
        for hit in body.json()["results"]:
            links = [hit["link"]] + [t["link"] for t in hit["translations"]]
            assert {urlsplit(link).netloc for link in links} == {host}


def test_highlight_marks_the_matching_sentence_across_languages(client: TestClient) -> None:
    query = "Kyrgyzstan's state programme against extremism and terrorism for 2023-2027"
    top = client.get("/search", params={"q": query, "lang": "ru", "k": 1}).json()["results"][0]
    mark = top["highlights"][0]
    assert "2023-2027" in top["text"][mark["start"] : mark["end"]]
    assert mark["end"] - mark["start"] < len(top["text"])


def test_results_list_their_translations(client: TestClient) -> None:
    top = client.get("/search", params={"q": EN_QUERY, "lang": "en", "k": 1}).json()["results"][0]
    (translation,) = top["translations"]
    assert (translation["doc_id"], translation["paragraph"]) == (BORTNIKOV_RU, 11)
    assert translation["lang"] == "ru" and 0.5 < translation["score"] <= 1
    page = client.get(translation["link"])
    assert page.status_code == 200 and "<mark>Директор ФСБ России" in page.text


def test_english_query_finds_the_russian_paragraph(client: TestClient) -> None:
    hits = client.get("/search", params={"q": EN_QUERY, "lang": "ru", "k": 3}).json()["results"]

    assert all(h["lang"] == "ru" for h in hits)
    top = hits[0]
    assert (top["doc_id"], top["paragraph"]) == (BORTNIKOV_RU, 11)
    assert "Бортников" in top["text"]


def test_russian_query_finds_the_english_passage(client: TestClient) -> None:
    hits = client.post("/search", json={"q": RU_QUERY, "lang": "en", "k": 3}).json()["results"]

    assert all(h["lang"] == "en" for h in hits)
    assert any(h["doc_id"] == BORTNIKOV_EN and "Bortnikov" in h["text"] for h in hits)


def test_k_defaults_to_ten_and_lang_is_optional(client: TestClient) -> None:
    hits = client.get("/search", params={"q": "security"}).json()["results"]

    assert len(hits) == 10
    assert {h["lang"] for h in hits} <= {"en", "ru"}


def test_lang_filter_ignores_case_and_blank_means_any(client: TestClient) -> None:
    upper = client.get("/search", params={"q": "security", "lang": "RU", "k": 3})
    blank = client.get("/search", params={"q": "security", "lang": "", "k": 3})

    assert upper.status_code == 200
    assert {h["lang"] for h in upper.json()["results"]} == {"ru"}
    assert blank.status_code == 200


def test_lang_filter_takes_several_languages(client: TestClient) -> None:
    both = client.get("/search", params={"q": "security", "lang": "ru, EN", "k": 20})
    one = client.get("/search", params={"q": "security", "lang": "ru,", "k": 20})

    assert both.status_code == 200 and one.status_code == 200
    assert {h["lang"] for h in both.json()["results"]} == {"en", "ru"}
    assert {h["lang"] for h in one.json()["results"]} == {"ru"}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": ""}, "q is empty"),
        ({"q": "   \t\n "}, "q is empty"),
        ({"q": "\u200b\u00a0\x00"}, "q is empty"),
        ({"q": "x" * 1001}, "q is 1001 characters long; the limit is 1000"),
        ({"q": "x", "k": 0}, "k"),
        ({"q": "x", "k": 101}, "k"),
        ({"q": "x", "k": "ten"}, "k"),
        ({"q": "x", "lang": "de"}, "lang 'de': the index has no passages in de"),
        ({"q": "x", "lang": "en,de,xx"}, "lang 'en,de,xx': the index has no passages in de, xx"),
        ({"q": "x", "lang": ","}, "lang ',': the index has no language code"),
        ({"q": "x", "lang": "x" * 17}, "lang"),
        ({"k": 3}, "q"),
        ({"q": "x", "query": "y"}, "query"),
    ],
)
def test_bad_input_is_a_422_that_names_the_problem(
    client: TestClient, method: str, params: dict[str, Any], message: str
) -> None:
    response = _search(client, method, **params)

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert message in detail


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("Bishkek\x00meeting", "q holds the control character U+0000 (at character 7)"),
        ("\x1b[31mBishkek", "q holds the control character U+001B (at character 0)"),
        ("Bishkek\x7f", "q holds the control character U+007F"),
        ("Bishkek\x85meeting", "q holds the control character U+0085"),
        ("Bishkek \ufffd", "q is not valid UTF-8 text (at character 8)"),
        ("Bishkek \ud800", "q is not valid UTF-8 text (at character 8)"),
    ],
)
def test_control_characters_and_invalid_text_are_refused(
    client: TestClient, method: str, q: str, message: str
) -> None:
    if method == "GET":
        # The query string as a client would send it: UTF-8, percent-encoded, surrogates too.
        raw = quote(q.encode("utf-8", "surrogatepass"))
        response = client.get(f"/search?q={raw}")
    else:
        body = json.dumps({"q": q})  # an unpaired surrogate travels as its escape
        response = client.post(
            "/search", content=body.encode(), headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_invalid_utf8_is_refused_in_the_query_string_and_the_body(client: TestClient) -> None:
    in_url = client.get("/search?q=%ff%feBishkek")
    in_body = client.post(
        "/search",
        content=b'{"q": "\xff\xfe Bishkek"}',
        headers={"Content-Type": "application/json"},
    )

    assert in_url.status_code == 422
    assert "q is not valid UTF-8 text (at character 0)" in in_url.json()["detail"]
    assert in_body.status_code == 422
    assert in_body.json()["detail"] == "the request body is not valid UTF-8 (byte 7)"


def test_tabs_and_line_breaks_in_a_query_read_as_spaces(client: TestClient) -> None:
    pasted = client.get(
        "/search", params={"q": "Director of the FSB\n\tBortnikov chaired\r\nthe meeting", "k": 1}
    )
    plain = client.get("/search", params={"q": EN_QUERY, "k": 1})

    assert pasted.status_code == 200
    assert pasted.json()["results"][0]["doc_id"] == plain.json()["results"][0]["doc_id"]


@pytest.mark.parametrize(
    ("filters", "note"),
    [
        (
            {"source": "kabar.kg"},
            "source 'kabar.kg' matches 0 of 5 documents (no document has a "
            "publisher or a source URL)",
        ),
        ({"date_to": "2020-01-01"}, "match 0 of 5 documents (1 of 5 documents have a date"),
    ],
)
def test_a_filter_that_matches_no_document_says_why(
    client: TestClient, filters: dict[str, str], note: str
) -> None:
    answer = client.get("/search", params={"q": EN_QUERY, **filters}).json()
    page = client.get("/", params={"q": EN_QUERY, **filters}).text
    unfiltered = client.get("/search", params={"q": EN_QUERY}).json()

    assert answer["results"] == [] and note in answer["filter_note"]
    assert "No passages found: no document matches every filter" in page
    assert unfiltered["filter_note"] is None


def test_the_page_offers_the_filter_values_there_are(client: TestClient) -> None:
    page = client.get("/").text

    assert "No document has a publisher or a source URL; 1 of 5 documents have a date" in page
    assert "(2024-05-24)" in page
    # Bounds on the date fields would make the browser refuse a wider range.
    assert 'min="2024' not in page and 'max="2024' not in page


def test_unknown_lang_lists_the_languages_there_are(client: TestClient) -> None:
    detail = client.get("/search", params={"q": "x", "lang": "de"}).json()["detail"]

    assert "(it has: en, ru)" in detail


def test_query_at_the_length_limit_is_accepted(client: TestClient) -> None:
    assert client.get("/search", params={"q": "x" * 1000, "k": 1}).status_code == 200


def test_k_limits_are_inclusive(client: TestClient) -> None:
    assert len(client.get("/search", params={"q": "x", "k": 1}).json()["results"]) == 1
    everything = client.get("/search", params={"q": "x", "k": 100, "group": "none"}).json()
    assert len(everything["results"]) == 46  # every passage of the seed index: fewer than 100


def test_malformed_json_body_is_a_422(client: TestClient) -> None:
    response = client.post("/search", content=b"{bad", headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


def test_batch_answers_each_query_in_order(client: TestClient) -> None:
    response = client.post(
        "/search/batch", json={"queries": [EN_QUERY, RU_QUERY], "k": 2, "lang": "ru"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["took_ms"] >= 0 and body["build"]
    assert [entry["query"] for entry in body["results"]] == [EN_QUERY, RU_QUERY]
    for entry in body["results"]:
        assert len(entry["results"]) == 2
        assert all(set(h) == HIT_FIELDS and h["lang"] == "ru" for h in entry["results"])
    single = client.get("/search", params={"q": EN_QUERY, "k": 2, "lang": "ru"}).json()
    # Batched and single embeddings differ in the last float bits, so compare what was found.
    assert [(h["doc_id"], h["paragraph"]) for h in body["results"][0]["results"]] == [
        (h["doc_id"], h["paragraph"]) for h in single["results"]
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"queries": []}, "queries (in the body): List should have at least 1 item"),
        ({"queries": ["ok", "  "]}, "queries[1] is empty"),
        ({"queries": ["ok", "x" * 1001]}, "queries[1] is 1001 characters long"),
        ({"queries": ["q"] * 33}, "queries holds 33 queries; the limit is 32"),
        ({"queries": ["ok"], "k": 101}, "k (in the body)"),
        ({"queries": ["ok"], "lang": "fr"}, "lang 'fr'"),
        ({"queries": ["ok", "Bishkek\x00"]}, "queries[1] holds the control character U+0000"),
        ({"q": "ok"}, "queries (in the body): Field required"),
    ],
)
def test_bad_batch_is_a_422_that_names_the_problem(
    client: TestClient, body: dict[str, Any], message: str
) -> None:
    response = client.post("/search/batch", json=body)

    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_pages_of_one_query_are_cut_from_the_same_ranking(client: TestClient) -> None:
    whole = client.get("/search", params={"q": EN_QUERY, "k": 10}).json()["results"]
    pages = [
        client.get("/search", params={"q": EN_QUERY, "k": 5, "offset": offset}).json()["results"]
        for offset in (0, 5)
    ]
    key = [(hit["rank"], hit["doc_id"], hit["paragraph"]) for hit in whole]
    assert [(hit["rank"], hit["doc_id"], hit["paragraph"]) for hit in pages[0] + pages[1]] == key
    assert [hit["rank"] for hit in pages[1]] == [6, 7, 8, 9, 10]


def test_a_page_past_the_ranked_candidates_is_refused(client: TestClient) -> None:
    response = client.get("/search", params={"q": EN_QUERY, "k": 10, "offset": 95})
    assert response.status_code == 422
    assert "offset + k is 105" in response.json()["detail"]


@pytest.mark.parametrize("how", ["parameter", "accept"])
def test_results_as_csv_for_spreadsheets(client: TestClient, how: str) -> None:
    import csv
    import io

    params: dict[str, Any] = {"q": RU_QUERY, "k": 3}
    headers = {"Accept": "text/csv"} if how == "accept" else {}
    if how == "parameter":
        params["format"] = "csv"
    response = client.get("/search", params=params, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="xlsearch-results.csv"'
    # A byte-order mark, so that Excel reads the Cyrillic as UTF-8.
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert list(rows[0]) == [
        "rank", "doc_id", "title", "lang", "language", "date", "paragraph", "page", "score",
        "text", "link",
    ]  # fmt: skip
    assert [row["rank"] for row in rows] == ["1", "2", "3"]
    json_hits = client.get("/search", params={"q": RU_QUERY, "k": 3}).json()["results"]
    assert [row["doc_id"] for row in rows] == [hit["doc_id"] for hit in json_hits]
    assert rows[0]["text"] == json_hits[0]["text"]


def test_results_as_json_lines(client: TestClient) -> None:
    response = client.post("/search", json={"q": EN_QUERY, "k": 4, "format": "jsonl"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = response.text.splitlines()
    assert len(lines) == 4
    assert [json.loads(line)["rank"] for line in lines] == [1, 2, 3, 4]


def test_an_unknown_format_is_refused(client: TestClient) -> None:
    response = client.get("/search", params={"q": EN_QUERY, "format": "xml"})
    assert response.status_code == 422
    assert "format" in response.json()["detail"]


def test_similar_passages_find_the_translation_without_a_model_call(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embed.ranking.searcher import Searcher

    def no_model(*_: object, **__: object) -> None:
        raise AssertionError("/similar must not embed anything")

    monkeypatch.setattr(Searcher, "embed_queries", no_model)
    response = client.get(f"/similar/{BORTNIKOV_EN}/2", params={"k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"].startswith("The 54th meeting")
    hits = [(hit["doc_id"], hit["paragraph"]) for hit in body["results"]]
    assert (BORTNIKOV_EN, 2) not in hits, "the passage itself is left out"
    assert hits[0] == (BORTNIKOV_RU, 2), "its Russian translation says the same"
    assert [hit["rank"] for hit in body["results"]] == [1, 2, 3, 4, 5]
    only_en = client.get(f"/similar/{BORTNIKOV_EN}/2", params={"k": 3, "lang": "en"}).json()
    assert {hit["lang"] for hit in only_en["results"]} == {"en"}


@pytest.mark.parametrize(
    ("path", "status"),
    [(f"/similar/{BORTNIKOV_EN}/999", 404), ("/similar/no-such-doc/1", 404),
     ("/similar/..%2Fetc/1", 400), (f"/similar/{BORTNIKOV_EN}/-1", 422)],
)  # fmt: skip
def test_similar_to_a_passage_that_is_not_there(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.json()["detail"]


def test_the_answer_says_when_nothing_matches_well(client: TestClient) -> None:
    good = client.get("/search", params={"q": EN_QUERY}).json()
    assert good["weak_match"] is False
    for query in ("recipe for chocolate cake with strawberries", "курс биткоина сегодня"):
        weak = client.get("/search", params={"q": query, "k": 3}).json()
        assert weak["weak_match"] is True and len(weak["results"]) == 3, query
    batch = client.post(
        "/search/batch", json={"queries": [EN_QUERY, "how to repair a bicycle tire"]}
    ).json()
    assert [entry["weak_match"] for entry in batch["results"]] == [False, True]
    nothing = client.get("/search", params={"q": EN_QUERY, "date_from": "2030-01-01"}).json()
    assert nothing["results"] == [] and nothing["weak_match"] is True


def test_without_a_weak_rule_answers_are_not_judged(
    client: TestClient,
    app_client: Callable[[ServiceSettings], TestClient],
    seed_vectors: Path,
    seeds_copy: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(seed_vectors, seeds_copy, ranking={"weak_weights": {}})
    unjudged = app_client(settings)
    assert any("weak_match null" in r.getMessage() for r in caplog.records)
    cake = {"q": "recipe for chocolate cake with strawberries", "k": 3}
    for params in ({"q": EN_QUERY, "k": 3}, cake):
        answer = unjudged.get("/search", params=params).json()
        assert answer["weak_match"] is None and len(answer["results"]) == 3, params
    note = 'class="weak-match"'
    assert note in client.get("/", params=cake).text
    assert note not in unjudged.get("/", params=cake).text


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_passage_and_its_translation_are_one_hit_unless_group_is_none(
    client: TestClient, method: str
) -> None:
    def passages(**params: Any) -> list[tuple[str, int]]:
        hits = _search(client, method, q=RU_QUERY, k=10, **params).json()["results"]
        return [(hit["doc_id"], hit["paragraph"]) for hit in hits]

    grouped, flat = passages(), passages(group="none")
    twins = {("000_ede25ed87fc7c0a3", 7), ("001_5bcb32c10d9a48df", 11)}

    # A Russian question shows the English passage; its Russian twin is under translations.
    assert grouped[0] == ("000_ede25ed87fc7c0a3", 7) and len(twins & set(grouped)) == 1
    assert twins <= set(flat) and len(flat) == 10


def test_an_unknown_group_gets_a_422_naming_the_choices(client: TestClient) -> None:
    response = client.get("/search", params={"q": EN_QUERY, "group": "facts"})

    assert response.status_code == 422
    assert "translations" in response.text and "none" in response.text

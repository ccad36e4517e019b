"""Document filters: what they allow, and what they refuse."""

from __future__ import annotations

from datetime import date

import pytest

from embed.ranking.filters import DocumentFilter, FilterError

DOCUMENTS = {
    "tass/a": {
        "publisher": "TASS",
        "url": "https://tass.ru/politika/1",
        "date": "2024-05-24T15:13",
    },
    "tass/b": {"publisher": None, "url": "https://www.tass.ru/x", "date": "2024-06-01"},
    "kabar": {"publisher": "Kabar", "url": "https://en.kabar.kg/news/2", "date": "2023-12-31"},
    "undated": {"publisher": "TASS", "url": None, "date": None},
    "odd-date": {"publisher": None, "url": "https://example.org", "date": "spring 2024"},
}


def test_nothing_set_is_no_filter_and_repeated_ids_count_once() -> None:
    assert DocumentFilter.parse() is None
    assert DocumentFilter.parse([], "  ", "", None) is None
    assert DocumentFilter.parse(["kabar", "kabar"]) == DocumentFilter(docs=("kabar",))


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("tass", {"tass/a", "undated"}),  # the publisher, without case
        ("tass.ru", {"tass/a", "tass/b"}),  # the site, www. or not
        ("www.TASS.ru", {"tass/a", "tass/b"}),
        ("kabar.kg", {"kabar"}),  # a subdomain of the site
        ("abar.kg", set()),  # not a suffix of a host name part
    ],
)
def test_source_matches_the_publisher_or_the_site(source: str, allowed: set[str]) -> None:
    found = DocumentFilter.parse(source=source)
    assert found is not None and found.allowed(DOCUMENTS) == allowed


def test_dates_are_inclusive_and_leave_undated_documents_out() -> None:
    between = DocumentFilter.parse(date_from="2024-01-01", date_to="2024-05-24")
    assert between is not None and between.allowed(DOCUMENTS) == {"tass/a"}
    since = DocumentFilter.parse(date_from="2023-12-31")
    assert since is not None and since.allowed(DOCUMENTS) == {"tass/a", "tass/b", "kabar"}
    until = DocumentFilter(date_to=date(2023, 12, 31))
    assert until.allowed(DOCUMENTS) == {"kabar"}


def test_criteria_combine() -> None:
    found = DocumentFilter.parse(["tass/a", "kabar"], "tass.ru", "2024-01-01")
    assert found is not None and found.allowed(DOCUMENTS) == {"tass/a"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"date_from": "24.05.2024"}, "date_from must be a date as YYYY-MM-DD"),
        ({"date_to": "20240524"}, "date_to must be a date as YYYY-MM-DD"),
        ({"date_from": "2024-02-30"}, "date_from must be a date"),
        ({"date_from": "2024-06-01", "date_to": "2024-05-01"}, "is after date_to"),
    ],
)
def test_bad_dates_are_refused_with_a_message(arguments: dict[str, str], message: str) -> None:
    with pytest.raises(FilterError, match=message):
        DocumentFilter.parse(**arguments)


def test_an_unknown_document_is_refused() -> None:
    found = DocumentFilter.parse(["kabar", "no-such"])
    assert found is not None
    with pytest.raises(FilterError, match="no document 'no-such' in the index"):
        found.allowed(DOCUMENTS)

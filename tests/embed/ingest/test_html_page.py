"""Tests for embed.ingest.html_page: news pages of our own making, boilerplate and all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from embed.ingest.documents import read_document
from embed.ingest.html_page import read_html
from tests.embed.ingest.refusals import assert_refused

PAGES = Path(__file__).parent / "pages"

EN_PARAGRAPHS = [
    "CIS security chiefs meet in Bishkek",
    "The 54th meeting of the Council of Heads of Security Agencies and Special Services of the "
    "CIS member states opened in Bishkek on Thursday",
    "President Sadyr Japarov welcomed the delegations",
    "The council discussed joint measures against the financing of terrorism",
    "Agreements signed",
    "By the end of the first day the heads of the services had signed a protocol",
    "The next meeting of the council is to be held in Astana in the spring",
]
# A phrase of every piece of boilerplate on the English page.
EN_BOILERPLATE = [
    "cookies",  # the consent banner
    "Manage preferences",
    "Politics",  # the navigation
    "Subscribe",
    "84.79",  # the exchange-rate ticker
    "Brent",
    "Photo: press service",  # the figure caption
    "Related articles",
    "Astana prepares for the spring summit",
    "Border talks between Kyrgyzstan and Tajikistan",
    "morning briefing",  # the newsletter box
    "Advertise with us",  # the footer
    "All rights reserved",
]
RU_PARAGRAPHS = [
    "Главы спецслужб СНГ собрались в Бишкеке",
    "В Бишкеке в четверг открылось 54-е заседание Совета руководителей органов безопасности",
    "Президент Садыр Жапаров приветствовал участников",
    "Участники обсудили совместные меры против финансирования терроризма",
    "По итогам первого дня руководители служб подписали протокол",
]
RU_BOILERPLATE = [
    "cookie",
    "Главная",
    "Экономика",
    "84,79",
    "KZT",
    "Автор:",
    "Читайте также",
    "Астана готовится к весеннему саммиту",
    "Сом третий месяц",
    "Все права защищены",
    "Контакты",
]


def _paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


@pytest.mark.parametrize(
    ("page", "expected", "boilerplate"),
    [
        ("en_security_council.html", EN_PARAGRAPHS, EN_BOILERPLATE),
        ("ru_security_council.html", RU_PARAGRAPHS, RU_BOILERPLATE),
    ],
    ids=["en", "ru"],
)
def test_main_text_only(page: str, expected: list[str], boilerplate: list[str]) -> None:
    text = read_html((PAGES / page).read_bytes()).text
    paragraphs = _paragraphs(text)
    assert len(paragraphs) == len(expected)
    for paragraph, start in zip(paragraphs, expected, strict=True):
        assert paragraph.startswith(start)
    for phrase in boilerplate:
        assert phrase not in text, phrase


def test_metadata_of_an_english_page() -> None:
    meta = read_html((PAGES / "en_security_council.html").read_bytes()).meta
    assert meta == {
        "title": "CIS security chiefs meet in Bishkek",
        "date": "2024-10-03",
        "author": "Aigerim Sadykova",
        "url": "https://steppewire.example/world/2024/10/03/cis-security-chiefs-bishkek",
        "publisher": "Steppe Wire",
    }


def test_a_russian_page_in_its_declared_legacy_encoding() -> None:
    utf8 = (PAGES / "ru_security_council.html").read_text(encoding="utf-8")
    legacy = utf8.replace('charset="utf-8"', 'charset="windows-1251"').encode("cp1251")
    extracted = read_html(legacy)
    assert extracted == read_html(utf8.encode("utf-8"))
    assert extracted.meta == {
        "title": "Главы спецслужб СНГ собрались в Бишкеке",
        "date": "2024-10-03",
        "author": "Нурлан Абдыкеримов",
        "url": "https://vesti-azii.example/news/2024/10/03/sovet-sng-bishkek",
        "publisher": "Вести Азии",
    }


def test_the_title_leads_the_text_when_the_main_text_lacks_it() -> None:
    page = (PAGES / "en_security_council.html").read_text(encoding="utf-8")
    without_headline = page.replace(
        '<h1 class="headline">CIS security chiefs meet in Bishkek</h1>', ""
    )
    paragraphs = _paragraphs(read_html(without_headline.encode()).text)
    assert paragraphs[0] == "CIS security chiefs meet in Bishkek"
    assert paragraphs[1].startswith("The 54th meeting")


def test_document_from_a_page(tmp_path: Path) -> None:
    shutil.copy(PAGES / "ru_security_council.html", tmp_path / "council.html")
    doc = read_document(tmp_path / "council.html", tmp_path)
    assert doc.doc_id == "council.html"
    assert doc.source == "council.html"
    assert doc.lang == "ru"
    assert (doc.title, doc.date, doc.author, doc.publisher) == (
        "Главы спецслужб СНГ собрались в Бишкеке",
        "2024-10-03",
        "Нурлан Абдыкеримов",
        "Вести Азии",
    )
    assert doc.url == "https://vesti-azii.example/news/2024/10/03/sovet-sng-bishkek"
    assert "<" not in doc.text and "Читайте также" not in doc.text


def test_a_sidecar_overrides_the_page(tmp_path: Path) -> None:
    shutil.copy(PAGES / "en_security_council.html", tmp_path / "council.htm")
    sidecar = {"title": "Edited title", "publisher": "Wire Service", "date": "2024-10-04"}
    (tmp_path / "council.htm.json").write_text(json.dumps(sidecar), encoding="utf-8")
    doc = read_document(tmp_path / "council.htm", tmp_path)
    assert (doc.title, doc.publisher, doc.date) == ("Edited title", "Wire Service", "2024-10-04")
    # What the sidecar leaves out still comes from the page.
    assert doc.author == "Aigerim Sadykova"
    assert doc.url == "https://steppewire.example/world/2024/10/03/cis-security-chiefs-bishkek"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b" \n\t", "empty file"),
        (
            b'<!doctype html><html><head><title>Steppe Wire</title><script src="/app.js">'
            b'</script></head><body><div id="root"></div><noscript>You need to enable '
            b"JavaScript to run this app.</noscript></body></html>",
            "no main text",
        ),
        (
            b'<html><head><title>Gallery</title></head><body><img src="a.jpg">'
            b'<img src="b.jpg"></body></html>',
            "no main text",
        ),
        (bytes(range(256)) * 12, "no main text"),
    ],
    ids=["empty", "blank", "script-shell", "images-only", "binary"],
)
def test_pages_without_text_are_refused(tmp_path: Path, data: bytes, reason: str) -> None:
    assert_refused(read_html, tmp_path, "bad.html", data, reason)

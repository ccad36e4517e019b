"""Tests for embed.ingest.pdf_file: PDFs made here with fpdf2, their pages and passages."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

from embed.ingest.chunking import chunk_document
from embed.ingest.documents import read_document
from embed.ingest.extracted import PAGE_BREAK
from embed.ingest.pdf_file import read_pdf
from tests.embed.ingest.pdfs import CYRILLIC_FONT, make_pdf
from tests.embed.ingest.refusals import assert_refused

TITLE = "Security chiefs meet in Bishkek"
# Three pages; the second paragraph runs on from page 1 to page 2, and pages 2 and 3 repeat the
# title as a running header.
PAGES = [
    [
        TITLE,
        "The 54th meeting of the Council of Heads of Security Agencies of the CIS member states "
        "opened in Bishkek on Thursday, with delegations from nine countries.",
        "The heads of the services discussed joint measures against the financing of terrorism "
        "and the recruitment of young people through online platforms, and",
    ],
    [
        TITLE,
        "agreed on a plan of joint exercises for the coming year.",
        "The next meeting of the council is to be held in Astana in the spring.",
    ],
    [
        TITLE,
        "Colonel General Ali Nagiyev represented Azerbaijan at the session.",
    ],
]


def test_text_page_by_page() -> None:
    text = read_pdf(make_pdf(PAGES)).text
    assert [page.split("\n\n") for page in text.split(PAGE_BREAK)] == PAGES


def test_passages_know_their_page(tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(make_pdf(PAGES))
    doc = read_document(tmp_path / "report.pdf", tmp_path)
    assert (doc.doc_id, doc.source, doc.title) == ("report.pdf", "report.pdf", TITLE)
    assert doc.lang == "en"
    chunks = chunk_document(doc, lambda t: len(t.split()))
    assert [(c.paragraph, c.page) for c in chunks] == [(0, 1), (1, 1), (2, 1), (3, 2), (4, 3)]
    # The paragraph cut by the page break is one passage again, the running headers are gone,
    # and every passage's offsets hold its text (the joined one's, the header it skips too).
    assert chunks[2].text == PAGES[0][2] + " " + PAGES[1][1]
    assert [c.text for c in chunks].count(TITLE) == 1
    spans = [" ".join(doc.text[c.start : c.end].split()) for c in chunks]
    assert spans[2] == f"{PAGES[0][2]} {TITLE} {PAGES[1][1]}"
    assert [span for i, span in enumerate(spans) if i != 2] == [
        c.text for i, c in enumerate(chunks) if i != 2
    ]


def test_a_plain_text_passage_has_no_page(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Title\n\nA paragraph.\f\nAnother one.\n", encoding="utf-8")
    chunks = chunk_document(read_document(tmp_path / "a.txt", tmp_path), lambda t: len(t.split()))
    assert chunks and all(c.page is None for c in chunks)


@pytest.mark.skipif(not CYRILLIC_FONT.is_file(), reason=f"no Cyrillic font at {CYRILLIC_FONT}")
def test_russian_text(tmp_path: Path) -> None:
    pages = [
        ["Главы спецслужб СНГ собрались в Бишкеке"],
        ["Участники обсудили совместные меры против финансирования терроризма."],
    ]
    (tmp_path / "doklad.pdf").write_bytes(make_pdf(pages, CYRILLIC_FONT))
    doc = read_document(tmp_path / "doklad.pdf", tmp_path)
    assert doc.text == PAGE_BREAK.join(page[0] for page in pages)
    assert doc.lang == "ru"


def _encrypted() -> bytes:
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 5.5, "A text no one reads without the password.")
    return bytes(pdf.output())


def _scanned() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 100, 100, style="F")  # a page of pixels and no text, like a scan
    return bytes(pdf.output())


GOOD = make_pdf(PAGES)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (GOOD[: len(GOOD) // 2], "damaged PDF"),
        (b"%PDF-1.7\nnot really a PDF at all\n", "damaged PDF"),
        (b"Title\n\nA text file named .pdf.\n", "not a PDF file"),
        (b"", "not a PDF file"),
        (_encrypted(), "encrypted PDF"),
        (_scanned(), "no text in the PDF"),
    ],
    ids=["truncated", "garbage", "text", "empty", "encrypted", "scanned"],
)
def test_unreadable_pdfs_are_refused(tmp_path: Path, data: bytes, reason: str) -> None:
    assert_refused(read_pdf, tmp_path, "bad.pdf", data, reason)

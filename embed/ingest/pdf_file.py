"""PDF seeds (``.pdf``): the text of each page, through pdfminer.six's layout analysis."""

from __future__ import annotations

import io
import logging

from embed.ingest.extracted import PAGE_BREAK, Extracted, Unreadable, join_paragraphs

__all__ = ["read_pdf"]


def read_pdf(raw: bytes) -> Extracted:
    """A PDF's text, page by page: each text box of a page is a paragraph, in reading order, and
    the pages are joined by :data:`~embed.ingest.extracted.PAGE_BREAK`.

    The file's own metadata (its info dictionary) is not used: its title and author are most
    often those of the program or person that exported it. A sidecar gives them.

    Args:
        raw: The file's bytes.

    Returns:
        The text, page ``n`` after the ``n - 1``-th page break.

    Raises:
        Unreadable: When the file is not a PDF pdfminer can parse, is encrypted, or holds no text
            (a scanned document).
    """
    # Imported on first use: it is slow to import and most runs read no PDF.
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.psexceptions import PSException

    # Malformed but readable files make pdfminer warn page by page; the text is what counts.
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    if not raw.startswith(b"%PDF-"):
        raise Unreadable("not a PDF file (no %PDF- header)")
    pages: list[str] = []
    try:
        for page in extract_pages(io.BytesIO(raw), laparams=LAParams()):
            boxes = (item.get_text() for item in page if isinstance(item, LTTextContainer))
            pages.append(join_paragraphs(boxes))
    except (PDFEncryptionError, PDFPasswordIncorrect):
        raise Unreadable("encrypted PDF (a password is needed to read it)") from None
    # A damaged file can fail anywhere in the parser, with any of these.
    except (PSException, ValueError, TypeError, KeyError, IndexError, AssertionError) as exc:
        raise Unreadable(f"damaged PDF ({type(exc).__name__}: {exc})") from None
    if not any(pages):
        raise Unreadable("no text in the PDF (a scanned document needs OCR first)")
    return Extracted(PAGE_BREAK.join(pages))

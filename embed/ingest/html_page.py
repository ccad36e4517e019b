"""Web-page seeds (``.html``, ``.htm``): the article's main text and the page's metadata, through
trafilatura."""

from __future__ import annotations

import logging

from embed.ingest.extracted import Extracted, Unreadable, join_paragraphs
from embed.ingest.layout import normalize_space

__all__ = ["read_html"]

# htmldate's default latest date is today, which would make the same page read differently from
# one day to the next; dates come from the page's metadata and markup only, never guessed from
# its text.
_DATE_PARAMS = {"original_date": True, "extensive_search": False, "max_date": "9999-12-31"}
# Our own warning names the skipped file and why; the extractor's loggers would say it again.
_LIBRARY_LOGGERS = ("trafilatura", "htmldate", "courlan")


def read_html(raw: bytes) -> Extracted:
    """An HTML page's main text, title first, with its title, date, author, canonical URL and
    site name.

    Navigation, cookie banners, tickers, related-article lists, comments and footers are left out
    (trafilatura's precision mode). The text starts with the page's title unless the main text
    already does.

    Args:
        raw: The file's bytes, in whatever encoding the page declares.

    Returns:
        One paragraph per block of the main text (headings, paragraphs, list items, table rows).

    Raises:
        Unreadable: When the file is empty or no main text is found in it.
    """
    # Imported on first use: it is slow to import and most runs read no web page.
    import trafilatura
    from trafilatura.settings import Document

    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    if not raw.strip():
        raise Unreadable("empty file")
    page = trafilatura.bare_extraction(
        raw,
        favor_precision=True,
        include_comments=False,
        with_metadata=True,
        date_extraction_params=_DATE_PARAMS,
    )
    # bare_extraction returns a dict only when asked to (as_dict, deprecated).
    if not isinstance(page, Document) or not page.text or not page.text.strip():
        raise Unreadable("no main text found in the page")
    blocks = [line for line in page.text.splitlines() if line.strip()]
    title = normalize_space(page.title or "")
    if title and normalize_space(blocks[0]).casefold() != title.casefold():
        blocks.insert(0, title)
    found = {
        "title": title,
        "date": page.date,
        "author": page.author,
        "url": page.url,
        "publisher": page.sitename,
    }
    meta = {key: text for key, value in found.items() if value and (text := normalize_space(value))}
    return Extracted(join_paragraphs(blocks), meta)

"""The seed formats: which file suffixes are seeds, and how each kind is read and laid out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from embed.ingest.extracted import Extracted
from embed.ingest.html_page import read_html
from embed.ingest.markdown_file import read_markdown
from embed.ingest.pdf_file import read_pdf
from embed.ingest.text_file import read_text

__all__ = ["FORMATS", "SeedFormat", "seed_format"]


@dataclass(frozen=True)
class SeedFormat:
    """How one kind of seed file is read.

    Attributes:
        name: What the format is called in messages and docs.
        read: Makes the file's bytes into text and the metadata the file carries; raises
            :class:`~embed.ingest.extracted.Unreadable`.
        extracted: The reader removed the page's boilerplate and made one paragraph per block, so
            the layout's rules for scraped text (metadata lines, tickers, captions, bylines) do not
            apply.
        paged: The text holds page breaks, and passages are told their page.
    """

    name: str
    read: Callable[[bytes], Extracted]
    extracted: bool = True
    paged: bool = False


_TEXT = SeedFormat("plain text", read_text, extracted=False)
_HTML = SeedFormat("HTML", read_html)

# By lower-cased suffix.
FORMATS: dict[str, SeedFormat] = {
    ".txt": _TEXT,
    ".md": SeedFormat("Markdown", read_markdown),
    ".html": _HTML,
    ".htm": _HTML,
    ".pdf": SeedFormat("PDF", read_pdf, paged=True),
}


def seed_format(name: str) -> SeedFormat | None:
    """The format of the seed file ``name`` (a name or path), or ``None`` when it is no seed.

    Suffixes are matched whatever their case (``REPORT.PDF`` is a PDF).
    """
    return FORMATS.get(PurePosixPath(name).suffix.lower())

"""PDFs made at test time with fpdf2, for the PDF reader's tests and the service's."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

# DejaVu Sans has Cyrillic; it comes with Debian's fonts-dejavu-core (a dependency of Chromium,
# which the browser tests need).
CYRILLIC_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def make_pdf(pages: list[list[str]], font: Path | None = None) -> bytes:
    """A PDF with one paragraph per string, set at a usual line spacing."""
    pdf = FPDF()
    if font is not None:
        pdf.add_font("body", fname=str(font))
    for paragraphs in pages:
        pdf.add_page()
        pdf.set_font("body" if font is not None else "helvetica", size=12)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 5.5, paragraph)
            pdf.ln(6)
    return bytes(pdf.output())

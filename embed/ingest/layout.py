"""Recover the logical structure of a plain-text news seed.

The seeds are scraped pages saved as text, so besides the article they carry
metadata lines, currency tickers, photo captions, bylines and page-break
running headers. :func:`parse_layout` separates those from the title and the
content paragraphs and keeps, for every character of the cleaned paragraph
text, its offset in the original string so that chunks can point back at it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Literal

__all__ = [
    "Dropped",
    "DroppedKind",
    "Layout",
    "Paragraph",
    "ends_sentence",
    "normalize_space",
    "parse_layout",
]

DroppedKind = Literal["date", "ticker", "caption", "byline", "running_header"]

_WS_RUN = re.compile(r"\s+")
# "date 2024-05-24 15:13" as emitted by the scraper (with a stray leading space).
_DATE_LINE = re.compile(
    r"date:?\s+(?P<day>\d{4}-\d{2}-\d{2})(?:[T\s]+(?P<time>\d{2}:\d{2}(?::\d{2})?))?",
    re.IGNORECASE,
)
# Exchange-rate widget lines such as "USD 84.79".
_TICKER_LINE = re.compile(r"[A-Z]{3}\s+[-+]?\d+(?:[.,]\d+)?")
_BYLINE = re.compile(r"(?:by|written\s+by|author:|автор:?)\s+(?P<name>.+)", re.IGNORECASE)
_CAPTION_MAX_WORDS = 4
_BYLINE_MAX_WORDS = 5
# Characters that show a line is prose rather than a caption or a name.
_SENTENCE_PUNCT = frozenset(".!?…;:")
# A paragraph ending in one of these finished its sentence; anything else that is
# cut by a running header was split mid-sentence by the page break.
_SENTENCE_FINAL = frozenset(".!?…»\"'\u201d\u2019")


def normalize_space(text: str) -> str:
    """Collapse every whitespace run (NBSP and line breaks included) to one space.

    Args:
        text: Any text.

    Returns:
        The text with single U+0020 spaces between words and no outer spaces.
    """
    return _WS_RUN.sub(" ", text).strip()


def ends_sentence(text: str) -> bool:
    """Tell whether ``text`` ends with sentence-final punctuation.

    Args:
        text: A paragraph.

    Returns:
        True when the last non-space character closes a sentence.
    """
    stripped = text.rstrip()
    return bool(stripped) and stripped[-1] in _SENTENCE_FINAL


@dataclass(frozen=True)
class Paragraph:
    """A cleaned paragraph and where it came from.

    Attributes:
        text: Whitespace-normalised paragraph text.
        start: Offset of its first character in the source text.
        end: Offset just past its last character in the source text.
        offsets: For each character of ``text``, its offset in the source (a
            space that replaced a line break maps to the break).
        removed: Source spans inside ``[start, end)`` left out of ``text``
            (a running header that cut the paragraph in two).
    """

    text: str
    start: int
    end: int
    offsets: tuple[int, ...] = field(repr=False, compare=False)
    removed: tuple[tuple[int, int], ...] = ()

    def source_span(self, begin: int, stop: int) -> tuple[int, int]:
        """Map a slice of ``text`` to the source span that holds it.

        Args:
            begin: Start index into ``text``.
            stop: End index into ``text`` (exclusive, greater than ``begin``).

        Returns:
            ``(start, end)`` offsets into the source text.
        """
        return self.offsets[begin], self.offsets[stop - 1] + 1


@dataclass(frozen=True)
class Dropped:
    """A piece of the source recognised as boilerplate or metadata."""

    kind: DroppedKind
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Layout:
    """The structure of one seed.

    Attributes:
        heading: The title paragraph, or None when the text has no content.
        paragraphs: Content paragraphs in reading order (title excluded).
        date: ISO date or date-time from a metadata line, if any.
        author: Name from a trailing byline, if any.
        dropped: Everything that was recognised and left out of the content.
    """

    heading: Paragraph | None
    paragraphs: tuple[Paragraph, ...]
    date: str | None = None
    author: str | None = None
    dropped: tuple[Dropped, ...] = ()

    @property
    def title(self) -> str:
        """The cleaned title, or an empty string when there is none."""
        return self.heading.text if self.heading else ""

    @property
    def title_span(self) -> tuple[int, int] | None:
        """Source span of the title, or None when there is none."""
        return (self.heading.start, self.heading.end) if self.heading else None


@dataclass(frozen=True)
class _Line:
    start: int  # offset of the first non-space character
    end: int  # offset just past the last non-space character
    text: str  # the stripped content
    soft_wrap: bool  # trailing whitespace: the writer's editor wrapped it


def _split_lines(text: str) -> list[_Line | None]:
    """Split into lines; blank lines become None."""
    lines: list[_Line | None] = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")
        stripped = body.strip()
        if stripped:
            lead = len(body) - len(body.lstrip())
            start = pos + lead
            lines.append(_Line(start, start + len(stripped), stripped, body != body.rstrip()))
        else:
            lines.append(None)
        pos += len(raw)
    return lines


def _is_metadata_line(text: str) -> bool:
    if _parse_date(text) is not None:
        return True
    return _TICKER_LINE.fullmatch(normalize_space(text)) is not None


def _parse_date(text: str) -> str | None:
    match = _DATE_LINE.fullmatch(normalize_space(text))
    if match is None:
        return None
    value = match["day"] + (f"T{match['time']}" if match["time"] else "")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return None  # "date 2024-13-45" is not metadata we can trust; keep it as text
    return value


def _units(lines: Sequence[_Line | None]) -> list[list[_Line]]:
    """Group lines into paragraph candidates.

    Blank lines always separate. Inside a block a line continues the previous
    one only when it looks soft-wrapped, because some seeds put one paragraph
    per line without blank lines between them.
    """
    units: list[list[_Line]] = []
    current: list[_Line] = []
    for line in lines:
        if line is None:
            if current:
                units.append(current)
            current = []
            continue
        if current and _continues(current[-1], line):
            current.append(line)
        else:
            if current:
                units.append(current)
            current = [line]
    if current:
        units.append(current)
    return units


def _continues(prev: _Line, line: _Line) -> bool:
    if _is_metadata_line(prev.text) or _is_metadata_line(line.text):
        return False
    return prev.soft_wrap or line.text[0].islower()


def _build(pieces: Iterable[tuple[int, int]], source: str) -> Paragraph:
    """Normalise the given source spans into one paragraph, joined by spaces."""
    chars: list[str] = []
    offsets: list[int] = []
    spans = list(pieces)
    for index, (start, end) in enumerate(spans):
        if index and chars and chars[-1] != " ":
            chars.append(" ")
            offsets.append(spans[index - 1][1])
        for pos in range(start, end):
            ch = source[pos]
            if ch.isspace():
                if chars and chars[-1] != " ":
                    chars.append(" ")
                    offsets.append(pos)
            else:
                chars.append(ch)
                offsets.append(pos)
    while chars and chars[-1] == " ":
        chars.pop()
        offsets.pop()
    first, last = spans[0][0], spans[-1][1]
    removed = tuple((a[1], b[0]) for a, b in pairwise(spans))
    return Paragraph("".join(chars), first, last, tuple(offsets), removed)


def _unit_paragraph(unit: Sequence[_Line], source: str) -> Paragraph:
    # Lines of a soft-wrapped paragraph are contiguous in the source, so the
    # whole unit is one span; only the page-break join records removed parts.
    return _build([(unit[0].start, unit[-1].end)], source)


def _segments(para: Paragraph) -> list[tuple[int, int]]:
    """Source spans that make up ``para``: its span minus the removed gaps."""
    spans: list[tuple[int, int]] = []
    pos = para.start
    for gap_start, gap_end in para.removed:
        spans.append((pos, gap_start))
        pos = gap_end
    spans.append((pos, para.end))
    return spans


def _join(first: Paragraph, second: Paragraph, source: str) -> Paragraph:
    return _build(_segments(first) + _segments(second), source)


def _byline_author(text: str) -> str | None:
    match = _BYLINE.fullmatch(normalize_space(text))
    if match is None:
        return None
    name = match["name"].strip()
    words = name.split()
    if len(words) > _BYLINE_MAX_WORDS or any(ch in "!?…;:" for ch in name):
        return None
    if not all(word[0].isupper() for word in words):
        return None
    return name


def _is_caption(text: str) -> bool:
    words = text.split()
    if not words or len(words) > _CAPTION_MAX_WORDS:
        return False
    if any(ch in _SENTENCE_PUNCT for ch in text):
        return False
    # A caption names something; it has letters and starts with a capital.
    return any(ch.isalpha() for ch in text) and unicodedata.category(text[0]) == "Lu"


def parse_layout(text: str, scraped: bool = True) -> Layout:
    """Find the title, metadata, boilerplate and content paragraphs of a seed.

    Rules, in order: leading ``date ...`` lines give the date and ticker lines
    (``USD 84.79``) are dropped; the first remaining paragraph is the title;
    later copies of the title are page-break running headers and are dropped,
    re-joining the paragraph they cut when it stopped mid-sentence; a final
    ``By Name`` line gives the author; short capitalised fragments without
    sentence punctuation are photo captions and are dropped.

    Args:
        text: The decoded seed text.
        scraped: The text is a page saved as text, boilerplate and all. ``False`` for the text
            a format reader extracted (:mod:`embed.ingest.formats`): only the title and running
            header rules apply, so that a short heading stays a paragraph.

    Returns:
        The parsed layout; paragraphs carry offsets into ``text``.
    """
    units = _units(_split_lines(text))
    dropped: list[Dropped] = []
    date: str | None = None
    author: str | None = None

    def drop(kind: DroppedKind, unit: Sequence[_Line]) -> None:
        start, end = unit[0].start, unit[-1].end
        dropped.append(Dropped(kind, start, end, text[start:end]))

    index = 0
    while (
        scraped
        and index < len(units)
        and all(_is_metadata_line(line.text) for line in units[index])
    ):
        for line in units[index]:
            value = _parse_date(line.text)
            if value is not None:
                date = date or value
                drop("date", [line])
            else:
                drop("ticker", [line])
        index += 1
    if index == len(units):
        return Layout(None, (), date, None, tuple(dropped))

    heading = _unit_paragraph(units[index], text)
    title_key = heading.text.casefold()
    body = units[index + 1 :]

    if scraped and body and len(body[-1]) == 1:
        author = _byline_author(body[-1][0].text)
        if author is not None:
            drop("byline", body[-1])
            body = body[:-1]

    paragraphs: list[Paragraph] = []
    join_next = False
    for unit in body:
        para = _unit_paragraph(unit, text)
        if para.text.casefold() == title_key:
            drop("running_header", unit)
            join_next = bool(paragraphs) and not ends_sentence(paragraphs[-1].text)
            continue
        if scraped and _is_caption(para.text):
            drop("caption", unit)
            continue
        if join_next:
            paragraphs[-1] = _join(paragraphs[-1], para, text)
            join_next = False
        else:
            paragraphs.append(para)
    return Layout(heading, tuple(paragraphs), date, author, tuple(dropped))

"""What a format reader makes of a seed file: plain text in the shape the layout reads, and the
metadata the file itself carries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from embed.ingest.layout import normalize_space

__all__ = ["PAGE_BREAK", "Extracted", "Unreadable", "join_paragraphs"]

# Pages of a paged format (PDF) are joined by form feeds in the document's text, so that an offset
# into the text tells its page.
PAGE_BREAK = "\f"


class Unreadable(Exception):
    """A seed file its reader cannot make text of; the message says why."""


@dataclass(frozen=True)
class Extracted:
    """A seed file as text.

    Attributes:
        text: The document's text: one paragraph per line, paragraphs separated by a blank line,
            pages by :data:`PAGE_BREAK` (a plain-text seed's text is the file as it is).
        meta: Metadata the file carries itself (keys of
            :data:`embed.ingest.documents.SIDECAR_KEYS`), non-empty strings only.
    """

    text: str
    meta: dict[str, str] = field(default_factory=dict)


def join_paragraphs(blocks: Iterable[str]) -> str:
    """One line per non-blank block, its whitespace collapsed, a blank line between blocks.

    Args:
        blocks: Paragraphs, headings, list items, … in reading order.

    Returns:
        The text the layout reads as those paragraphs.
    """
    return "\n\n".join(text for text in map(normalize_space, blocks) if text)

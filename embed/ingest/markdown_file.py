"""Markdown seeds (``.md``): the text without its markup, through markdown-it-py's parser."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from embed.ingest.extracted import Extracted, Unreadable, join_paragraphs
from embed.ingest.text_file import decode_text

if TYPE_CHECKING:
    from markdown_it.token import Token

__all__ = ["read_markdown"]

# Blocks whose inline content is one paragraph of the text; a table row's cells join into one.
_BLOCK_ENDS = frozenset({"paragraph_close", "heading_close", "tr_close"})
_CODE_BLOCKS = frozenset({"fence", "code_block"})


def read_markdown(raw: bytes) -> Extracted:
    """A Markdown file as plain text: each heading, paragraph, list item, table row and code
    block is a paragraph; links keep their text, images their alt text, code its text; raw HTML
    is left out.

    Args:
        raw: The file's bytes (UTF-8, or a legacy encoding that can be told).

    Returns:
        The text, in the file's order (its first block, usually a heading, is the title).

    Raises:
        Unreadable: When the file is not text of an encoding that can be told (see
            :func:`~embed.ingest.text_file.decode_text`) or holds only markup.
    """
    # Imported on first use: most runs read no Markdown.
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(decode_text(raw))
    text = join_paragraphs(_blocks(tokens))
    if not text:
        raise Unreadable("no text besides markup")
    return Extracted(text)


def _blocks(tokens: Sequence[Token]) -> Iterator[str]:
    pieces: list[str] = []
    for token in tokens:
        if token.type == "inline":
            pieces.append(_inline_text(token.children or []))
        elif token.type in _CODE_BLOCKS:
            yield token.content
        elif token.type in _BLOCK_ENDS:
            yield " | ".join(piece for piece in pieces if piece.strip())
            pieces = []


def _inline_text(children: Sequence[Token]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in {"text", "code_inline"}:
            parts.append(child.content)
        elif child.type in {"softbreak", "hardbreak"} or child.content.startswith("<br"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_text(child.children or []))
    return "".join(parts)

"""Markdown seeds (``.md``): the text without its markup, through markdown-it-py's parser, and
the metadata of a YAML front matter block (``---`` fences at the top, as static-site generators
write it)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from embed.ingest.extracted import Extracted, Unreadable, join_paragraphs
from embed.ingest.layout import normalize_space
from embed.ingest.text_file import decode_text

if TYPE_CHECKING:
    from markdown_it.token import Token

__all__ = ["read_markdown"]

# Blocks whose inline content is one paragraph of the text; a table row's cells join into one.
_BLOCK_ENDS = frozenset({"paragraph_close", "heading_close", "tr_close"})
_CODE_BLOCKS = frozenset({"fence", "code_block"})
# The front matter keys that are document metadata, as in a sidecar (``language`` is Hugo's
# and Jekyll's name for ``lang``).
_META_KEYS = {"url": "url", "publisher": "publisher", "title": "title", "date": "date"}
_META_KEYS |= {"author": "author", "lang": "lang", "language": "lang"}


def read_markdown(raw: bytes) -> Extracted:
    """A Markdown file as plain text: each heading, paragraph, list item, table row and code
    block is a paragraph; links keep their text, images their alt text, code its text; raw HTML
    is left out.

    Args:
        raw: The file's bytes (UTF-8, or a legacy encoding that can be told).

    Returns:
        The text, in the file's order (its first block, usually a heading, is the title), and
        the front matter's ``title``, ``date``, ``lang`` (or ``language``), ``url``,
        ``publisher`` and ``author``.

    Raises:
        Unreadable: When the file is not text of an encoding that can be told (see
            :func:`~embed.ingest.text_file.decode_text`), holds only markup, or its front matter
            is not a YAML mapping of those keys to strings (a date may be a YAML date).
    """
    # Imported on first use: most runs read no Markdown.
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin

    parser = MarkdownIt("commonmark").enable("table").use(front_matter_plugin)
    tokens = parser.parse(decode_text(raw))
    meta = _front_matter(tokens)
    text = join_paragraphs(_blocks(tokens))
    if not text:
        raise Unreadable("no text besides markup")
    return Extracted(text, meta)


def _front_matter(tokens: Sequence[Token]) -> dict[str, str]:
    import yaml

    block = next((token.content for token in tokens if token.type == "front_matter"), None)
    if block is None:
        return {}
    try:
        data: Any = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        raise Unreadable(f"malformed front matter: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Unreadable("malformed front matter: expected a mapping of keys to values")
    meta: dict[str, str] = {}
    for key, name in _META_KEYS.items():
        value = data.get(key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        if value is None:
            continue
        if not isinstance(value, str):
            raise Unreadable(f"front matter {key!r} must be a string")
        if name == "date":
            try:
                datetime.fromisoformat(value.strip())
            except ValueError:
                raise Unreadable(f"front matter 'date' is not an ISO date: {value!r}") from None
        if text := normalize_space(value):
            meta[name] = text.lower() if name == "lang" else text
    return meta


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

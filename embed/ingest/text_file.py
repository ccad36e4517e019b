"""Plain-text seeds (``.txt``): UTF-8 text, refused when it is binary or another encoding."""

from __future__ import annotations

import unicodedata

from embed.ingest.extracted import Extracted, Unreadable

__all__ = ["decode_text", "read_text"]

_BOM = "\ufeff"
# Text never holds more than a stray control character or two; a higher share
# means a binary file that happens to decode as UTF-8.
_MAX_CONTROL_SHARE = 0.05
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


def decode_text(raw: bytes) -> str:
    """The text of a UTF-8 file, its byte-order mark dropped.

    Args:
        raw: The file's bytes.

    Returns:
        The decoded text; it holds a visible character.

    Raises:
        Unreadable: When the file is empty, blank, binary, UTF-16 or not UTF-8.
    """
    if not raw:
        raise Unreadable("empty file")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Unreadable("UTF-16 encoded (byte-order mark found); re-save as UTF-8")
    if b"\x00" in raw:
        raise Unreadable("binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not valid UTF-8 (byte offset {exc.start})") from None
    text = text.removeprefix(_BOM)
    if not text.strip():
        raise Unreadable("empty (whitespace only)")
    controls = sum(
        1 for ch in text if ch not in _TEXT_CONTROLS and unicodedata.category(ch) == "Cc"
    )
    if controls > _MAX_CONTROL_SHARE * len(text):
        raise Unreadable(f"binary file ({controls} control characters)")
    return text


def read_text(raw: bytes) -> Extracted:
    """A ``.txt`` seed: the decoded file as it is (the layout finds its title and metadata lines).

    Raises:
        Unreadable: See :func:`decode_text`.
    """
    return Extracted(decode_text(raw))

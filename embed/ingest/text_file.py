"""Plain-text seeds (``.txt``): UTF-8 text, or a legacy encoding (Windows-1251, KOI8-R, ...)
where the detector is sure of it; refused when binary or of an encoding that cannot be told."""

from __future__ import annotations

import unicodedata

from charset_normalizer import from_bytes

from embed.ingest.extracted import Extracted, Unreadable

__all__ = ["decode_text", "read_text"]

_BOM = "\ufeff"
# Text never holds more than a stray control character or two; a higher share
# means a binary file that happens to decode as UTF-8.
_MAX_CONTROL_SHARE = 0.05
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")
# A legacy encoding is taken only when its text reads as a language (coherence) without odd
# characters (chaos): a sentence or two of Russian in Windows-1251 passes, while a few words, or
# Latin text that Windows-1250 and -1252 both decode, stay ambiguous and are refused.
_MIN_COHERENCE = 0.2
_MAX_CHAOS = 0.1


def decode_text(raw: bytes) -> str:
    """The text of a UTF-8 file, its byte-order mark dropped, or of a legacy encoding that
    :func:`legacy_text` can tell.

    Args:
        raw: The file's bytes.

    Returns:
        The decoded text; it holds a visible character.

    Raises:
        Unreadable: When the file is empty, blank, binary, UTF-16, or neither UTF-8 nor of an
            encoding that can be told for sure.
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
        text = legacy_text(raw, exc.start)
    text = text.removeprefix(_BOM)
    if not text.strip():
        raise Unreadable("empty (whitespace only)")
    controls = sum(
        1 for ch in text if ch not in _TEXT_CONTROLS and unicodedata.category(ch) == "Cc"
    )
    if controls > _MAX_CONTROL_SHARE * len(text):
        raise Unreadable(f"binary file ({controls} control characters)")
    return text


def legacy_text(raw: bytes, bad_byte: int) -> str:
    """``raw`` decoded from the single-byte or legacy encoding charset-normalizer finds, when
    the text it gives reads as a language.

    Args:
        raw: Bytes that are not UTF-8.
        bad_byte: The offset of the first byte that is not UTF-8, for the message.

    Raises:
        Unreadable: When no encoding gives such text.
    """
    match = from_bytes(raw).best()
    if (
        match is None
        or match.encoding.startswith("utf")
        or match.coherence < _MIN_COHERENCE
        or match.chaos > _MAX_CHAOS
    ):
        guess = "" if match is None else f"; perhaps {match.encoding}"
        raise Unreadable(
            f"not valid UTF-8 (byte offset {bad_byte}), and its encoding cannot be told for "
            f"sure{guess}; re-save it as UTF-8"
        )
    return str(match)


def read_text(raw: bytes) -> Extracted:
    """A ``.txt`` seed: the decoded file as it is (the layout finds its title and metadata lines).

    Raises:
        Unreadable: See :func:`decode_text`.
    """
    return Extracted(decode_text(raw))

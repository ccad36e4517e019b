"""Script detection shared by identification, splitting, the lexical channel and the
evaluation."""

from __future__ import annotations

import re
import unicodedata

import regex

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
HAN = regex.compile(r"\p{Han}")
# The scripts razdel segments and the lexical rules tell apart; every other one is "other".
_SCRIPTS = {"LATIN": "Latn", "CYRILLIC": "Cyrl", "GREEK": "Grek"}


def script_of(char: str) -> str:
    """``Latn``, ``Cyrl``, ``Grek`` or ``other``: the script of one character, by its Unicode
    name."""
    return _SCRIPTS.get(unicodedata.name(char, "").split(" ", 1)[0], "other")


def cyrillic_share(text: str) -> float:
    """The share of ``text``'s characters that are Cyrillic (0 for an empty text)."""
    return len(CYRILLIC.findall(text)) / len(text) if text else 0.0

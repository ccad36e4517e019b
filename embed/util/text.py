"""Script detection shared by the lexical channel and the evaluation."""

from __future__ import annotations

import re

CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def cyrillic_share(text: str) -> float:
    """The share of ``text``'s characters that are Cyrillic (0 for an empty text)."""
    return len(CYRILLIC.findall(text)) / len(text) if text else 0.0

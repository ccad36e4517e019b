"""Which part of a result's passage to mark as the match.

Kept apart from the pages so that finer highlighting can replace it alone.
"""

from __future__ import annotations

from embed import SearchResult


def split_at_match(result: SearchResult) -> tuple[str, str, str]:
    """The passage cut into the text before the match, the match, and the text after it.

    The match is the passage's sentence closest to the query, as the searcher found it; the
    whole passage when the index holds no sentence vectors.
    """
    text = result.chunk.text
    start, end = result.highlights[0] if result.highlights else (0, len(text))
    return text[:start], text[start:end], text[end:]

"""Cut a :class:`Document` into passages that fit the encoder's token budget."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from razdel import sentenize

from embed.ingest.documents import Document, read_document
from embed.ingest.extracted import PAGE_BREAK
from embed.ingest.formats import seed_format
from embed.ingest.language import detect_language
from embed.ingest.layout import Paragraph, parse_layout
from embed.util.text import script_of

__all__ = [
    "Chunk",
    "chunk_document",
    "match_spans",
    "read_chunks",
    "sentence_spans",
    "split_text",
]

_WORD = re.compile(r"\S+")
# Where a long sentence is cut into clauses: commas and semicolons. Dashes stay: in Russian
# they join compounds ("государств – участников СНГ") as often as they part clauses.
_CLAUSE_BREAK = re.compile(r"[,;،؛]\s+|[，；、]\s*")
# Where a sentence ends in a script razdel does not segment: Armenian "։", Devanagari "।" and
# "॥", Chinese "。！？", Arabic-script "؟" and Urdu "۔" (a closing quote or bracket stays with
# the sentence); a Latin full stop, "!" or "?" before a letter of such a script (group
# ``stop``, checked by _opens_caseless); and a space between two Thai words, as Thai writes no
# full stops.
_SCRIPT_END = re.compile(
    r"[։।॥。！？؟۔][\"'»”’)\]]*\s*"
    r"|(?P<stop>[.!?][\"'»”’)\]]*\s+)"
    r"|(?<=[\u0e00-\u0e7f])\s+(?=[\u0e00-\u0e7f])"
)
# The fewest words a clause keeps; shorter pieces join the next one ("Президент, подтверждая
# ..." stays one clause). On XQuAD-dev 12 ranked below 8 (docs/decisions.md).
CLAUSE_MIN_WORDS = 8


@dataclass(frozen=True)
class Chunk:
    """One passage of a document.

    Attributes:
        doc_id: Id of the document it comes from.
        paragraph: 0 for the title, then 1-based content paragraph number.
        part: 0, or the index of this piece when the paragraph was too long.
        start: Offset of the passage's first character in ``Document.text``.
        end: Offset just past its last character; ``text[start:end]`` holds it.
        text: Whitespace-normalised passage text.
        lang: Language of the passage, or the document's when it is too short.
        title: Document title.
        date: Document date.
        source: Document path relative to the seeds root.
        url: Document URL.
        page: The 1-based page the passage starts on, for a paged format (PDF); else ``None``.
    """

    doc_id: str
    paragraph: int
    part: int
    start: int
    end: int
    text: str
    lang: str
    title: str
    date: str | None
    source: str
    url: str | None
    page: int | None = None


def chunk_document(
    doc: Document, count_tokens: Callable[[str], int], max_tokens: int = 512
) -> list[Chunk]:
    """Split a document into title and paragraph chunks within ``max_tokens``.

    Args:
        doc: The document.
        count_tokens: Counts the tokens the encoder will see for a text.
        max_tokens: Largest token count a chunk may have.

    Returns:
        The title chunk (paragraph 0) followed by every content paragraph, long
        paragraphs split at sentence boundaries into consecutive parts.

    Raises:
        ValueError: When ``max_tokens`` is not positive, or ``doc.source`` is of no seed format.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    form = seed_format(doc.source)
    if form is None:
        raise ValueError(f"{doc.source} is of no seed format")
    layout = parse_layout(doc.text, scraped=not form.extracted)
    paragraphs = ([layout.heading] if layout.heading else []) + list(layout.paragraphs)
    breaks = [i for i, ch in enumerate(doc.text) if ch == PAGE_BREAK] if form.paged else None
    chunks: list[Chunk] = []
    for number, para in enumerate(paragraphs):
        for part, (begin, stop) in enumerate(split_text(para.text, count_tokens, max_tokens)):
            chunks.append(_make_chunk(doc, para, number, part, begin, stop, breaks))
    return chunks


def _make_chunk(
    doc: Document,
    para: Paragraph,
    number: int,
    part: int,
    begin: int,
    stop: int,
    breaks: list[int] | None,
) -> Chunk:
    start, end = para.source_span(begin, stop)
    text = para.text[begin:stop]
    return Chunk(
        doc_id=doc.doc_id,
        paragraph=number,
        part=part,
        start=start,
        end=end,
        text=text,
        lang=doc.lang if doc.lang_given else detect_language(text, default=doc.lang),
        title=doc.title,
        date=doc.date,
        source=doc.source,
        url=doc.url,
        page=None if breaks is None else bisect.bisect(breaks, start) + 1,
    )


def split_text(
    text: str, count_tokens: Callable[[str], int], max_tokens: int
) -> list[tuple[int, int]]:
    """Cut normalised text into consecutive pieces of at most ``max_tokens``.

    Whole sentences are packed greedily; a sentence that alone is too long is
    cut between words, and a word that alone is too long between characters.
    Pieces never start or end with a space and only single spaces lie between
    them, so no text is lost or repeated.

    Args:
        text: Whitespace-normalised text.
        count_tokens: Token counter.
        max_tokens: Largest token count a piece may have.

    Returns:
        ``(begin, end)`` index pairs into ``text``, in order.
    """
    if not text:
        return []
    if count_tokens(text) <= max_tokens:
        return [(0, len(text))]
    return list(_pack(text, sentence_spans(text), count_tokens, max_tokens, _split_sentence))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(begin, end)`` of each sentence of ``text``: razdel's segmentation (which knows Latin
    and Cyrillic text), each sentence cut again where another script ends one
    (:data:`_SCRIPT_END`).

    Args:
        text: Any text.

    Returns:
        Index pairs into ``text``, in order, for every non-blank sentence.
    """
    spans = []
    for sentence in sentenize(text):
        start = sentence.start
        for end in _SCRIPT_END.finditer(text, sentence.start, sentence.stop):
            if end.group("stop") is None or _opens_caseless(text, end.end()):
                spans.append((start, end.start() + len(end.group().rstrip())))
                start = end.end()
        spans.append((start, sentence.stop))
    return [(begin, end) for begin, end in spans if text[begin:end].strip()]


def _opens_caseless(text: str, at: int) -> bool:
    """Whether a letter of a script razdel does not segment (Georgian, Arabic, Devanagari, Han,
    ...) begins at ``at``: a full stop before it ends a sentence."""
    if at >= len(text) or not text[at].isalpha():
        return False
    return script_of(text[at]) == "other"


def match_spans(text: str) -> list[tuple[int, int]]:
    """The spans a passage is matched by: each sentence, then its clauses when it has two.

    A question asks about one fact, and in a 40-word sentence that fact is a third of the
    sentence's vector: scoring a long sentence clause by clause too lets the best-sentence
    channels see it (what it gained and costs: docs/ranking.md, "Clause matching"). Clauses are
    cut at commas and semicolons and hold at least
    :data:`CLAUSE_MIN_WORDS` words, a short tail joining the clause before it.

    Args:
        text: Any text.

    Returns:
        Index pairs into ``text``: every sentence of :func:`sentence_spans`, each followed by
        its clauses when it splits into two or more.
    """
    spans = []
    for begin, end in sentence_spans(text):
        spans.append((begin, end))
        clauses = _clauses(text, begin, end)
        if len(clauses) > 1:
            spans.extend(clauses)
    return spans


def _clauses(text: str, begin: int, end: int) -> list[tuple[int, int]]:
    clauses: list[tuple[int, int]] = []
    start = piece = begin
    words = 0  # in text[start:piece], each piece counted once
    for cut in _CLAUSE_BREAK.finditer(text, begin, end):
        words += len(text[piece : cut.start()].split())
        piece = cut.end()
        if words >= CLAUSE_MIN_WORDS:
            clauses.append((start, cut.start()))
            start, words = piece, 0
    if clauses and words + len(text[piece:end].split()) < CLAUSE_MIN_WORDS:
        clauses[-1] = (clauses[-1][0], end)
    else:
        clauses.append((start, end))
    return clauses


def _split_sentence(
    text: str, span: tuple[int, int], count_tokens: Callable[[str], int], max_tokens: int
) -> Iterator[tuple[int, int]]:
    words = [(m.start() + span[0], m.end() + span[0]) for m in _WORD.finditer(text[slice(*span)])]
    return _pack(text, words, count_tokens, max_tokens, _split_word)


def _split_word(
    text: str, span: tuple[int, int], count_tokens: Callable[[str], int], max_tokens: int
) -> Iterator[tuple[int, int]]:
    # Only reached for a run of characters with no space that is longer than
    # the budget on its own (a URL, a hash); cut at the longest fitting prefix.
    begin, stop = span
    while begin < stop:
        low, high = begin + 1, stop
        while low < high:
            mid = (low + high + 1) // 2
            if count_tokens(text[begin:mid]) <= max_tokens:
                low = mid
            else:
                high = mid - 1
        yield begin, low
        begin = low


def _pack(
    text: str,
    units: list[tuple[int, int]],
    count_tokens: Callable[[str], int],
    max_tokens: int,
    fallback: Callable[
        [str, tuple[int, int], Callable[[str], int], int], Iterator[tuple[int, int]]
    ],
) -> Iterator[tuple[int, int]]:
    """Greedily merge adjacent units while the merged text stays in budget."""
    current: tuple[int, int] | None = None
    for unit in units:
        if current is not None and count_tokens(text[current[0] : unit[1]]) <= max_tokens:
            current = (current[0], unit[1])
            continue
        if current is not None:
            yield current
            current = None
        if count_tokens(text[slice(*unit)]) <= max_tokens:
            current = unit
        else:
            yield from fallback(text, unit, count_tokens, max_tokens)
    if current is not None:
        yield current


def read_chunks(
    path: Path, root: Path, count_tokens: Callable[[str], int], max_tokens: int = 512
) -> tuple[Document, list[Chunk]]:
    """Read one seed and cut it into chunks: the work a rebuild spreads over an engine's workers.

    Args:
        path: The seed, inside ``root``.
        root: The seeds folder.
        count_tokens: Counts the tokens the encoder will see for a text.
        max_tokens: Largest token count a chunk may have.

    Raises:
        SeedError: When the seed cannot be indexed (see :func:`read_document`).
    """
    doc = read_document(path, root)
    return doc, chunk_document(doc, count_tokens, max_tokens)

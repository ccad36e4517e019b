"""Tests for embed.ingest.layout and embed.ingest.chunking against the real seeds."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from razdel import sentenize

from embed.ingest.chunking import (
    CLAUSE_MIN_WORDS,
    Chunk,
    chunk_document,
    match_spans,
    sentence_spans,
    split_text,
)
from embed.ingest.documents import Document, read_document
from embed.ingest.layout import parse_layout

SEEDS = Path(__file__).parents[3] / "seeds"
D000, D001, D002, D003, D004 = (
    "000_ede25ed87fc7c0a3",
    "001_5bcb32c10d9a48df",
    "002_9319827ac0fa4145",
    "003_49e06463a676a368",
    "004_c2ed28fc8de17507",
)
SEED_IDS = [D000, D001, D002, D003, D004]
TITLE_001 = (
    "Президент Кыргызстана С.Жапаров встретился с руководителями органов безопасности"
    " и специальных служб государств – участников СНГ"
)
# Source lines (0-based) that are metadata or boilerplate, not content. The
# 001 entries are the page-break copy of the title; its first copy is the title.
BOILERPLATE_LINES = {
    D000: {0: "date 2024-05-24 15:13", 11: "Sadyr Japarov"},
    D001: {20: "Президент Кыргызстана", 21: "руководителями", 22: "государств"},
    D002: {8: "By Tamilla Hasanova"},
    D003: {0: "USD 84.79", 1: "EUR 98.85", 2: "RUB 1.19"},
    D004: {},
}
CONTENT_PARAGRAPHS = {D000: 8, D001: 12, D002: 7, D003: 7, D004: 7}


def words(text: str) -> int:
    """Whitespace word count, standing in for the model tokenizer."""
    return len(text.split())


def norm(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def docs() -> dict[str, Document]:
    return {d: read_document(SEEDS / f"{d}.txt", SEEDS) for d in SEED_IDS}


@pytest.fixture(scope="module")
def chunks(docs: dict[str, Document]) -> dict[str, list[Chunk]]:
    return {d: chunk_document(doc, words) for d, doc in docs.items()}


def content_lines(doc: Document) -> list[str]:
    """Source lines minus the known boilerplate, whitespace-normalised.

    A line ending in spaces is the editor's soft wrap (the 001 title), so it is
    kept together with the next line; every other line stands alone.
    """
    lines = doc.text.splitlines()
    skip = BOILERPLATE_LINES[doc.doc_id]
    for index, prefix in skip.items():
        assert norm(lines[index]).startswith(prefix), (doc.doc_id, index, lines[index])
    result: list[str] = []
    pending = ""
    for index, line in enumerate(lines):
        if index in skip or not line.strip():
            continue
        pending = f"{pending} {line}"
        if line == line.rstrip():
            result.append(norm(pending))
            pending = ""
    assert pending == ""
    return result


def page_break_free(doc: Document, chunk: Chunk) -> str:
    """The chunk's source span, normalised, with a running header taken out."""
    return norm(doc.text[chunk.start : chunk.end]).replace(f" {TITLE_001} ", " ")


# --- a. paragraph rules -----------------------------------------------------------------


def test_one_paragraph_per_line_in_002(
    docs: dict[str, Document], chunks: dict[str, list[Chunk]]
) -> None:
    lines = docs[D002].text.splitlines()
    # Title, seven article lines and a byline, with no blank line anywhere.
    assert len(lines) == 9
    assert all(line.strip() for line in lines)
    body = [c.text for c in chunks[D002] if c.paragraph > 0]
    assert body == [norm(line) for line in lines[1:8]]


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_paragraph_numbering(doc_id: str, chunks: dict[str, list[Chunk]]) -> None:
    numbers = [c.paragraph for c in chunks[doc_id]]
    assert numbers == list(range(CONTENT_PARAGRAPHS[doc_id] + 1))
    assert all(c.part == 0 for c in chunks[doc_id])


def test_blank_line_paragraphs(chunks: dict[str, list[Chunk]]) -> None:
    texts = [c.text for c in chunks[D004]]
    assert texts[1].startswith("Chairman of the State Committee for National Security")
    assert texts[1].endswith("(SCNS) reported.")
    assert texts[-1].endswith("effectively counter contemporary threats.")


# --- b. wrapped title -------------------------------------------------------------------


def test_wrapped_title_001(docs: dict[str, Document], chunks: dict[str, list[Chunk]]) -> None:
    doc = docs[D001]
    assert doc.title == TITLE_001
    title = chunks[D001][0]
    assert (title.paragraph, title.part, title.text) == (0, 0, TITLE_001)
    assert title.start == doc.text.index("Президент Кыргызстана")
    assert doc.text[title.end - len("СНГ") : title.end] == "СНГ"
    assert all(c.title == TITLE_001 for c in chunks[D001])


@pytest.mark.parametrize(
    ("doc_id", "title"),
    [
        (D000, "Sadyr Japarov meets with heads of special services of CIS member states"),
        (D002, "CIS security chiefs convene in Astana for key discussions"),
        (D003, "President Japarov considers CSTO, SCO as instruments for strengthening security"),
        (D004, "Tashiev at RATS SCO meeting: Kyrgyzstan is waging fight against terrorism"),
    ],
)
def test_titles(doc_id: str, title: str, chunks: dict[str, list[Chunk]]) -> None:
    assert chunks[doc_id][0].text == title
    assert chunks[doc_id][0].paragraph == 0
    assert all(c.title == title for c in chunks[doc_id])


# --- c. page break ----------------------------------------------------------------------


def test_running_header_removed_and_paragraph_joined(
    docs: dict[str, Document], chunks: dict[str, list[Chunk]]
) -> None:
    doc = docs[D001]
    assert doc.text.count("С.Жапаров встретился с") == 2  # the header is really there
    with_title = [c for c in chunks[D001] if "С.Жапаров встретился с" in c.text]
    assert [c.paragraph for c in with_title] == [0]

    phrase = "в борьбе с терроризмом и экстремизмом на 2023-2025 годы"
    joined = [c for c in chunks[D001] if phrase in c.text]
    assert len(joined) == 1
    chunk = joined[0]
    assert chunk.text.startswith("«Ни одна страна мира не в состоянии")
    assert chunk.text.endswith("— подчеркнул Глава государства.")
    assert not any(c.text.startswith("терроризмом и экстремизмом") for c in chunks[D001])

    # The span covers both halves and the header between them...
    second_header = doc.text.index("Президент Кыргызстана", doc.text.index("в борьбе с"))
    assert chunk.start < second_header < chunk.end
    assert norm(doc.text[chunk.start : chunk.end]) != chunk.text
    # ...and the text is that span with the header taken out.
    assert page_break_free(doc, chunk) == chunk.text


def test_layout_reports_dropped_header(docs: dict[str, Document]) -> None:
    layout = parse_layout(docs[D001].text)
    kinds = [(d.kind, norm(d.text)) for d in layout.dropped]
    assert kinds == [("running_header", TITLE_001)]
    joined = [p for p in layout.paragraphs if p.removed]
    assert len(joined) == 1
    (gap,) = joined[0].removed
    assert norm(docs[D001].text[gap[0] : gap[1]]) == TITLE_001


def test_header_after_finished_sentence_is_dropped_without_join(tmp_path: Path) -> None:
    text = "Big News Today\n\nFirst paragraph ends here.\n\nBig News Today\n\nSecond paragraph.\n"
    path = tmp_path / "h.txt"
    path.write_text(text, encoding="utf-8")
    doc = read_document(path, tmp_path)
    assert [c.text for c in chunk_document(doc, words)] == [
        "Big News Today",
        "First paragraph ends here.",
        "Second paragraph.",
    ]


# --- d. boilerplate and metadata ---------------------------------------------------------


def test_date_line_is_metadata(docs: dict[str, Document], chunks: dict[str, list[Chunk]]) -> None:
    assert docs[D000].text.startswith(" date 2024-05-24 15:13\n")
    assert docs[D000].date == "2024-05-24T15:13"
    assert all(c.date == "2024-05-24T15:13" for c in chunks[D000])
    assert not any("2024-05-24" in c.text for c in chunks[D000])
    assert all(c.date is None for d in SEED_IDS[1:] for c in chunks[d])


def test_caption_dropped(docs: dict[str, Document], chunks: dict[str, list[Chunk]]) -> None:
    assert "\n\nSadyr Japarov\n\n" in docs[D000].text
    assert not any(c.text == "Sadyr Japarov" for c in chunks[D000])
    layout = parse_layout(docs[D000].text)
    assert [(d.kind, d.text) for d in layout.dropped] == [
        ("date", "date 2024-05-24 15:13"),
        ("caption", "Sadyr Japarov"),
    ]
    # The paragraphs around the caption are intact.
    texts = [c.text for c in chunks[D000]]
    before = texts.index(next(t for t in texts if t.startswith("It is gratifying")))
    assert texts[before + 1].startswith("«Last year the Kyrgyz Republic")


def test_tickers_dropped(docs: dict[str, Document], chunks: dict[str, list[Chunk]]) -> None:
    for ticker in ("USD 84.79", "EUR 98.85", "RUB 1.19"):
        assert ticker in docs[D003].text
        assert not any(ticker in c.text for c in chunks[D003])
    assert not any(c.text.startswith(("USD", "EUR", "RUB")) for c in chunks[D003])


def test_byline_is_author(docs: dict[str, Document], chunks: dict[str, list[Chunk]]) -> None:
    assert docs[D002].text.endswith("By Tamilla Hasanova")
    assert docs[D002].author == "Tamilla Hasanova"
    assert not any("Tamilla" in c.text for c in chunks[D002])
    assert chunks[D002][-1].text.endswith("tackle these issues in the future.")


# --- e. non-breaking spaces ---------------------------------------------------------------


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_chunk_text_is_normalised(doc_id: str, chunks: dict[str, list[Chunk]]) -> None:
    for chunk in chunks[doc_id]:
        assert "\xa0" not in chunk.text
        assert chunk.text == norm(chunk.text)
        assert chunk.text


def test_nbsp_kept_in_document(docs: dict[str, Document], chunks: dict[str, list[Chunk]]) -> None:
    assert "of\xa0Kyrgyzstan" in docs[D000].text
    assert any("President of Kyrgyzstan Sadyr Japarov met" in c.text for c in chunks[D000])


# --- offsets ------------------------------------------------------------------------------


@pytest.mark.parametrize("max_tokens", [512, 30, 4])
@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_offsets_point_at_chunk_text(
    doc_id: str, max_tokens: int, docs: dict[str, Document]
) -> None:
    doc = docs[doc_id]
    result = chunk_document(doc, words, max_tokens)
    for chunk in result:
        source = doc.text[chunk.start : chunk.end]
        assert source == source.strip()
        if norm(source) != chunk.text:
            # Only the page-break paragraph of 001 may differ, by its header.
            assert doc_id == D001 and TITLE_001 in norm(source)
            assert page_break_free(doc, chunk) == chunk.text
    for prev, cur in itertools.pairwise(result):
        assert prev.end <= cur.start


# --- nothing lost, nothing duplicated ----------------------------------------------------


def _assert_complete(doc: Document, result: list[Chunk]) -> None:
    sentences = [s.text for line in content_lines(doc) for s in sentenize(line)]
    assert len(sentences) > 5
    for sentence in sentences:
        hits = sum(c.text.count(sentence) for c in result)
        assert hits == 1, (doc.doc_id, sentence, hits)
    source_chars = sum(len(line.replace(" ", "")) for line in content_lines(doc))
    chunk_chars = sum(len(c.text.replace(" ", "")) for c in result)
    assert chunk_chars == source_chars


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_no_content_lost(
    doc_id: str, docs: dict[str, Document], chunks: dict[str, list[Chunk]]
) -> None:
    _assert_complete(docs[doc_id], chunks[doc_id])


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_no_content_lost_with_sentence_splits(
    doc_id: str, docs: dict[str, Document], chunks: dict[str, list[Chunk]]
) -> None:
    # A budget that fits the longest sentence but not the longest paragraphs.
    budget = max(words(s.text) for c in chunks[doc_id] for s in sentenize(c.text))
    result = chunk_document(docs[doc_id], words, budget)
    assert len(result) > len(chunks[doc_id]) or doc_id == D002
    assert all(words(c.text) <= budget for c in result)
    _assert_complete(docs[doc_id], result)


# --- splitting long paragraphs -------------------------------------------------------------


@pytest.mark.parametrize("max_tokens", [40, 12, 3, 1])
@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_split_parts_rebuild_paragraphs(
    doc_id: str, max_tokens: int, docs: dict[str, Document], chunks: dict[str, list[Chunk]]
) -> None:
    result = chunk_document(docs[doc_id], words, max_tokens)
    assert all(words(c.text) <= max_tokens for c in result)
    by_paragraph = {
        number: list(group) for number, group in itertools.groupby(result, lambda c: c.paragraph)
    }
    whole = {c.paragraph: c.text for c in chunks[doc_id]}
    assert set(by_paragraph) == set(whole)
    for number, parts in by_paragraph.items():
        assert [p.part for p in parts] == list(range(len(parts)))
        assert " ".join(p.text for p in parts) == whole[number]
    if max_tokens <= 40:
        assert any(c.part > 0 for c in result)


def test_split_at_sentence_boundaries(docs: dict[str, Document]) -> None:
    # 000 paragraph 6 is two sentences of 41 and 60 words: 60 fits each alone.
    whole = chunk_document(docs[D000], words)[6].text
    sentences = [s.text for s in sentenize(whole)]
    assert [words(s) for s in sentences] == [41, 60]
    parts = [c for c in chunk_document(docs[D000], words, 60) if c.paragraph == 6]
    assert [c.text for c in parts] == sentences
    assert [c.part for c in parts] == [0, 1]
    assert parts[0].end < parts[1].start
    assert docs[D000].text[parts[1].start :].startswith("The ongoing changes")


def test_long_sentences_are_matched_clause_by_clause_too(docs: dict[str, Document]) -> None:
    # 001 paragraph 5 is one 60-word sentence; its first clause is what the seeds' query on
    # Kyrgyzstan's commitment to CIS integration asks about.
    text = chunk_document(docs[D001], words)[5].text
    spans = match_spans(text)
    pieces = [text[a:b] for a, b in spans]
    assert pieces[0] == text  # the sentence itself comes first
    clauses = pieces[1:]
    assert clauses[0] == (
        "Президент, подтверждая приверженность Кыргызстана к укреплению интеграции государств"
        " – участников СНГ и наращиванию взаимодействия в многостороннем формате"
    )
    assert all(words(c) >= CLAUSE_MIN_WORDS for c in clauses)
    # Clauses tile the sentence: each starts where the previous one's separator ends.
    assert spans[1][0] == 0 and spans[-1][1] == len(text)
    for (_, end), (begin, _) in itertools.pairwise(spans[1:]):
        assert text[end:begin].strip() in {",", ";"}


def test_short_sentences_are_not_cut_into_clauses() -> None:
    text = "He came, he saw, he left. It was late, and everyone had gone home already then."
    assert [text[a:b] for a, b in match_spans(text)] == [
        "He came, he saw, he left.",
        "It was late, and everyone had gone home already then.",
    ]
    # A tail shorter than a clause joins the clause before it.
    long = (
        "one two three four five six seven eight, nine ten eleven twelve thirteen fourteen"
        " fifteen sixteen, and so on."
    )
    assert [long[a:b] for a, b in match_spans(long)][1:] == [
        "one two three four five six seven eight",
        "nine ten eleven twelve thirteen fourteen fifteen sixteen, and so on.",
    ]


def test_split_text_packs_sentences_greedily() -> None:
    text = "One two three. Four five. Six seven eight nine. Ten."
    spans = split_text(text, words, 5)
    assert [text[a:b] for a, b in spans] == [
        "One two three. Four five.",
        "Six seven eight nine. Ten.",
    ]


def test_split_text_words_and_characters() -> None:
    text = "alpha beta gamma delta epsilon."
    assert [text[a:b] for a, b in split_text(text, words, 2)] == [
        "alpha beta",
        "gamma delta",
        "epsilon.",
    ]
    blob = "x" * 25
    pieces = [blob[a:b] for a, b in split_text(blob, len, 10)]
    assert pieces == ["x" * 10, "x" * 10, "x" * 5]


def test_split_text_edge_cases() -> None:
    assert split_text("", words, 5) == []
    assert split_text("Short text.", words, 5) == [(0, 11)]


def test_rejects_non_positive_budget(docs: dict[str, Document]) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_document(docs[D004], words, 0)


# --- metadata on chunks -------------------------------------------------------------------


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_chunk_carries_document_metadata(
    doc_id: str, docs: dict[str, Document], chunks: dict[str, list[Chunk]]
) -> None:
    doc = docs[doc_id]
    for chunk in chunks[doc_id]:
        assert (chunk.doc_id, chunk.source, chunk.url, chunk.date, chunk.title) == (
            doc.doc_id,
            doc.source,
            doc.url,
            doc.date,
            doc.title,
        )


def test_short_chunk_inherits_document_language(tmp_path: Path) -> None:
    path = tmp_path / "ru.txt"
    path.write_text(
        "Встреча в Бишкеке\n\nПрезидент Кыргызской Республики Садыр Жапаров сегодня встретился"
        " с членами Совета руководителей органов безопасности.\n",
        encoding="utf-8",
    )
    doc = read_document(path, tmp_path)
    assert doc.lang == "ru"
    # Alone, this title is too short to classify (py3langid says "bg").
    assert [c.lang for c in chunk_document(doc, words)] == ["ru", "ru"]


@pytest.mark.parametrize(
    "text",
    [
        "Ես գնացի։ Նա եկավ։ Մենք խոսեցինք։",
        "मैं गया। वह आया। हमने बात की।",
        "我去了。他来了！我们谈了？",
        "من رفتم؟ او آمد۔ ہم نے بات کی۔",
        "მე წავედი. ის მოვიდა. ჩვენ ვისაუბრეთ.",
        "ฉันไปแล้ว เขามาแล้ว เราคุยกัน",
    ],
)
def test_sentences_end_where_each_script_ends_them(text: str) -> None:
    assert len(sentence_spans(text)) == 3


def test_abbreviations_do_not_end_a_latin_or_cyrillic_sentence() -> None:
    text = "В 2024 г. саммит прошёл в г. Астане. Его вёл Токаев. Mr. Smith met Dr. Jones."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "В 2024 г. саммит прошёл в г. Астане.",
        "Его вёл Токаев.",
        "Mr. Smith met Dr. Jones.",
    ]

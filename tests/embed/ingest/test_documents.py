"""Tests for embed.ingest.documents: seed discovery, validation and metadata."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from embed.ingest.chunking import chunk_document
from embed.ingest.documents import (
    Document,
    SeedError,
    discover_seeds,
    document_id,
    read_document,
)

SEEDS = Path(__file__).parents[3] / "seeds"
SEED_IDS = [
    "000_ede25ed87fc7c0a3",
    "001_5bcb32c10d9a48df",
    "002_9319827ac0fa4145",
    "003_49e06463a676a368",
    "004_c2ed28fc8de17507",
]
ARTICLE = "A title for the test\n\nThe first paragraph of the article has a sentence.\n"


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def _norm(text: str) -> str:
    return " ".join(text.split())


# --- real seeds -------------------------------------------------------------


def test_discover_real_seeds() -> None:
    paths, skipped = discover_seeds(SEEDS)
    assert [p.stem for p in paths] == SEED_IDS
    assert skipped == []


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_real_seed_identity_and_text(doc_id: str) -> None:
    path = SEEDS / f"{doc_id}.txt"
    doc = read_document(path, SEEDS)
    raw = path.read_bytes()
    assert doc.doc_id == doc_id
    assert doc.source == f"{doc_id}.txt"
    assert doc.text == raw.decode("utf-8")
    assert doc.sha256 == hashlib.sha256(raw).hexdigest()
    # No sidecars ship with the seeds, so nothing may be invented.
    assert doc.url is None
    assert doc.publisher is None


def test_real_seed_metadata() -> None:
    docs = {d: read_document(SEEDS / f"{d}.txt", SEEDS) for d in SEED_IDS}
    assert docs["000_ede25ed87fc7c0a3"].date == "2024-05-24T15:13"
    assert docs["000_ede25ed87fc7c0a3"].title == (
        "Sadyr Japarov meets with heads of special services of CIS member states"
    )
    assert docs["001_5bcb32c10d9a48df"].title == (
        "Президент Кыргызстана С.Жапаров встретился с руководителями органов безопасности"
        " и специальных служб государств – участников СНГ"
    )
    assert docs["002_9319827ac0fa4145"].author == "Tamilla Hasanova"
    assert docs["002_9319827ac0fa4145"].title == (
        "CIS security chiefs convene in Astana for key discussions"
    )
    assert docs["003_49e06463a676a368"].title == (
        "President Japarov considers CSTO, SCO as instruments for strengthening security"
    )
    assert docs["004_c2ed28fc8de17507"].title == (
        "Tashiev at RATS SCO meeting: Kyrgyzstan is waging fight against terrorism"
    )
    for doc_id in SEED_IDS[1:]:
        assert docs[doc_id].date is None, doc_id
    for doc_id in SEED_IDS:
        if doc_id != "002_9319827ac0fa4145":
            assert docs[doc_id].author is None, doc_id


def test_document_keeps_nbsp_in_text() -> None:
    doc = read_document(SEEDS / "000_ede25ed87fc7c0a3.txt", SEEDS)
    assert "President of\xa0Kyrgyzstan" in doc.text


# --- rejected files -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\t\n\r\n", "whitespace only"),
        ("\xa0\u2003\n".encode(), "whitespace only"),
        (b"Title\n\nbody\x00with a NUL\n", "NUL"),
        (bytes(range(1, 32)) * 20, "control characters"),
        (
            "Новости дня\n\nТекст статьи.".encode("cp1251"),
            "not valid UTF-8 (byte offset 0), and its encoding cannot be told for sure",
        ),
        ("Title\n\nCafé au lait.".encode("latin-1"), "not valid UTF-8 (byte offset 10)"),
        ("Новости дня\n\nТекст статьи.".encode("utf-16"), "UTF-16"),
        ("Title\n\nBody text.".encode("utf-16-le"), "NUL"),
    ],
    ids=[
        "empty",
        "blank",
        "nbsp-blank",
        "nul",
        "controls",
        "cp1251-too-short",
        "latin1",
        "utf16",
        "utf16le",
    ],
)
def test_unindexable_files_raise(tmp_path: Path, data: bytes, reason: str) -> None:
    path = _write(tmp_path / "bad.txt", data)
    with pytest.raises(SeedError) as info:
        read_document(path, tmp_path)
    assert "bad.txt" in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize("encoding", ["cp1251", "koi8-r"])
def test_a_russian_article_in_a_legacy_encoding_is_read(tmp_path: Path, encoding: str) -> None:
    text = (
        "Совет безопасности собрался в Бишкеке\n\n"
        "В Бишкеке проходит заседание Совета руководителей органов безопасности и специальных "
        "служб государств — участников СНГ. Председательствует директор ФСБ России "
        "Александр Бортников.\n"
    )
    path = _write(tmp_path / "legacy.txt", text.encode(encoding, "replace"))

    doc = read_document(path, tmp_path)

    assert doc.text == text.encode(encoding, "replace").decode(encoding)
    assert doc.lang == "ru" and doc.title == "Совет безопасности собрался в Бишкеке"


def test_metadata_only_file_raises(tmp_path: Path) -> None:
    path = _write(tmp_path / "meta.txt", " date 2024-05-24 15:13\nUSD 84.79\n")
    with pytest.raises(SeedError, match=r"meta\.txt: no content"):
        read_document(path, tmp_path)


def test_bom_is_dropped(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbf" + ARTICLE.encode()
    path = _write(tmp_path / "bom.txt", raw)
    doc = read_document(path, tmp_path)
    assert doc.text == ARTICLE
    assert doc.title == "A title for the test"
    assert doc.sha256 == hashlib.sha256(raw).hexdigest()
    chunks = chunk_document(doc, lambda t: len(t.split()))
    assert [doc.text[c.start : c.end] for c in chunks] == [
        "A title for the test",
        "The first paragraph of the article has a sentence.",
    ]


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = _write(tmp_path / "crlf.txt", ARTICLE.replace("\n", "\r\n").encode())
    doc = read_document(path, tmp_path)
    chunks = chunk_document(doc, lambda t: len(t.split()))
    assert [c.text for c in chunks] == [
        "A title for the test",
        "The first paragraph of the article has a sentence.",
    ]


# --- sidecar metadata ----------------------------------------------------------


def test_sidecar_metadata(tmp_path: Path) -> None:
    path = _write(tmp_path / "000_x.txt", ARTICLE)
    meta = {
        "url": "https://example.org/a",
        "publisher": "24.kg",
        "title": "Sidecar title",
        "date": "2024-05-24",
        "author": "Jane Doe",
        "lang": "EN",
        "extra": [1, 2],
    }
    _write(tmp_path / "000_x.json", json.dumps(meta))
    doc = read_document(path, tmp_path)
    assert doc == Document(
        doc_id="000_x",
        source="000_x.txt",
        text=ARTICLE,
        sha256=hashlib.sha256(ARTICLE.encode()).hexdigest(),
        title="Sidecar title",
        date="2024-05-24",
        lang="en",
        url="https://example.org/a",
        publisher="24.kg",
        author="Jane Doe",
        lang_given=True,
    )


def test_partial_sidecar_keeps_parsed_metadata(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.txt", " date 2024-05-24 15:13\n" + ARTICLE + "By John Smith\n")
    _write(tmp_path / "a.json", json.dumps({"url": "https://example.org/b", "title": None}))
    doc = read_document(path, tmp_path)
    assert doc.url == "https://example.org/b"
    assert doc.publisher is None
    assert doc.title == "A title for the test"
    assert doc.date == "2024-05-24T15:13"
    assert doc.author == "John Smith"


def test_no_sidecar_means_no_metadata(tmp_path: Path) -> None:
    doc = read_document(_write(tmp_path / "a.txt", ARTICLE), tmp_path)
    assert (doc.url, doc.publisher, doc.author, doc.date) == (None, None, None, None)
    assert doc.lang == "en"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "malformed JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"url": 5}), "'url' must be a string or null"),
        (json.dumps({"date": "24 May 2024"}), "'date' is not an ISO date"),
    ],
)
def test_malformed_sidecar_raises(tmp_path: Path, content: str, reason: str) -> None:
    path = _write(tmp_path / "a.txt", ARTICLE)
    _write(tmp_path / "a.json", content)
    with pytest.raises(SeedError) as info:
        read_document(path, tmp_path)
    assert "a.json (sidecar of a.txt)" in str(info.value)
    assert reason in str(info.value)


def test_sidecar_symlink_outside_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = _write(tmp_path / "secret.json", json.dumps({"url": "https://leak"}))
    path = _write(root / "a.txt", ARTICLE)
    (root / "a.json").symlink_to(outside)
    with pytest.raises(SeedError, match="outside the seeds root"):
        read_document(path, root)


# --- discovery -------------------------------------------------------------------


def test_discover_skips_symlinks_leaving_root(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "root"
    _write(root / "b.txt", ARTICLE)
    _write(root / "sub" / "a.txt", ARTICLE)
    _write(root / "notes.csv", "not a seed")
    secret = _write(tmp_path / "outside" / "secret.txt", "Secret title\n\nSecret text.")
    (root / "leak.txt").symlink_to(secret)
    (root / "alias.txt").symlink_to(root / "b.txt")  # stays inside: allowed
    (root / "linked_dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "dangling.txt").symlink_to(tmp_path / "missing.txt")

    with caplog.at_level(logging.WARNING, logger="embed.ingest.documents"):
        paths, skipped = discover_seeds(root)

    assert [p.relative_to(root).as_posix() for p in paths] == ["alias.txt", "b.txt", "sub/a.txt"]
    reasons = {p.name: reason for p, reason in skipped}
    assert set(reasons) == {"leak.txt", "linked_dir", "dangling.txt"}
    assert "outside the seeds root" in reasons["leak.txt"]
    assert "leak.txt" in caplog.text
    # read_document refuses the same path even when called directly.
    with pytest.raises(SeedError, match="outside the seeds root"):
        read_document(root / "leak.txt", root)


def test_discover_rejects_missing_root(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="not a directory"):
        discover_seeds(tmp_path / "nope")


def test_name_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    path = _write(tmp_path / "sub dir" / "Новости 1.txt", ARTICLE)
    paths, skipped = discover_seeds(tmp_path)
    assert paths == [path]
    assert skipped == []
    doc = read_document(path, tmp_path)
    assert doc.doc_id == "sub dir/Новости 1"
    assert doc.source == "sub dir/Новости 1.txt"
    chunks = chunk_document(doc, lambda t: len(t.split()))
    assert {c.doc_id for c in chunks} == {"sub dir/Новости 1"}
    assert _norm(doc.text[chunks[-1].start : chunks[-1].end]) == chunks[-1].text


# --- formats and ids ---------------------------------------------------------------


def test_discover_every_format(tmp_path: Path) -> None:
    for name in ["a.txt", "a.html", "a.pdf", "b.HTM", "sub/c.md", "notes.csv", "a.json", "d"]:
        _write(tmp_path / name, ARTICLE)
    paths, skipped = discover_seeds(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "a.html", "a.pdf", "a.txt", "b.HTM", "sub/c.md",
    ]  # fmt: skip
    assert skipped == []


@pytest.mark.parametrize(
    ("source", "doc_id"),
    [
        ("a.txt", "a"),
        ("world/a.txt", "world/a"),
        ("a.html", "a.html"),
        ("a.htm", "a.htm"),
        ("world/a.pdf", "world/a.pdf"),
        ("a.md", "a.md"),
        ("a.html.txt", "a.html"),
    ],
)
def test_ids_keep_the_suffix_of_every_format_but_plain_text(source: str, doc_id: str) -> None:
    assert document_id(source) == doc_id


def test_of_two_seeds_with_one_id_the_plain_text_one_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path / "a.html", "<p>A page.</p>")
    _write(tmp_path / "a.html.txt", ARTICLE)
    with caplog.at_level(logging.WARNING, logger="embed.ingest.documents"):
        paths, skipped = discover_seeds(tmp_path)
    assert paths == [tmp_path / "a.html.txt"]
    assert skipped == [(tmp_path / "a.html", "its id 'a.html' is that of a.html.txt; rename one")]
    assert "a.html" in caplog.text


def test_a_sidecar_is_named_after_the_id(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", ARTICLE)
    _write(tmp_path / "a.md", "# A Markdown title\n\nA paragraph of the article.\n")
    _write(tmp_path / "a.json", json.dumps({"title": "Of a.txt"}))
    assert read_document(tmp_path / "a.txt", tmp_path).title == "Of a.txt"
    assert read_document(tmp_path / "a.md", tmp_path).title == "A Markdown title"
    _write(tmp_path / "a.md.json", json.dumps({"title": "Of a.md"}))
    assert read_document(tmp_path / "a.md", tmp_path).title == "Of a.md"


def test_a_file_of_no_seed_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match=r"notes\.csv: not a seed format"):
        read_document(_write(tmp_path / "notes.csv", ARTICLE), tmp_path)

"""Tests for embed.ingest.markdown_file: Markdown as text without its markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from embed.ingest.chunking import chunk_document
from embed.ingest.documents import read_document
from embed.ingest.markdown_file import read_markdown
from tests.embed.ingest.refusals import assert_refused

ARTICLE = """# Council meets in *Bishkek*

The **54th** meeting opened on [Thursday](https://example.org/a "the schedule") with `nine`
delegations.

## Background

- first, a photo: ![the hall of the council](hall.jpg)
- second<br>item

> The statement was read out at noon.

```python
print("code keeps its text")
```

| Country | Delegates |
| --- | --- |
| Kyrgyzstan | 12 |

<div class="ad">An advert in raw HTML</div>
"""


def test_markup_is_gone_and_every_block_is_a_paragraph() -> None:
    assert read_markdown(ARTICLE.encode()).text.split("\n\n") == [
        "Council meets in Bishkek",
        "The 54th meeting opened on Thursday with nine delegations.",
        "Background",
        "first, a photo: the hall of the council",
        "second item",
        "The statement was read out at noon.",
        'print("code keeps its text")',
        "Country | Delegates",
        "Kyrgyzstan | 12",
    ]


def test_headings_stay_passages(tmp_path: Path) -> None:
    (tmp_path / "council.md").write_text(ARTICLE, encoding="utf-8")
    doc = read_document(tmp_path / "council.md", tmp_path)
    assert (doc.doc_id, doc.title, doc.lang) == ("council.md", "Council meets in Bishkek", "en")
    chunks = chunk_document(doc, lambda t: len(t.split()))
    # "Background" is short and capitalised: a photo caption to the plain-text rules, a heading
    # here.
    assert [c.text for c in chunks][:3] == [
        "Council meets in Bishkek",
        "The 54th meeting opened on Thursday with nine delegations.",
        "Background",
    ]
    assert len(chunks) == 9
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b'<div class="ad">only raw HTML</div>\n\n---\n', "no text besides markup"),
        ("# Заголовок\n\nТекст.".encode("cp1251"), "not valid UTF-8"),
    ],
    ids=["empty", "markup-only", "cp1251"],
)
def test_unreadable_markdown_is_refused(tmp_path: Path, data: bytes, reason: str) -> None:
    assert_refused(read_markdown, tmp_path, "bad.md", data, reason)


FRONT_MATTER = """---
title: "Совет руководителей органов безопасности"
date: 2024-10-04
language: KK
author: Press service
tags: [cis, security]
---
# Кеңес Бішкекте өтті

ТМД елдерінің қауіпсіздік органдары басшылары кеңесінің 54-ші отырысы Бішкекте өтті.
"""


def test_front_matter_is_metadata_not_text(tmp_path: Path) -> None:
    extracted = read_markdown(FRONT_MATTER.encode())
    assert extracted.text.split("\n\n")[0] == "Кеңес Бішкекте өтті"
    assert extracted.meta == {
        "title": "Совет руководителей органов безопасности",
        "date": "2024-10-04",
        "lang": "kk",
        "author": "Press service",
    }
    (tmp_path / "kk.md").write_text(FRONT_MATTER, encoding="utf-8")
    doc = read_document(tmp_path / "kk.md", tmp_path)
    # The given language wins over identification, and every passage inherits it.
    assert (doc.lang, doc.lang_given, doc.date) == ("kk", True, "2024-10-04")
    assert {c.lang for c in chunk_document(doc, lambda t: len(t.split()))} == {"kk"}


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("title: [a, b]", "front matter 'title' must be a string"),
        ("date: next week", "front matter 'date' is not an ISO date"),
        ("- just\n- a list", "malformed front matter: expected a mapping"),
        ("title: 'unclosed", "malformed front matter"),
    ],
    ids=["list-title", "bad-date", "not-a-mapping", "bad-yaml"],
)
def test_bad_front_matter_is_refused(tmp_path: Path, front: str, reason: str) -> None:
    data = f"---\n{front}\n---\n# Title\n\nSome text of the article.\n".encode()
    assert_refused(read_markdown, tmp_path, "bad.md", data, reason)

"""Passage roles and document context over the seeds' index."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embed.backends.factory import open_backend
from embed.indexing.rebuild import rebuild_index
from embed.models.encoder import Encoder
from embed.ranking.roles import PassageRoles
from embed.ranking.searcher import Searcher

EN_ARTICLE = "000_ede25ed87fc7c0a3"


def _row(searcher: Searcher, doc_id: str, paragraph: int) -> int:
    rows = searcher.backend.document_rows(doc_id)
    return next(r for r in rows if searcher.backend.chunk(r).paragraph == paragraph)


def test_titles_and_one_line_paragraphs_are_context_body_text_is_not(searcher: Searcher) -> None:
    roles = PassageRoles(searcher.backend, short_words=12)
    title, line, body = (_row(searcher, EN_ARTICLE, p) for p in (0, 2, 7))

    # 000#2: "The 54th meeting of the Council is taking place in Bishkek." (10 words)
    assert roles.context(np.array([title, line, body])).tolist() == [True, True, False]
    assert PassageRoles(searcher.backend, short_words=8).context(np.array([line])).tolist() == [
        False
    ]


def test_a_passage_another_one_repeats_is_context(tmp_path: Path, encoder: Encoder) -> None:
    # A lead made of the body's first sentence, as news pages repeat it above the article.
    lead = (
        "Heads of the security services of the CIS met in Astana on October 4 to discuss terrorism."
    )
    body = f"{lead} The meeting was chaired by the head of the national security committee."
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "astana.txt").write_text(f"CIS security chiefs meet\n\n{lead}\n\n{body}\n", "utf-8")
    rebuild_index(seeds, tmp_path / "vectors", encoder)
    backend = open_backend("local", tmp_path / "vectors")
    rows = backend.document_rows("astana")

    roles = PassageRoles(backend, short_words=0)

    assert [backend.chunk(r).paragraph for r in rows] == [0, 1, 2]
    assert roles.context(np.array(rows)).tolist() == [True, True, False]


def test_document_context_lifts_a_documents_passages_and_keeps_a_lone_one(
    searcher: Searcher,
) -> None:
    roles = PassageRoles(searcher.backend, short_words=12)
    rows = np.array([_row(searcher, EN_ARTICLE, 2), _row(searcher, EN_ARTICLE, 7),
                     _row(searcher, "002_9319827ac0fa4145", 1)])  # fmt: skip
    fused = np.array([10.0, 2.0, 5.0])

    blended = roles.document_context(fused, rows, weight=1.0)

    assert blended.tolist() == [10.0, 6.0, 5.0]


def test_the_translation_of_a_caption_is_context_too(searcher: Searcher) -> None:
    roles = PassageRoles(searcher.backend, short_words=12)
    # 001#2 says 000#2's ten words in fifteen: "В Бишкеке проходит 54-ое заседание Совета ..."
    caption = _row(searcher, "001_5bcb32c10d9a48df", 2)

    assert len(searcher.backend.chunk(caption).text.split()) > 12
    assert roles.context(np.array([caption])).tolist() == [True]

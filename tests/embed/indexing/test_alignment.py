"""Parallel passages: XQuAD-dev paragraph alignment and the hand-labelled seed pairs."""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
import pytest

from embed.evaluation.benchmarks import _read_xquad
from embed.indexing.alignment import Carried, align_parallel, carried_rows, find_candidates
from embed.models.encoder import Encoder, TextEncoder
from embed.ranking.searcher import Searcher
from embed.ranking.translations import counterparts
from embed.store.token_states import TokenStates
from tests.conftest import SHARED_DATA

EN, RU = "000_ede25ed87fc7c0a3", "001_5bcb32c10d9a48df"
# (English paragraph of 000, Russian paragraph of 001) that say the same thing; 001's paragraph
# 4 merges 000's 4 and 5. Russian paragraphs 5, 6, 7, 9 and 12 have no English counterpart.
SEED_PAIRS = {(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 4), (6, 8), (7, 11), (8, 10)}


@dataclass(frozen=True)
class XquadVectors:
    """XQuAD-dev's English paragraphs then their Russian translations, embedded once."""

    n: int
    primary: np.ndarray
    extra: list[np.ndarray]
    tokens: TokenStates

    def align(self, rows: np.ndarray, tokens: bool = True) -> list[list[tuple[int, float]]]:
        """Links among ``rows`` only (each its own document), as row numbers into ``rows``."""
        primary = self.primary[rows]
        index = faiss.IndexFlatIP(primary.shape[1])
        index.add(primary)
        langs = ["en" if row < self.n else "ru" for row in rows]
        states = TokenStates.pack([self.tokens[int(row)] for row in rows]) if tokens else None
        return align_parallel(
            langs, index, primary, [e[rows] for e in self.extra], [str(r) for r in rows], states
        )


@pytest.fixture(scope="module")
def xquad(encoder: Encoder, second: TextEncoder | None) -> XquadVectors:
    folder = SHARED_DATA / "xquad-dev"
    if not folder.is_dir():
        pytest.skip(f"benchmark data not found at {folder}")
    english, _ = _read_xquad(folder / "xquad-dev.en.json")
    russian, _ = _read_xquad(folder / "xquad-dev.ru.json")
    texts = english + russian
    primary, states = encoder.encode_passages_with_tokens(texts)
    extra = [second.encode_passages(texts)] if second is not None else []
    return XquadVectors(len(english), primary, extra, TokenStates.pack(states))


def test_xquad_paragraphs_align_with_their_translations(xquad: XquadVectors) -> None:
    n = xquad.n
    links = xquad.align(np.arange(2 * n))
    accuracy = np.mean([bool(links[i]) and links[i][0][0] == n + i for i in range(n)])
    wrong = sum(other != (i + n) % (2 * n) for i in range(2 * n) for other, _ in links[i])
    print(f"XQuAD-dev en<->ru paragraph alignment: accuracy {accuracy:.3f}, wrong links {wrong}")
    assert accuracy >= 0.95
    assert wrong <= 0.02 * n


def test_paragraphs_on_one_topic_are_not_taken_for_translations(xquad: XquadVectors) -> None:
    # XQuAD-mixed's layout: paragraph i in Russian when i is even, in English when odd, so no
    # paragraph has a translation and every link is wrong. Neighbouring paragraphs of one
    # Wikipedia article are close as wholes; the word-by-word check tells them apart.
    n = xquad.n
    rows = np.array([i + n if i % 2 == 0 else i for i in range(n)])
    wrong = sum(map(len, xquad.align(rows))) // 2
    without_check = sum(map(len, xquad.align(rows, tokens=False))) // 2
    print(f"XQuAD-dev mixed: {wrong} wrong links ({without_check} without the token check)")
    assert wrong <= 0.02 * n
    assert without_check > wrong


def test_seed_translations_precision_and_recall(searcher: Searcher) -> None:
    chunks = [stored.chunk for stored in searcher.backend.data.chunks]
    predicted = set()
    for row, chunk in enumerate(chunks):
        for translation in counterparts(searcher.backend, row):
            other = translation.chunk
            assert other.lang != chunk.lang
            if (chunk.doc_id, other.doc_id) == (EN, RU):
                predicted.add((chunk.paragraph, other.paragraph))
            elif (chunk.doc_id, other.doc_id) == (RU, EN):
                predicted.add((other.paragraph, chunk.paragraph))
    precision = len(predicted & SEED_PAIRS) / max(len(predicted), 1)
    recall = len(predicted & SEED_PAIRS) / len(SEED_PAIRS)
    print(f"000<->001 translations: precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.9
    assert recall >= 0.85


def test_results_carry_their_translation(searcher: Searcher) -> None:
    top = searcher.search("Bortnikov thanked Japarov for the warm welcome", k=1, lang="en")[0]
    assert (top.chunk.doc_id, top.chunk.paragraph) == (EN, 7)
    assert [(t.chunk.doc_id, t.chunk.paragraph) for t in top.translations] == [(RU, 11)]
    assert 0.5 < top.translations[0].score <= 1.0


def test_a_weak_link_between_unrelated_documents_is_dropped() -> None:
    # Two documents share one loose paraphrase (cosine 0.7, mutual best) and nothing else:
    # with documents given, the link goes; without, it stays.
    rng = np.random.default_rng(0)
    base = np.linalg.qr(rng.normal(size=(32, 6)))[0].T  # orthonormal rows
    twin = 0.7 * base[0] + np.sqrt(1 - 0.7**2) * base[5]
    vectors = np.vstack([base[:3], twin[None, :], base[3:5]]).astype(np.float32)
    langs = ["en", "en", "en", "ru", "ru", "ru"]
    docs = ["a", "a", "a", "b", "b", "b"]
    index = faiss.IndexFlatIP(32)
    index.add(vectors)
    assert align_parallel(langs, index, vectors)[0] == [(3, pytest.approx(0.7, abs=0.01))]
    assert align_parallel(langs, index, vectors, docs=docs)[0] == []


def _flat(vectors: np.ndarray) -> faiss.IndexFlatIP:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def test_a_rebuild_takes_over_the_candidates_a_full_search_would_find(
    xquad: XquadVectors, candidate_searches: list[int]
) -> None:
    # A live build of 200 XQuAD paragraphs in both languages; the next one loses 15 of them
    # and gains the other 40, placed among the rest. With an exact index the table taken over
    # must be the one a search of every chunk makes, and so must the links.
    rng = np.random.default_rng(7)
    order = rng.permutation(2 * xquad.n)
    old_rows = order[:200]
    kept = np.delete(old_rows, rng.choice(200, 15, replace=False))
    new_rows = np.insert(kept, rng.integers(0, len(kept), 40), order[200:])
    position = {int(row): i for i, row in enumerate(old_rows)}
    sources = np.array([position.get(int(row), -1) for row in new_rows])

    def parts(rows: np.ndarray) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
        langs = ["en" if row < xquad.n else "ru" for row in rows]
        return langs, xquad.primary[rows], [e[rows] for e in xquad.extra]

    old_langs, old_primary, _ = parts(old_rows)
    old_table = find_candidates(old_langs, _flat(old_primary), old_primary)
    langs, primary, extra = parts(new_rows)
    index = _flat(primary)
    full = find_candidates(langs, index, primary)
    candidate_searches.clear()
    carried = Carried(old_table, ["en", "ru"], carried_rows(sources, old_langs, langs))
    taken_over = find_candidates(langs, index, primary, carried)
    assert np.array_equal(taken_over, full)
    # The new chunks are searched, and the kept ones whose full list lost a chunk; not the rest.
    fresh = set(np.flatnonzero(sources < 0).tolist())
    assert fresh <= set(candidate_searches) and len(candidate_searches) < len(new_rows)
    docs = [str(row) for row in new_rows]
    assert align_parallel(langs, index, primary, extra, docs, candidates=taken_over) == (
        align_parallel(langs, index, primary, extra, docs)
    )


def test_rows_whose_language_changed_or_that_repeat_carry_nothing() -> None:
    sources = np.array([0, 1, 1, -1, 3])
    old_langs = ["en", "en", "ru", "ru"]
    new_langs = ["en", "en", "en", "ru", "en"]
    # Row 0 keeps its row; rows 1 and 2 share old row 1; old row 3 was Russian, new row 4 is not.
    assert carried_rows(sources, old_langs, new_langs).tolist() == [0, -1, -1, -1, -1]

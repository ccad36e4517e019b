"""The ONNX Runtime query path computes the same vectors as sentence-transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embed.config import EmbedSettings
from embed.encoder import Encoder
from embed.onnx_encoder import OnnxQueryEncoder, onnx_path, supports_onnx

ROOT = Path(__file__).resolve().parents[2]
MIN_COSINE = 0.999


def _seed_queries() -> list[str]:
    lines = (ROOT / "bench" / "queries" / "seeds.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["query"] for line in lines if line.strip() and line[0] != "#"]


@pytest.fixture(scope="module")
def onnx_encoder(encoder: Encoder, settings: EmbedSettings) -> OnnxQueryEncoder:
    folder = Path(encoder._target)
    return OnnxQueryEncoder(
        folder,
        onnx_path(settings.model_cache, encoder.checksum),
        encoder.prompts["query"],
        encoder.max_tokens,
        encoder.threads,
    )


def _torch_queries(encoder: Encoder, texts: list[str]) -> np.ndarray:
    """Query vectors through sentence-transformers, whatever the configured backend."""
    return np.asarray(
        encoder.model.encode(texts, prompt_name="query", normalize_embeddings=True),
        dtype=np.float32,
    )


def test_installed_default_model_is_supported(encoder: Encoder) -> None:
    assert supports_onnx(Path(encoder._target))


def test_folder_without_sentence_transformers_layout_is_not(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    assert not supports_onnx(tmp_path)


def test_seeds_queries_agree_with_sentence_transformers(
    encoder: Encoder, onnx_encoder: OnnxQueryEncoder
) -> None:
    queries = _seed_queries()
    reference = _torch_queries(encoder, queries)
    batched = onnx_encoder.encode(queries)
    one_by_one = np.concatenate([onnx_encoder.encode([q]) for q in queries])
    assert batched.dtype == np.float32 and batched.shape == reference.shape
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(batched * reference, axis=1))) >= MIN_COSINE
    assert float(np.min(np.sum(one_by_one * reference, axis=1))) >= MIN_COSINE


def test_over_long_query_is_truncated_like_sentence_transformers(
    encoder: Encoder, onnx_encoder: OnnxQueryEncoder
) -> None:
    long = " ".join(["The council met in Bishkek to discuss regional security."] * 120)
    cosine = float(onnx_encoder.encode([long])[0] @ _torch_queries(encoder, [long])[0])
    assert cosine >= MIN_COSINE


def test_encoder_uses_the_configured_backend(encoder: Encoder, settings: EmbedSettings) -> None:
    torch_only = Encoder(settings.model, settings.model_cache, query_backend="torch")
    assert torch_only.onnx is None
    onnx = Encoder(settings.model, settings.model_cache, query_backend="onnx")
    assert onnx.onnx is not None
    queries = _seed_queries()[:5]
    vectors = onnx.encode_queries(queries, batch_size=2)  # several ONNX batches, joined
    assert vectors.shape == (5, 384)
    assert float(np.min(np.sum(vectors * _torch_queries(encoder, queries), axis=1))) >= MIN_COSINE
    assert "model" not in onnx.__dict__, "ONNX queries must not load the torch model"

"""The ONNX Runtime paths (queries and passages) compute the same vectors as
sentence-transformers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from embed.models.encoder import Encoder
from embed.models.onnx_export import (
    onnx_path,
    prepare_graph,
    quantize_onnx,
    quantized_path,
    remove_stale_exports,
    supports_onnx,
)
from embed.models.onnx_runtime import TOKEN_BUDGET, OnnxEncoder, _batches
from embed.models.tokens import QuantisedTokens
from embed.settings import EmbedSettings, load_encoders

ROOT = Path(__file__).resolve().parents[3]
MIN_COSINE = 0.999
# int8 weights move a query vector a little; measured median 0.999 on the seeds queries, and
# at most 0.4 points of hit@1 on XQuAD-dev and Tatoeba with e5 alone (bench/RESULTS.md).
MIN_INT8_COSINE = 0.99


def _seed_queries() -> list[str]:
    lines = (ROOT / "bench" / "queries" / "seeds.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["query"] for line in lines if line.strip() and line[0] != "#"]


def _query_encoder(encoder: Encoder, settings: EmbedSettings, quantized: bool) -> OnnxEncoder:
    folder = Path(encoder._target)
    assert encoder.token_layer is not None
    graph = prepare_graph(
        folder, settings.model_cache, encoder.checksum, encoder.token_layer, quantized
    )
    return OnnxEncoder(folder, graph, encoder.prompts["query"], encoder.max_tokens, encoder.threads)


@pytest.fixture(scope="module")
def onnx_encoder(encoder: Encoder, settings: EmbedSettings) -> OnnxEncoder:
    return _query_encoder(encoder, settings, quantized=False)


@pytest.fixture(scope="module")
def int8_encoder(encoder: Encoder, settings: EmbedSettings) -> OnnxEncoder:
    return _query_encoder(encoder, settings, quantized=True)


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
    encoder: Encoder, onnx_encoder: OnnxEncoder
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
    encoder: Encoder, onnx_encoder: OnnxEncoder
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


def test_int8_queries_stay_close_to_sentence_transformers(
    encoder: Encoder, int8_encoder: OnnxEncoder
) -> None:
    queries = _seed_queries()
    vectors = int8_encoder.encode(queries)
    cosines = np.sum(vectors * _torch_queries(encoder, queries), axis=1)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(np.min(cosines)) >= MIN_INT8_COSINE
    # Quantized, not a copy of the fp32 graph: the vectors do move.
    assert float(np.min(cosines)) < 0.99999


def test_int8_graph_is_a_quarter_of_the_fp32_one_and_written_once(
    encoder: Encoder, settings: EmbedSettings, int8_encoder: OnnxEncoder
) -> None:
    int8_encoder.encode(["warm-up"])
    assert encoder.token_layer is not None
    fp32 = onnx_path(settings.model_cache, encoder.checksum, encoder.token_layer)
    int8 = int8_encoder.graph
    assert int8 == quantized_path(fp32)
    assert int8.is_file() and int8.stat().st_size < fp32.stat().st_size / 3
    before = int8.stat().st_mtime_ns
    assert quantize_onnx(fp32, int8) == int8
    assert int8.stat().st_mtime_ns == before, "an existing int8 graph must be reused"
    assert not list(int8.parent.glob(".tmp-*")), "no temporary file may be left behind"


def test_quantizing_prints_no_pre_processing_advice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A one-MatMul graph stands in for the export: onnxruntime gives the same advice for any
    # graph without its pre-processing, and quantizes this one in milliseconds.
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.eye(8, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")],
        "one_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [weights],
    )
    source = tmp_path / "one.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), source)
    with caplog.at_level(logging.WARNING):
        assert quantize_onnx(source, tmp_path / "one.int8.onnx").is_file()
    assert not [r for r in caplog.records if "pre-processing" in r.getMessage()]


def test_export_is_fused_one_attention_op_per_layer(onnx_encoder: OnnxEncoder) -> None:
    import onnx

    onnx_encoder.encode(["warm-up"])
    graph = onnx.load(str(onnx_encoder.graph), load_external_data=False).graph
    ops = [node.op_type for node in graph.node]
    config = json.loads((onnx_encoder.model_folder / "config.json").read_text())
    # Were the fusion to stop matching (a new exporter, a new attention code path), queries
    # would still be right but about 10% slower: this is where that shows.
    assert ops.count("Attention") == config["num_hidden_layers"]
    assert "Softmax" not in ops
    assert onnx_encoder.graph.name.endswith(".fused-tokens8.onnx")


@pytest.mark.parametrize("spin", [False, True])
def test_query_spin_setting_reaches_the_session(settings: EmbedSettings, spin: bool) -> None:
    encoder, _ = load_encoders(settings.model_copy(update={"query_spin": spin, "second_model": ""}))
    assert encoder.onnx is not None
    options = encoder.onnx.session.get_session_options()
    entry = options.get_session_config_entry("session.intra_op.allow_spinning")
    assert entry == str(int(spin))
    assert encoder.encode_queries(["Бортников"]).shape == (1, 384)


def test_quantized_file_name_names_the_recipe(tmp_path: Path) -> None:
    # A copy cached by other quantization settings must never be picked up as this one.
    assert quantized_path(tmp_path / "abc.onnx").name.startswith("abc.int8-")


def test_only_graphs_of_earlier_recipes_of_the_same_model_are_removed(tmp_path: Path) -> None:
    current = onnx_path(tmp_path, "a" * 64, 8)
    current.parent.mkdir()
    kept = [current, quantized_path(current), current.with_name("b" * 32 + ".fused.onnx")]
    stale = [
        current.with_name("a" * 32 + ".onnx"),
        current.with_name("a" * 32 + ".fused.onnx"),
        current.with_name("a" * 32 + ".fused.int8-u8pc-ffn32.onnx"),
        current.with_suffix(".int8-older.onnx"),
    ]
    for path in kept + stale:
        path.write_bytes(b"graph")
    assert sorted(remove_stale_exports(current)) == sorted(stale)
    assert sorted(current.parent.iterdir()) == sorted(kept)
    assert remove_stale_exports(current) == []


def test_preparing_the_graph_clears_the_stale_graphs_of_its_model(
    encoder: Encoder, settings: EmbedSettings, onnx_encoder: OnnxEncoder
) -> None:
    stale = onnx_encoder.graph.with_name(
        onnx_encoder.graph.name.split(".")[0] + ".recipe-of-last-year.onnx"
    )
    stale.write_bytes(b"graph")
    fresh = _query_encoder(encoder, settings, quantized=False)
    assert fresh.encode(["Бортников"]).shape == (1, 384)
    assert not stale.exists()
    assert onnx_encoder.graph.is_file()


def test_int8_backend_runs_the_quantized_graph(settings: EmbedSettings) -> None:
    int8 = Encoder(settings.model, settings.model_cache, query_backend="onnx-int8")
    assert int8.onnx is not None and int8.onnx.graph == quantized_path(
        onnx_path(settings.model_cache, int8.checksum, 8)
    )
    assert int8.encode_queries(["Бортников"]).shape == (1, 384)


def test_query_token_states_agree_with_sentence_transformers(
    settings: EmbedSettings, onnx_encoder: OnnxEncoder
) -> None:
    queries = _seed_queries()
    torch_only = Encoder(settings.model, settings.model_cache, query_backend="torch")
    _, reference = torch_only.encode_queries_with_tokens(queries)
    _, states = onnx_encoder.encode_with_tokens(queries)
    assert onnx_encoder.prompt_tokens == torch_only.prompt_tokens("query") == 3  # "▁que", "ry", ":"
    assert [len(s) for s in states] == [len(r) for r in reference]
    cosines = np.concatenate(
        [np.sum(s * r, axis=1) for s, r in zip(states, reference, strict=True)]
    )
    assert float(cosines.min()) >= MIN_COSINE


def test_onnx_passages_equal_sentence_transformers_in_input_order(encoder: Encoder) -> None:
    assert encoder.passage_onnx is not None, "the default settings embed passages on ONNX"
    long = " ".join(["Совет собрался в Бишкеке, чтобы обсудить региональную безопасность."] * 90)
    texts = [*_seed_queries()[:6], long, "Short.", _seed_queries()[0]]
    vectors, states = encoder.encode_passages_with_tokens(texts)
    reference, reference_states = encoder._encode(
        texts, "passage", 4, False, QuantisedTokens.quantise
    )
    assert vectors.shape == reference.shape
    assert float(np.abs(vectors - reference).max()) < 1e-5
    for ours, theirs in zip(states, reference_states, strict=True):
        assert ours.codes.shape == theirs.codes.shape
        a, b = ours.codes * ours.scales[:, None], theirs.codes * theirs.scales[:, None]
        assert float(np.min(np.sum(a * b, axis=1))) >= MIN_COSINE
    assert np.array_equal(encoder.encode_passages(texts), vectors)
    assert encoder.encode_passages([]).shape[0] == 0


def test_onnx_passages_need_no_torch_model(settings: EmbedSettings) -> None:
    fresh = Encoder(settings.model, settings.model_cache, passage_backend="onnx")
    assert fresh.dimension == 384
    assert fresh.count_tokens("Совет собрался в Бишкеке.") > 3
    fresh.encode_passages_with_tokens(["Совет собрался в Бишкеке."])
    assert "model" not in fresh.__dict__, "a build on ONNX must not load the torch model"


def test_batches_hold_the_token_budget_longest_first() -> None:
    lengths = [5, 300, 40, 40, 100, 10, 64, 64, 64, 64, 64]
    batches = _batches(lengths)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(len(lengths)))
    assert [lengths[r] for r in rows] == sorted(lengths, reverse=True)
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[r] for r in batch) <= TOKEN_BUDGET
    assert [len(b) for b in batches] == [1, 2, 4, 4]

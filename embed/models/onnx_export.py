"""The ONNX export of a model folder: made once with torch, fused, optionally quantized to int8.

The installed model folder (a ``BertModel`` with mean pooling and normalisation, see
:mod:`embed.models.install`) is exported once with ``torch.onnx.export`` into the model cache,
under a
name derived from the model's checksum and the recipe, and its attention, layer norms and GELU are
fused by ONNX Runtime's transformer optimizer. The graph returns the last hidden state and the
token states of the layer the late-interaction channel reads (:mod:`embed.models.tokens`). This
module is the only one that needs torch for ONNX; :mod:`embed.models.onnx_runtime` runs the graph
without it.

The int8 copy quantizes the export's weights to 8 bits (dynamic quantization, one scale per output
channel); only queries are quantized, passages stay fp32. What it costs is measured in
bench/RESULTS.md.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from embed.models.onnx_runtime import TOKENS_OUTPUT
from embed.util.files import replacing

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
_OPSET = 17
# Names how the export is made (see :func:`_fuse`, and the token-state output): an older export
# in the cache, made another way, is never mistaken for this one.
_EXPORT_RECIPE = "fused-tokens"
# Names the quantization settings of :func:`quantize_onnx`: a cached copy made with other
# settings is never mistaken for this one.
_INT8_RECIPE = "int8-u8pc-ffn32"
# The feed-forward output projection of each layer, as torch.onnx names it in BERT-family
# exports (the attention output projection is ".../attention/output/dense/MatMul").
_FFN_OUTPUT = re.compile(r"/layer\.\d+/output/dense/MatMul$")
# onnxruntime's advice, on the root logger, for a graph that has not been through its
# quantization pre-processing (shape inference and graph optimisation). The export is already
# optimised by onnxruntime's transformer optimiser (_fuse), and the int8 recipe was measured on
# that graph as it is (bench/RESULTS.md): the advice is not taken, so it is not printed either.
_PRE_PROCESS_ADVICE = "Please consider"


def onnx_path(cache_dir: Path, checksum: str, token_layer: int) -> Path:
    """Where the fp32 ONNX export of the model with ``checksum`` is kept."""
    return cache_dir / ONNX_DIR / f"{checksum[:32]}.{_EXPORT_RECIPE}{token_layer}.onnx"


def quantized_path(onnx_file: Path) -> Path:
    """Where the int8 copy of an fp32 export is kept: beside it, named by the recipe."""
    return onnx_file.with_suffix(f".{_INT8_RECIPE}.onnx")


def remove_stale_exports(onnx_file: Path) -> list[Path]:
    """Delete the graphs that earlier recipes made of the same model, beside ``onnx_file``.

    A change of :data:`_EXPORT_RECIPE` or :data:`_INT8_RECIPE` makes a new export under a new
    name; the old one, hundreds of megabytes, would otherwise stay in the cache for
    good. Graphs of other models (another checksum) are kept, as a user may switch back. A
    process still running an old graph is not disturbed: the file goes when it closes it.

    Args:
        onnx_file: The current fp32 export (see :func:`onnx_path`).

    Returns:
        The files deleted.
    """
    keep = {onnx_file.name, quantized_path(onnx_file).name}
    model = onnx_file.name.split(".", 1)[0]
    removed = []
    for path in onnx_file.parent.glob(f"{model}.*"):
        if path.name in keep or path.suffix != ".onnx":
            continue
        try:
            path.unlink()
        except FileNotFoundError:  # another process removed it first
            continue
        logger.info("removed %s, exported by an earlier recipe", path)
        removed.append(path)
    return removed


def export_onnx(model_folder: Path, target: Path, token_layer: int) -> Path:
    """Export the transformer of a sentence-transformers folder to ONNX, once.

    The graph takes ``input_ids`` and ``attention_mask`` (batch and sequence axes dynamic) and
    returns the last hidden state and the hidden state ``token_layer`` (0 = embeddings);
    pooling is done by the caller. Written to a temporary file beside ``target`` and renamed,
    so a half-written export is never used.

    Returns:
        ``target``.
    """
    if target.is_file():
        return target
    import torch
    from transformers import AutoModel

    logger.info("exporting %s to ONNX at %s", model_folder, target)
    # Eager attention exports as plain MatMul and Softmax nodes, the pattern :func:`_fuse` turns
    # into one Attention op per layer; the SDPA export does not fuse.
    model = AutoModel.from_pretrained(str(model_folder), attn_implementation="eager")
    model.eval()

    class Wrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            out = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
                output_hidden_states=True,
            )
            return out.last_hidden_state, out.hidden_states[token_layer]

    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    with replacing(target) as tmp, torch.no_grad(), warnings.catch_warnings():
        # The tracer warns that shape checks in the attention code become constants, and the
        # exporter that the position lookup becomes a gather; neither changes the function
        # (tests/embed/models/test_onnx.py compares other lengths and batch sizes with torch),
        # and a user running a first search should not read a dozen of them.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        # The TorchScript exporter is chosen on purpose (dynamo=False): it needs no onnxscript,
        # and its node names are the ones the int8 recipe excludes (_FFN_OUTPUT).
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            Wrapper(model),
            (ids, mask),
            str(tmp),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state", TOKENS_OUTPUT],
            dynamic_axes={
                name: {0: "batch", 1: "sequence"}
                for name in ("input_ids", "attention_mask", "last_hidden_state", TOKENS_OUTPUT)
            },
            opset_version=_OPSET,
            dynamo=False,
        )
        _fuse(tmp, model.config)
    return target


def _fuse(graph: Path, config: Any) -> None:
    """Rewrite an export in place with ONNX Runtime's transformer fusions.

    Attention, skip-connection layer norms and bias + GELU each become one op per layer: less
    time per query, with the same vectors (measured in docs/decisions.md, "Query backends and
    runtimes"). The embedding fusion stays off: it numbers positions from 0, which XLM-R-style
    models do not.
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_embed_layer_norm = False
    optimized = optimize_model(
        str(graph),
        model_type="bert",
        num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size,
        opt_level=0,
        optimization_options=options,
    )
    optimized.save_model_to_file(str(graph))


@contextmanager
def _without_root_message(prefix: str) -> Iterator[None]:
    """Drop records starting with ``prefix`` that are logged on the root logger meanwhile."""

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(prefix)

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def quantize_onnx(source: Path, target: Path) -> Path:
    """Write an int8 copy of the fp32 export ``source`` to ``target``, once.

    Dynamic quantization (weights to unsigned 8 bits with one scale per output channel,
    activations per call) of every MatMul and the embedding table, except the feed-forward
    output projections, whose activations carry the outliers that 8 bits clip. The recipe was
    chosen by its loss with e5 alone on XQuAD-dev and Tatoeba against quantizing every MatMul
    and ONNX Runtime's one scale per tensor (docs/decisions.md, "Quantisation"; its cost with
    the default ranking is in bench/RESULTS.md).

    Returns:
        ``target``.
    """
    if target.is_file():
        return target
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False)
    keep_fp32 = [
        node.name
        for node in graph.graph.node
        if node.op_type == "MatMul" and _FFN_OUTPUT.search(node.name)
    ]
    logger.info("quantizing %s to int8 at %s", source, target)
    with replacing(target) as tmp, _without_root_message(_PRE_PROCESS_ADVICE):
        quantize_dynamic(
            source,
            tmp,
            weight_type=QuantType.QUInt8,
            per_channel=True,
            nodes_to_exclude=keep_fp32,
            # ONNX shape inference cannot type the outputs of the fused ops (com.microsoft
            # domain); they are all float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return target


def prepare_graph(
    model_folder: Path, cache_dir: Path, checksum: str, token_layer: int, quantized: bool
) -> Path:
    """The graph to run queries on: exported (and quantized) on first use, earlier recipes'
    graphs of the same model removed.

    Args:
        model_folder: The sentence-transformers folder of the model.
        cache_dir: The model cache (graphs go to its ``onnx/`` folder).
        checksum: The model's checksum, which names its graphs.
        token_layer: The hidden state whose token states the graph returns besides the last.
        quantized: Return the int8 copy instead of the fp32 export.
    """
    fp32 = onnx_path(cache_dir, checksum, token_layer)
    graph = export_onnx(model_folder, fp32, token_layer)
    if quantized:
        graph = quantize_onnx(graph, quantized_path(graph))
    remove_stale_exports(fp32)
    return graph


def supports_onnx(folder: Path) -> bool:
    """Whether a model folder is one this module exports faithfully.

    That is a sentence-transformers folder of a BERT-family transformer with ``tokenizer.json``,
    followed by mean pooling and (optionally) normalisation, the layout of the installed default.
    """
    try:
        modules = json.loads((folder / "modules.json").read_text())
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        return False
    if modules[0].get("path", "") != "" or not (folder / "tokenizer.json").is_file():
        return False
    try:
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError):
        return False
    mean = pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens")
    return bool(mean) and config.get("model_type") in {"bert", "xlm-roberta"}

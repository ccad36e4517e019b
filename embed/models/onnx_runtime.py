"""Query embedding with ONNX Runtime: the same model as sentence-transformers, without torch.

Queries run an exported graph (:mod:`embed.models.onnx_export`) through ``onnxruntime`` with the
fast tokenizer, mean pooling and L2 normalisation in numpy: nothing here imports torch.

Passages keep the sentence-transformers path: the ONNX graph computes the same function (checked
against the torch vectors by tests/embed/models/test_onnx.py), so query vectors stay compatible
with an index built by torch. Runtimes compared: docs/decisions.md, "Query backends and runtimes".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from embed.models.install import ModelError
from embed.models.tokens import content_tokens, prompt_length
from embed.util.arrays import l2_normalise

# The graph's second output: the token states of the late-interaction layer.
TOKENS_OUTPUT = "token_states"


class OnnxQueryEncoder:
    """Embeds queries of one installed model with ONNX Runtime.

    Args:
        model_folder: The sentence-transformers folder (tokenizer.json, config, weights).
        graph: Its ONNX export, fp32 or int8 (see :func:`embed.models.onnx_export.prepare_graph`).
        prompt: Prefix added to every query (``"query: "`` for e5); its tokens are left out of
            the token states.
        max_tokens: Longest input, prompt and special tokens included.
        threads: ONNX Runtime intra-op threads.
        spin: Let the intra-op threads spin-wait after a run (ONNX Runtime's default). A lone
            query is answered sooner; under concurrent load, though, the spinning takes the
            cores the HTTP handling needs, and turning it off serves more queries per second
            (docs/benchmarks.md, bench/throughput.py).
    """

    def __init__(
        self,
        model_folder: Path,
        graph: Path,
        prompt: str,
        max_tokens: int,
        threads: int,
        spin: bool = True,
    ) -> None:
        self.model_folder = model_folder
        self.graph = graph
        self.prompt = prompt
        self.max_tokens = max_tokens
        self.threads = threads
        self.spin = spin

    @cached_property
    def session(self) -> Any:
        """The ONNX Runtime session."""
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelError(
                "query_backend 'onnx' needs onnxruntime: pip install onnxruntime"
            ) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", str(int(self.spin)))
        return ort.InferenceSession(str(self.graph), options, providers=["CPUExecutionProvider"])

    @cached_property
    def tokenizer(self) -> Any:
        """The model's fast tokenizer, truncating to ``max_tokens`` and padding to the batch."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_folder / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_tokens)
        config_path = self.model_folder / "tokenizer_config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        pad = config.get("pad_token", "<pad>")
        pad_id = tokenizer.token_to_id(pad)
        tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad)
        return tokenizer

    @cached_property
    def prompt_tokens(self) -> int:
        """How many tokens the prompt adds (counted with this tokenizer: the transformers one
        would import torch into a service that otherwise never needs it)."""
        return prompt_length(
            lambda text: len(self.tokenizer.encode(text, add_special_tokens=False).ids),
            self.prompt,
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors of ``texts`` (the prompt is added here)."""
        return self.encode_with_tokens(texts)[0]

    def encode_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The vectors of ``texts`` and each one's token states (see
        :func:`embed.models.tokens.content_tokens`), from one run of the graph."""
        encodings = self.tokenizer.encode_batch([self.prompt + t for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        special = np.array([e.special_tokens_mask for e in encodings], dtype=bool)
        hidden, states = self.session.run(
            ["last_hidden_state", TOKENS_OUTPUT], {"input_ids": ids, "attention_mask": mask}
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        vectors = np.ascontiguousarray(l2_normalise(pooled), dtype=np.float32)
        return vectors, content_tokens(states, (mask > 0) & ~special, self.prompt_tokens)

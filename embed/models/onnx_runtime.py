"""Embedding with ONNX Runtime: the same model as sentence-transformers, without torch.

Queries and passages run an exported graph (:mod:`embed.models.onnx_export`) through
``onnxruntime`` with the fast tokenizer, mean pooling and L2 normalisation in numpy: nothing here
imports torch. The graph computes the same function as the torch model (checked against the
torch vectors by tests/embed/models/test_onnx.py), so vectors of either path go in one index.
Runtimes compared: docs/decisions.md, "Query backends and runtimes".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from embed.models.install import ModelError
from embed.models.tokens import content_tokens, prompt_length
from embed.util.arrays import l2_normalise

# The graph's second output: the token states of the late-interaction layer.
TOKENS_OUTPUT = "token_states"
# Tokens per batch (texts x longest text) when many texts are embedded: on a CPU, small batches
# of texts of similar length keep the attention's working set in cache and waste no padding
# (bench/build.py measures the choice).
TOKEN_BUDGET = 256

_Kept = TypeVar("_Kept")


class OnnxEncoder:
    """Embeds queries or passages of one installed model with ONNX Runtime.

    Args:
        model_folder: The sentence-transformers folder (tokenizer.json, config, weights).
        graph: Its ONNX export, fp32 or int8 (see :func:`embed.models.onnx_export.prepare_graph`).
        prompt: Prefix added to every text (``"query: "`` or ``"passage: "`` for e5); its
            tokens are left out of the token states.
        max_tokens: Longest input, prompt and special tokens included.
        threads: ONNX Runtime intra-op threads (per call: :meth:`encode_many` makes several
            calls at once).
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
                "the 'onnx' backends need onnxruntime: pip install onnxruntime"
            ) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", str(int(self.spin)))
        return ort.InferenceSession(str(self.graph), options, providers=["CPUExecutionProvider"])

    @cached_property
    def tokenizer(self) -> Any:
        """The model's fast tokenizer, truncating to ``max_tokens`` (batches are padded here)."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_folder / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.no_padding()
        return tokenizer

    @cached_property
    def pad_id(self) -> int:
        """The id of the padding token."""
        config_path = self.model_folder / "tokenizer_config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        found = self.tokenizer.token_to_id(config.get("pad_token", "<pad>"))
        return 0 if found is None else int(found)

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
        return self._run(self._tokenize(texts))

    def _tokenize(self, texts: Sequence[str]) -> list[Any]:
        return list(self.tokenizer.encode_batch([self.prompt + t for t in texts]))

    def _run(self, encodings: Sequence[Any]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors and token states of tokenized texts, padded to the longest of them."""
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        special = np.zeros((len(encodings), width), dtype=bool)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            ids[row, :length] = encoding.ids
            mask[row, :length] = 1
            special[row, :length] = encoding.special_tokens_mask
        hidden, states = self.session.run(
            ["last_hidden_state", TOKENS_OUTPUT], {"input_ids": ids, "attention_mask": mask}
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        vectors = np.ascontiguousarray(l2_normalise(pooled), dtype=np.float32)
        return vectors, content_tokens(states, (mask > 0) & ~special, self.prompt_tokens)

    def encode_many(
        self,
        texts: Sequence[str],
        keep: Callable[[np.ndarray], _Kept],
        *,
        workers: int = 1,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[_Kept]]:
        """Vectors of many texts and what ``keep`` makes of each one's token states.

        The texts are sorted by length and cut into batches of at most :data:`TOKEN_BUDGET`
        tokens (one text when it is longer), which ``workers`` threads run at once on the one
        session: with one intra-op thread per call, each core works on a batch of its own
        instead of waiting for the others at every layer.

        Args:
            texts: The texts (the prompt is added here).
            keep: Applied to each text's ``(tokens, dim)`` token states as its batch is done,
                so that only what it keeps outlives the batch.
            workers: Batches run at once.
            progress: Show a progress bar.
        """
        from tqdm.auto import tqdm

        encodings = self._tokenize(texts)
        batches = _batches([len(e.ids) for e in encodings])

        def run(rows: np.ndarray) -> tuple[np.ndarray, list[_Kept]]:
            part, states = self._run([encodings[i] for i in rows])
            return part, [keep(state) for state in states]

        with ThreadPoolExecutor(max(1, workers)) as pool:
            done = list(
                tqdm(
                    pool.map(run, batches), total=len(batches), desc="Batches", disable=not progress
                )
            )
        if not done:
            return np.zeros((0, 0), dtype=np.float32), []
        order = np.concatenate(batches)
        vectors = np.empty((len(texts), done[0][0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate([part for part, _ in done])
        kept: list[_Kept] = [None] * len(texts)  # type: ignore[list-item]
        states = (state for _, part_states in done for state in part_states)
        for row, state in zip(order.tolist(), states, strict=True):
            kept[row] = state
        return vectors, kept


def _batches(lengths: Sequence[int]) -> list[np.ndarray]:
    """Rows of texts of ``lengths`` tokens, longest first, in groups of at most
    :data:`TOKEN_BUDGET` tokens (one text alone when it is longer)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches, start = [], 0
    while start < len(order):
        size = max(1, TOKEN_BUDGET // lengths[order[start]])
        batches.append(order[start : start + size])
        start += size
    return batches

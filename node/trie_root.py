"""Roots of the per-block ordered tries (transactions, receipts) built in one pass.

py-evm builds these tries by inserting keys one at a time into a ``HexaryTrie`` that writes every
intermediate node to a database, then recomputes the transactions root to validate the block:
for a 1,000-transaction block that was half of all the time spent sealing. The node never reads
these tries back (bodies and receipts are stored as records), so only the root is needed, and it
can be built bottom-up from the sorted keys as the yellow paper defines it (execution-specs
``trie.py`` ``patricialize`` takes the same approach).
"""

from __future__ import annotations

from collections.abc import Sequence

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_hash.auto import keccak

from node.trie_codec import encode_bytes, encode_list

HASH_THRESHOLD = 32
"""A child node whose RLP is shorter than this is embedded in its parent rather than hashed."""

EMPTY = encode_bytes(b"")
"""An absent child of a branch node."""


def _nibbles(key: bytes) -> bytes:
    out = bytearray()
    for byte in key:
        out.append(byte >> 4)
        out.append(byte & 0x0F)
    return bytes(out)


def _hex_prefix(nibbles: bytes, is_leaf: bool) -> bytes:
    """Yellow paper appendix C: flag nibble, optional pad, then the path packed in bytes."""
    flag = 2 if is_leaf else 0
    if len(nibbles) % 2:
        packed = bytes([(flag + 1) << 4 | nibbles[0]])
        rest = nibbles[1:]
    else:
        packed = bytes([flag << 4])
        rest = nibbles
    return packed + bytes(rest[i] << 4 | rest[i + 1] for i in range(0, len(rest), 2))


def _reference(encoded: bytes) -> bytes:
    """How a parent refers to a child node, as RLP: embedded when short, by hash otherwise."""
    if len(encoded) < HASH_THRESHOLD:
        return encoded
    return encode_bytes(keccak(encoded))


def _build(items: list[tuple[bytes, bytes]], level: int) -> bytes:
    """The RLP of the node for ``items`` (sorted by key, non-empty, all sharing
    ``key[:level]``), written directly: pyrlp's per-item sedes inference was most of the time."""
    if len(items) == 1:
        key, value = items[0]
        return encode_list(encode_bytes(_hex_prefix(key[level:], True)) + encode_bytes(value))
    first = items[0][0]
    shortest = min(len(key) for key, _ in items)
    prefix = 0
    while level + prefix < shortest and all(
        key[level + prefix] == first[level + prefix] for key, _ in items
    ):
        prefix += 1
    if prefix:
        child = _build(items, level + prefix)
        path = encode_bytes(_hex_prefix(first[level : level + prefix], False))
        return encode_list(path + _reference(child))
    branches: list[list[tuple[bytes, bytes]]] = [[] for _ in range(16)]
    value = b""
    for key, item_value in items:
        if len(key) == level:
            value = item_value
        else:
            branches[key[level]].append((key, item_value))
    children = b"".join(
        _reference(_build(branch, level + 1)) if branch else EMPTY for branch in branches
    )
    return encode_list(children + encode_bytes(value))


def ordered_trie_root(encoded_items: Sequence[bytes]) -> bytes:
    """Root of the trie mapping ``rlp(index)`` to ``encoded_items[index]``."""
    if not encoded_items:
        return BLANK_ROOT_HASH
    items = sorted(
        (_nibbles(rlp.encode(index)), value) for index, value in enumerate(encoded_items)
    )
    return keccak(_build(items, 0))

"""The small part of RLP that trie nodes need, without pyrlp's per-item sedes inference.

A trie node is a list of byte strings and (embedded) nodes. pyrlp infers a sedes for every item
it encodes and builds a decoder frame per item; for the batched account-trie update
(``node.account_trie``) that was three quarters of the time. These functions produce and accept
exactly canonical RLP (the same bytes as ``rlp.encode``; ``decode`` inverts it), which is all
the trie databases hold.
"""

from __future__ import annotations

from typing import Any


def length_prefix(length: int, offset: int) -> bytes:
    """RLP's header for a payload of ``length`` bytes (``offset`` 0x80 strings, 0xC0 lists)."""
    if length < 56:
        return bytes([offset + length])
    encoded_length = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(encoded_length)]) + encoded_length


def encode_bytes(value: bytes) -> bytes:
    """RLP of a byte string: a single byte below 0x80 is its own encoding."""
    if len(value) == 1 and value[0] < 0x80:
        return value
    return length_prefix(len(value), 0x80) + value


def encode_list(payload: bytes) -> bytes:
    """RLP of a list whose items' encodings, concatenated, are ``payload``."""
    return length_prefix(len(payload), 0xC0) + payload


def decode(data: bytes) -> Any:
    """The byte string or nested list that ``data`` encodes; ``ValueError`` if malformed."""
    item, end = _decode_item(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after an RLP item")
    return item


def _decode_item(data: bytes, position: int) -> tuple[Any, int]:
    first = data[position]
    if first < 0x80:
        return data[position : position + 1], position + 1
    if first < 0xB8:
        start, length = position + 1, first - 0x80
    elif first < 0xC0:
        start = position + 1 + first - 0xB7
        length = int.from_bytes(data[position + 1 : start], "big")
    elif first < 0xF8:
        start, length = position + 1, first - 0xC0
    else:
        start = position + 1 + first - 0xF7
        length = int.from_bytes(data[position + 1 : start], "big")
    end = start + length
    if end > len(data):
        raise ValueError("RLP item runs past the end of its data")
    if first < 0xC0:
        return data[start:end], end
    items = []
    while start < end:
        item, start = _decode_item(data, start)
        items.append(item)
    if start != end:
        raise ValueError("RLP list items run past the list")
    return items, end

"""Channels: a sequence of batches, compressed together so that repeats across blocks are found.

Format::

    channel   = version (1 byte) || body
    version 0 : body = zlib(batch_item*)          (RFC 1950: deflate + Adler-32)
    batch_item = uvarint(len(batch)) || batch     (batch = type byte || type-specific bytes)

zlib rather than brotli: it is in every Python, and on our data the difference is small because
the bytes that remain after the columnar layout are signatures, which nothing compresses. The
version byte leaves room for another compressor later. Decompression is bounded
(:data:`MAX_DECOMPRESSED_BYTES`): anyone can post a channel, and 100 kB of zeros inflate to
100 MB.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence

from openledger.batch.exceptions import BatchDecodeError, BatchEncodeError
from openledger.batch.singular import SINGULAR_BATCH_TYPE, Batch, decode_singular
from openledger.batch.span import SPAN_BATCH_TYPE, SpanBatch, decode_span
from openledger.batch.wire import Reader, write_uvarint

CHANNEL_VERSION_ZLIB = 0
CHANNEL_ID_BYTES = 16
MAX_DECOMPRESSED_BYTES = 10_000_000
"""OP's pre-Fjord ``MAX_RLP_BYTES_PER_CHANNEL``: the most a channel may inflate to."""
COMPRESSION_LEVEL = 9


def new_channel_id() -> bytes:
    """16 random bytes: unpredictable, so nobody can pre-post frames into a future channel."""
    return os.urandom(CHANNEL_ID_BYTES)


def join_batches(encoded: Sequence[bytes]) -> bytes:
    """The uncompressed channel content: each encoded batch behind its varint length."""
    out = bytearray()
    for batch in encoded:
        write_uvarint(out, len(batch))
        out += batch
    return bytes(out)


def compress_channel(content: bytes) -> bytes:
    """Version byte and zlib stream of :func:`join_batches` output."""
    if len(content) > MAX_DECOMPRESSED_BYTES:
        raise BatchEncodeError(
            f"channel content of {len(content)} bytes exceeds what readers accept"
        )
    return bytes([CHANNEL_VERSION_ZLIB]) + zlib.compress(content, COMPRESSION_LEVEL)


def decompress_channel(data: bytes, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Inflate at most ``max_bytes``; a stream that wants more is refused, not expanded."""
    if not data:
        raise BatchDecodeError("empty channel")
    if data[0] != CHANNEL_VERSION_ZLIB:
        raise BatchDecodeError(f"unknown channel version {data[0]}")
    inflater = zlib.decompressobj()
    try:
        content = inflater.decompress(data[1:], max_bytes)
    except zlib.error as exc:
        raise BatchDecodeError(f"bad compressed channel: {exc}") from exc
    if not inflater.eof:
        if len(content) >= max_bytes:
            raise BatchDecodeError(f"channel inflates beyond {max_bytes} bytes")
        raise BatchDecodeError("truncated compressed channel")
    if inflater.unused_data:
        raise BatchDecodeError(f"{len(inflater.unused_data)} bytes after the compressed channel")
    return content


def decode_batch(encoded: bytes, chain_id: int) -> Batch | SpanBatch:
    if not encoded:
        raise BatchDecodeError("empty batch")
    if encoded[0] == SINGULAR_BATCH_TYPE:
        return decode_singular(encoded[1:], chain_id)
    if encoded[0] == SPAN_BATCH_TYPE:
        return decode_span(encoded[1:], chain_id)
    raise BatchDecodeError(f"unknown batch type {encoded[0]}")


def decode_channel(
    data: bytes, chain_id: int, max_bytes: int = MAX_DECOMPRESSED_BYTES
) -> list[Batch | SpanBatch]:
    """Every batch of a complete channel, or :class:`BatchDecodeError`: never a part of it, so
    a verifier never applies the first half of a channel whose second half is garbage."""
    reader = Reader(decompress_channel(data, max_bytes))
    batches: list[Batch | SpanBatch] = []
    while reader.remaining:
        batches.append(
            decode_batch(reader.read(reader.read_uvarint("batch length"), "batch"), chain_id)
        )
    if not batches:
        raise BatchDecodeError("channel without batches")
    return batches

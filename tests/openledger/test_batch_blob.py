"""The blob codec (OP Stack's version-0 encoding) and the KZG check of a blob's versioned hash."""

from __future__ import annotations

import hashlib
import random

import pytest

from openledger.batch import BatchReader, ChannelOut
from openledger.batch.blob import (
    BLOB_SIZE,
    MAX_BLOB_DATA_SIZE,
    BlobDecodeError,
    blob_versioned_hash,
    decode_blob,
    encode_blob,
    kzg_commitment,
    verify_blob,
)
from openledger.batch.singular import Batch
from openledger.batch.transactions import TxFields, encode_transaction

CHAIN_ID = 901


def blocks(count: int) -> list[Batch]:
    """Blocks whose transactions carry incompressible data (so a channel needs several blobs)."""
    rng = random.Random(7)

    def tx(nonce: int) -> bytes:
        r, s = (int.from_bytes(rng.randbytes(32)) % 2**255 + 1 for _ in range(2))
        fields = TxFields(
            0, CHAIN_ID, nonce, (10**9,), 100_000, b"\x33" * 20, 0, rng.randbytes(700), b"", 1, r, s
        )
        return encode_transaction(fields)

    return [
        Batch(bytes(32), 1, bytes([1]) * 32, 2 * n, (tx(2 * n), tx(2 * n + 1)))
        for n in range(count)
    ]


def data_of(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def test_max_blob_data_size_is_ops() -> None:
    assert MAX_BLOB_DATA_SIZE == (4 * 31 + 3) * 1024 - 4 == 130_044
    assert BLOB_SIZE == 4096 * 32


@pytest.mark.parametrize(
    "size", [0, 1, 26, 27, 28, 31, 32, 123, 124, 127, 128, 1000, 65_536, MAX_BLOB_DATA_SIZE]
)
def test_round_trip(size: int) -> None:
    data = data_of(size, size)
    blob = encode_blob(data)
    assert len(blob) == BLOB_SIZE
    assert decode_blob(blob) == data


def test_all_ones_round_trip_keeps_field_elements_canonical() -> None:
    data = b"\xff" * MAX_BLOB_DATA_SIZE
    blob = encode_blob(data)
    assert all(blob[i] & 0xC0 == 0 for i in range(0, BLOB_SIZE, 32))
    assert decode_blob(blob) == data


def test_layout_of_the_first_field_element() -> None:
    """Version 0 in byte 1, the length (uint24 BE) in bytes 2-4, then the data (op-service's
    ``Blob.FromData``)."""
    blob = encode_blob(b"hello")
    assert blob[:10] == bytes([0, 0, 0, 0, 5]) + b"hello"
    assert not any(blob[10:])


def test_the_spread_bytes_of_a_round() -> None:
    """Bytes 27, 59 and 91 of the data (the stream's 31st, 63rd, 95th of round 0) land in the
    first bytes of field elements 0-3, 6 bits each."""
    data = bytearray(124)
    data[27], data[59], data[91] = 0b1100_0001, 0b1010_0101, 0b1000_0011
    blob = encode_blob(bytes(data))
    x, y, z = data[27], data[59], data[91]
    assert blob[0] == x & 0x3F
    assert blob[32] == (y & 0x0F) | ((x & 0xC0) >> 2)
    assert blob[64] == z & 0x3F
    assert blob[96] == ((z & 0xC0) >> 2) | ((y & 0xF0) >> 4)
    assert decode_blob(blob) == bytes(data)


def test_too_large_data_is_refused() -> None:
    with pytest.raises(ValueError, match="do not fit a blob"):
        encode_blob(bytes(MAX_BLOB_DATA_SIZE + 1))


def _set(blob: bytes, index: int, value: int) -> bytes:
    changed = bytearray(blob)
    changed[index] = value
    return bytes(changed)


GOOD = encode_blob(data_of(5000))


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (GOOD[:-1], "blob of 131071 bytes"),
        (GOOD + b"\x00", "blob of 131073 bytes"),
        (b"", "blob of 0 bytes"),
        (_set(GOOD, 1, 1), "unknown blob encoding version 1"),
        (_set(_set(GOOD, 2, 0x02), 3, 0x00), "exceeds 130044"),
        (_set(GOOD, 0, 0x40), "field element 0: top bits set"),
        (_set(GOOD, 32 * 7, 0x80), "field element 7: top bits set"),
        (_set(GOOD, BLOB_SIZE - 1, 1), "non-zero field elements after the blob data"),
        (_set(GOOD, 32 * 157 + 25, 1), "non-zero bytes after the blob data"),
        (b"\xff" * BLOB_SIZE, "unknown blob encoding version 255"),
    ],
)
def test_malformed_blobs_are_refused(blob: bytes, message: str) -> None:
    with pytest.raises(BlobDecodeError, match=message):
        decode_blob(blob)


def test_length_shorter_than_the_data_is_refused() -> None:
    """A length field that cuts the data short leaves non-zero bytes after it."""
    blob = _set(GOOD, 4, (5000 - 10) & 0xFF)
    blob = _set(blob, 3, ((5000 - 10) >> 8) & 0xFF)
    with pytest.raises(BlobDecodeError, match="non-zero bytes after"):
        decode_blob(blob)


def test_every_single_byte_flip_of_the_header_is_an_error_or_other_data() -> None:
    for index in range(0, 160):
        for value in (0x01, 0x3F, 0x80, 0xFF):
            blob = _set(GOOD, index, GOOD[index] ^ value)
            try:
                data = decode_blob(blob)
            except BlobDecodeError:
                continue
            assert data != data_of(5000)


def test_versioned_hash_is_sha256_of_the_commitment_with_version_1() -> None:
    blob = encode_blob(b"\x00frames")
    commitment = kzg_commitment(blob)
    assert len(commitment) == 48
    expected = b"\x01" + hashlib.sha256(commitment).digest()[1:]
    assert blob_versioned_hash(blob) == expected
    assert verify_blob(blob, expected)
    assert not verify_blob(encode_blob(b"\x00other"), expected)
    assert not verify_blob(b"\xff" * BLOB_SIZE, expected)  # not field elements: no crash
    assert not verify_blob(b"short", expected)


def test_zero_blob_has_the_known_commitment() -> None:
    """The point at infinity: the commitment of the all-zero blob."""
    assert kzg_commitment(bytes(BLOB_SIZE)) == b"\xc0" + bytes(47)


def test_a_channel_in_blobs_reads_like_calldata() -> None:
    """Payloads cut to a blob's size, carried in blobs, decoded and read by the channel bank:
    the same batches as the blocks that went in."""
    out = ChannelOut(CHAIN_ID)
    sealed = blocks(200)
    for block in sealed:
        out.add_block(block)
    payloads = out.payloads(MAX_BLOB_DATA_SIZE)
    assert len(payloads) >= 2
    assert max(len(p) for p in payloads) == MAX_BLOB_DATA_SIZE
    blobs = [encode_blob(payload) for payload in payloads]
    result = BatchReader(CHAIN_ID).add_l1_block(5, [decode_blob(blob) for blob in blobs])
    assert not result.drops
    (channel,) = result.channels
    (span,) = channel.batches
    assert [b.transactions for b in span.blocks] == [b.transactions for b in sealed]

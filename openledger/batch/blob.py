"""EIP-4844 blobs: how batcher payloads ride in them, and how a blob is checked against L1.

Encoding (OP Stack's, version 0): a blob is 4096 field elements of 32 bytes. The top two bits
of every field element's first byte stay zero (so each is below the BLS modulus); the other
254 bits carry data. Data is read in 1024 rounds of 127 bytes, each written to 4 field
elements: ``31 bytes | x | 31 bytes | y | 31 bytes | z | 31 bytes`` becomes the four elements'
last 31 bytes, and the 24 bits of ``x, y, z`` are spread over their first bytes, 6 bits each::

    fe0[0] = x & 0x3f
    fe1[0] = (y & 0x0f) | ((x & 0xc0) >> 2)
    fe2[0] = z & 0x3f
    fe3[0] = ((z & 0xc0) >> 2) | ((y & 0xf0) >> 4)

The byte stream of round 0 starts with the encoding version (``0``) and the data length
(uint24 big-endian), so a blob carries at most :data:`MAX_BLOB_DATA_SIZE` = 130,044 bytes.
Everything after the data must be zero. The data is exactly a calldata payload
(``derivation_version || frame+``), and is read the same way.

A blob is tied to its transaction by a versioned hash: ``0x01 || sha256(commitment)[1:]``
where ``commitment`` is the blob's KZG commitment. :func:`verify_blob` recomputes it (ckzg,
with the mainnet trusted setup that eth-account ships), so a blob from an untrusted source
(a beacon node, anvil) is only used if it is the one the transaction committed to.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import ckzg

from openledger.batch.exceptions import BatchDecodeError

FIELD_ELEMENTS_PER_BLOB = 4096
BYTES_PER_FIELD_ELEMENT = 32
BLOB_SIZE = FIELD_ELEMENTS_PER_BLOB * BYTES_PER_FIELD_ELEMENT
ROUNDS = FIELD_ELEMENTS_PER_BLOB // 4
BYTES_PER_ROUND = 4 * 31 + 3
HEADER_BYTES = 4
"""Encoding version (1) and data length (3), at the start of round 0's byte stream."""
MAX_BLOB_DATA_SIZE = ROUNDS * BYTES_PER_ROUND - HEADER_BYTES
ENCODING_VERSION = 0
VERSIONED_HASH_VERSION_KZG = 0x01
BLOB_GAS_PER_BLOB = 1 << 17


class BlobDecodeError(BatchDecodeError):
    """A blob that is not a valid version-0 encoding."""


def encode_blob(data: bytes) -> bytes:
    """``data`` (at most :data:`MAX_BLOB_DATA_SIZE` bytes) as one blob."""
    if len(data) > MAX_BLOB_DATA_SIZE:
        raise ValueError(f"{len(data)} bytes do not fit a blob (at most {MAX_BLOB_DATA_SIZE})")
    stream = bytes([ENCODING_VERSION]) + len(data).to_bytes(3, "big") + data
    blob = bytearray(BLOB_SIZE)
    rounds = -(-len(stream) // BYTES_PER_ROUND)
    stream += bytes(rounds * BYTES_PER_ROUND - len(stream))
    for r in range(rounds):
        chunk = stream[r * BYTES_PER_ROUND : (r + 1) * BYTES_PER_ROUND]
        x, y, z = chunk[31], chunk[63], chunk[95]
        base = r * 4 * BYTES_PER_FIELD_ELEMENT
        blob[base] = x & 0x3F
        blob[base + 1 : base + 32] = chunk[0:31]
        blob[base + 32] = (y & 0x0F) | ((x & 0xC0) >> 2)
        blob[base + 33 : base + 64] = chunk[32:63]
        blob[base + 64] = z & 0x3F
        blob[base + 65 : base + 96] = chunk[64:95]
        blob[base + 96] = ((z & 0xC0) >> 2) | ((y & 0xF0) >> 4)
        blob[base + 97 : base + 128] = chunk[96:127]
    return bytes(blob)


def decode_blob(blob: bytes) -> bytes:
    """The data of a version-0 blob, or :class:`BlobDecodeError` (never another exception)."""
    if len(blob) != BLOB_SIZE:
        raise BlobDecodeError(f"blob of {len(blob)} bytes, not {BLOB_SIZE}")
    if blob[1] != ENCODING_VERSION:
        raise BlobDecodeError(f"unknown blob encoding version {blob[1]}")
    length = int.from_bytes(blob[2:5], "big")
    if length > MAX_BLOB_DATA_SIZE:
        raise BlobDecodeError(f"blob data length {length} exceeds {MAX_BLOB_DATA_SIZE}")
    rounds = -(-(length + HEADER_BYTES) // BYTES_PER_ROUND)
    stream = bytearray(rounds * BYTES_PER_ROUND)
    for r in range(rounds):
        base = r * 4 * BYTES_PER_FIELD_ELEMENT
        firsts = blob[base : base + 128 : 32]
        for index, first in enumerate(firsts):
            if first & 0xC0:
                raise BlobDecodeError(f"field element {r * 4 + index}: top bits set")
        a, b, c, d = firsts
        out = r * BYTES_PER_ROUND
        stream[out : out + 31] = blob[base + 1 : base + 32]
        stream[out + 31] = (a & 0x3F) | ((b & 0x30) << 2)
        stream[out + 32 : out + 63] = blob[base + 33 : base + 64]
        stream[out + 63] = (b & 0x0F) | ((d & 0x0F) << 4)
        stream[out + 64 : out + 95] = blob[base + 65 : base + 96]
        stream[out + 95] = (c & 0x3F) | ((d & 0x30) << 2)
        stream[out + 96 : out + 127] = blob[base + 97 : base + 128]
    end = HEADER_BYTES + length
    if any(stream[end:]):
        raise BlobDecodeError("non-zero bytes after the blob data")
    if any(blob[rounds * 4 * BYTES_PER_FIELD_ELEMENT :]):
        raise BlobDecodeError("non-zero field elements after the blob data")
    return bytes(stream[HEADER_BYTES:end])


def blobs_for(payloads: list[bytes]) -> list[bytes]:
    """One blob per payload (a payload is cut to fit one blob by the batcher)."""
    return [encode_blob(payload) for payload in payloads]


# -- KZG -------------------------------------------------------------------------------------


@functools.cache
def trusted_setup() -> Any:
    """The KZG ceremony's setup, loaded once (about 1.5 s)."""
    from eth_account.typed_transactions.base import TRUSTED_SETUP

    return ckzg.load_trusted_setup(TRUSTED_SETUP, 0)


def kzg_commitment(blob: bytes) -> bytes:
    return bytes(ckzg.blob_to_kzg_commitment(blob, trusted_setup()))


def kzg_proof(blob: bytes, commitment: bytes) -> bytes:
    return bytes(ckzg.compute_blob_kzg_proof(blob, commitment, trusted_setup()))


def versioned_hash(commitment: bytes) -> bytes:
    return bytes([VERSIONED_HASH_VERSION_KZG]) + hashlib.sha256(commitment).digest()[1:]


def blob_versioned_hash(blob: bytes) -> bytes:
    """The versioned hash a transaction carrying ``blob`` commits to; ``ValueError`` if the
    bytes are not a blob (wrong size, a field element not below the modulus)."""
    if len(blob) != BLOB_SIZE:
        raise ValueError(f"blob of {len(blob)} bytes, not {BLOB_SIZE}")
    try:
        return versioned_hash(kzg_commitment(blob))
    except RuntimeError as exc:  # ckzg: C_KZG_BADARGS for a non-canonical field element
        raise ValueError(f"not a valid blob: {exc}") from exc


def verify_blob(blob: bytes, expected: bytes) -> bool:
    """Whether ``blob`` is the blob of versioned hash ``expected``."""
    try:
        return blob_versioned_hash(blob) == expected
    except ValueError:
        return False

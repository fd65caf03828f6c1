"""Sender recovery from a transaction's own bytes: the signing hash sliced, not re-encoded.

py-evm recovers a sender by re-encoding every unsigned field into the signing payload and then
wrapping the signature in ``eth_keys`` objects; that cost more than the elliptic-curve recovery
itself. The signed encoding already holds the unsigned fields in order, followed by the three
signature fields, so the payload is those bytes under a new list header (EIP-2718 typed
transactions: the type byte first; EIP-155 legacy ones: chain id, 0, 0 appended). The recovery
is libsecp256k1's, through coincurve, as eth_keys does it.

Only called on bytes py-evm has already decoded, so the RLP here is well formed.
"""

from __future__ import annotations

import rlp
from coincurve import PublicKey
from eth_hash.auto import keccak

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2
"""EIP-2: signatures with s above half the curve order are malleable and refused."""

SIGNATURE_FIELDS = 3
"""v (or y parity), r, s: always the last three items of a signed transaction."""


class SignatureError(ValueError):
    """The signature is malformed or recovers no key."""


def _item_end(data: bytes, position: int) -> int:
    """Where the RLP item starting at ``position`` ends."""
    prefix = data[position]
    if prefix < 0x80:
        return position + 1
    if prefix < 0xB8:
        return position + 1 + prefix - 0x80
    if prefix < 0xC0:
        size_length = prefix - 0xB7
        size = int.from_bytes(data[position + 1 : position + 1 + size_length], "big")
        return position + 1 + size_length + size
    if prefix < 0xF8:
        return position + 1 + prefix - 0xC0
    size_length = prefix - 0xF7
    size = int.from_bytes(data[position + 1 : position + 1 + size_length], "big")
    return position + 1 + size_length + size


def _list_payload_start(data: bytes) -> int:
    prefix = data[0]
    return 1 if prefix < 0xF8 else 1 + prefix - 0xF7


def _list_header(length: int) -> bytes:
    if length < 56:
        return bytes([0xC0 + length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0xF7 + len(size)]) + size


def item_starts(encoded_list: bytes) -> list[int]:
    """Where each item of an RLP list starts."""
    starts = []
    position = _list_payload_start(encoded_list)
    while position < len(encoded_list):
        starts.append(position)
        position = _item_end(encoded_list, position)
    return starts


def unsigned_fields(encoded_list: bytes) -> bytes:
    """The items of a signed transaction's RLP list before its three signature items."""
    starts = item_starts(encoded_list)
    if len(starts) <= SIGNATURE_FIELDS:
        raise SignatureError("a signed transaction has fields before its signature")
    return encoded_list[starts[0] : starts[-SIGNATURE_FIELDS]]


def signing_hash(raw: bytes, v: int) -> tuple[bytes, int]:
    """The hash the sender signed, and the recovery id (0 or 1) of the signature.

    ``v`` is the decoded transaction's ``v`` (legacy) or ``y_parity`` (typed).
    """
    if raw[0] >= 0xC0:  # legacy: an RLP list
        fields = unsigned_fields(raw)
        if v in (27, 28):
            return keccak(_list_header(len(fields)) + fields), v - 27
        if v < 35:
            raise SignatureError(f"invalid legacy v {v}")
        chain_id, recovery_id = divmod(v - 35, 2)
        fields += rlp.encode(chain_id) + b"\x80\x80"
        return keccak(_list_header(len(fields)) + fields), recovery_id
    fields = unsigned_fields(raw[1:])
    if v not in (0, 1):
        raise SignatureError(f"invalid y parity {v}")
    return keccak(raw[:1] + _list_header(len(fields)) + fields), v


def recover_address(raw: bytes, v: int, r: int, s: int) -> bytes:
    """The 20-byte address that signed ``raw``; :class:`SignatureError` if none did."""
    if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_HALF_N):
        raise SignatureError("malleable or out-of-range signature")
    message, recovery_id = signing_hash(raw, v)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([recovery_id])
    try:
        key = PublicKey.from_signature_and_message(signature, message, hasher=None)
    except Exception as exc:  # coincurve raises plain Exceptions for keys it cannot recover
        raise SignatureError(f"no key recovers from the signature: {exc}") from exc
    return keccak(key.format(compressed=False)[1:])[12:]

"""Just enough of the signed-transaction formats to take them apart into columns and put them back.

Batches carry transactions as the raw bytes the sender signed; the span codec splits the fields
of legacy, EIP-2930 and EIP-1559 transactions into columns and must rebuild exactly the same
bytes. :func:`parse_transaction` therefore accepts only canonical encodings and proves it by
re-encoding. This module depends on ``rlp`` only: the kernel may not import the execution layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp

from openledger.batch.exceptions import BatchDecodeError

LEGACY = 0
ACCESS_LIST = 1
DYNAMIC_FEE = 2
SET_CODE = 4
DEPOSIT = 0x7E
"""Deposits are derived from L1 logs and are never part of a batch."""

BATCHABLE_TYPES = frozenset({LEGACY, ACCESS_LIST, DYNAMIC_FEE, SET_CODE})
"""What the L2 accepts from users (blob transactions have no place on an L2)."""

COLUMNAR_TYPES = frozenset({LEGACY, ACCESS_LIST, DYNAMIC_FEE})
"""Types the span codec splits into columns; other batchable types travel whole."""


@dataclass(frozen=True)
class TxFields:
    """The fields of a legacy, EIP-2930 or EIP-1559 transaction, signature included."""

    tx_type: int
    chain_id: int | None
    """``None`` only for a legacy transaction signed without EIP-155 replay protection."""
    nonce: int
    fees: tuple[int, ...]
    """``(gas_price,)`` for types 0 and 1, ``(max_priority_fee, max_fee)`` for type 2."""
    gas_limit: int
    to: bytes | None
    """``None`` for a contract creation."""
    value: int
    data: bytes
    access_list: bytes
    """The access list's own RLP encoding (``0xc0`` when empty); always ``b""`` for legacy."""
    y_parity: int
    r: int
    s: int


def transaction_type(raw: bytes) -> int:
    """EIP-2718: a first byte of 0xc0 or more is an RLP list, i.e. a legacy transaction."""
    if not raw:
        raise BatchDecodeError("empty transaction")
    return LEGACY if raw[0] >= 0xC0 else raw[0]


def _decode_list(data: bytes, what: str) -> list:
    try:
        items = rlp.decode(data, strict=True)
    except rlp.exceptions.DecodingError as exc:
        raise BatchDecodeError(f"bad RLP in {what}: {exc}") from exc
    if not isinstance(items, list):
        raise BatchDecodeError(f"{what} is not an RLP list")
    return items


def _int(item: object, what: str, max_bytes: int = 32) -> int:
    if not isinstance(item, bytes):
        raise BatchDecodeError(f"{what} is a list, not an integer")
    if item[:1] == b"\x00":
        raise BatchDecodeError(f"{what} has leading zero bytes")
    if len(item) > max_bytes:
        raise BatchDecodeError(f"{what} is longer than {max_bytes} bytes")
    return int.from_bytes(item, "big")


def _bytes(item: object, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise BatchDecodeError(f"{what} is a list, not a byte string")
    return item


def _to(item: object) -> bytes | None:
    to = _bytes(item, "to")
    if len(to) not in (0, 20):
        raise BatchDecodeError(f"to address of {len(to)} bytes")
    return to or None


def _access_list(item: object) -> bytes:
    if not isinstance(item, list):
        raise BatchDecodeError("access list is not a list")
    for entry in item:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)):
            raise BatchDecodeError("access list entry is not [address, [keys]]")
        if len(_bytes(entry[0], "access list address")) != 20:
            raise BatchDecodeError("access list address is not 20 bytes")
        if any(len(_bytes(key, "storage key")) != 32 for key in entry[1]):
            raise BatchDecodeError("access list storage key is not 32 bytes")
    return rlp.encode(item)


def parse_transaction(raw: bytes) -> TxFields:
    """Split a canonical legacy, EIP-2930 or EIP-1559 transaction into its fields."""
    tx_type = transaction_type(raw)
    if tx_type == LEGACY:
        fields = _decode_list(raw, "legacy transaction")
        if len(fields) != 9:
            raise BatchDecodeError(f"legacy transaction has {len(fields)} fields, not 9")
        nonce, gas_price, gas, to, value, data, v, r, s = fields
        v_int = _int(v, "v")
        if v_int in (27, 28):
            chain_id, y_parity = None, v_int - 27
        elif v_int >= 37:
            chain_id, y_parity = (v_int - 35) // 2, (v_int - 35) % 2
        else:
            raise BatchDecodeError(f"legacy transaction with v = {v_int}")
        parsed = TxFields(
            LEGACY,
            chain_id,
            _int(nonce, "nonce", 8),
            (_int(gas_price, "gas price"),),
            _int(gas, "gas limit", 8),
            _to(to),
            _int(value, "value"),
            _bytes(data, "data"),
            b"",
            y_parity,
            _int(r, "r"),
            _int(s, "s"),
        )
    elif tx_type in (ACCESS_LIST, DYNAMIC_FEE):
        fields = _decode_list(raw[1:], f"type {tx_type} transaction")
        expected = 11 if tx_type == ACCESS_LIST else 12
        if len(fields) != expected:
            raise BatchDecodeError(f"type {tx_type} transaction has {len(fields)} fields")
        fee_count = 1 if tx_type == ACCESS_LIST else 2
        chain_id, nonce, *fees = fields[: 2 + fee_count]
        gas, to, value, data, access_list, y_parity, r, s = fields[2 + fee_count :]
        parity = _int(y_parity, "y parity")
        if parity > 1:
            raise BatchDecodeError(f"y parity {parity}")
        parsed = TxFields(
            tx_type,
            _int(chain_id, "chain id"),
            _int(nonce, "nonce", 8),
            tuple(_int(fee, "fee") for fee in fees),
            _int(gas, "gas limit", 8),
            _to(to),
            _int(value, "value"),
            _bytes(data, "data"),
            _access_list(access_list),
            parity,
            _int(r, "r"),
            _int(s, "s"),
        )
    else:
        raise BatchDecodeError(f"transaction type {tx_type:#x} has no columnar form")
    if encode_transaction(parsed) != raw:
        raise BatchDecodeError("transaction is not canonically encoded")
    return parsed


def encode_transaction(tx: TxFields) -> bytes:
    """The signed transaction's bytes, exactly as :func:`parse_transaction` received them."""
    to = tx.to or b""
    if tx.tx_type == LEGACY:
        v = 27 + tx.y_parity if tx.chain_id is None else tx.chain_id * 2 + 35 + tx.y_parity
        return rlp.encode(
            [tx.nonce, tx.fees[0], tx.gas_limit, to, tx.value, tx.data, v, tx.r, tx.s]
        )
    body = [
        tx.chain_id,
        tx.nonce,
        *tx.fees,
        tx.gas_limit,
        to,
        tx.value,
        tx.data,
        rlp.decode(tx.access_list),
        tx.y_parity,
        tx.r,
        tx.s,
    ]
    return bytes([tx.tx_type]) + rlp.encode(body)


def check_access_list(encoded: bytes) -> bytes:
    """``encoded`` itself if it is the canonical RLP of a well-formed access list."""
    try:
        item = rlp.decode(encoded, strict=True)
    except rlp.exceptions.DecodingError as exc:
        raise BatchDecodeError(f"bad RLP in access list: {exc}") from exc
    if _access_list(item) != encoded:
        raise BatchDecodeError("access list is not canonically encoded")
    return encoded


def transaction_chain_id(raw: bytes) -> int | None:
    """The chain id a batchable transaction was signed for (``None``: pre-EIP-155 legacy)."""
    tx_type = transaction_type(raw)
    if tx_type == DEPOSIT:
        raise BatchDecodeError("deposit transaction (type 0x7e) in a batch")
    if tx_type not in BATCHABLE_TYPES:
        raise BatchDecodeError(f"transaction type {tx_type:#x} is not accepted on the L2")
    if tx_type in COLUMNAR_TYPES:
        return parse_transaction(raw).chain_id
    fields = _decode_list(raw[1:], f"type {tx_type} transaction")
    if not fields:
        raise BatchDecodeError(f"type {tx_type} transaction has no fields")
    return _int(fields[0], "chain id")


def check_transaction(raw: bytes, chain_id: int) -> None:
    """Refuse what no block of this chain can contain: deposits, unknown types, bad RLP, and
    transactions signed for another chain."""
    signed_for = transaction_chain_id(raw)
    if signed_for is not None and signed_for != chain_id:
        raise BatchDecodeError(f"transaction for chain {signed_for}, expected {chain_id}")

"""The deposit transaction (type 0x7E): encoding, hash, source hashes, and portal logs."""

from __future__ import annotations

import pytest
import rlp
from eth_abi import encode
from eth_utils import keccak

from node.deposit_tx import (
    DEPOSIT_TX_TYPE,
    DepositReceipt,
    OpenLedgerReceiptBuilder,
    OpenLedgerTransactionBuilder,
    OpenLedgerTypedReceipt,
    deposit_payload,
    deposit_receipt,
    make_deposit,
)
from node.deposits import (
    TRANSACTION_DEPOSITED_TOPIC,
    DepositLog,
    InvalidDepositLog,
    deposit_from_log,
    user_deposit_source_hash,
)
from node.exceptions import InvalidTransaction
from node.l1_info import L1_INFO_DEPOSIT_DOMAIN, source_hash
from node.transactions import decode_transaction

FROM = bytes.fromhex("11" * 20)
TO = bytes.fromhex("22" * 20)
SOURCE = bytes.fromhex("33" * 32)
L1_HASH = bytes.fromhex("44" * 32)


def test_encoding_is_0x7e_then_the_rlp_list_and_round_trips() -> None:
    tx = make_deposit(
        source_hash=SOURCE, sender=FROM, to=TO, mint=7, value=5, gas=50_000, data=b"\x01\x00"
    )
    raw = tx.encode()
    assert raw[0] == DEPOSIT_TX_TYPE
    assert rlp.decode(raw[1:]) == [
        SOURCE,
        FROM,
        TO,
        b"\x07",
        b"\x05",
        b"\xc3\x50",
        b"",
        b"\x01\x00",
    ]
    decoded = OpenLedgerTransactionBuilder.decode(raw)
    assert decoded == tx
    assert decoded.hash == keccak(raw)
    payload = deposit_payload(decoded)
    assert (payload.mint, payload.value, payload.gas, payload.is_system_tx) == (7, 5, 50_000, False)
    assert decoded.sender == FROM
    assert (decoded.max_fee_per_gas, decoded.r, decoded.s) == (0, 0, 0)


def test_a_creation_has_an_empty_to() -> None:
    tx = make_deposit(
        source_hash=SOURCE, sender=FROM, to=None, mint=0, value=0, gas=60_000, data=b""
    )
    assert rlp.decode(tx.encode()[1:])[2] == b""
    decoded = OpenLedgerTransactionBuilder.decode(tx.encode())
    assert decoded.to == b""
    assert decoded.intrinsic_gas == 53_000  # 21,000 + 32,000 for the creation


def test_the_deposit_receipt_carries_nonce_and_version() -> None:
    receipt = OpenLedgerTypedReceipt(DEPOSIT_TX_TYPE, DepositReceipt(b"\x01", 42_000, [], 9))
    encoded = receipt.encode()
    assert encoded[0] == DEPOSIT_TX_TYPE
    fields = rlp.decode(encoded[1:])
    assert fields[4:] == [b"\x09", b"\x01"]  # depositNonce, depositReceiptVersion
    decoded = OpenLedgerReceiptBuilder.decode(encoded)
    assert decoded.gas_used == 42_000
    assert deposit_receipt(decoded).deposit_nonce == 9


def test_the_mempool_path_refuses_deposits_with_a_clear_error() -> None:
    raw = make_deposit(
        source_hash=SOURCE, sender=FROM, to=TO, mint=1, value=0, gas=21_000, data=b""
    ).encode()
    with pytest.raises(InvalidTransaction, match=r"deposit transactions .* cannot be submitted"):
        decode_transaction(raw)


def test_source_hashes_follow_the_op_domains() -> None:
    index = (3).to_bytes(32, "big")
    assert user_deposit_source_hash(L1_HASH, 3) == keccak(bytes(32) + keccak(L1_HASH + index))
    assert source_hash(L1_INFO_DEPOSIT_DOMAIN, L1_HASH, 3) == keccak(
        (1).to_bytes(32, "big") + keccak(L1_HASH + index)
    )


def portal_log(
    *, mint: int, value: int, gas: int, data: bytes, creation: bool = False, version: int = 0
) -> DepositLog:
    """A ``TransactionDeposited`` log as OpenPortal emits it (docs/rollup.md)."""
    opaque = (
        mint.to_bytes(32, "big")
        + value.to_bytes(32, "big")
        + gas.to_bytes(8, "big")
        + bytes([creation])
        + data
    )
    return DepositLog(
        topics=(
            TRANSACTION_DEPOSITED_TOPIC,
            bytes(12) + FROM,
            bytes(12) + TO,
            version.to_bytes(32, "big"),
        ),
        data=encode(["bytes"], [opaque]),
        block_hash=L1_HASH,
        log_index=5,
    )


def test_a_portal_log_becomes_the_deposit_it_describes() -> None:
    tx = deposit_from_log(portal_log(mint=10**18, value=10**18, gas=100_000, data=b"\xab\xcd"))
    payload = deposit_payload(tx)
    assert payload.source_hash == user_deposit_source_hash(L1_HASH, 5)
    assert (payload.from_address, payload.to) == (FROM, TO)
    assert (payload.mint, payload.value, payload.gas) == (10**18, 10**18, 100_000)
    assert payload.data == b"\xab\xcd"
    assert payload.is_system_tx is False
    creation = deposit_from_log(portal_log(mint=0, value=0, gas=90_000, data=b"", creation=True))
    assert creation.to == b""


def test_malformed_portal_logs_are_refused() -> None:
    with pytest.raises(InvalidDepositLog, match="version"):
        deposit_from_log(portal_log(mint=0, value=0, gas=21_000, data=b"", version=1))
    good = portal_log(mint=0, value=0, gas=21_000, data=b"")
    with pytest.raises(InvalidDepositLog, match="not a TransactionDeposited"):
        deposit_from_log(DepositLog(good.topics[:3], good.data, L1_HASH, 0))
    with pytest.raises(InvalidDepositLog, match="header"):
        deposit_from_log(DepositLog(good.topics, encode(["bytes"], [b"\x00" * 72]), L1_HASH, 0))

"""Sender recovery from the raw bytes against py-evm's own recovery, for every supported type."""

from __future__ import annotations

import pytest
import rlp
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from node.exceptions import InvalidTransaction
from node.signer import SECP256K1_N, SignatureError, recover_address, unsigned_fields
from node.transactions import admit, decode_transaction
from tests.helpers.signing import CHAIN_ID, GWEI

KEYS = st.integers(1, SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))


def fields_for(kind: str, nonce: int, data: bytes) -> dict:
    base = {"nonce": nonce, "to": "0x" + "44" * 20, "value": 7, "gas": 90_000, "data": data}
    if kind == "legacy-pre155":
        return base | {"gasPrice": GWEI}
    if kind == "legacy":
        return base | {"gasPrice": GWEI, "chainId": CHAIN_ID}
    access = [{"address": "0x" + "55" * 20, "storageKeys": ["0x" + "00" * 31 + "01"]}]
    if kind == "2930":
        return base | {"gasPrice": GWEI, "chainId": CHAIN_ID, "accessList": access}
    return base | {
        "maxFeePerGas": 3 * GWEI,
        "maxPriorityFeePerGas": GWEI,
        "chainId": CHAIN_ID,
        "accessList": access,
    }


@settings(max_examples=80, deadline=None)
@given(
    key=KEYS,
    kind=st.sampled_from(["legacy-pre155", "legacy", "2930", "1559"]),
    nonce=st.integers(0, 2**64 - 2),
    data=st.binary(max_size=300),
)
def test_recovery_from_raw_bytes_equals_py_evm(key: bytes, kind: str, nonce: int, data: bytes):
    raw = bytes(Account.sign_transaction(fields_for(kind, nonce, data), key).raw_transaction)
    tx = decode_transaction(raw)
    v = tx.v if kind.startswith("legacy") else tx.y_parity
    assert (
        recover_address(raw, v, tx.r, tx.s)
        == tx.sender
        == bytes.fromhex(Account.from_key(key).address[2:])
    )
    if kind != "legacy-pre155":
        assert admit(raw, CHAIN_ID).sender == tx.sender


def test_set_code_transactions_recover_too():
    key = b"\x01" * 32
    auth = Account.sign_authorization(
        {"chainId": CHAIN_ID, "address": "0x" + "66" * 20, "nonce": 1}, key
    )
    raw = bytes(
        Account.sign_transaction(
            fields_for("1559", 0, b"") | {"authorizationList": [auth]}, key
        ).raw_transaction
    )
    assert raw[0] == 4
    tx = decode_transaction(raw)
    assert recover_address(raw, tx.y_parity, tx.r, tx.s) == tx.sender


def test_bad_signatures_are_refused():
    raw = bytes(Account.sign_transaction(fields_for("1559", 0, b""), b"\x02" * 32).raw_transaction)
    tx = decode_transaction(raw)
    for v, r, s in [
        (tx.y_parity, 0, tx.s),
        (tx.y_parity, tx.r, 0),
        (tx.y_parity, SECP256K1_N, tx.s),
        (tx.y_parity, tx.r, SECP256K1_N - tx.s),  # the malleable twin
        (2, tx.r, tx.s),
    ]:
        with pytest.raises(SignatureError):
            recover_address(raw, v, r, s)
    # A different message recovers some other key, never the signer.
    tampered = raw[:-70] + bytes([raw[-70] ^ 1]) + raw[-69:]
    assert recover_address(tampered, tx.y_parity, tx.r, tx.s) != tx.sender


def test_legacy_v_that_names_no_chain_is_refused():
    raw = bytes(
        Account.sign_transaction(fields_for("legacy", 0, b""), b"\x03" * 32).raw_transaction
    )
    tx = decode_transaction(raw)
    with pytest.raises(SignatureError, match="legacy v"):
        recover_address(raw, 30, tx.r, tx.s)
    with pytest.raises(InvalidTransaction, match="chain id"):
        admit(raw, CHAIN_ID + 1)


def test_unsigned_fields_are_the_items_before_the_signature():
    encoded = rlp.encode([b"a", b"bb" * 40, 3, 27, 1, 2])
    assert unsigned_fields(encoded) == rlp.encode([b"a", b"bb" * 40, 3])[1 + 1 :]
    with pytest.raises(SignatureError):
        unsigned_fields(rlp.encode([27, 1, 2]))

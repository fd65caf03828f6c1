"""Raw transactions in and out of columns: signed legacy, EIP-2930 and EIP-1559 transactions
(transfers, calls with data, contract creations) come back byte for byte."""

from __future__ import annotations

import pytest
import rlp
from eth_account.signers.local import LocalAccount
from hypothesis import given
from hypothesis import strategies as st

from openledger.batch import Batch, BatchDecodeError, BatchEncodeError, SpanBatch
from openledger.batch.singular import decode_singular, encode_singular
from openledger.batch.span import decode_span, encode_span
from openledger.batch.transactions import (
    TxFields,
    check_transaction,
    encode_transaction,
    parse_transaction,
)

CHAIN_ID = 901
INIT_CODE = bytes.fromhex("6080604052348015600f57600080fd5b50603f80601d6000396000f3fe")


def sign_examples(keys: list[LocalAccount]) -> list[bytes]:
    """One of each shape the L2 sees from wallets and tools."""
    alice, bob = keys[0], keys[1]
    fees_1559 = {"maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**6}
    access_list = [
        {"address": bob.address, "storageKeys": ["0x" + "00" * 31 + "01", "0x" + "ab" * 32]}
    ]
    txs = [
        {"nonce": 0, "gasPrice": 10**9, "gas": 21_000, "to": bob.address, "value": 1,
         "chainId": 901},
        {"nonce": 1, "gasPrice": 10**9, "gas": 21_000, "to": bob.address, "value": 10**18},
        {"nonce": 2, "gasPrice": 10**9, "gas": 200_000, "data": INIT_CODE, "chainId": 901},
        {"type": 1, "nonce": 3, "gasPrice": 10**9, "gas": 60_000, "to": bob.address,
         "value": 0, "data": b"\x12\x34", "accessList": access_list, "chainId": 901},
        {"type": 1, "nonce": 4, "gasPrice": 10**9, "gas": 200_000, "data": INIT_CODE,
         "accessList": [], "chainId": 901},
        {"type": 2, "nonce": 5, "gas": 21_000, "to": bob.address, "value": 5 * 10**17,
         "chainId": 901, **fees_1559},
        {"type": 2, "nonce": 6, "gas": 90_000, "to": bob.address, "value": 0,
         "data": bytes.fromhex("a9059cbb") + bytes(12) + bytes.fromhex(bob.address[2:]) + bytes(32),
         "accessList": access_list, "chainId": 901, **fees_1559},
        {"type": 2, "nonce": 7, "gas": 300_000, "data": INIT_CODE, "value": 3,
         "chainId": 901, **fees_1559},
    ]  # fmt: skip
    return [bytes(alice.sign_transaction(tx).raw_transaction) for tx in txs]


def set_code_tx(chain_id: int = CHAIN_ID) -> bytes:
    """An EIP-7702 envelope (type 4); the codec carries it whole, so its signature is not real."""
    authorization = [chain_id, b"\x11" * 20, 0, 1, 2**255, 3]
    body = [chain_id, 0, 1, 2, 50_000, b"\x22" * 20, 0, b"", [], [authorization], 1, 4, 5]
    return b"\x04" + rlp.encode(body)


def deposit_tx() -> bytes:
    return b"\x7e" + rlp.encode([b"\x01" * 32, b"\x02" * 20, b"\x03" * 20, 1, 1, 21_000, 0, b""])


def blocks_of(txs: list[bytes]) -> list[Batch]:
    """Three consecutive blocks sharing the given transactions; the L1 origin moves once."""
    parts = [tuple(txs[:3]), (), tuple(txs[3:])]
    return [
        Batch(bytes([n]) * 32, 7 + n // 2, bytes([0xE0 + n // 2]) * 32, 1_000 + 2 * n, part)
        for n, part in enumerate(parts)
    ]


def test_signed_transactions_parse_and_reencode_identically(dev_keys: list[LocalAccount]) -> None:
    raws = sign_examples(dev_keys)
    parsed = [parse_transaction(raw) for raw in raws]
    assert [tx.tx_type for tx in parsed] == [0, 0, 0, 1, 1, 2, 2, 2]
    assert [tx.chain_id for tx in parsed] == [901, None, 901, 901, 901, 901, 901, 901]
    assert [tx.to is None for tx in parsed] == [False, False, True, False, True, False, False, True]
    assert [encode_transaction(tx) for tx in parsed] == raws


def test_span_batch_round_trips_every_transaction_byte_for_byte(
    dev_keys: list[LocalAccount],
) -> None:
    raws = [*sign_examples(dev_keys), set_code_tx()]
    batches = blocks_of(raws)
    span = SpanBatch.from_batches(batches)
    encoded = encode_span(span, CHAIN_ID)
    decoded = decode_span(encoded[1:], CHAIN_ID)
    assert decoded == span
    assert [decoded.batch(i, b.parent_hash) for i, b in enumerate(batches)] == batches


def test_singular_batch_round_trips(dev_keys: list[LocalAccount]) -> None:
    batch = blocks_of(sign_examples(dev_keys))[0]
    assert decode_singular(encode_singular(batch, CHAIN_ID)[1:], CHAIN_ID) == batch


@pytest.mark.parametrize("bad", [deposit_tx(), b"\x03" + rlp.encode([901]), b"\x05", b""])
def test_deposits_and_foreign_types_never_enter_a_batch(bad: bytes) -> None:
    batch = Batch(bytes(32), 0, bytes(32), 1, (bad,))
    with pytest.raises(BatchEncodeError):
        encode_singular(batch, CHAIN_ID)
    with pytest.raises(BatchEncodeError):
        encode_span(SpanBatch.from_batches([batch]), CHAIN_ID)
    smuggled = rlp.encode([bytes(32), 0, bytes(32), 1, [bad]])
    with pytest.raises(BatchDecodeError):
        decode_singular(smuggled, CHAIN_ID)


def test_wrong_chain_id_is_refused_both_ways(dev_keys: list[LocalAccount]) -> None:
    raws = sign_examples(dev_keys)
    with pytest.raises(BatchEncodeError, match="chain 901, expected 902"):
        encode_singular(blocks_of(raws)[0], 902)
    with pytest.raises(BatchEncodeError, match="chain 902, expected 901"):
        encode_span(SpanBatch.from_batches(blocks_of([*raws, set_code_tx(902)])), CHAIN_ID)
    singular = encode_singular(blocks_of(raws)[0], CHAIN_ID)
    with pytest.raises(BatchDecodeError, match="expected 902"):
        decode_singular(singular[1:], 902)
    span = encode_span(SpanBatch.from_batches(blocks_of(raws)), CHAIN_ID)
    with pytest.raises(BatchDecodeError, match="span batch for chain 901, expected 902"):
        decode_span(span[1:], 902)
    # A legacy transaction signed without EIP-155 has no chain id to disagree with.
    check_transaction(raws[1], 902)


@pytest.mark.parametrize(
    "raw",
    [
        rlp.encode([b"\x00\x01", 1, 21_000, b"\x22" * 20, 0, b"", 1837, 1, 1]),  # nonce 0x0001
        rlp.encode([0, 1, 21_000, b"\x22" * 19, 0, b"", 1837, 1, 1]),  # 19-byte recipient
        rlp.encode([0, 1, 21_000, b"\x22" * 20, 0, b"", 30, 1, 1]),  # v = 30
        rlp.encode([0, 1, 21_000, b"\x22" * 20, 0, b"", 1837, 1]),  # 8 fields
        rlp.encode([0, 1, 21_000, b"\x22" * 20, 0, b"", 1837, 2**256, 1]),  # 33-byte r
        b"\x02" + rlp.encode([901, 0, 1, 2, 21_000, b"", 0, b"", [], 2, 1, 1]),  # y parity 2
        b"\x01" + rlp.encode([901, 0, 1, 21_000, b"", 0, b"", [[b"\x01"]], 0, 1, 1]),
        b"\x02" + rlp.encode([901, 0, 1, 2, 21_000, b"", 0, b"", []])[:-1],  # truncated
        b"\x02" + rlp.encode(b"not a list"),
    ],
)
def test_malformed_transactions_raise_decode_errors(raw: bytes) -> None:
    with pytest.raises(BatchDecodeError):
        parse_transaction(raw)


uint64 = st.integers(0, 2**64 - 1)
uint256 = st.integers(0, 2**256 - 1)
address = st.binary(min_size=20, max_size=20)
access_lists = st.lists(
    st.tuples(address, st.lists(st.binary(min_size=32, max_size=32), max_size=2)), max_size=2
).map(lambda entries: rlp.encode([[a, list(keys)] for a, keys in entries]))


@st.composite
def tx_fields(draw: st.DrawFn) -> TxFields:
    tx_type = draw(st.sampled_from([0, 1, 2]))
    legacy = tx_type == 0
    return TxFields(
        tx_type=tx_type,
        chain_id=draw(st.sampled_from([CHAIN_ID, None])) if legacy else CHAIN_ID,
        nonce=draw(uint64),
        fees=(draw(uint256), draw(uint256)) if tx_type == 2 else (draw(uint256),),
        gas_limit=draw(uint64),
        to=draw(st.none() | address),
        value=draw(uint256),
        data=draw(st.binary(max_size=64)),
        access_list=b"" if legacy else draw(access_lists),
        y_parity=draw(st.integers(0, 1)),
        r=draw(uint256),
        s=draw(uint256),
    )


@given(tx_fields())
def test_any_transaction_fields_survive_encode_and_parse(tx: TxFields) -> None:
    assert parse_transaction(encode_transaction(tx)) == tx


@given(st.lists(st.lists(tx_fields(), max_size=4), min_size=1, max_size=4))
def test_any_span_batch_round_trips(blocks: list[list[TxFields]]) -> None:
    batches = [
        Batch(b"\x01" * 32, n, bytes([n]) * 32, n, tuple(encode_transaction(tx) for tx in txs))
        for n, txs in enumerate(blocks)
    ]
    span = SpanBatch.from_batches(batches)
    assert decode_span(encode_span(span, CHAIN_ID)[1:], CHAIN_ID) == span

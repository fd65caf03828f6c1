"""The L1 data fee: charged on every user transaction, reported by GasPriceOracle and receipts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import Web3RPCError

from node.deposit_tx import deposit_payload, make_deposit
from node.exceptions import InvalidTransaction
from node.fastlz import flz_compressed_length
from node.l1_fee import L1FeeParams, l1_gas_used
from node.l1_info import configured_attributes
from node.records import effective_gas_price
from openledger.config import NetworkConfig
from openledger.contracts.predeploys import (
    GAS_PRICE_ORACLE,
    GAS_PRICE_ORACLE_ADDRESS,
    L1_FEE_VAULT_ADDRESS,
)
from openledger.types import Address, Wei
from sequencer.l1_origin import NextL1Origin
from tests.helpers.rollup import ScriptedL1, Sequencer, start_sequencer
from tests.helpers.signing import CHAIN_ID, DEV, GWEI, RECIPIENT, sign

BASE_FEE = GWEI
POOR = Account.from_key(b"\x01" * 32)
JUST_ENOUGH = Account.from_key(b"\x02" * 32)
TRANSFER = {"to": RECIPIENT, "value": 1, "gas": 21_000, "maxFeePerGas": 3 * GWEI}


def transfer_from(account: Account) -> bytes:
    tx = {"chainId": CHAIN_ID, "nonce": 0, "maxPriorityFeePerGas": GWEI, **TRANSFER}
    return bytes(account.sign_transaction(tx).raw_transaction)


def genesis_l1_fee(config: NetworkConfig, raw: bytes) -> int:
    params = L1FeeParams.from_attributes(configured_attributes(config.rollup))
    return params.fee(flz_compressed_length(raw))


@pytest.fixture
def sequencer(tmp_path: Path) -> Iterator[Sequencer]:
    config = NetworkConfig()
    gas_and_value = 21_000 * TRANSFER["maxFeePerGas"] + TRANSFER["value"]
    alloc = {
        Address(bytes.fromhex(POOR.address[2:])): Wei(gas_and_value),
        Address(bytes.fromhex(JUST_ENOUGH.address[2:])): Wei(
            gas_and_value + genesis_l1_fee(config, transfer_from(JUST_ENOUGH))
        ),
    }
    config = replace(config, genesis=replace(config.genesis, alloc=alloc))
    started = start_sequencer(tmp_path, config)
    yield started
    started.close()


def test_a_user_transaction_pays_exactly_the_l1_fee_the_oracle_reports(
    sequencer: Sequencer,
) -> None:
    w3 = sequencer.w3
    sender = DEV[0].address
    raw = sign(nonce=0, data=b"\x00" * 40 + b"an OpenLedger transfer", gas=30_000)
    before = sequencer.producer.produce().header.block_number
    sender_before = w3.eth.get_balance(sender, before)
    vault_before = w3.eth.get_balance(L1_FEE_VAULT_ADDRESS, before)
    tx_hash = sequencer.send(raw)
    number = sequencer.producer.produce().header.block_number
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    oracle = sequencer.contract(GAS_PRICE_ORACLE, GAS_PRICE_ORACLE_ADDRESS).functions
    l1_fee = int(receipt["l1Fee"], 16)
    assert l1_fee > 0
    assert l1_fee == oracle.getL1Fee(raw).call(block_identifier=number)
    assert int(receipt["l1GasUsed"], 16) == oracle.getL1GasUsed(raw).call(block_identifier=number)
    assert int(receipt["l1GasPrice"], 16) == oracle.l1BaseFee().call(block_identifier=number)
    assert int(receipt["l1BlobBaseFee"], 16) == oracle.blobBaseFee().call(block_identifier=number)
    assert int(receipt["l1BaseFeeScalar"], 16) == oracle.baseFeeScalar().call()
    assert int(receipt["l1BlobBaseFeeScalar"], 16) == oracle.blobBaseFeeScalar().call()
    spent = sender_before - w3.eth.get_balance(sender, number)
    assert spent == 1 + receipt["gasUsed"] * receipt["effectiveGasPrice"] + l1_fee
    assert w3.eth.get_balance(L1_FEE_VAULT_ADDRESS, number) - vault_before == l1_fee


def test_node_and_oracle_compress_alike_whatever_the_bytes(sequencer: Sequencer) -> None:
    """The FastLZ port against Solady's LibZip in the predeploy, on varied calldata."""
    sequencer.producer.produce()
    oracle = sequencer.contract(GAS_PRICE_ORACLE, GAS_PRICE_ORACLE_ADDRESS).functions
    params = L1FeeParams.from_state(sequencer.chain.state_at(sequencer.chain.head))
    rng = random.Random(7)
    for case in range(24):
        size = rng.choice([0, 1, 30, 100, 250, 600, 1200])
        if case % 3 == 0:
            data = rng.randbytes(size)
        elif case % 3 == 1:
            data = bytes(rng.choice([0, 0, 0, 1, 255]) for _ in range(size))
        else:
            data = (rng.randbytes(rng.randint(1, 24)) * size)[:size]
        raw = sign(nonce=case, data=data, gas=200_000)
        size_on_chain = flz_compressed_length(raw)
        assert oracle.getL1Fee(raw).call() == params.fee(size_on_chain), case
        assert oracle.getL1GasUsed(raw).call() == l1_gas_used(size_on_chain), case


def test_the_mempool_refuses_what_cannot_also_pay_the_l1_fee(sequencer: Sequencer) -> None:
    with pytest.raises(InvalidTransaction, match="insufficient funds"):
        sequencer.mempool.add(transfer_from(POOR), BASE_FEE)
    admitted = sequencer.mempool.add(transfer_from(JUST_ENOUGH), BASE_FEE)
    sealed = sequencer.producer.produce()
    assert sealed.outcomes[-1].hash == admitted.hash
    # It paid value, gas and the L1 fee; only the unused fee-cap headroom is left.
    price = effective_gas_price(admitted.tx, sealed.header.base_fee_per_gas)
    left = 21_000 * (TRANSFER["maxFeePerGas"] - price)
    assert sequencer.chain.state_at(sequencer.chain.head).get_balance(admitted.sender) == left


def test_deposits_and_l1_fees_are_visible_through_web3(tmp_path: Path) -> None:
    fresh = "0x" + "d0" * 20
    deposit = make_deposit(
        source_hash=b"\x5c" * 32,
        sender=bytes.fromhex(fresh[2:]),
        to=bytes.fromhex(fresh[2:]),
        mint=10**18,
        value=0,
        gas=60_000,
        data=b"",
    )
    attributes = configured_attributes(NetworkConfig().rollup)
    script = ScriptedL1([NextL1Origin(attributes.origin, attributes.scalars, (deposit,))])
    sequencer = start_sequencer(tmp_path, l1_origins=script)
    try:
        w3 = sequencer.w3
        user_hash = sequencer.send(sign(nonce=0))
        sealed = sequencer.producer.produce()
        system_hash = sealed.outcomes[0].hash

        system = w3.eth.get_transaction(system_hash)
        assert system["type"] == 0x7E
        assert system["transactionIndex"] == 0
        assert system["isSystemTx"] is False
        assert system["mint"] == "0x0"
        assert HexBytes(system["sourceHash"]) == deposit_payload(sealed.outcomes[0].tx).source_hash
        assert system["nonce"] == 0
        assert system["depositReceiptVersion"] == "0x1"

        user_deposit = w3.eth.get_transaction(deposit.hash)
        assert user_deposit["from"].lower() == fresh
        assert int(user_deposit["mint"], 16) == 10**18
        assert HexBytes(user_deposit["sourceHash"]) == HexBytes(b"\x5c" * 32)
        deposit_receipt = w3.eth.get_transaction_receipt(deposit.hash)
        assert deposit_receipt["status"] == 1
        assert deposit_receipt["depositNonce"] == "0x0"
        assert deposit_receipt["depositReceiptVersion"] == "0x1"
        assert deposit_receipt["effectiveGasPrice"] == 0
        assert "l1Fee" not in deposit_receipt
        assert w3.eth.get_balance(Web3.to_checksum_address(fresh)) == 10**18

        user_receipt = w3.eth.get_transaction_receipt(user_hash)
        for key in ("l1Fee", "l1GasPrice", "l1GasUsed", "l1BaseFeeScalar", "l1BlobBaseFeeScalar"):
            assert int(user_receipt[key], 16) > 0, key
        assert "depositNonce" not in user_receipt

        block = w3.eth.get_block(sealed.header.block_number, full_transactions=True)
        assert [tx["type"] for tx in block["transactions"]] == [0x7E, 0x7E, 2]
        assert (
            w3.eth.get_block_receipts(sealed.header.block_number)[2]["l1Fee"]
            == user_receipt["l1Fee"]
        )

        with pytest.raises(Web3RPCError, match="deposit transactions"):
            w3.eth.send_raw_transaction(deposit.encode())
    finally:
        sequencer.close()

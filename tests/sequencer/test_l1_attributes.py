"""Every block opens with the L1-attributes deposit; user deposits follow; then the mempool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth.abc import SignedTransactionAPI
from eth_utils import keccak
from web3.exceptions import ContractCustomError

from node.deposit_tx import deposit_payload, is_deposit, make_deposit
from node.l1_info import FeeScalars, L1Attributes, L1Origin, block_l1_attributes
from openledger.contracts.predeploys import (
    L1_ATTRIBUTES_DEPOSITOR,
    L1_BLOCK,
    L1_BLOCK_ADDRESS,
)
from sequencer.builder import DepositNotIncluded
from sequencer.l1_origin import NextL1Origin
from tests.helpers.rollup import ScriptedL1, Sequencer, start_sequencer
from tests.helpers.signing import GWEI, sign

SCALARS = FeeScalars(
    batcher_hash=bytes(12) + b"\xba" * 20, base_fee_scalar=2000, blob_base_fee_scalar=700_000
)
ORIGIN_A = L1Origin(
    number=7, timestamp=1_767_225_000, hash=b"\xa1" * 32, base_fee=3 * GWEI, blob_base_fee=5
)
ORIGIN_B = L1Origin(
    number=8, timestamp=1_767_225_012, hash=b"\xb2" * 32, base_fee=4 * GWEI, blob_base_fee=9
)
FRESH = bytes.fromhex("f0" * 20)


def user_deposit(index: int, mint: int) -> SignedTransactionAPI:
    return make_deposit(
        source_hash=index.to_bytes(32, "big"),
        sender=FRESH,
        to=FRESH,
        mint=mint,
        value=0,
        gas=50_000,
        data=b"",
    )


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[tuple[Sequencer, ScriptedL1]]:
    script = ScriptedL1(
        [
            NextL1Origin(ORIGIN_A, SCALARS, (user_deposit(1, 5), user_deposit(2, 7))),
            NextL1Origin(ORIGIN_A, SCALARS),
            NextL1Origin(ORIGIN_B, SCALARS),
        ]
    )
    sequencer = start_sequencer(tmp_path, l1_origins=script)
    yield sequencer, script
    sequencer.close()


def test_the_l1_attributes_deposit_opens_every_block_and_l1block_holds_its_values(
    scripted: tuple[Sequencer, ScriptedL1],
) -> None:
    sequencer, script = scripted
    expected = [(ORIGIN_A, 0), (ORIGIN_A, 1), (ORIGIN_B, 0), (ORIGIN_B, 1)]
    l1_block = sequencer.contract(L1_BLOCK, L1_BLOCK_ADDRESS)
    for number, (origin, sequence_number) in enumerate(expected, start=1):
        sealed = sequencer.producer.produce()
        first = sealed.outcomes[0]
        payload = deposit_payload(first.tx)
        assert (first.sender, payload.to, payload.mint, payload.is_system_tx) == (
            L1_ATTRIBUTES_DEPOSITOR,
            L1_BLOCK_ADDRESS,
            0,
            False,
        )
        assert first.receipt.state_root == b"\x01"
        attributes = L1Attributes(origin, sequence_number, SCALARS)
        assert block_l1_attributes([o.tx for o in sealed.outcomes]) == attributes
        # The storage layout the node reads, and the getters a contract reads, agree.
        state = sequencer.chain.state_at(sequencer.chain.head)
        for slot, value in attributes.storage().items():
            assert state.get_storage(L1_BLOCK_ADDRESS, slot) == value
        fns = l1_block.functions
        assert fns.number().call() == origin.number
        assert fns.timestamp().call() == origin.timestamp
        assert fns.basefee().call() == origin.base_fee
        assert fns.blobBaseFee().call() == origin.blob_base_fee
        assert bytes(fns.hash().call()) == origin.hash
        assert fns.sequenceNumber().call() == sequence_number
        assert fns.baseFeeScalar().call() == SCALARS.base_fee_scalar
        assert fns.blobBaseFeeScalar().call() == SCALARS.blob_base_fee_scalar
        assert bytes(fns.batcherHash().call()) == SCALARS.batcher_hash
        assert sequencer.chain.head.block_number == number
    assert script.asked == [0, 1, 2, 3]


def test_user_deposits_follow_the_l1_attributes_and_precede_the_mempool(
    scripted: tuple[Sequencer, ScriptedL1],
) -> None:
    sequencer, _ = scripted
    user_tx = sequencer.send(sign(nonce=0))
    sealed = sequencer.producer.produce()
    kinds = [(is_deposit(o.tx), o.hash) for o in sealed.outcomes]
    assert [k for k, _ in kinds] == [True, True, True, False]
    assert [o.hash for o in sealed.outcomes[1:3]] == [
        user_deposit(1, 5).hash,
        user_deposit(2, 7).hash,
    ]
    assert kinds[3][1] == user_tx
    assert sequencer.chain.state_at(sequencer.chain.head).get_balance(FRESH) == 12


def test_past_the_sequencer_drift_blocks_carry_no_user_transactions(tmp_path: Path) -> None:
    script = ScriptedL1(
        [NextL1Origin(ORIGIN_A, SCALARS, deposits_only=True), NextL1Origin(ORIGIN_B, SCALARS)]
    )
    sequencer = start_sequencer(tmp_path, l1_origins=script)
    try:
        user_tx = sequencer.send(sign(nonce=0))
        drifted = sequencer.producer.produce()
        assert [is_deposit(o.tx) for o in drifted.outcomes] == [True]
        caught_up = sequencer.producer.produce()
        assert [o.hash for o in caught_up.outcomes[1:]] == [user_tx]
    finally:
        sequencer.close()


def test_l1block_accepts_values_only_from_the_depositor(tmp_path: Path) -> None:
    sequencer = start_sequencer(tmp_path)
    try:
        setter = sequencer.contract(L1_BLOCK, L1_BLOCK_ADDRESS).functions.setL1BlockValuesEcotone()
        with pytest.raises(ContractCustomError) as raised:
            setter.call({"from": "0x" + "11" * 20})
        assert raised.value.data == "0x" + keccak(b"NotDepositor()")[:4].hex()
    finally:
        sequencer.close()


def test_user_deposits_outside_the_first_block_of_their_origin_are_refused(tmp_path: Path) -> None:
    script = ScriptedL1(
        [NextL1Origin(ORIGIN_A, SCALARS), NextL1Origin(ORIGIN_A, SCALARS, (user_deposit(1, 1),))]
    )
    sequencer = start_sequencer(tmp_path, l1_origins=script)
    try:
        sequencer.producer.produce()
        with pytest.raises(DepositNotIncluded, match="first block of their L1 origin"):
            sequencer.producer.produce()
        assert sequencer.chain.head.block_number == 1
    finally:
        sequencer.close()


def test_by_default_every_block_names_the_configured_genesis_origin(tmp_path: Path) -> None:
    sequencer = start_sequencer(tmp_path)
    try:
        rollup = sequencer.chain.config.rollup
        for sequence_number in range(3):
            sealed = sequencer.producer.produce()
            attributes = block_l1_attributes([o.tx for o in sealed.outcomes])
            assert attributes is not None
            assert attributes.origin.hash == rollup.l1_origin_hash
            assert attributes.origin.number == rollup.l1_origin_number
            assert attributes.sequence_number == sequence_number
            assert attributes.scalars.base_fee_scalar == rollup.base_fee_scalar
    finally:
        sequencer.close()

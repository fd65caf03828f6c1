"""A real OpenPortal deposit on an anvil L1, turned into its L2 deposit and executed on the node."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from node.deposit_tx import deposit_payload
from node.deposits import DepositLog, deposit_from_log, user_deposit_source_hash
from node.l1_info import L1Origin, configured_attributes
from openledger.config import NetworkConfig
from sequencer.l1_origin import NextL1Origin
from tests.contracts.conftest import TOKEN, Chain
from tests.contracts.test_l1_portal import deploy_bridge
from tests.helpers.rollup import ScriptedL1, start_sequencer

pytestmark = pytest.mark.slow


def test_a_portal_deposit_mints_on_l2_and_pays_the_recipient(l1: Chain, tmp_path: Path) -> None:
    b = deploy_bridge(l1)
    recipient = l1.account(fund=0).address
    amount = 3 * TOKEN
    l1.transact(b.holder, b.token.functions.approve(b.portal.address, amount))
    receipt = l1.transact(b.holder, b.portal.functions.depositERC20(recipient, amount, 80_000, b""))
    [raw_log] = [entry for entry in receipt["logs"] if entry["address"] == b.portal.address]
    log = DepositLog(
        topics=tuple(bytes(topic) for topic in raw_log["topics"]),
        data=bytes(raw_log["data"]),
        block_hash=bytes(raw_log["blockHash"]),
        log_index=int(raw_log["logIndex"]),
    )
    tx = deposit_from_log(log)
    payload = deposit_payload(tx)
    assert payload.source_hash == user_deposit_source_hash(log.block_hash, log.log_index)
    assert to_checksum_address(payload.from_address) == b.holder.address
    assert to_checksum_address(payload.to) == recipient
    assert (payload.mint, payload.value, payload.gas) == (amount, amount, 80_000)
    assert deposit_from_log(log).hash == tx.hash  # the same log, the same L2 transaction

    block = l1.w3.eth.get_block(receipt["blockNumber"])
    scalars = configured_attributes(NetworkConfig().rollup).scalars
    origin = L1Origin(
        number=block["number"],
        timestamp=block["timestamp"],
        hash=bytes(block["hash"]),
        base_fee=block["baseFeePerGas"],
        blob_base_fee=1,
    )
    sequencer = start_sequencer(
        tmp_path, l1_origins=ScriptedL1([NextL1Origin(origin, scalars, (tx,))])
    )
    try:
        sealed = sequencer.producer.produce()
        assert sealed.outcomes[1].hash == tx.hash
        assert sealed.outcomes[1].receipt.state_root == b"\x01"
        assert sequencer.w3.eth.get_balance(recipient) == amount
        assert sequencer.w3.eth.get_balance(b.holder.address) == 0  # minted, then sent on
    finally:
        sequencer.close()

"""L1 OutputOracle: who may propose, which blocks, lookups, challenger deletion (anvil)."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from tests.contracts.conftest import Chain, advance_time

pytestmark = pytest.mark.slow

INTERVAL = 10
L2_BLOCK_TIME = 2
PERIOD = 60


def deploy_oracle(
    l1: Chain, starting_timestamp: int | None = None
) -> tuple[Contract, LocalAccount, LocalAccount]:
    proposer, challenger = l1.account(), l1.account()
    if starting_timestamp is None:
        starting_timestamp = l1.timestamp() - 10_000  # L2 blocks up to 5000 are in the past
    oracle = l1.deploy(
        "OutputOracle",
        proposer,
        INTERVAL,
        L2_BLOCK_TIME,
        0,
        starting_timestamp,
        PERIOD,
        proposer.address,
        challenger.address,
    )
    return oracle, proposer, challenger


def root(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_proposals_advance_by_the_interval(l1: Chain) -> None:
    oracle, proposer, _ = deploy_oracle(l1)
    stranger = l1.account()
    assert oracle.functions.latestBlockNumber().call() == 0
    assert oracle.functions.nextBlockNumber().call() == INTERVAL

    propose = oracle.functions.proposeL2Output
    l1.expect_revert(stranger, propose(root(1), 10), "NotProposer", stranger.address)
    l1.expect_revert(proposer, propose(root(1), 11), "UnexpectedBlockNumber", 10, 11)
    l1.expect_revert(proposer, propose(root(1), 0), "UnexpectedBlockNumber", 10, 0)
    l1.expect_revert(proposer, propose(b"\x00" * 32, 10), "EmptyOutputRoot")

    for index, block in enumerate((10, 20, 30)):
        receipt = l1.transact(proposer, propose(root(block), block))
        [event] = l1.events(oracle, receipt, "OutputProposed")
        assert event["outputRoot"] == root(block)
        assert event["l2OutputIndex"] == index
        assert event["l2BlockNumber"] == block
        assert event["l1Timestamp"] == l1.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    l1.expect_revert(proposer, propose(root(9), 30), "UnexpectedBlockNumber", 40, 30)

    assert oracle.functions.latestBlockNumber().call() == 30
    assert oracle.functions.nextOutputIndex().call() == 3
    output = oracle.functions.getL2Output(1).call()
    assert output[0] == root(20) and output[2] == 20
    l1.expect_revert(stranger, oracle.functions.getL2Output(3), "OutputNotFound", 3)

    after = oracle.functions.getL2OutputIndexAfter
    for block, index in ((0, 0), (1, 0), (10, 0), (11, 1), (20, 1), (21, 2), (30, 2)):
        assert after(block).call() == index, block
    l1.expect_revert(stranger, after(31), "NoOutputAfter", 31)


def test_cannot_propose_a_block_from_the_future(l1: Chain) -> None:
    now = l1.timestamp()
    oracle, proposer, _ = deploy_oracle(l1, starting_timestamp=now)
    # Block 10 is at now + 20 by L2 time.
    revert = l1.revert_of(proposer, oracle.functions.proposeL2Output(root(1), 10))
    assert revert.name == "BlockInFuture" and revert.args[0] == 10
    advance_time(l1, INTERVAL * L2_BLOCK_TIME + 5)
    l1.transact(proposer, oracle.functions.proposeL2Output(root(1), 10))


def test_challenger_deletes_only_unfinalized_outputs(l1: Chain) -> None:
    oracle, proposer, challenger = deploy_oracle(l1)
    for block in (10, 20, 30):
        l1.transact(proposer, oracle.functions.proposeL2Output(root(block), block))
    l1.expect_revert(proposer, oracle.functions.deleteL2Outputs(1), "NotChallenger")
    l1.expect_revert(challenger, oracle.functions.deleteL2Outputs(3), "OutputNotFound", 3)

    receipt = l1.transact(challenger, oracle.functions.deleteL2Outputs(1))
    assert l1.events(oracle, receipt, "OutputsDeleted") == [
        {"prevNextOutputIndex": 3, "newNextOutputIndex": 1}
    ]
    assert oracle.functions.nextOutputIndex().call() == 1
    assert oracle.functions.latestBlockNumber().call() == 10
    # The proposer re-proposes from the deleted block on.
    l1.transact(proposer, oracle.functions.proposeL2Output(root(99), 20))

    advance_time(l1, PERIOD + 1)
    l1.expect_revert(challenger, oracle.functions.deleteL2Outputs(0), "OutputFinalized", 0)

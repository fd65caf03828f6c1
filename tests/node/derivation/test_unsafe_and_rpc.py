"""Unsafe blocks followed from the sequencer, then confirmed or replaced by derivation; the
heads as the RPC shows them (block tags, ``openledger_syncStatus``, ``openledger_outputAtBlock``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from node.derivation.forward_pool import ForwardingPool
from node.derivation.unsafe_sync import RemoteBlock, UnsafeFollower
from node.rpc.app import build_rpc_server
from node.rpc.dispatch import Dispatcher
from openledger.config import NetworkConfig, RpcConfig
from openledger.output_root import output_at_block
from tests.helpers.rollup import DispatcherProvider
from tests.node.derivation.harness import L1, Sequencer, Verifier, make_rollup, start_sequencer
from tests.node.derivation.test_derive import build_chain


def remote_blocks(sequencer: Sequencer, first: int, last: int) -> list[RemoteBlock]:
    """The sequencer's blocks as ``eth_getBlockByNumber`` + raw transactions give them."""
    blocks = []
    for number in range(first, last + 1):
        header = sequencer.chain.header_by_number(number)
        blocks.append(
            RemoteBlock(
                number=number,
                hash=header.hash,
                parent_hash=header.parent_hash,
                timestamp=header.timestamp,
                transactions=tuple(o.tx.encode() for o in sequencer.chain.outcomes(header)),
            )
        )
    return blocks


def rpc(verifier: Verifier) -> Dispatcher:
    server = build_rpc_server(
        verifier.chain,
        ForwardingPool(verifier.chain, None),
        RpcConfig(),
        labels=verifier.heads,
        l1_status=verifier.driver.l1_status,
    )
    return server.dispatcher


def number(block: dict[str, Any]) -> int:
    return int(block["number"], 16)


def test_unsafe_blocks_are_consolidated_and_tags_follow_the_heads(
    l1: L1, config: NetworkConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rollup = make_rollup(l1, config)
    sequencer = start_sequencer(tmp_path / "seq", l1, rollup, config)
    build_chain(sequencer, l1, 4)
    verifier = Verifier(tmp_path / "verifier", l1, rollup, config)
    follower = UnsafeFollower(verifier.chain, verifier.heads)
    forged = replace(remote_blocks(sequencer, 1, 1)[0], hash=b"\x01" * 32)
    with caplog.at_level(logging.WARNING):
        assert follower.import_blocks([forged]) == 0
    assert "re-executes to" in caplog.text
    assert follower.import_blocks(remote_blocks(sequencer, 1, 4)) == 4
    assert (verifier.chain.head.block_number, verifier.safe) == (4, 0)

    l1.post(sequencer.batches(1, 2))
    verifier.sync()
    assert (verifier.chain.head.block_number, verifier.safe) == (4, 2)
    assert verifier.pipeline.derived_blocks == 2
    assert verifier.chain.header_by_number(4).hash == sequencer.chain.header_by_number(4).hash

    dispatcher = rpc(verifier)
    assert number(dispatcher.call("eth_getBlockByNumber", ["latest", False])) == 4
    assert number(dispatcher.call("eth_getBlockByNumber", ["safe", False])) == 2
    assert number(dispatcher.call("eth_getBlockByNumber", ["finalized", False])) == 0
    sender = Web3.to_checksum_address(b"\x00" * 19 + b"\x01")
    assert dispatcher.call("eth_getBalance", [sender, "safe"]) == "0x0"
    assert dispatcher.call("eth_getLogs", [{"fromBlock": "finalized", "toBlock": "safe"}]) == []
    status = dispatcher.call("openledger_syncStatus", [])
    assert status["unsafe_l2"]["number"] == 4
    assert status["safe_l2"]["number"] == 2
    assert status["finalized_l2"]["number"] == 0
    assert status["current_l1"]["number"] == l1.number()
    assert status["head_l1"]["number"] == l1.number()
    assert status["safe_l2"]["l1origin"]["number"] == sequencer.batch(2).epoch_number

    # L1 finalizes (anvil: 64 blocks behind its head): so do the blocks derived from it.
    l1.call("anvil_mine", hex(70))
    verifier.sync()
    assert verifier.heads.finalized.block_number == 2
    assert number(dispatcher.call("eth_getBlockByNumber", ["finalized", False])) == 2

    output = dispatcher.call("openledger_outputAtBlock", ["0x2"])
    expected = output_at_block(Web3(DispatcherProvider(dispatcher)), 2)
    assert output["outputRoot"] == "0x" + expected.root.hex()
    assert output["blockRef"]["hash"] == "0x" + sequencer.chain.header_by_number(2).hash.hex()
    assert output["withdrawalStorageRoot"] == "0x" + expected.message_passer_storage_root.hex()
    verifier.close()
    sequencer.close()


def test_derived_blocks_replace_a_different_unsafe_chain(
    l1: L1, config: NetworkConfig, tmp_path: Path
) -> None:
    rollup = make_rollup(l1, config)
    honest = start_sequencer(tmp_path / "honest", l1, rollup, config)
    other = start_sequencer(tmp_path / "other", l1, rollup, config)
    build_chain(honest, l1, 3)
    for _ in range(3):
        other.block(transfers=1)
    verifier = Verifier(tmp_path / "verifier", l1, rollup, config)
    UnsafeFollower(verifier.chain, verifier.heads).import_blocks(remote_blocks(other, 1, 3))
    assert verifier.chain.header_by_number(3).hash == other.chain.header_by_number(3).hash
    l1.post(honest.batches(1, 3))
    verifier.sync()
    assert verifier.safe == 3
    for n in range(1, 4):
        assert verifier.chain.header_by_number(n).hash == honest.chain.header_by_number(n).hash
    verifier.close()
    other.close()
    honest.close()

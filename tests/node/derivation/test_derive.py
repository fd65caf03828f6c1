"""Derivation end to end in one process: sequencer blocks posted to anvil, derived by a fresh
chain, compared block by block."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from openledger.config import NetworkConfig
from tests.helpers.signing import DEV, sign
from tests.node.derivation.harness import L1, Sequencer, Verifier, make_rollup, start_sequencer


def build_chain(sequencer: Sequencer, l1: L1, blocks: int, transfers: int = 3) -> None:
    """``blocks`` L2 blocks, an L1 block between each two so that origins advance."""
    for _ in range(blocks):
        l1.mine()
        sequencer.block(transfers)


def assert_same_chain(sequencer: Sequencer, verifier: Verifier, through: int) -> None:
    for number in range(through + 1):
        ours = verifier.chain.header_by_number(number)
        theirs = sequencer.chain.header_by_number(number)
        assert (ours.hash, ours.state_root) == (theirs.hash, theirs.state_root), number


def test_fresh_node_derives_the_sequencers_blocks(
    l1: L1, config: NetworkConfig, tmp_path: Path
) -> None:
    rollup = make_rollup(l1, config)
    sequencer = start_sequencer(tmp_path / "seq", l1, rollup, config)
    build_chain(sequencer, l1, 6)
    origins = {sequencer.batch(n).epoch_number for n in range(1, 7)}
    assert len(origins) > 1, "the test needs blocks on several L1 origins"
    l1.post(sequencer.batches(1, 3))
    l1.post(sequencer.batches(4, 6), span=False)
    # Senders recovered by a worker process, as `openledger node` does on a multi-core machine.
    verifier = Verifier(tmp_path / "verifier", l1, rollup, config, sender_workers=1)
    verifier.sync()
    assert verifier.safe == 6
    assert verifier.chain.head.block_number == 6
    assert_same_chain(sequencer, verifier, 6)
    safe_hash = verifier.heads.safe.hash
    verifier.close()
    # The safe head and the L1 block each block was derived from survive a restart.
    reopened = Verifier(tmp_path / "verifier", l1, rollup, config)
    assert reopened.heads.safe.hash == safe_hash
    derived = reopened.heads.derived_from(reopened.heads.safe)
    assert derived is not None and derived.number == l1.number()
    reopened.sync()
    assert reopened.safe == 6
    reopened.close()
    sequencer.close()


def test_bad_l1_data_is_ignored_with_a_log_line(
    l1: L1, config: NetworkConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rollup = make_rollup(l1, config)
    sequencer = start_sequencer(tmp_path / "seq", l1, rollup, config)
    build_chain(sequencer, l1, 3)
    good = sequencer.batches(1, 3)
    # Not the batcher: ignored without a word (anyone may send to the inbox).
    l1.post(good, sender=DEV[2])
    # Not frames at all: the payload is refused whole.
    l1.send_calldata(b"\x00" + b"\x42" * 100)
    # A block whose transaction cannot execute (nonce far ahead): rejected, never imported.
    first = good[0]
    broken = replace(first, transactions=(*first.transactions, sign(8, nonce=99)))
    l1.post([broken])
    verifier = Verifier(tmp_path / "verifier", l1, rollup, config, sender_workers=1)
    with caplog.at_level(logging.WARNING):
        verifier.sync()
    assert verifier.safe == 0
    assert verifier.chain.head.block_number == 0
    messages = [record.getMessage() for record in caplog.records]
    assert any("dropped channel" in m or "payload" in m for m in messages), messages
    assert any("rejected batch for L2 block 1" in m for m in messages), messages
    l1.post(good)
    verifier.sync()
    assert verifier.safe == 3
    assert_same_chain(sequencer, verifier, 3)
    verifier.close()
    sequencer.close()


def test_sequencing_window_forces_empty_blocks(
    l1: L1, config: NetworkConfig, tmp_path: Path
) -> None:
    window = 3
    rollup = make_rollup(l1, config, seq_window_size=window)
    sequencer = start_sequencer(tmp_path / "seq", l1, rollup, config)
    build_chain(sequencer, l1, 2)
    verifier = Verifier(tmp_path / "verifier", l1, rollup, config)
    verifier.sync()
    assert verifier.safe == 0, "the window of the genesis origin is still open"
    l1.mine(window + 2)
    verifier.sync()
    assert verifier.safe > 0
    head_l1 = l1.number()
    previous = verifier.chain.header_by_number(0)
    for number in range(1, verifier.safe + 1):
        header = verifier.chain.header_by_number(number)
        outcomes = verifier.chain.outcomes(header)
        assert len(outcomes) == 1, "an empty block holds only the L1-attributes deposit"
        assert header.timestamp > previous.timestamp
        previous = header
    origin, _hash, _attributes = verifier.pipeline.origin_of(verifier.heads.safe)
    assert origin + window > head_l1, "empty blocks stop once the window is open again"
    # The sequencer's batches arrive too late: their parent is no longer the safe head.
    l1.post(sequencer.batches(1, 2))
    verifier.sync()
    assert verifier.chain.header_by_number(1).hash != sequencer.chain.header_by_number(1).hash
    verifier.close()
    sequencer.close()


def test_l1_reorg_rolls_back_and_derives_again(
    l1: L1, config: NetworkConfig, tmp_path: Path
) -> None:
    rollup = make_rollup(l1, config)
    sequencer = start_sequencer(tmp_path / "seq", l1, rollup, config)
    build_chain(sequencer, l1, 6)
    l1.post(sequencer.batches(1, 3))
    verifier = Verifier(tmp_path / "verifier", l1, rollup, config)
    verifier.sync()
    assert verifier.safe == 3
    snapshot = l1.call("evm_snapshot")
    l1.post(sequencer.batches(4, 6))
    l1.mine(2)
    verifier.sync()
    assert verifier.safe == 6
    # L1 drops the block with the second channel and grows a longer chain without it.
    l1.call("evm_revert", snapshot)
    verifier.sync()
    assert verifier.safe == 3, "a shorter L1 chain is a reorg too"
    l1.mine(5)
    verifier.sync()
    assert verifier.safe == 3
    assert verifier.chain.head.block_number == 3
    assert (
        verifier.chain.transaction_location(
            sequencer.chain.outcomes(sequencer.chain.header_by_number(5))[1].hash
        )
        is None
    ), "the rolled-back blocks' transactions are no longer indexed"
    # The batcher re-posts on the new L1 chain; the node derives the same blocks again.
    l1.post(sequencer.batches(4, 6))
    verifier.sync()
    assert verifier.safe == 6
    assert_same_chain(sequencer, verifier, 6)
    verifier.close()
    sequencer.close()


def test_anvil_reorg_at_the_same_height_is_detected(
    l1: L1, config: NetworkConfig, tmp_path: Path
) -> None:
    rollup = make_rollup(l1, config)
    sequencer = start_sequencer(tmp_path / "seq", l1, rollup, config)
    build_chain(sequencer, l1, 4)
    l1.post(sequencer.batches(1, 2))
    l1.mine(3)
    l1.post(sequencer.batches(3, 4))
    verifier = Verifier(tmp_path / "verifier", l1, rollup, config)
    verifier.sync()
    assert verifier.safe == 4
    height = l1.number()
    # Replace the last two L1 blocks (the second channel's among them) with empty ones.
    l1.call("anvil_reorg", 2, [])
    assert l1.number() == height
    verifier.sync()
    assert verifier.safe == 2
    derived = verifier.heads.derived_from(verifier.heads.safe)
    assert derived is not None and derived.number < height - 1
    l1.post(sequencer.batches(3, 4))
    verifier.sync()
    assert verifier.safe == 4
    assert_same_chain(sequencer, verifier, 4)
    verifier.close()
    sequencer.close()

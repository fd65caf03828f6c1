"""Derivation follows L1's SystemConfig: a batch counts only if its sender is the batcher (and
its recipient the inbox) in force at its L1 block, and that stays true after a reset.

The anvil tests deploy a real ``SystemConfig`` and have its owner (dev account 0) call
``setBatcher``; the tracker tests feed hand-made logs through a fake JSON-RPC client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_canonical_address, to_checksum_address

from node.derivation.system_config import SystemConfigTracker
from node.l1_info import block_l1_attributes
from openledger.config import NetworkConfig
from openledger.contracts.artifacts import load_artifact
from openledger.l1.deploy import L1_ARTIFACTS_DIR, SYSTEM_CONFIG
from openledger.l1.system_config import (
    BATCH_INBOX_UPDATED_TOPIC,
    BATCHER_UPDATED_TOPIC,
    SystemConfig,
)
from tests.helpers.signing import DEV
from tests.node.derivation.harness import (
    BATCH_INBOX,
    BATCHER,
    L1,
    Sequencer,
    Verifier,
    make_rollup,
    start_sequencer,
)

OWNER = DEV[0]
NEW_BATCHER = DEV[2]


# -- anvil ------------------------------------------------------------------------------------


def deploy_system_config(l1: L1) -> str:
    """A SystemConfig owned by dev account 0, naming the harness's batcher and inbox."""
    artifact = load_artifact(SYSTEM_CONFIG, L1_ARTIFACTS_DIR)
    args = encode(["address", "address", "address"], [OWNER.address, BATCHER.address, BATCH_INBOX])
    receipt = l1.transact(artifact.bytecode + args, OWNER, to=None)
    return to_checksum_address(receipt["contractAddress"])


def set_batcher(l1: L1, system_config: str, batcher: str) -> int:
    """The owner's ``setBatcher``; returns the L1 block that holds it."""
    data = keccak(b"setBatcher(address)")[:4] + encode(["address"], [batcher])
    return l1.send_calldata(data, sender=OWNER, to=system_config)


def build_chain(sequencer: Sequencer, l1: L1, blocks: int) -> None:
    for _ in range(blocks):
        l1.mine()
        sequencer.block(2)


def assert_same_chain(sequencer: Sequencer, verifier: Verifier, through: int) -> None:
    for number in range(through + 1):
        ours = verifier.chain.header_by_number(number)
        theirs = sequencer.chain.header_by_number(number)
        assert (ours.hash, ours.state_root) == (theirs.hash, theirs.state_root), number


def recorded_batcher(sequencer: Sequencer, number: int) -> tuple[int, bytes]:
    """(L1 origin, batcher) that L2 block ``number``'s L1-attributes deposit records."""
    header = sequencer.chain.header_by_number(number)
    attributes = block_l1_attributes([sequencer.chain.outcomes(header)[0].tx])
    assert attributes is not None
    return attributes.origin.number, attributes.scalars.batcher_hash[12:]


def test_only_the_batcher_in_force_is_read(l1: L1, config: NetworkConfig, tmp_path: Path) -> None:
    system_config = deploy_system_config(l1)
    rollup = make_rollup(l1, config, system_config=system_config)
    sequencer = start_sequencer(tmp_path / "seq", l1, rollup, config)
    build_chain(sequencer, l1, 2)
    l1.post(sequencer.batches(1, 2))  # the first batcher, before the change: read
    change = set_batcher(l1, system_config, to_checksum_address(NEW_BATCHER.address))
    build_chain(sequencer, l1, 6)
    # The sequencer records the batcher in force at each block's origin (as op-node does).
    recorded = [recorded_batcher(sequencer, n) for n in range(1, 9)]
    assert any(origin >= change for origin, _ in recorded), "the test needs origins past it"
    for origin, batcher in recorded:
        expected = NEW_BATCHER if origin >= change else BATCHER
        assert batcher == to_canonical_address(expected.address), origin
    # The first batcher after the change: ignored.
    l1.post(sequencer.batches(3, 8))
    verifier = Verifier(tmp_path / "verifier", l1, rollup, config)
    verifier.sync()
    assert verifier.safe == 2
    assert_same_chain(sequencer, verifier, 2)
    # The new batcher: read, and the derived blocks record it exactly as the sequencer did.
    l1.post(sequencer.batches(3, 8), sender=NEW_BATCHER)
    verifier.sync()
    assert verifier.safe == 8
    assert_same_chain(sequencer, verifier, 8)
    verifier.close()
    sequencer.close()


def test_config_is_rebuilt_after_a_restart_and_a_reset(
    l1: L1, config: NetworkConfig, tmp_path: Path
) -> None:
    system_config = deploy_system_config(l1)
    rollup = make_rollup(l1, config, system_config=system_config, channel_timeout=3)
    sequencer = start_sequencer(tmp_path / "seq", l1, rollup, config)
    build_chain(sequencer, l1, 2)
    l1.post(sequencer.batches(1, 2))
    change = set_batcher(l1, system_config, to_checksum_address(NEW_BATCHER.address))
    build_chain(sequencer, l1, 10)
    l1.post(sequencer.batches(3, 12), sender=NEW_BATCHER)
    verifier = Verifier(tmp_path / "verifier", l1, rollup, config)
    verifier.sync()
    assert verifier.safe == 12
    verifier.close()

    # A restart reads L1 again from above the change: only a replay of the events knows it.
    verifier = Verifier(tmp_path / "verifier", l1, rollup, config)
    assert verifier.pipeline.traversal.next > change + 1
    build_chain(sequencer, l1, 2)
    l1.post(sequencer.batches(13, 14))  # the old batcher: ignored
    verifier.sync()
    assert verifier.safe == 12
    l1.post(sequencer.batches(13, 14), sender=NEW_BATCHER)
    verifier.sync()
    assert verifier.safe == 14

    # A reset below the change (as after an L1 reorg from that block): the safe head goes back
    # to block 2, the config is rebuilt from before the change, and the same blocks follow.
    verifier.pipeline.rollback_l1(change)
    assert verifier.safe == 2
    assert verifier.pipeline.traversal.next <= change
    verifier.sync()
    assert verifier.safe == 14
    assert_same_chain(sequencer, verifier, 14)
    verifier.close()
    sequencer.close()


# -- the tracker, on hand-made logs ---------------------------------------------------------

GENESIS = 10
OLD = SystemConfig(batcher=b"\x01" * 20, batch_inbox=b"\xff" * 20)
ADDRESS = b"\xcc" * 20


def block_hash(number: int, fork: int = 0) -> bytes:
    return bytes([fork, number]) * 16


class FakeL1:
    """``eth_getLogs`` over hand-made SystemConfig logs; counts the calls."""

    def __init__(self, logs: list[tuple[int, int, bytes, bytes]], fork: int = 0) -> None:
        """``logs``: (block number, log index, topic0, new address)."""
        self.logs = logs
        self.fork = fork
        self.ranges: list[tuple[int, int]] = []

    def call(self, method: str, params: list[Any]) -> Any:
        assert method == "eth_getLogs"
        query = params[0]
        first, last = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        self.ranges.append((first, last))
        return [
            {
                "blockNumber": hex(number),
                "blockHash": "0x" + block_hash(number, self.fork).hex(),
                "logIndex": hex(index),
                "topics": [
                    "0x" + topic.hex(),
                    "0x" + bytes(32).hex(),
                    "0x" + (bytes(12) + new).hex(),
                ],
            }
            for number, index, topic, new in self.logs
            if first <= number <= last
        ]

    def blocks(self, first: int, last: int) -> list[dict[str, Any]]:
        return [
            {
                "number": hex(n),
                "hash": "0x" + block_hash(n, self.fork).hex(),
                "parentHash": "0x" + block_hash(n - 1, self.fork).hex(),
            }
            for n in range(first, last + 1)
        ]


def tracker(fake: FakeL1) -> SystemConfigTracker:
    return SystemConfigTracker(fake, ADDRESS, OLD, GENESIS)  # type: ignore[arg-type]


def test_tracker_applies_events_from_their_block_and_replays_after_a_reset() -> None:
    new_batcher, new_inbox, later = b"\x02" * 20, b"\xee" * 20, b"\x03" * 20
    fake = FakeL1(
        [
            (GENESIS, 0, BATCHER_UPDATED_TOPIC, b"\x09" * 20),  # in rollup.json already
            (15, 3, BATCHER_UPDATED_TOPIC, later),
            (15, 1, BATCHER_UPDATED_TOPIC, new_batcher),  # the later log index wins
            (17, 0, BATCH_INBOX_UPDATED_TOPIC, new_inbox),
        ]
    )
    follow = tracker(fake)
    configs = follow.configs(fake.blocks(GENESIS - 1, 16))
    assert configs[block_hash(GENESIS)] == OLD
    assert configs[block_hash(14)] == OLD
    assert configs[block_hash(15)] == SystemConfig(later, OLD.batch_inbox)
    assert configs[block_hash(16)] == SystemConfig(later, OLD.batch_inbox)
    # The next window starts where the traversal is: no replay, the previous window answers.
    fake.ranges.clear()
    configs = follow.configs(fake.blocks(16, 18))
    assert fake.ranges == [(16, 18)]
    assert configs[block_hash(17)] == SystemConfig(later, new_inbox)
    # A reset to above the change (a fresh tracker, or a window not following the last one)
    # replays the events from the rollup's first L1 block on.
    fake.ranges.clear()
    configs = tracker(fake).configs(fake.blocks(18, 19))
    assert fake.ranges == [(18, 19), (GENESIS + 1, 17)]
    assert configs[block_hash(19)] == SystemConfig(later, new_inbox)
    # A reset below the change: the window itself holds the events again.
    configs = follow.configs(fake.blocks(13, 15))
    assert configs[block_hash(13)] == OLD
    assert configs[block_hash(15)] == SystemConfig(later, OLD.batch_inbox)


def test_tracker_after_an_l1_reorg_drops_the_undone_change() -> None:
    fake = FakeL1([(15, 0, BATCHER_UPDATED_TOPIC, b"\x02" * 20)])
    follow = tracker(fake)
    assert follow.configs(fake.blocks(14, 16))[block_hash(16)].batcher == b"\x02" * 20
    # L1 replaced blocks 15 on with a chain without the event: the old parent is unknown.
    reorged = FakeL1([], fork=1)
    follow.client = reorged  # type: ignore[assignment]
    blocks = reorged.blocks(15, 17)
    blocks[0]["parentHash"] = "0x" + block_hash(14).hex()  # 14 itself did not change
    configs = follow.configs(blocks)
    assert configs[block_hash(17, fork=1)] == OLD

"""The batch validity rules, one case per rule, on hand-made L1 blocks (no I/O)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from node.derivation.batch_queue import AcceptedBatch, BatchQueue, DefaultBlock
from node.derivation.batch_rules import Parent, Verdict, Windows, check_batch
from node.derivation.channels import BlockBatch
from node.derivation.l1 import L1Block
from node.heads import L1Ref

WINDOWS = Windows(seq_window_size=10, max_sequencer_drift=60)


def l1_block(number: int, timestamp: int) -> L1Block:
    return L1Block(
        number=number,
        hash=bytes([number]) * 32,
        parent_hash=bytes([number - 1]) * 32,
        timestamp=timestamp,
        base_fee=1,
        blob_base_fee=1,
        transactions=(),
        deposit_logs=(),
    )


EPOCH = l1_block(5, 1000)
NEXT = l1_block(6, 1012)
PARENT = Parent(hash=b"\xaa" * 32, number=7, timestamp=1005)
GOOD = BlockBatch(
    parent_hash=PARENT.hash,
    previous_timestamp=None,
    epoch_number=5,
    epoch_hash=EPOCH.hash,
    timestamp=1007,
    transactions=(b"\x02tx",),
    inclusion=L1Ref(7, b"\x07" * 32),
)


@pytest.mark.parametrize(
    ("change", "verdict", "reason"),
    [
        ({}, Verdict.ACCEPT, ""),
        ({"timestamp": 1005}, Verdict.DROP, "old"),
        ({"parent_hash": b"\xbb" * 32}, Verdict.DROP, "not the safe head"),
        ({"parent_hash": None, "previous_timestamp": 1005}, Verdict.ACCEPT, ""),
        ({"parent_hash": None, "previous_timestamp": 1004}, Verdict.DROP, "span"),
        ({"epoch_number": 4}, Verdict.DROP, "before the parent"),
        ({"epoch_number": 7}, Verdict.DROP, "skips"),
        ({"epoch_number": 6, "epoch_hash": NEXT.hash, "timestamp": 1012}, Verdict.ACCEPT, ""),
        ({"epoch_number": 6, "epoch_hash": NEXT.hash, "timestamp": 1011}, Verdict.DROP, "before"),
        ({"epoch_hash": b"\x99" * 32}, Verdict.DROP, "not canonical"),
        ({"inclusion": L1Ref(15, b"\x0f" * 32)}, Verdict.DROP, "sequencing window"),
        ({"inclusion": L1Ref(4, b"\x04" * 32)}, Verdict.DROP, "after L1 block"),
        ({"timestamp": 1061}, Verdict.DROP, "drift with transactions"),
        ({"timestamp": 1061, "transactions": ()}, Verdict.DROP, "stale L1 origin"),
        ({"timestamp": 1060, "transactions": ()}, Verdict.ACCEPT, ""),
    ],
)
def test_rule(change: dict[str, object], verdict: Verdict, reason: str) -> None:
    check = check_batch(replace(GOOD, **change), PARENT, EPOCH, NEXT, WINDOWS)
    assert check.verdict is verdict, check.reason
    assert reason in check.reason


def test_undecided_until_the_next_l1_block_is_read() -> None:
    adopting = replace(GOOD, epoch_number=6, epoch_hash=NEXT.hash, timestamp=1012)
    assert check_batch(adopting, PARENT, EPOCH, None, WINDOWS).verdict is Verdict.UNDECIDED
    queue = BatchQueue(WINDOWS, block_time=2)
    queue.add([adopting])
    assert queue.next(PARENT, EPOCH, None, EPOCH) is None
    assert len(queue) == 1, "an undecided batch waits at the head of the queue"
    item = queue.next(PARENT, EPOCH, NEXT, NEXT)
    assert isinstance(item, AcceptedBatch) and item.origin == NEXT


def test_queue_drops_bad_batches_then_waits_for_the_window() -> None:
    queue = BatchQueue(WINDOWS, block_time=2)
    queue.add([replace(GOOD, parent_hash=b"\xbb" * 32)])
    current = l1_block(14, 1100)
    assert queue.next(PARENT, EPOCH, NEXT, current) is None
    assert len(queue) == 0


def test_sequencing_window_expiry_gives_empty_blocks() -> None:
    queue = BatchQueue(WINDOWS, block_time=2)
    expired = l1_block(15, 1200)
    item = queue.next(PARENT, EPOCH, NEXT, expired)
    assert item == DefaultBlock(timestamp=1007, origin=EPOCH)
    late = Parent(PARENT.hash, PARENT.number, timestamp=1011)
    assert queue.next(late, EPOCH, NEXT, expired) == DefaultBlock(timestamp=1013, origin=NEXT)
    behind = Parent(PARENT.hash, PARENT.number, timestamp=10)
    assert queue.next(behind, EPOCH, NEXT, expired) == DefaultBlock(1000, EPOCH), (
        "an empty block is never older than its L1 origin"
    )

"""Batch queue: hands out the next safe block's batch, or the empty block the sequencing
window forces when no valid batch came in time.

Batches are taken in the order L1 delivered them (as after OP's Holocene: no buffering of
future batches); the rules are :func:`~node.derivation.batch_rules.check_batch`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from node.derivation.batch_rules import Parent, Verdict, Windows, check_batch, default_origin
from node.derivation.channels import BlockBatch
from node.derivation.l1 import L1Block

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DefaultBlock:
    """An empty block (deposits only) at ``timestamp`` on ``origin``."""

    timestamp: int
    origin: L1Block


@dataclass(frozen=True)
class AcceptedBatch:
    batch: BlockBatch
    origin: L1Block


NextBlock = AcceptedBatch | DefaultBlock


class BatchQueue:
    def __init__(self, windows: Windows, block_time: int) -> None:
        self.windows = windows
        self.block_time = max(1, block_time)
        self._batches: deque[BlockBatch] = deque()

    def reset(self) -> None:
        self._batches.clear()

    def add(self, batches: Iterable[BlockBatch]) -> None:
        self._batches.extend(batches)

    def __len__(self) -> int:
        return len(self._batches)

    def next(
        self, parent: Parent, epoch: L1Block, next_epoch: L1Block | None, current: L1Block
    ) -> NextBlock | None:
        """The next block on ``parent`` given L1 read up to ``current``; ``None``: read more L1."""
        while self._batches:
            batch = self._batches[0]
            check = check_batch(batch, parent, epoch, next_epoch, self.windows)
            if check.verdict is Verdict.UNDECIDED:
                return None
            self._batches.popleft()
            if check.verdict is Verdict.ACCEPT:
                origin = epoch if batch.epoch_number == epoch.number else next_epoch
                assert origin is not None  # check_batch is undecided otherwise
                return AcceptedBatch(batch, origin)
            level = logging.DEBUG if check.reason.startswith("old:") else logging.WARNING
            log.log(
                level,
                "dropped batch for L2 time %d (L1 block %d): %s",
                batch.timestamp,
                batch.inclusion.number,
                check.reason,
            )
        if current.number >= epoch.number + self.windows.seq_window_size:
            # Never before the origin's time: L2 genesis time is fixed in the network config
            # and may lie long before the rollup's first L1 block.
            timestamp = max(parent.timestamp + self.block_time, epoch.timestamp)
            return DefaultBlock(timestamp, default_origin(timestamp, epoch, next_epoch))
        return None

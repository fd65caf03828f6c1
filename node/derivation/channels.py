"""Channel stage: the batcher's payloads of each L1 block in, one batch per L2 block out.

:class:`openledger.batch.BatchReader` does the frames, the channel bank and the decoding; this
stage logs what it drops (one line each) and flattens span batches into per-block
:class:`BlockBatch` values, tagged with the L1 block that completed their channel (their
inclusion block, which the sequencing window is measured against).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from node.derivation.l1 import L1Block
from node.heads import L1Ref
from openledger.batch import Batch, BatchReader, SpanBatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlockBatch:
    """What L1 says about one L2 block, before the batch queue has checked it."""

    parent_hash: bytes | None
    """``None`` for a span batch's second and later blocks: their parent is the block made from
    the span's previous block, whose hash only execution gives."""
    previous_timestamp: int | None
    """For those blocks, the timestamp of the span's previous block."""
    epoch_number: int
    epoch_hash: bytes
    timestamp: int
    transactions: tuple[bytes, ...]
    inclusion: L1Ref
    """The L1 block in which the batch's channel completed."""


def flatten(batch: Batch | SpanBatch, inclusion: L1Ref) -> list[BlockBatch]:
    if isinstance(batch, Batch):
        return [
            BlockBatch(
                batch.parent_hash,
                None,
                batch.epoch_number,
                batch.epoch_hash,
                batch.timestamp,
                batch.transactions,
                inclusion,
            )
        ]
    blocks = []
    previous: int | None = None
    for index, block in enumerate(batch.blocks):
        blocks.append(
            BlockBatch(
                batch.parent_hash if index == 0 else None,
                previous,
                block.epoch_number,
                block.epoch_hash,
                block.timestamp,
                block.transactions,
                inclusion,
            )
        )
        previous = block.timestamp
    return blocks


class ChannelStage:
    def __init__(self, chain_id: int, channel_timeout: int) -> None:
        self.chain_id = chain_id
        self.channel_timeout = channel_timeout
        self.reader = BatchReader(chain_id, channel_timeout)

    def reset(self) -> None:
        """Forget every buffered frame: after a reset the L1 blocks are read again."""
        self.reader = BatchReader(self.chain_id, self.channel_timeout)

    def read(self, block: L1Block, payloads: list[bytes]) -> list[BlockBatch]:
        result = self.reader.add_l1_block(block.number, payloads)
        for drop in result.drops:
            log.warning(
                "L1 block %d: dropped channel %s: %s",
                drop.l1_block,
                drop.channel_id.hex() if drop.channel_id else "-",
                drop.reason,
            )
        inclusion = L1Ref(block.number, block.hash)
        return [
            item
            for channel in result.channels
            for batch in channel.batches
            for item in flatten(batch, inclusion)
        ]

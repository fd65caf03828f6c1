"""From batcher transactions on L1 to batches: the channel bank, then the channel decoder.

The caller (derivation) hands over, block by block in L1 order, the calldata of the transactions
that the configured batcher sent to the batch inbox; filtering by sender and recipient is its
job, because only it sees the L1 transactions. Every L1 block must be reported, with or without
payloads, so that channel timeouts advance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openledger.batch.channel import MAX_DECOMPRESSED_BYTES, decode_channel
from openledger.batch.channel_bank import CHANNEL_TIMEOUT, ChannelBank, Drop
from openledger.batch.exceptions import BatchDecodeError
from openledger.batch.singular import Batch
from openledger.batch.span import SpanBatch


@dataclass(frozen=True)
class DecodedChannel:
    """All batches of one channel, complete and checked."""

    channel_id: bytes
    l1_block: int
    """The L1 block in which the channel completed (its batches' inclusion block)."""
    batches: tuple[Batch | SpanBatch, ...]


@dataclass(frozen=True)
class ReadResult:
    """What one L1 block yielded."""

    channels: tuple[DecodedChannel, ...]
    drops: tuple[Drop, ...]


class BatchReader:
    """Decodes the batches of one L2 chain from its batcher's L1 payloads."""

    def __init__(
        self,
        chain_id: int,
        channel_timeout: int = CHANNEL_TIMEOUT,
        max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES,
    ) -> None:
        self.chain_id = chain_id
        self.max_decompressed_bytes = max_decompressed_bytes
        self.bank = ChannelBank(channel_timeout)

    def add_l1_block(self, l1_block: int, payloads: Sequence[bytes]) -> ReadResult:
        """Ingest the batcher payloads of ``l1_block`` (maybe none) and decode what completed.

        A channel that fails to decode is dropped whole: no batch of it is returned.
        """
        drops = self.bank.advance(l1_block)
        for payload in payloads:
            drops += self.bank.add_payload(payload, l1_block)
        channels = []
        for channel_id, data in self.bank.pop_ready():
            try:
                batches = decode_channel(data, self.chain_id, self.max_decompressed_bytes)
            except BatchDecodeError as exc:
                drops.append(Drop(l1_block, channel_id, f"channel refused: {exc}"))
                continue
            channels.append(DecodedChannel(channel_id, l1_block, tuple(batches)))
        return ReadResult(tuple(channels), tuple(drops))

"""The batcher's side: collect sealed blocks into one channel, then cut it into L1 payloads.

The batcher adds blocks until :meth:`ChannelOut.compressed_size` nears what it wants to post
(one full 120 kB transaction is the cheapest per byte), then takes :meth:`ChannelOut.payloads`.
The size is exact, not estimated: the columnar span layout changes as blocks are added, so the
channel is re-encoded and recompressed when asked (cached until the next block).
"""

from __future__ import annotations

from openledger.batch.channel import compress_channel, join_batches, new_channel_id
from openledger.batch.exceptions import BatchEncodeError
from openledger.batch.frames import (
    FRAME_OVERHEAD,
    MAX_PAYLOAD_BYTES,
    Frame,
    pack_payloads,
    split_channel,
)
from openledger.batch.singular import Batch, check_consecutive, encode_singular
from openledger.batch.span import SpanBatch, encode_span


class ChannelOut:
    """One channel being filled; ``span=True`` (the default) encodes all its blocks as one span
    batch, ``span=False`` as one singular batch per block (simpler, larger)."""

    def __init__(self, chain_id: int, *, span: bool = True, channel_id: bytes | None = None):
        self.chain_id = chain_id
        self.span = span
        self.channel_id = channel_id if channel_id is not None else new_channel_id()
        self._blocks: list[Batch] = []
        self._compressed: bytes | None = None
        self._closed = False

    @property
    def blocks(self) -> tuple[Batch, ...]:
        return tuple(self._blocks)

    def add_block(self, batch: Batch) -> None:
        """Append the next sealed block; refused if malformed, out of order, or after closing."""
        if self._closed:
            raise BatchEncodeError("channel already closed")
        batch.check(self.chain_id)
        check_consecutive([*self._blocks[-1:], batch])
        self._blocks.append(batch)
        self._compressed = None

    def content(self) -> bytes:
        """The uncompressed channel content (batches behind their lengths)."""
        if not self._blocks:
            raise BatchEncodeError("channel without blocks")
        if self.span:
            encoded = [encode_span(SpanBatch.from_batches(self._blocks), self.chain_id)]
        else:
            encoded = [encode_singular(batch, self.chain_id) for batch in self._blocks]
        return join_batches(encoded)

    def compressed(self) -> bytes:
        """The channel as framed: version byte and compressed content."""
        if self._compressed is None:
            self._compressed = compress_channel(self.content())
        return self._compressed

    def compressed_size(self) -> int:
        """Bytes the channel occupies in frames, before the 23 bytes of each frame's header."""
        return len(self.compressed())

    def frames(self, max_frame_data: int) -> list[Frame]:
        """Close the channel and cut it into frames of at most ``max_frame_data`` bytes."""
        frames = split_channel(self.channel_id, self.compressed(), max_frame_data)
        self._closed = True
        return frames

    def payloads(self, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> list[bytes]:
        """Close the channel and return the calldata of the L1 transactions that carry it."""
        return pack_payloads(self.frames(max_payload_bytes - 1 - FRAME_OVERHEAD), max_payload_bytes)

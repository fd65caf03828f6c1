"""The reader's side of frames: reassemble channels from L1 transactions seen in L1 order.

Rules (OP's channel bank, simplified):

- A channel opens at the L1 block of its first frame seen and must be complete within
  ``channel_timeout`` L1 blocks (``block <= opened + timeout``); otherwise it is dropped, and
  any later frame for it is ignored.
- Frames may come in any order; a frame number seen before is a duplicate and ignored. A second
  last frame, or a frame numbered past the last, is ignored. A last frame numbered below frames
  already seen drops those higher frames (as in OP).
- A channel is ready when its last frame and every frame before it are present; it is then
  handed out once and forgotten, and late frames of it are ignored.
- Buffered frame bytes are bounded (``max_buffered_bytes``); past that, the oldest channels are
  dropped first, so a spammer can delay the bank but never exhaust the node's memory.

Everything ignored or dropped is reported as a :class:`Drop` with its reason, for the log.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from openledger.batch.blob import MAX_BLOB_DATA_SIZE
from openledger.batch.exceptions import BatchDecodeError
from openledger.batch.frames import FRAME_OVERHEAD, Frame, parse_payload

CHANNEL_TIMEOUT = 50
"""L1 blocks a channel may take to complete (OP's Granite value)."""
MAX_BUFFERED_BYTES = 100_000_000
"""OP's ``MAX_CHANNEL_BANK_SIZE``."""
REMEMBERED_CHANNELS = 4096
"""How many finished channel ids are kept to recognise their late frames."""


@dataclass(frozen=True)
class Drop:
    """Input the bank (or the decoder after it) did not use, and why."""

    l1_block: int
    channel_id: bytes | None
    """``None`` when a whole payload was refused before its frames could be told apart."""
    reason: str


@dataclass
class _Channel:
    opened_at: int
    frames: dict[int, bytes] = field(default_factory=dict)
    last_number: int | None = None

    @property
    def size(self) -> int:
        return sum(len(data) + FRAME_OVERHEAD for data in self.frames.values())

    @property
    def complete(self) -> bool:
        return self.last_number is not None and len(self.frames) == self.last_number + 1


class ChannelBank:
    """Channels being reassembled, oldest first."""

    def __init__(
        self,
        channel_timeout: int = CHANNEL_TIMEOUT,
        max_buffered_bytes: int = MAX_BUFFERED_BYTES,
        max_payload_bytes: int = MAX_BLOB_DATA_SIZE,
    ) -> None:
        """``max_payload_bytes``: the largest payload accepted, by default a full blob's data
        (130,044 bytes; calldata payloads are at most 120,000 by default)."""
        self.channel_timeout = channel_timeout
        self.max_buffered_bytes = max_buffered_bytes
        self.max_payload_bytes = max_payload_bytes
        self._channels: OrderedDict[bytes, _Channel] = OrderedDict()
        self._finished: OrderedDict[bytes, None] = OrderedDict()
        self._ready: list[tuple[bytes, bytes]] = []
        self._buffered = 0
        self._l1_block = -1

    @property
    def buffered_bytes(self) -> int:
        return self._buffered

    @property
    def pending_channels(self) -> int:
        return len(self._channels)

    def advance(self, l1_block: int) -> list[Drop]:
        """Move to ``l1_block`` and drop the channels that can no longer complete in time."""
        if l1_block < self._l1_block:
            raise ValueError(f"L1 block {l1_block} after {self._l1_block}: L1 order is required")
        self._l1_block = l1_block
        expired = [
            (channel_id, channel.opened_at)
            for channel_id, channel in self._channels.items()
            if l1_block > channel.opened_at + self.channel_timeout
        ]
        return [self._drop(cid, f"timed out (opened at L1 block {at})") for cid, at in expired]

    def add_payload(self, payload: bytes, l1_block: int) -> list[Drop]:
        """Ingest one batcher transaction's calldata included in ``l1_block``."""
        drops = self.advance(l1_block)
        try:
            frames = parse_payload(payload, self.max_payload_bytes)
        except BatchDecodeError as exc:
            return [*drops, Drop(l1_block, None, f"payload refused: {exc}")]
        for frame in frames:
            reason = self._add_frame(frame)
            if reason is not None:
                drops.append(Drop(l1_block, frame.channel_id, reason))
        while self._buffered > self.max_buffered_bytes:
            oldest = next(iter(self._channels))
            drops.append(self._drop(oldest, "channel bank full: oldest channel evicted"))
        return drops

    def pop_ready(self) -> list[tuple[bytes, bytes]]:
        """``(channel_id, compressed channel)`` of every channel completed since the last call,
        in the order they completed."""
        ready, self._ready = self._ready, []
        return ready

    def _add_frame(self, frame: Frame) -> str | None:
        """Store ``frame``; the reason it was ignored, if it was."""
        if frame.channel_id in self._finished:
            return f"frame {frame.number} of a finished channel"
        channel = self._channels.get(frame.channel_id)
        if channel is None:
            channel = self._channels[frame.channel_id] = _Channel(self._l1_block)
        if frame.number in channel.frames:
            return f"duplicate frame {frame.number}"
        if channel.last_number is not None:
            if frame.is_last:
                return f"second last frame {frame.number}"
            if frame.number > channel.last_number:
                return f"frame {frame.number} past the last frame {channel.last_number}"
        if frame.is_last:
            channel.last_number = frame.number
            for number in [n for n in channel.frames if n > frame.number]:
                self._buffered -= len(channel.frames.pop(number)) + FRAME_OVERHEAD
        channel.frames[frame.number] = frame.data
        self._buffered += len(frame.data) + FRAME_OVERHEAD
        if channel.complete:
            data = b"".join(channel.frames[n] for n in range(len(channel.frames)))
            self._forget(frame.channel_id)
            self._ready.append((frame.channel_id, data))
        return None

    def _drop(self, channel_id: bytes, reason: str) -> Drop:
        self._forget(channel_id)
        return Drop(self._l1_block, channel_id, reason)

    def _forget(self, channel_id: bytes) -> None:
        self._buffered -= self._channels.pop(channel_id).size
        self._finished[channel_id] = None
        if len(self._finished) > REMEMBERED_CHANNELS:
            self._finished.popitem(last=False)

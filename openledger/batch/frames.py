"""Frames: how a channel is cut to fit L1 transactions, and how those transactions are laid out.

Format (OP Stack's, unchanged)::

    payload = derivation_version (1 byte, 0x00) || frame+
    frame   = channel_id (16) || frame_number (uint16 BE) || data_length (uint32 BE)
              || data || is_last (1 byte, 0 or 1)

A frame costs :data:`FRAME_OVERHEAD` = 23 bytes besides its data. Frames carry a number so a
channel can be spread over several L1 transactions (even blocks) and reassembled in any order.
A payload is all-or-nothing: if any frame in it is malformed, none of its frames is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from openledger.batch.channel import CHANNEL_ID_BYTES
from openledger.batch.exceptions import BatchDecodeError
from openledger.batch.wire import Reader

DERIVATION_VERSION = 0
FRAME_OVERHEAD = CHANNEL_ID_BYTES + 2 + 4 + 1
MAX_FRAME_NUMBER = 0xFFFF
MAX_PAYLOAD_BYTES = 120_000
"""Default bound of one L1 transaction's calldata; also the most a reader accepts."""


@dataclass(frozen=True)
class Frame:
    """One piece of a channel."""

    channel_id: bytes
    number: int
    data: bytes
    is_last: bool

    def encode(self) -> bytes:
        return (
            self.channel_id
            + self.number.to_bytes(2, "big")
            + len(self.data).to_bytes(4, "big")
            + self.data
            + bytes([self.is_last])
        )


def split_channel(channel_id: bytes, channel: bytes, max_frame_data: int) -> list[Frame]:
    """Cut a compressed channel into frames of at most ``max_frame_data`` bytes each."""
    if len(channel_id) != CHANNEL_ID_BYTES:
        raise ValueError("channel id must be 16 bytes")
    if max_frame_data < 1:
        raise ValueError("frames must carry at least one byte")
    chunks = [channel[i : i + max_frame_data] for i in range(0, len(channel), max_frame_data)]
    if len(chunks) > MAX_FRAME_NUMBER + 1:
        raise ValueError(f"channel needs {len(chunks)} frames, more than a frame number allows")
    last = len(chunks) - 1
    return [Frame(channel_id, n, chunk, n == last) for n, chunk in enumerate(chunks)]


def pack_payloads(frames: list[Frame], max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> list[bytes]:
    """Fill L1 transaction payloads with whole frames, in order, each payload at most
    ``max_payload_bytes`` (so small channels share one transaction)."""
    payloads: list[bytes] = []
    current = bytearray([DERIVATION_VERSION])
    for frame in frames:
        encoded = frame.encode()
        if 1 + len(encoded) > max_payload_bytes:
            raise ValueError(f"frame of {len(encoded)} bytes exceeds the payload bound")
        if len(current) + len(encoded) > max_payload_bytes:
            payloads.append(bytes(current))
            current = bytearray([DERIVATION_VERSION])
        current += encoded
    if len(current) > 1:
        payloads.append(bytes(current))
    return payloads


def parse_payload(payload: bytes, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> list[Frame]:
    """Every frame of one L1 transaction's calldata, or :class:`BatchDecodeError`."""
    if len(payload) > max_payload_bytes:
        raise BatchDecodeError(f"payload of {len(payload)} bytes exceeds {max_payload_bytes}")
    reader = Reader(payload)
    if not reader.remaining:
        raise BatchDecodeError("empty payload")
    version = reader.read_byte("derivation version")
    if version != DERIVATION_VERSION:
        raise BatchDecodeError(f"unknown derivation version {version}")
    frames = []
    while reader.remaining:
        channel_id = reader.read(CHANNEL_ID_BYTES, "channel id")
        number = reader.read_uint(2, "frame number")
        data = reader.read(reader.read_uint(4, "frame data length"), "frame data")
        is_last = reader.read_byte("is_last flag")
        if is_last > 1:
            raise BatchDecodeError(f"is_last flag {is_last}")
        frames.append(Frame(channel_id, number, data, bool(is_last)))
    if not frames:
        raise BatchDecodeError("payload without frames")
    return frames

"""Frames and L1 payloads: layout, packing under the calldata bound, and malformed payloads."""

from __future__ import annotations

import pytest

from openledger.batch import BatchDecodeError, Frame, pack_payloads, parse_payload
from openledger.batch.frames import FRAME_OVERHEAD, split_channel

CHANNEL = bytes(range(16))


def test_frame_layout_is_ops() -> None:
    frame = Frame(CHANNEL, 258, b"abc", True)
    assert frame.encode() == CHANNEL + b"\x01\x02" + b"\x00\x00\x00\x03" + b"abc" + b"\x01"
    assert len(frame.encode()) == FRAME_OVERHEAD + 3
    assert parse_payload(b"\x00" + frame.encode()) == [frame]


def test_split_and_pack_respect_the_payload_bound() -> None:
    data = bytes(range(256)) * 10
    frames = split_channel(CHANNEL, data, 1000)
    assert [len(f.data) for f in frames] == [1000, 1000, 560]
    assert [f.is_last for f in frames] == [False, False, True]
    payloads = pack_payloads(frames, 1 + FRAME_OVERHEAD + 1000)
    assert len(payloads) == 3
    assert [f for p in payloads for f in parse_payload(p)] == frames
    assert b"".join(f.data for f in frames) == data


def test_small_frames_share_one_payload() -> None:
    frames = [Frame(CHANNEL, 0, b"x", True), Frame(bytes(16), 0, b"y", True)]
    (payload,) = pack_payloads(frames)
    assert parse_payload(payload) == frames


def test_packing_refuses_impossible_bounds() -> None:
    with pytest.raises(ValueError, match="exceeds the payload bound"):
        pack_payloads([Frame(CHANNEL, 0, bytes(100), True)], 100)
    with pytest.raises(ValueError, match="more than a frame number"):
        split_channel(CHANNEL, bytes(70_000), 1)
    with pytest.raises(ValueError, match="16 bytes"):
        split_channel(b"short", b"x", 10)


good = Frame(CHANNEL, 0, b"data", False).encode()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty payload"),
        (b"\x00", "without frames"),
        (b"\x01" + good, "unknown derivation version 1"),
        (b"\x00" + good[:10], "truncated channel id"),
        (b"\x00" + good[:17], "truncated frame number"),
        (b"\x00" + good[:20], "truncated frame data length"),
        (b"\x00" + good[:-3], "truncated frame data"),
        (b"\x00" + good[:-1], "truncated is_last"),
        (b"\x00" + good[:-1] + b"\x02", "is_last flag 2"),
        (b"\x00" + good + good[:5], "truncated channel id"),
        (b"\x00" + CHANNEL + b"\x00\x00\xff\xff\xff\xff", "truncated frame data"),
        (b"\x00" + bytes(120_000), "exceeds 120000"),
    ],
)
def test_malformed_payloads_raise_decode_errors(payload: bytes, message: str) -> None:
    with pytest.raises(BatchDecodeError, match=message):
        parse_payload(payload)

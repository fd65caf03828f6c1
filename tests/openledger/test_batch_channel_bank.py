"""Reading L1: frames reassembled in any order, duplicates and late frames ignored, timeouts,
bounded memory, and whole channels dropped (never half-used) when they do not decode."""

from __future__ import annotations

import random
import zlib
from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openledger.batch import (
    Batch,
    BatchReader,
    ChannelBank,
    ChannelOut,
    Frame,
    SpanBatch,
    pack_payloads,
)
from openledger.batch.frames import split_channel
from openledger.batch.transactions import TxFields, encode_transaction

CHAIN_ID = 901


def blocks(count: int, first: int = 0) -> list[Batch]:
    def tx(nonce: int) -> bytes:
        r, s = (
            int.from_bytes(sha256(bytes([part]) + nonce.to_bytes(8)).digest()) for part in b"rs"
        )
        return encode_transaction(
            TxFields(0, CHAIN_ID, nonce, (10**9,), 21_000, b"\x33" * 20, nonce, b"", b"", 1, r, s)
        )

    return [
        Batch(bytes([n]) * 32, n // 6, bytes([n // 6]) * 32, 2 * n, (tx(n), tx(n + 1000)))
        for n in range(first, first + count)
    ]


def frames_of(batches: list[Batch], frame_size: int = 50) -> tuple[bytes, list[Frame]]:
    out = ChannelOut(CHAIN_ID)
    for batch in batches:
        out.add_block(batch)
    return out.channel_id, out.frames(frame_size)


def payload(*frames: Frame) -> bytes:
    (packed,) = pack_payloads(list(frames))
    return packed


def test_end_to_end_channel_out_to_reader() -> None:
    chain = blocks(20)
    out = ChannelOut(CHAIN_ID)
    for batch in chain:
        out.add_block(batch)
    payloads = out.payloads(max_payload_bytes=200)
    assert len(payloads) > 3 and all(len(p) <= 200 for p in payloads)
    reader = BatchReader(CHAIN_ID)
    results = [reader.add_l1_block(100 + i, [p]) for i, p in enumerate(payloads)]
    assert all(not r.channels and not r.drops for r in results[:-1])
    (channel,) = results[-1].channels
    assert channel.channel_id == out.channel_id
    assert channel.l1_block == 100 + len(payloads) - 1
    assert channel.batches == (SpanBatch.from_batches(chain),)


def test_frames_in_any_order_with_duplicates() -> None:
    channel_id, frames = frames_of(blocks(6))
    assert len(frames) >= 4
    shuffled = frames + frames[:2]
    random.Random(7).shuffle(shuffled)
    bank = ChannelBank()
    drops = []
    for n, frame in enumerate(shuffled):
        drops += bank.add_payload(payload(frame), l1_block=n)
    ready = bank.pop_ready()
    assert ready == [(channel_id, b"".join(f.data for f in frames))]
    assert len(drops) == 2
    assert all("duplicate" in d.reason or "finished channel" in d.reason for d in drops)
    assert bank.buffered_bytes == 0 and bank.pending_channels == 0
    assert bank.add_payload(payload(frames[0]), 99)[0].reason.endswith("of a finished channel")


def test_interleaved_channels_complete_independently() -> None:
    first_id, first = frames_of(blocks(3))
    second_id, second = frames_of(blocks(3, first=3))
    reader = BatchReader(CHAIN_ID)
    mixed = [f for pair in zip(second, first, strict=False) for f in pair]
    mixed += first[len(second) :] + second[len(first) :]
    result = reader.add_l1_block(5, [payload(f) for f in mixed])
    assert not result.drops
    assert {c.channel_id for c in result.channels} == {first_id, second_id}


def test_channel_times_out_and_its_late_frames_are_ignored() -> None:
    channel_id, frames = frames_of(blocks(4))
    bank = ChannelBank(channel_timeout=10)
    assert bank.add_payload(payload(*frames[:-1]), 100) == []
    assert bank.advance(110) == []
    (drop,) = bank.advance(111)
    assert (drop.channel_id, drop.l1_block) == (channel_id, 111)
    assert "timed out" in drop.reason
    (late,) = bank.add_payload(payload(frames[-1]), 111)
    assert "finished channel" in late.reason
    assert bank.pop_ready() == [] and bank.buffered_bytes == 0


def test_channel_completing_on_its_last_block_is_kept() -> None:
    channel_id, frames = frames_of(blocks(2))
    bank = ChannelBank(channel_timeout=10)
    bank.add_payload(payload(*frames[:-1]), 100)
    assert bank.add_payload(payload(frames[-1]), 110) == []
    assert [cid for cid, _ in bank.pop_ready()] == [channel_id]


def test_l1_must_be_read_in_order() -> None:
    bank = ChannelBank()
    bank.advance(5)
    with pytest.raises(ValueError, match="L1 order"):
        bank.advance(4)


def test_last_frame_rules() -> None:
    channel = bytes(16)
    bank = ChannelBank()
    drops = bank.add_payload(
        payload(
            Frame(channel, 3, b"d", False),
            Frame(channel, 1, b"b", True),  # drops frame 3
            Frame(channel, 2, b"c", False),  # past the last frame
            Frame(channel, 1, b"B", True),  # duplicate
            Frame(channel, 0, b"a", False),
        ),
        1,
    )
    assert [d.reason for d in drops] == ["frame 2 past the last frame 1", "duplicate frame 1"]
    assert bank.pop_ready() == [(channel, b"ab")]
    other = b"\x01" * 16
    (drop,) = bank.add_payload(payload(Frame(other, 2, b"c", True), Frame(other, 1, b"b", True)), 2)
    assert drop.reason == "second last frame 1"


def test_memory_is_bounded_by_evicting_the_oldest_channel() -> None:
    bank = ChannelBank(max_buffered_bytes=1_000)  # three 300-byte frames fit, four do not
    drops = [
        bank.add_payload(payload(Frame(bytes([n]) * 16, 0, bytes(300), False)), n) for n in range(5)
    ]
    assert drops[:3] == [[], [], []]
    assert [(d.channel_id, d.reason) for d in drops[3] + drops[4]] == [
        (bytes([0]) * 16, "channel bank full: oldest channel evicted"),
        (bytes([1]) * 16, "channel bank full: oldest channel evicted"),
    ]
    assert bank.buffered_bytes == 3 * 323
    assert bank.pending_channels == 3


def test_undecodable_channel_is_dropped_whole_and_others_survive() -> None:
    good_id, good = frames_of(blocks(3))
    garbage = b"\x00" + zlib.compress(b"\x03\x00\xc1\x80")  # one valid length, then bad RLP
    bad = split_channel(b"\x09" * 16, garbage, 1_000)
    reader = BatchReader(CHAIN_ID)
    result = reader.add_l1_block(1, [payload(*bad), b"\x00\x01garbage", payload(*good)])
    assert [c.channel_id for c in result.channels] == [good_id]
    reasons = [d.reason for d in result.drops]
    assert reasons[0].startswith("payload refused: truncated")
    assert reasons[1].startswith("channel refused: ")
    assert len(reasons) == 2


def test_wrong_chain_channel_is_dropped() -> None:
    _, frames = frames_of(blocks(2))
    result = BatchReader(902).add_l1_block(1, [payload(*frames)])
    assert result.channels == ()
    assert "expected 902" in result.drops[0].reason


def test_zip_bomb_channel_is_dropped() -> None:
    bomb = b"\x00" + zlib.compress(bytes(2_000_000))
    reader = BatchReader(CHAIN_ID, max_decompressed_bytes=1_000_000)
    result = reader.add_l1_block(1, [payload(*split_channel(b"\x05" * 16, bomb, 100_000))])
    (drop,) = result.drops
    assert "inflates beyond 1000000" in drop.reason


@settings(max_examples=50)
@given(st.lists(st.tuples(st.integers(0, 3), st.binary(max_size=200)), max_size=10))
def test_arbitrary_payloads_never_crash_the_reader(inputs: list[tuple[int, bytes]]) -> None:
    reader = BatchReader(CHAIN_ID, channel_timeout=2)
    block = 0
    for step, data in inputs:
        block += step
        reader.add_l1_block(block, [data, b"\x00" + data])

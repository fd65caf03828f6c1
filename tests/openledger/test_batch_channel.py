"""Channels: batches compressed together; every corruption, and a zip bomb, is a decode error."""

from __future__ import annotations

import contextlib
import zlib

import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

from openledger.batch import Batch, BatchDecodeError, BatchEncodeError, ChannelOut, SpanBatch
from openledger.batch.channel import (
    MAX_DECOMPRESSED_BYTES,
    compress_channel,
    decode_channel,
    decompress_channel,
    join_batches,
)
from openledger.batch.singular import encode_singular
from openledger.batch.span import encode_span
from openledger.batch.transactions import TxFields, encode_transaction

CHAIN_ID = 901


def transfer(nonce: int, to: int = 1, tx_type: int = 2) -> bytes:
    fees = (10**6, 2 * 10**9) if tx_type == 2 else (10**9,)
    return encode_transaction(
        TxFields(
            tx_type=tx_type,
            chain_id=CHAIN_ID,
            nonce=nonce,
            fees=fees,
            gas_limit=21_000,
            to=bytes([to]) * 20,
            value=10**16 * (nonce + 1),
            data=b"",
            access_list=b"" if tx_type == 0 else rlp.encode([]),
            y_parity=nonce % 2,
            r=(0xA5 << 248) + nonce,
            s=(0x5A << 240) + nonce,
        )
    )


def chain(blocks: int, txs_per_block: int = 3) -> list[Batch]:
    return [
        Batch(
            parent_hash=bytes([n]) * 32,
            epoch_number=100 + n // 3,
            epoch_hash=bytes([0xF0 + n // 3]) * 32,
            timestamp=10_000 + 2 * n,
            transactions=tuple(
                transfer(n * txs_per_block + i, tx_type=i % 3) for i in range(txs_per_block)
            ),
        )
        for n in range(blocks)
    ]


def channel_of(content: bytes) -> bytes:
    return b"\x00" + zlib.compress(content)


@pytest.mark.parametrize("span", [True, False])
def test_channel_round_trips(span: bool) -> None:
    blocks = chain(5)
    out = ChannelOut(CHAIN_ID, span=span)
    for block in blocks:
        out.add_block(block)
    decoded = decode_channel(out.compressed(), CHAIN_ID)
    if span:
        assert decoded == [SpanBatch.from_batches(blocks)]
    else:
        assert decoded == blocks


def test_mixed_batch_types_in_one_channel() -> None:
    blocks = chain(3)
    encoded = [
        encode_singular(blocks[0], CHAIN_ID),
        encode_span(SpanBatch.from_batches(blocks[1:]), CHAIN_ID),
    ]
    decoded = decode_channel(compress_channel(join_batches(encoded)), CHAIN_ID)
    assert decoded == [blocks[0], SpanBatch.from_batches(blocks[1:])]


def test_channel_out_size_grows_and_refuses_disorder() -> None:
    blocks = chain(4)
    out = ChannelOut(CHAIN_ID)
    sizes = []
    for block in blocks[:3]:
        out.add_block(block)
        sizes.append(out.compressed_size())
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert out.compressed_size() == len(out.compressed())
    with pytest.raises(BatchEncodeError, match="timestamp"):
        out.add_block(blocks[1])
    out.payloads()
    with pytest.raises(BatchEncodeError, match="closed"):
        out.add_block(blocks[3])
    with pytest.raises(BatchEncodeError, match="without blocks"):
        ChannelOut(CHAIN_ID).compressed_size()


def test_epochs_never_go_back_and_keep_one_hash() -> None:
    first, second = chain(2)
    with pytest.raises(BatchEncodeError, match="epoch"):
        SpanBatch.from_batches(
            [first, Batch(second.parent_hash, 99, second.epoch_hash, 10_002, ())]
        )
    with pytest.raises(BatchEncodeError, match="two hashes"):
        SpanBatch.from_batches([first, Batch(second.parent_hash, 100, b"\x01" * 32, 10_002, ())])
    with pytest.raises(BatchEncodeError, match="at least one"):
        SpanBatch.from_batches([])
    with pytest.raises(BatchEncodeError, match="32 bytes"):
        ChannelOut(CHAIN_ID).add_block(Batch(b"\x00", 1, bytes(32), 1, ()))


def test_zip_bomb_is_refused_without_inflating_it() -> None:
    bomb = channel_of(bytes(MAX_DECOMPRESSED_BYTES + 1))
    assert len(bomb) < 20_000
    with pytest.raises(BatchDecodeError, match="inflates beyond"):
        decode_channel(bomb, CHAIN_ID)
    with pytest.raises(BatchDecodeError, match="inflates beyond 1000"):
        decompress_channel(channel_of(bytes(1001)), max_bytes=1000)
    assert decompress_channel(channel_of(bytes(1000)), max_bytes=1000) == bytes(1000)


def test_oversize_content_is_not_compressed() -> None:
    with pytest.raises(BatchEncodeError, match="exceeds"):
        compress_channel(bytes(MAX_DECOMPRESSED_BYTES + 1))


valid = compress_channel(join_batches([encode_singular(chain(1)[0], CHAIN_ID)]))
span_batch = encode_span(SpanBatch.from_batches(chain(2)), CHAIN_ID)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty channel"),
        (b"\x01" + valid[1:], "unknown channel version 1"),
        (valid[:-3], "truncated compressed"),
        (valid + b"\x00", "after the compressed channel"),
        (b"\x00not zlib at all", "bad compressed channel"),
        (valid[:10] + bytes([valid[10] ^ 0xFF]) + valid[11:], "bad compressed channel"),
        (channel_of(b""), "without batches"),
        (channel_of(b"\x05\x00\x00"), "truncated batch"),
        (channel_of(b"\x00"), "empty batch"),
        (channel_of(b"\x01\x07"), "unknown batch type 7"),
        (channel_of(b"\x03\x00\xc1\x80"), "singular batch"),
        (channel_of(b"\x03\x00\x81\x80"), "singular batch"),
        (channel_of(join_batches([span_batch[:-1]])), "truncated signature"),
        (channel_of(join_batches([span_batch + b"\x00"])), "trailing bytes after span batch"),
    ],
)
def test_corrupt_channels_raise_decode_errors(data: bytes, message: str) -> None:
    with pytest.raises(BatchDecodeError, match=message):
        decode_channel(data, CHAIN_ID)


@given(st.binary(max_size=300))
def test_random_channel_content_never_crashes(content: bytes) -> None:
    with contextlib.suppress(BatchDecodeError):
        decode_channel(channel_of(content), CHAIN_ID)


@given(st.data())
def test_corrupted_span_batch_decodes_or_raises(data: st.DataObject) -> None:
    position = data.draw(st.integers(1, len(span_batch) - 1))
    flipped = bytearray(span_batch)
    flipped[position] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(BatchDecodeError):
        decode_channel(channel_of(join_batches([bytes(flipped)])), CHAIN_ID)

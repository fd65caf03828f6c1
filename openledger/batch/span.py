"""The span batch: many consecutive blocks in one columnar encoding (batch type 1).

Why columns: a compressor finds repeats only within its window and only byte-aligned. Laid out
field by field, the 64 random signature bytes of each transaction sit between the small fields
and break every run; grouped by column instead (all types, then all nonces, all gas limits, all
recipients...), the predictable columns compress to almost nothing and what remains is close to
the floor of 64 incompressible signature bytes per transaction. Recipients go through a table of
distinct addresses, so a recipient seen before costs a one-byte index instead of 20 bytes.

Unlike OP's span batch, block metadata is kept exact (first parent hash in full, every distinct
L1 origin hash, per-block time deltas), so no rollup configuration is needed to decode.
The byte layout is documented in ``docs/rollup.md`` ("Batches, channels and frames").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from openledger.batch.exceptions import BatchDecodeError, BatchEncodeError
from openledger.batch.singular import Batch, check_consecutive
from openledger.batch.transactions import (
    COLUMNAR_TYPES,
    DYNAMIC_FEE,
    LEGACY,
    TxFields,
    check_access_list,
    check_transaction,
    encode_transaction,
    parse_transaction,
    transaction_type,
)
from openledger.batch.wire import Reader, pack_bits, write_uvarint

SPAN_BATCH_TYPE = 1
SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class SpanBlock:
    """One block of a span batch: a :class:`Batch` without its parent hash, which for every
    block but the first is the hash of the block before it (known only after executing it)."""

    timestamp: int
    epoch_number: int
    epoch_hash: bytes
    transactions: tuple[bytes, ...]


@dataclass(frozen=True)
class SpanBatch:
    """Consecutive L2 blocks starting on top of ``parent_hash``."""

    parent_hash: bytes
    blocks: tuple[SpanBlock, ...]

    @classmethod
    def from_batches(cls, batches: Sequence[Batch]) -> SpanBatch:
        if not batches:
            raise BatchEncodeError("a span batch needs at least one block")
        check_consecutive(batches)
        blocks = tuple(
            SpanBlock(b.timestamp, b.epoch_number, b.epoch_hash, b.transactions) for b in batches
        )
        return cls(batches[0].parent_hash, blocks)

    def batch(self, index: int, parent_hash: bytes) -> Batch:
        """Block ``index`` as a singular batch, once the verifier knows its parent's hash."""
        block = self.blocks[index]
        return Batch(
            parent_hash, block.epoch_number, block.epoch_hash, block.timestamp, block.transactions
        )


def _write_bytes(out: bytearray, data: bytes) -> None:
    write_uvarint(out, len(data))
    out += data


def encode_span(span: SpanBatch, chain_id: int) -> bytes:
    """Type byte and columns; raises :class:`BatchEncodeError` for what no batch may hold."""
    blocks = span.blocks
    if not blocks:
        raise BatchEncodeError("a span batch needs at least one block")
    batches = [span.batch(index, span.parent_hash) for index in range(len(blocks))]
    check_consecutive(batches)
    for batch in batches:
        batch.check(chain_id)
    out = bytearray([SPAN_BATCH_TYPE])
    write_uvarint(out, chain_id)
    out += span.parent_hash
    write_uvarint(out, blocks[0].timestamp)
    write_uvarint(out, blocks[0].epoch_number)
    write_uvarint(out, len(blocks))
    for previous, block in pairwise(blocks):
        write_uvarint(out, block.timestamp - previous.timestamp)
    epoch_hashes = [blocks[0].epoch_hash]
    for previous, block in pairwise(blocks):
        write_uvarint(out, block.epoch_number - previous.epoch_number)
        if block.epoch_number != previous.epoch_number:
            epoch_hashes.append(block.epoch_hash)
    out += b"".join(epoch_hashes)
    for block in blocks:
        write_uvarint(out, len(block.transactions))
    raws = [raw for block in blocks for raw in block.transactions]
    out += bytes(transaction_type(raw) for raw in raws)
    for raw in raws:
        if transaction_type(raw) not in COLUMNAR_TYPES:
            _write_bytes(out, raw)
    txs = [parse_transaction(raw) for raw in raws if transaction_type(raw) in COLUMNAR_TYPES]
    out += _encode_columns(txs)
    return bytes(out)


def _encode_columns(txs: list[TxFields]) -> bytes:
    out = bytearray()
    out += pack_bits([tx.y_parity == 1 for tx in txs])
    out += pack_bits([tx.chain_id is not None for tx in txs if tx.tx_type == LEGACY])
    out += pack_bits([tx.to is None for tx in txs])
    addresses: dict[bytes, int] = {}
    for tx in txs:
        if tx.to is not None:
            addresses.setdefault(tx.to, len(addresses))
    write_uvarint(out, len(addresses))
    out += b"".join(addresses)
    for tx in txs:
        if tx.to is not None:
            write_uvarint(out, addresses[tx.to])
    for column in (
        [tx.nonce for tx in txs],
        [tx.gas_limit for tx in txs],
        [_decimal_exponent(tx.value) for tx in txs],
        [tx.value // 10 ** _decimal_exponent(tx.value) for tx in txs],
        [tx.fees[0] for tx in txs if tx.tx_type != DYNAMIC_FEE],
        [tx.fees[0] for tx in txs if tx.tx_type == DYNAMIC_FEE],
        [tx.fees[1] for tx in txs if tx.tx_type == DYNAMIC_FEE],
    ):
        for value in column:
            write_uvarint(out, value)
    for tx in txs:
        _write_bytes(out, tx.data)
    for tx in txs:
        if tx.tx_type != LEGACY:
            _write_bytes(out, tx.access_list)
    for tx in txs:
        out += tx.r.to_bytes(32, "big") + tx.s.to_bytes(32, "big")
    return bytes(out)


def _bounded(value: int, bits: int, what: str) -> int:
    if value >= 1 << bits:
        raise BatchDecodeError(f"{what} does not fit in {bits} bits")
    return value


def decode_span(body: bytes, chain_id: int) -> SpanBatch:
    """Decode the bytes after the batch type byte and rebuild every raw transaction."""
    reader = Reader(body)
    batch_chain_id = reader.read_uvarint("chain id")
    if batch_chain_id != chain_id:
        raise BatchDecodeError(f"span batch for chain {batch_chain_id}, expected {chain_id}")
    parent_hash = reader.read(32, "parent hash")
    first_timestamp = _bounded(reader.read_uvarint("timestamp"), 64, "timestamp")
    first_epoch = _bounded(reader.read_uvarint("epoch number"), 64, "epoch number")
    block_count = reader.read_count("block count", 1)
    if block_count == 0:
        raise BatchDecodeError("span batch without blocks")
    timestamps = [first_timestamp]
    for _ in range(block_count - 1):
        delta = reader.read_uvarint("timestamp delta")
        if delta == 0:
            raise BatchDecodeError("two blocks with the same timestamp")
        timestamps.append(_bounded(timestamps[-1] + delta, 64, "timestamp"))
    epochs = [first_epoch]
    for _ in range(block_count - 1):
        epochs.append(_bounded(epochs[-1] + reader.read_uvarint("epoch delta"), 64, "epoch"))
    hash_index = [0]
    for previous, epoch in pairwise(epochs):
        hash_index.append(hash_index[-1] + (epoch != previous))
    hashes = [reader.read(32, "epoch hash") for _ in range(1 + hash_index[-1])]
    epoch_hashes = [hashes[index] for index in hash_index]
    tx_counts = [reader.read_uvarint("transaction count") for _ in range(block_count)]
    total = sum(tx_counts)
    if total > reader.remaining:
        raise BatchDecodeError(f"{total} transactions in {reader.remaining} bytes")
    tx_types = reader.read(total, "transaction types")
    opaque = {
        index: _read_opaque(reader, tx_type, chain_id)
        for index, tx_type in enumerate(tx_types)
        if tx_type not in COLUMNAR_TYPES
    }
    columnar = _decode_columns(reader, [t for t in tx_types if t in COLUMNAR_TYPES], chain_id)
    reader.expect_end("span batch")
    columnar_iter = iter(columnar)
    raws = [opaque[i] if i in opaque else next(columnar_iter) for i in range(total)]
    blocks = []
    start = 0
    for timestamp, epoch, epoch_hash, count in zip(
        timestamps, epochs, epoch_hashes, tx_counts, strict=True
    ):
        blocks.append(SpanBlock(timestamp, epoch, epoch_hash, tuple(raws[start : start + count])))
        start += count
    return SpanBatch(parent_hash, tuple(blocks))


def _decimal_exponent(value: int) -> int:
    """Trailing decimal zeros of ``value``: amounts people choose are round in decimal (0.25
    OPEN = 25 * 10**16), and as mantissa and exponent they take 2 bytes instead of 8."""
    exponent = 0
    while value and value % 10 == 0:
        value //= 10
        exponent += 1
    return exponent


def _read_uints(reader: Reader, count: int, bits: int, what: str) -> list[int]:
    return [_bounded(reader.read_uvarint(what), bits, what) for _ in range(count)]


def _read_opaque(reader: Reader, tx_type: int, chain_id: int) -> bytes:
    """A transaction stored whole (a type without columns, such as EIP-7702's)."""
    raw = reader.read(reader.read_uvarint("transaction length"), "transaction")
    if transaction_type(raw) != tx_type:
        raise BatchDecodeError(f"type {transaction_type(raw)} stored as type {tx_type}")
    check_transaction(raw, chain_id)
    return raw


def _decode_columns(reader: Reader, types: list[int], chain_id: int) -> list[bytes]:
    """Read every column of the legacy, EIP-2930 and EIP-1559 transactions, then rebuild them."""
    count = len(types)
    parities = reader.read_bits(count, "y parity bits")
    protected = iter(reader.read_bits(types.count(LEGACY), "protected bits"))
    creations = reader.read_bits(count, "contract creation bits")
    address_count = reader.read_count("address count", 20)
    addresses = [reader.read(20, "address") for _ in range(address_count)]
    tos: list[bytes | None] = []
    for is_creation in creations:
        if is_creation:
            tos.append(None)
            continue
        index = reader.read_uvarint("address index")
        if index >= address_count:
            raise BatchDecodeError(f"address index {index} of {address_count}")
        tos.append(addresses[index])
    nonces = _read_uints(reader, count, 64, "nonce")
    gas_limits = _read_uints(reader, count, 64, "gas limit")
    exponents = _read_uints(reader, count, 7, "value exponent")
    values = [
        _bounded(mantissa * 10**exponent, 256, "value")
        for mantissa, exponent in zip(
            _read_uints(reader, count, 256, "value"), exponents, strict=True
        )
    ]
    dynamic = types.count(DYNAMIC_FEE)
    gas_prices = iter(_read_uints(reader, count - dynamic, 256, "gas price"))
    tips = iter(_read_uints(reader, dynamic, 256, "priority fee"))
    caps = iter(_read_uints(reader, dynamic, 256, "max fee"))
    datas = [reader.read(reader.read_uvarint("data length"), "data") for _ in range(count)]
    access_lists = iter(
        [
            check_access_list(reader.read(reader.read_uvarint("access list length"), "access list"))
            for tx_type in types
            if tx_type != LEGACY
        ]
    )
    raws = []
    for index, tx_type in enumerate(types):
        signature = reader.read(SIGNATURE_BYTES, "signature")
        replay_protected = next(protected) if tx_type == LEGACY else True
        fees = (next(tips), next(caps)) if tx_type == DYNAMIC_FEE else (next(gas_prices),)
        fields = TxFields(
            tx_type=tx_type,
            chain_id=chain_id if replay_protected else None,
            nonce=nonces[index],
            fees=fees,
            gas_limit=gas_limits[index],
            to=tos[index],
            value=values[index],
            data=datas[index],
            access_list=b"" if tx_type == LEGACY else next(access_lists),
            y_parity=int(parities[index]),
            r=int.from_bytes(signature[:32], "big"),
            s=int.from_bytes(signature[32:], "big"),
        )
        raws.append(encode_transaction(fields))
    return raws

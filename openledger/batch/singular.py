"""The per-block batch: everything a verifier needs to rebuild one L2 block, besides deposits.

Format (OP Stack's singular batch, batch type 0)::

    0x00 || rlp([parent_hash, epoch_number, epoch_hash, timestamp, [raw_tx, ...]])

``epoch`` is the block's L1 origin. Deposit transactions are absent: a verifier derives them
from the origin's logs, so posting them would only cost calldata and open a way to forge them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import rlp

from openledger.batch.exceptions import BatchDecodeError, BatchEncodeError
from openledger.batch.transactions import check_transaction

SINGULAR_BATCH_TYPE = 0


@dataclass(frozen=True)
class Batch:
    """One sealed L2 block as posted to L1."""

    parent_hash: bytes
    epoch_number: int
    """Number of the block's L1 origin."""
    epoch_hash: bytes
    timestamp: int
    transactions: tuple[bytes, ...]
    """Raw signed non-deposit transactions (EIP-2718 envelopes or legacy RLP), in block order."""

    def check(self, chain_id: int) -> None:
        """Raise :class:`BatchEncodeError` unless every field fits the format and every
        transaction belongs in a batch of ``chain_id``."""
        if len(self.parent_hash) != 32 or len(self.epoch_hash) != 32:
            raise BatchEncodeError("parent and epoch hashes must be 32 bytes")
        if not (0 <= self.epoch_number < 2**64 and 0 <= self.timestamp < 2**64):
            raise BatchEncodeError("epoch number and timestamp must be 64-bit unsigned integers")
        for raw in self.transactions:
            try:
                check_transaction(raw, chain_id)
            except BatchDecodeError as exc:
                raise BatchEncodeError(f"block at {self.timestamp}: {exc}") from exc


def encode_singular(batch: Batch, chain_id: int) -> bytes:
    batch.check(chain_id)
    body = [
        batch.parent_hash,
        batch.epoch_number,
        batch.epoch_hash,
        batch.timestamp,
        list(batch.transactions),
    ]
    return bytes([SINGULAR_BATCH_TYPE]) + rlp.encode(body)


def _uint(item: bytes, what: str) -> int:
    if item[:1] == b"\x00" or len(item) > 8:
        raise BatchDecodeError(f"{what} is not a canonical 64-bit integer")
    return int.from_bytes(item, "big")


def decode_singular(body: bytes, chain_id: int) -> Batch:
    """Decode the bytes after the batch type byte; every transaction is checked."""
    try:
        fields = rlp.decode(body, strict=True)
    except rlp.exceptions.DecodingError as exc:
        raise BatchDecodeError(f"bad RLP in singular batch: {exc}") from exc
    if not isinstance(fields, list) or len(fields) != 5:
        raise BatchDecodeError("singular batch is not a list of 5 fields")
    parent_hash, epoch_number, epoch_hash, timestamp, txs = fields
    if not isinstance(txs, list) or any(isinstance(field, list) for field in fields[:4]):
        raise BatchDecodeError("singular batch fields have the wrong shape")
    if len(parent_hash) != 32 or len(epoch_hash) != 32:
        raise BatchDecodeError("singular batch hashes are not 32 bytes")
    if any(not isinstance(tx, bytes) for tx in txs):
        raise BatchDecodeError("singular batch transaction is a list")
    for raw in txs:
        check_transaction(raw, chain_id)
    return Batch(
        parent_hash,
        _uint(epoch_number, "epoch number"),
        epoch_hash,
        _uint(timestamp, "timestamp"),
        tuple(txs),
    )


def check_consecutive(batches: Sequence[Batch]) -> None:
    """Blocks of one channel must follow each other: time strictly increases, the L1 origin
    never goes back. (Parent hashes can only be checked by executing, which the node does.)"""
    for previous, current in pairwise(batches):
        if current.timestamp <= previous.timestamp:
            raise BatchEncodeError(f"timestamp {current.timestamp} after {previous.timestamp}")
        if current.epoch_number < previous.epoch_number:
            raise BatchEncodeError(f"epoch {current.epoch_number} after {previous.epoch_number}")
        if current.epoch_number == previous.epoch_number and (
            current.epoch_hash != previous.epoch_hash
        ):
            raise BatchEncodeError(f"two hashes for epoch {current.epoch_number}")

"""The L1-attributes deposit: the first transaction of every L2 block, telling L2 about L1.

It calls ``L1Block.setL1BlockValuesEcotone()`` from the depositor account with the block's L1
origin and the fee parameters, packed as OP Ecotone packs them (164 bytes)::

    selector 0x440a5e20 | baseFeeScalar u32 | blobBaseFeeScalar u32 | sequenceNumber u64 |
    timestamp u64 | number u64 | basefee u256 | blobBaseFee u256 | hash b32 | batcherHash b32

The calldata is also the record of a block's L1 origin: the RPC layer decodes it to show the
L1 fee fields of receipts without touching state.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from eth.abc import SignedTransactionAPI
from eth_hash.auto import keccak

from node.deposit_tx import deposit_payload, is_deposit, make_deposit
from openledger.config import RollupConfig
from openledger.contracts.predeploys import L1_ATTRIBUTES_DEPOSITOR, L1_BLOCK_ADDRESS

SET_L1_BLOCK_VALUES_ECOTONE = bytes.fromhex("440a5e20")
"""``keccak256("setL1BlockValuesEcotone()")[:4]``."""
L1_INFO_GAS = 1_000_000
"""Gas of the L1-attributes deposit (OP's post-Regolith value); it counts against the block."""
USER_DEPOSIT_DOMAIN = 0
L1_INFO_DEPOSIT_DOMAIN = 1

_PACKED = struct.Struct(">IIQQQ32s32s32s32s")
CALLDATA_LENGTH = len(SET_L1_BLOCK_VALUES_ECOTONE) + _PACKED.size


@dataclass(frozen=True)
class L1Origin:
    """The L1 block an L2 block is derived from (its "epoch")."""

    number: int
    timestamp: int
    hash: bytes
    base_fee: int
    blob_base_fee: int


@dataclass(frozen=True)
class FeeScalars:
    """What L1's SystemConfig sets: who batches and how the L1 data fee weighs the L1 fees."""

    batcher_hash: bytes
    """The batcher address left-padded to 32 bytes."""
    base_fee_scalar: int
    blob_base_fee_scalar: int


@dataclass(frozen=True)
class L1Attributes:
    """Everything the L1-attributes deposit writes into ``L1Block``."""

    origin: L1Origin
    sequence_number: int
    """How many earlier L2 blocks share this origin (0 for the first of an epoch)."""
    scalars: FeeScalars

    def calldata(self) -> bytes:
        return SET_L1_BLOCK_VALUES_ECOTONE + _PACKED.pack(
            self.scalars.base_fee_scalar,
            self.scalars.blob_base_fee_scalar,
            self.sequence_number,
            self.origin.timestamp,
            self.origin.number,
            self.origin.base_fee.to_bytes(32, "big"),
            self.origin.blob_base_fee.to_bytes(32, "big"),
            self.origin.hash,
            self.scalars.batcher_hash,
        )

    def storage(self) -> dict[int, int]:
        """``L1Block``'s storage slots after ``setL1BlockValuesEcotone`` with these values."""
        return {
            0: self.origin.timestamp << 64 | self.origin.number,
            1: self.origin.base_fee,
            2: int.from_bytes(self.origin.hash, "big"),
            3: self.scalars.base_fee_scalar << 96
            | self.scalars.blob_base_fee_scalar << 64
            | self.sequence_number,
            4: int.from_bytes(self.scalars.batcher_hash, "big"),
            7: self.origin.blob_base_fee,
        }

    @classmethod
    def from_calldata(cls, data: bytes) -> L1Attributes:
        if len(data) != CALLDATA_LENGTH or not data.startswith(SET_L1_BLOCK_VALUES_ECOTONE):
            raise ValueError("not setL1BlockValuesEcotone calldata")
        (
            base_fee_scalar,
            blob_base_fee_scalar,
            sequence_number,
            timestamp,
            number,
            base_fee,
            blob_base_fee,
            block_hash,
            batcher_hash,
        ) = _PACKED.unpack(data[len(SET_L1_BLOCK_VALUES_ECOTONE) :])
        return cls(
            origin=L1Origin(
                number=number,
                timestamp=timestamp,
                hash=block_hash,
                base_fee=int.from_bytes(base_fee, "big"),
                blob_base_fee=int.from_bytes(blob_base_fee, "big"),
            ),
            sequence_number=sequence_number,
            scalars=FeeScalars(batcher_hash, base_fee_scalar, blob_base_fee_scalar),
        )


def source_hash(domain: int, l1_block_hash: bytes, index: int) -> bytes:
    """OP's deposit source hash: ``keccak256(bytes32(domain) ++ keccak256(l1Hash ++ bytes32(i)))``.

    ``index`` is the L1 log index for a user deposit (domain 0) and the sequence number for the
    L1-attributes deposit (domain 1): the pair makes every deposit's hash unique.
    """
    inner = keccak(l1_block_hash + index.to_bytes(32, "big"))
    return keccak(domain.to_bytes(32, "big") + inner)


def l1_info_deposit(attributes: L1Attributes) -> SignedTransactionAPI:
    """The system deposit that opens an L2 block."""
    return make_deposit(
        source_hash=source_hash(
            L1_INFO_DEPOSIT_DOMAIN, attributes.origin.hash, attributes.sequence_number
        ),
        sender=L1_ATTRIBUTES_DEPOSITOR,
        to=L1_BLOCK_ADDRESS,
        mint=0,
        value=0,
        gas=L1_INFO_GAS,
        data=attributes.calldata(),
    )


def block_l1_attributes(transactions: list[SignedTransactionAPI]) -> L1Attributes | None:
    """The attributes a block's first transaction set; ``None`` for a block without (genesis)."""
    if not transactions or not is_deposit(transactions[0]):
        return None
    payload = deposit_payload(transactions[0])
    if payload.from_address != L1_ATTRIBUTES_DEPOSITOR or payload.to != L1_BLOCK_ADDRESS:
        return None
    return L1Attributes.from_calldata(payload.data)


def next_attributes(
    parent: L1Attributes | None, origin: L1Origin, scalars: FeeScalars
) -> L1Attributes:
    """The attributes of the block after ``parent``'s: the sequence number restarts at 0 when
    the L1 origin changes and counts up while it stays (OP's rule)."""
    same_epoch = parent is not None and parent.origin.hash == origin.hash
    sequence_number = parent.sequence_number + 1 if same_epoch and parent else 0
    return L1Attributes(origin=origin, sequence_number=sequence_number, scalars=scalars)


def configured_attributes(config: RollupConfig) -> L1Attributes:
    """The configured (genesis) L1 origin and scalars: genesis's ``L1Block`` state, and every
    block's origin until the L1 watcher supplies real ones."""
    return L1Attributes(
        origin=L1Origin(
            number=config.l1_origin_number,
            timestamp=config.l1_origin_timestamp,
            hash=config.l1_origin_hash,
            base_fee=config.l1_base_fee,
            blob_base_fee=config.l1_blob_base_fee,
        ),
        sequence_number=0,
        scalars=FeeScalars(
            batcher_hash=bytes(12) + config.batcher,
            base_fee_scalar=config.base_fee_scalar,
            blob_base_fee_scalar=config.blob_base_fee_scalar,
        ),
    )

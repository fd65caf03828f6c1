"""The L1 data fee of a non-deposit transaction, as OP Fjord computes it.

Every user transaction is eventually posted to L1 by the batcher, compressed; its sender pays
for that on top of gas::

    estimatedSize = max(100 * 1e6, -42_585_600 + 836_500 * flzLen(tx))     (scaled by 1e6)
    l1Fee         = estimatedSize * (16 * baseFeeScalar * l1BaseFee
                                     + blobBaseFeeScalar * l1BlobBaseFee) / 1e12
    l1GasUsed     = estimatedSize * 16 / 1e6

``flzLen`` is the FastLZ-compressed length of the signed transaction's EIP-2718 bytes. The fee
parameters are what the block's L1-attributes deposit wrote into ``L1Block``, read from its
storage slots. ``GasPriceOracle.getL1Fee`` computes the same number on-chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from eth.abc import SignedTransactionAPI

from node.fastlz import flz_compressed_length
from node.l1_info import L1Attributes
from openledger.contracts.predeploys import L1_BLOCK_ADDRESS

COST_INTERCEPT = -42_585_600
COST_FASTLZ_COEF = 836_500
MIN_TRANSACTION_SIZE_SCALED = 100 * 10**6
SCALAR_DECIMALS = 6
L1_GAS_PER_BYTE = 16

BASEFEE_SLOT = 1
SCALARS_SLOT = 3
"""``sequenceNumber`` (bits 0-63) | ``blobBaseFeeScalar`` (64-95) | ``baseFeeScalar`` (96-127)."""
BLOB_BASEFEE_SLOT = 7

_SIZE_ATTRIBUTE = "_openledger_flz_length"


class StorageReader(Protocol):
    def get_storage(self, address: bytes, slot: int, from_journal: bool = True) -> int: ...


@dataclass(frozen=True)
class L1FeeParams:
    """The L1 prices a block charges its transactions' data at."""

    base_fee: int
    blob_base_fee: int
    base_fee_scalar: int
    blob_base_fee_scalar: int

    @classmethod
    def from_state(cls, state: StorageReader) -> L1FeeParams:
        """Read ``L1Block``'s slots: three storage reads, no EVM call."""
        scalars = state.get_storage(L1_BLOCK_ADDRESS, SCALARS_SLOT)
        return cls(
            base_fee=state.get_storage(L1_BLOCK_ADDRESS, BASEFEE_SLOT),
            blob_base_fee=state.get_storage(L1_BLOCK_ADDRESS, BLOB_BASEFEE_SLOT),
            base_fee_scalar=(scalars >> 96) & 0xFFFFFFFF,
            blob_base_fee_scalar=(scalars >> 64) & 0xFFFFFFFF,
        )

    @classmethod
    def from_attributes(cls, attributes: L1Attributes) -> L1FeeParams:
        return cls(
            base_fee=attributes.origin.base_fee,
            blob_base_fee=attributes.origin.blob_base_fee,
            base_fee_scalar=attributes.scalars.base_fee_scalar,
            blob_base_fee_scalar=attributes.scalars.blob_base_fee_scalar,
        )

    def fee(self, compressed_size: int) -> int:
        """The L1 data fee of a transaction whose FastLZ length is ``compressed_size``."""
        fee_scaled = (
            self.base_fee_scalar * L1_GAS_PER_BYTE * self.base_fee
            + self.blob_base_fee_scalar * self.blob_base_fee
        )
        return estimated_size_scaled(compressed_size) * fee_scaled // 10 ** (2 * SCALAR_DECIMALS)


def estimated_size_scaled(compressed_size: int) -> int:
    """Fjord's linear estimate of the bytes a transaction adds to a batch, times 1e6."""
    return max(MIN_TRANSACTION_SIZE_SCALED, COST_INTERCEPT + COST_FASTLZ_COEF * compressed_size)


def l1_gas_used(compressed_size: int) -> int:
    """The receipt's ``l1GasUsed``: the estimated size at 16 L1 gas per byte."""
    return estimated_size_scaled(compressed_size) * L1_GAS_PER_BYTE // 10**SCALAR_DECIMALS


def compressed_size(tx: SignedTransactionAPI) -> int:
    """FastLZ length of ``tx``'s EIP-2718 bytes, computed once per transaction object.

    Admission computes it; building the block reuses it from the same object.
    """
    cached = getattr(tx, _SIZE_ATTRIBUTE, None)
    if cached is None:
        cached = flz_compressed_length(tx.encode())
        object.__setattr__(tx, _SIZE_ATTRIBUTE, cached)
    return int(cached)


def remember_compressed_size(tx: SignedTransactionAPI, size: int) -> None:
    """Set what :func:`compressed_size` returns for ``tx``: its length computed elsewhere from
    the same bytes."""
    object.__setattr__(tx, _SIZE_ATTRIBUTE, size)

"""What the block builder learns from L1 for each block: its L1 origin and the deposits to include.

The L1 watcher implements :class:`L1OriginSource`; until it exists, :class:`FixedL1Origin` names
the configured genesis L1 block as the origin of every L2 block and supplies no deposits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from eth.abc import BlockHeaderAPI, SignedTransactionAPI

from node.l1_info import FeeScalars, L1Origin, configured_attributes
from openledger.config import RollupConfig


@dataclass(frozen=True)
class NextL1Origin:
    """The L1 origin of the next L2 block, the fee scalars in force there, and its deposits.

    ``deposits`` are the L2 deposit transactions of the origin's portal logs, in log order
    (``node.deposits.deposit_from_log``); they belong in the first L2 block of that origin only,
    so a source hands them over once, with the origin's first block.
    """

    origin: L1Origin
    scalars: FeeScalars
    deposits: tuple[SignedTransactionAPI, ...] = field(default=())
    deposits_only: bool = False
    """The block is past max sequencer drift and its origin cannot advance yet: as OP's
    sequencer does, it carries no user transactions (derivation would reject them)."""


class L1OriginSource(Protocol):
    def __call__(self, parent: BlockHeaderAPI, timestamp: int) -> NextL1Origin:
        """The origin for the child of ``parent`` built at L2 time ``timestamp``."""
        ...


class FixedL1Origin:
    """Every block's origin is the configured genesis L1 block; there are never deposits."""

    def __init__(self, config: RollupConfig) -> None:
        attributes = configured_attributes(config)
        self._next = NextL1Origin(origin=attributes.origin, scalars=attributes.scalars)

    def __call__(self, parent: BlockHeaderAPI, timestamp: int) -> NextL1Origin:
        return self._next

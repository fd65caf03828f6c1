"""Errors of derivation, by what the caller must do about them (op-node's severities).

Exception tree::

    OpenLedgerError
    └── DerivationError
        ├── RpcUnavailable      (the L1 node or the sequencer failed: temporary, retry)
        │   └── RpcRejected     (it answered with a JSON-RPC error object)
        ├── L1Reorg             (an L1 block already read changed: reset to a known point)
        └── InvalidBlock        (a batch's block does not execute: drop the batch)
"""

from __future__ import annotations

from openledger.errors import OpenLedgerError


class DerivationError(OpenLedgerError):
    """Base class of derivation's errors."""


class RpcUnavailable(DerivationError):
    """A JSON-RPC endpoint (L1, sequencer) failed or answered nonsense; retried later."""


class RpcRejected(RpcUnavailable):
    """The endpoint answered with an error object; ``error`` is it."""

    def __init__(self, method: str, error: dict[str, object]) -> None:
        super().__init__(f"{method} failed: {error.get('message', error)}")
        self.error = error


class L1Reorg(DerivationError):
    """The L1 block at ``number``, already consumed, is no longer canonical."""

    def __init__(self, number: int) -> None:
        super().__init__(f"L1 block {number} was reorganised away")
        self.number = number


class InvalidBlock(DerivationError):
    """A batch's block fails execution (a transaction that cannot be included)."""

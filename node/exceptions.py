"""Errors of the L2 execution layer.

Exception tree::

    OpenLedgerError
    └── NodeError
        ├── InvalidTransaction      (a transaction that can never be included; message is geth's)
        ├── BlockNotFound           (an unknown hash or number)
        ├── ExecutionReverted       (eth_call / estimateGas hit REVERT; carries the revert data)
        └── ChainCorrupted          (the database does not hold what the head says it should)
"""

from openledger.errors import OpenLedgerError


class NodeError(OpenLedgerError):
    """Base class of the execution layer's errors."""


class InvalidTransaction(NodeError):
    """A transaction rejected before execution; the message is the one geth users know."""


class BlockNotFound(NodeError):
    """No block matches the requested number, hash or tag."""


class ExecutionReverted(NodeError):
    """Execution ended in REVERT; ``data`` holds the revert payload."""

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(message)
        self.data = data


class ChainCorrupted(NodeError):
    """The database's head points at data that is not there."""

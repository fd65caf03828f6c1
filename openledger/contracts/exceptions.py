"""Errors of the contract bindings; web3.py errors stop here and become one of these.

::

    OpenLedgerError
    └── ContractError             anything the bindings raise on purpose
        ├── ArtifactError         an artifact file is missing or malformed
        ├── RpcFailed             the node cannot be reached, or refuses a request (not a revert)
        ├── NotDeployed           the node reports no address for a contract
        ├── ContractReverted      a call or transaction reverted; carries the decoded error
        └── TransactionFailed     a transaction was mined with status 0 or never mined

Only :mod:`openledger.contracts.transactor` catches web3 exceptions, so a service using the
bindings needs to know this tree and nothing of web3's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openledger.errors import OpenLedgerError


class ContractError(OpenLedgerError):
    """Root of the bindings' errors."""


class ArtifactError(ContractError):
    """A compiled artifact is missing or does not look like ``compile.mjs`` output."""


class RpcFailed(ContractError):
    """The node could not be reached, or answered an error that is no revert (e.g. funds)."""


class NotDeployed(ContractError):
    """The node's ``openledger_rollupConfig`` lists no address for a contract."""


@dataclass(frozen=True)
class DecodedRevert:
    """Revert data matched against the known ABIs."""

    name: str
    """``Error`` for ``require`` strings, ``Panic`` for assertion codes, else the custom error."""
    args: tuple[tuple[str, Any], ...]
    """(parameter name, Python value) in ABI order."""
    data: bytes
    """The raw revert data, selector included."""

    def describe(self) -> str:
        """``Name(arg=value, ...)``; bytes in hex so that the message can be pasted back."""
        parts = [f"{key}={_show(value)}" for key, value in self.args]
        return f"{self.name}({', '.join(parts)})"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return repr(value) if isinstance(value, str) and not value.startswith("0x") else str(value)


class ContractReverted(ContractError):
    """The EVM reverted a call, or the pre-flight gas estimate of a transaction."""

    def __init__(self, action: str, revert: DecodedRevert | None, raw_message: str = "") -> None:
        self.action = action
        """What was attempted, e.g. ``DatanetRegistry.contribute``."""
        self.revert = revert
        """The decoded error, or ``None`` when the node gave no revert data."""
        detail = revert.describe() if revert else (raw_message or "no revert data")
        super().__init__(f"{action} reverted: {detail}")

    @property
    def error_name(self) -> str | None:
        """The custom error's name (``DuplicateContribution``), for callers that branch on it."""
        return self.revert.name if self.revert else None


class TransactionFailed(ContractError):
    """A transaction did not succeed after it was sent (status 0, dropped or timed out)."""

    def __init__(self, message: str, tx_hash: bytes | None = None) -> None:
        self.tx_hash = tx_hash
        super().__init__(message)

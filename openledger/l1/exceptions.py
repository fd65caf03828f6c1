"""Errors of the L1 client, the transaction manager and the rollup file."""

from __future__ import annotations

from openledger.errors import OpenLedgerError


class L1Error(OpenLedgerError):
    """Base of every L1-side error."""


class L1Unavailable(L1Error):
    """The L1 node did not answer or refused a request; callers retry later."""


class L1TransactionFailed(L1Error):
    """A transaction was mined but reverted, or could not be sent at all."""


class RollupFileError(L1Error):
    """``rollup.json`` is missing, malformed, or does not match the chain it is used with."""
